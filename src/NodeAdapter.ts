/**
 * After-response tasks on a plain `node:http` server. `handler` wraps a request listener: it is
 * called with a third argument, the request's submitter, whose `submit` holds a task until that
 * request's response has been written (or its client went away), as `AfterResponse.middleware`
 * does on `@effect/platform`. `statusRoute` answers `GET <prefix>/tasks/:id` with the task's status
 * as JSON, as `StatusApi` does: 404 for unknown, malformed, forged and other sessions' ids, never a
 * 500 or a stack trace.
 *
 * The executor is a `PromiseExecutor` of any layer; on SIGTERM, stop taking requests and drain it:
 * `server.close(); await executor.close()`.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http"
 * import { Executor, PromiseExecutor, TaskHandle } from "effect-executor"
 * import * as NodeAdapter from "effect-executor/NodeAdapter"
 *
 * const executor = PromiseExecutor.make(Executor.layerSqlite({ filename: "data/tasks.db", tasks: [SendWelcome] }))
 * const status = NodeAdapter.statusRoute(executor, { prefix: "/api" })
 *
 * const server = createServer(NodeAdapter.handler(executor, async (req, res, tasks) => {
 *   if (status(req, res)) return // GET /api/tasks/:id
 *   const handle = await tasks.submit(SendWelcome.make({ to: "ada@example.com" }))
 *   res.end(TaskHandle.encode(handle))
 * })).listen(3000)
 * process.once("SIGTERM", () => server.close(() => executor.close()))
 * ```
 *
 * @since 0.1.0
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import * as internal from "./internal/adapters/node.js"
import type * as PromiseExecutor from "./PromiseExecutor.js"

/**
 * A request listener that is also given the request's submitter. It may return a Promise: a
 * rejection (or a throw) answers 500 with `{ "error": "internal error" }` when nothing was sent
 * yet, and cuts the response otherwise; what was submitted before it still runs.
 *
 * @since 0.1.0
 * @category models
 */
export type Listener = (req: IncomingMessage, res: ServerResponse, tasks: PromiseExecutor.Submitter) => unknown

/**
 * @since 0.1.0
 * @category models
 */
export interface HandlerOptions {
  /** Called with what a listener threw or rejected with. Default: `console.error`. */
  readonly onError?: ((error: unknown) => void) | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface StatusRouteOptions<Req extends IncomingMessage = IncomingMessage> {
  /** Where the route is, e.g. `"/api"` for `GET /api/tasks/:id`. Default `""`. */
  readonly prefix?: string | undefined
  /**
   * The session of the request: a session id or a user id (not the session cookie itself). A task
   * submitted with `submit(..., { session })` is answered only to requests of that session; any
   * other gets 404.
   */
  readonly session?: ((req: Req) => string | undefined | PromiseLike<string | undefined>) | undefined
  /** Whether the request may use the route at all; `false` answers 403. Default: every request may. */
  readonly authorize?: ((req: Req) => boolean | PromiseLike<boolean>) | undefined
  /** Called with what `session` or `authorize` threw (the answer is then 500). Default: `console.error`. */
  readonly onError?: ((error: unknown) => void) | undefined
}

/**
 * Wraps `listener` into a `node:http` request listener whose third argument is the request's
 * submitter (`executor.forResponse(res)`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const handler: <E>(
  executor: PromiseExecutor.PromiseExecutor<E>,
  listener: Listener,
  options?: HandlerOptions
) => (req: IncomingMessage, res: ServerResponse) => void = internal.handler

/**
 * The status route: a function that answers `GET` (and `HEAD`) `<prefix>/tasks/:id` and returns
 * `true`, or returns `false` at once for any other request, which is left to the caller.
 *
 * @since 0.1.0
 * @category constructors
 */
export const statusRoute: <E, Req extends IncomingMessage = IncomingMessage>(
  executor: PromiseExecutor.PromiseExecutor<E>,
  options?: StatusRouteOptions<Req>
) => (req: Req, res: ServerResponse) => boolean = internal.statusRoute
