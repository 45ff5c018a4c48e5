/**
 * The status route's answer for one request, for the adapters whose framework has its own
 * request and reply objects (node:http, Express, Fastify, Hono): the declared body's length checked as `StatusApi`
 * does (it reads none), `authorize` (403), then `executor.statusAnswer` with the request's session.
 * Each adapter reads the id from its router and sends the answer its framework's way.
 *
 * @internal
 */
import type * as StatusApi from "../../StatusApi.js"
import { declaredLength } from "../bodyLimit.js"
import type { AdaptedExecutor } from "./node.js"

/** What a status route is told about a request of its framework (`Req`). */
export interface RequestOptions<Req> {
  readonly session?: ((request: Req) => string | undefined | PromiseLike<string | undefined>) | undefined
  readonly authorize?: ((request: Req) => boolean | PromiseLike<boolean>) | undefined
  readonly onError?: ((error: unknown) => void) | undefined
}

const problem = (status: number, error: string): StatusApi.Answer => ({ status, body: { error } })

const reportError = (error: unknown) => console.error("effect-executor: the status route failed:", error)

/**
 * The answer to `GET <route>/<id>`: 400/413 for a bad or too large declared body, 403 when
 * `authorize` says no, else the task's status (404 for unknown, malformed, forged and other
 * sessions' ids; `id` is `undefined` when the URL's id does not even decode). What `session` or `authorize` throws goes to `onError` and answers 500 without
 * details. Never rejects.
 */
export const answerRequest = async <Req>(
  executor: AdaptedExecutor,
  options: RequestOptions<Req>,
  request: Req,
  id: string | undefined,
  contentLength: string | undefined
): Promise<StatusApi.Answer> => {
  const declared = declaredLength(contentLength)
  if (declared !== "ok") return declared === "too-large" ? problem(413, "request body too large") : problem(400, "bad request")
  try {
    if (options.authorize !== undefined && !(await options.authorize(request))) return problem(403, "forbidden")
    if (id === undefined) return problem(404, "no such task")
    const session = options.session === undefined ? undefined : (await options.session(request)) ?? null
    return await executor.statusAnswer(id, session)
  } catch (error) {
    ;(options.onError ?? reportError)(error)
    return problem(500, "internal error")
  }
}

/** The largest request body the status route accepts, as `StatusApi` (it reads none). */
export { maxBodyBytes } from "../bodyLimit.js"

/** The answer as JSON text; a body that JSON cannot carry becomes a 500 that says so. */
export const jsonOf = (answer: StatusApi.Answer): { readonly status: number; readonly text: string } => {
  try {
    return { status: answer.status, text: JSON.stringify(answer.body) }
  } catch {
    return { status: 500, text: JSON.stringify({ error: "the task's result cannot be sent as JSON" }) }
  }
}

/** The headers of every status answer. */
export const jsonHeaders = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store"
} as const
