/**
 * The node:http adapter: a request listener whose handler is given the request's submitter, and
 * the status route `GET <prefix>/tasks/:id` answered with `PromiseExecutor.statusAnswer`. The
 * Express adapter uses the same route (Express's request and response are Node's).
 *
 * @internal
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import type * as NodeAdapter from "../../NodeAdapter.js"
import type * as PromiseExecutor from "../../PromiseExecutor.js"

/** What the adapters use of a `PromiseExecutor`, whatever its layer's error. */
export type AdaptedExecutor = Pick<PromiseExecutor.PromiseExecutor<unknown>, "forResponse" | "statusAnswer">

/** The largest request body the status route accepts, as `StatusApi`: 64 KiB (it reads none). */
const maxBodyBytes = 64 * 1024

const reportError = (error: unknown) => console.error("effect-executor: a request handler failed:", error)

/** A handler that threw or rejected: 500 without details when nothing was sent yet, else the response is cut. */
const failed = (error: unknown, res: ServerResponse, onError: (error: unknown) => void) => {
  onError(error)
  if (res.headersSent) res.destroy()
  else sendJson(res, 500, { error: "internal error" }, false)
}

/** @internal */
export const handler = (
  executor: AdaptedExecutor,
  listener: NodeAdapter.Listener,
  options: NodeAdapter.HandlerOptions = {}
): (req: IncomingMessage, res: ServerResponse) => void => {
  const onError = options.onError ?? reportError
  return (req, res) => {
    let result: unknown
    try {
      result = listener(req, res, executor.forResponse(res))
    } catch (error) {
      return failed(error, res, onError)
    }
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === "function") {
      ;(result as PromiseLike<unknown>).then(undefined, (error: unknown) => failed(error, res, onError))
    }
  }
}

const sendJson = (res: ServerResponse, status: number, body: unknown, head: boolean) => {
  if (res.headersSent || res.writableEnded) return
  let text: string
  try {
    text = JSON.stringify(body)
  } catch {
    status = 500
    text = JSON.stringify({ error: "the task's result cannot be sent as JSON" })
  }
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    "content-length": Buffer.byteLength(text)
  })
  res.end(head ? undefined : text)
}

/** The id in `url` when it is `<route><id>` (with an optional query), else `undefined`. */
const idIn = (url: string, route: string): string | undefined => {
  if (!url.startsWith(route)) return undefined
  const query = url.indexOf("?", route.length)
  const raw = url.slice(route.length, query < 0 ? undefined : query)
  return raw.length === 0 || raw.includes("/") ? undefined : raw
}

const answer = async <Req extends IncomingMessage>(
  executor: AdaptedExecutor,
  options: NodeAdapter.StatusRouteOptions<Req>,
  req: Req,
  res: ServerResponse,
  raw: string
) => {
  const head = req.method === "HEAD"
  const length = req.headers["content-length"]
  if (length !== undefined) {
    // a GET has no body to read: one that declares a large one is refused without reading it
    if (!/^\d{1,20}$/.test(length.trim())) return sendJson(res, 400, { error: "bad request" }, head)
    if (Number(length) > maxBodyBytes) return sendJson(res, 413, { error: "request body too large" }, head)
  }
  if (options.authorize !== undefined && !(await options.authorize(req))) {
    return sendJson(res, 403, { error: "forbidden" }, head)
  }
  let id: string
  try {
    id = decodeURIComponent(raw)
  } catch {
    return sendJson(res, 404, { error: "no such task" }, head)
  }
  const session = options.session === undefined ? undefined : (await options.session(req)) ?? null
  const { body, status } = await executor.statusAnswer(id, session)
  sendJson(res, status, body, head)
}

/** @internal */
export const statusRoute = <Req extends IncomingMessage = IncomingMessage>(
  executor: AdaptedExecutor,
  options: NodeAdapter.StatusRouteOptions<Req> = {}
): (req: Req, res: ServerResponse) => boolean => {
  const route = `${(options.prefix ?? "").replace(/\/+$/, "")}/tasks/`
  const onError = options.onError ?? reportError
  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false
    const raw = idIn(req.url ?? "", route)
    if (raw === undefined) return false
    answer(executor, options, req, res, raw).catch((error: unknown) => failed(error, res, onError))
    return true
  }
}
