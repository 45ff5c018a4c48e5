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
import type * as StatusApi from "../../StatusApi.js"
import { answerRequest, jsonHeaders, jsonOf } from "./statusAnswer.js"

/** What the adapters use of a `PromiseExecutor`, whatever its layer's error. */
export type AdaptedExecutor = Pick<PromiseExecutor.PromiseExecutor<unknown>, "forResponse" | "statusAnswer">

const reportError = (error: unknown) => console.error("effect-executor: a request handler failed:", error)

/** A handler that threw or rejected: 500 without details when nothing was sent yet, else the response is cut. */
const failed = (error: unknown, res: ServerResponse, onError: (error: unknown) => void) => {
  onError(error)
  if (res.headersSent) res.destroy()
  else sendJson(res, { status: 500, body: { error: "internal error" } }, false)
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

const sendJson = (res: ServerResponse, answer: StatusApi.Answer, head: boolean) => {
  if (res.headersSent || res.writableEnded) return
  const { status, text } = jsonOf(answer)
  res.writeHead(status, { ...jsonHeaders, "content-length": Buffer.byteLength(text) })
  res.end(head ? undefined : text)
}

/** The id in `url` when it is `<route><id>` (with an optional query), else `undefined`. */
const idIn = (url: string, route: string): string | undefined => {
  if (!url.startsWith(route)) return undefined
  const query = url.indexOf("?", route.length)
  const raw = url.slice(route.length, query < 0 ? undefined : query)
  return raw.length === 0 || raw.includes("/") ? undefined : raw
}

/** Decodes the id (one that does not decode answers 404) and sends the answer. */
const answer = async <Req extends IncomingMessage>(
  executor: AdaptedExecutor,
  options: NodeAdapter.StatusRouteOptions<Req>,
  req: Req,
  res: ServerResponse,
  raw: string
) => {
  let id: string | undefined
  try {
    id = decodeURIComponent(raw)
  } catch {
    id = undefined
  }
  sendJson(res, await answerRequest(executor, options, req, id, req.headers["content-length"]), req.method === "HEAD")
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
    answer(executor, { ...options, onError }, req, res, raw).catch((error: unknown) => failed(error, res, onError))
    return true
  }
}
