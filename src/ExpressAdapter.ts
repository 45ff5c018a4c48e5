/**
 * After-response tasks on Express (5, and 4). `middleware(executor)` puts the request's submitter
 * on `res.locals.tasks` and `req.tasks`: what a handler submits through it is held until that
 * request's response has been written (or its client went away), then run, also when the handler
 * failed with a 500. `statusRoute(executor, options)` answers `GET <prefix>/tasks/:id` with the
 * task's status as JSON, as `StatusApi` does: 404 for unknown, malformed, forged and other
 * sessions' ids, never a 500 or a stack trace; it passes every other request on.
 *
 * This module imports only Express's types: `express` is an optional peer dependency, needed only
 * by the app that uses it. The executor is a `PromiseExecutor` of any layer; draining is
 * `executor.close()`, after the server stopped taking requests (see the example). To type
 * `res.locals.tasks` and `req.tasks`, opt into a declaration merge in the app:
 *
 * ```ts
 * import type { PromiseExecutor } from "effect-executor"
 * declare global {
 *   namespace Express {
 *     interface Locals { tasks: PromiseExecutor.Submitter }
 *     interface Request { tasks: PromiseExecutor.Submitter }
 *   }
 * }
 * ```
 *
 * or read it with `ExpressAdapter.tasks(res)`, typed without one.
 *
 * @example
 * ```ts
 * import express from "express"
 * import { Executor, PromiseExecutor, TaskHandle } from "effect-executor"
 * import * as ExpressAdapter from "effect-executor/ExpressAdapter"
 *
 * const executor = PromiseExecutor.make(Executor.layerSqlite({ filename: "data/tasks.db", tasks: [SendWelcome] }))
 * const app = express()
 * app.use(ExpressAdapter.middleware(executor))
 * app.use(ExpressAdapter.statusRoute(executor, { prefix: "/api" })) // GET /api/tasks/:id
 * app.post("/signup", async (_req, res) => {
 *   const handle = await ExpressAdapter.tasks(res).submit(SendWelcome.make({ to: "ada@example.com" }))
 *   res.json({ task: TaskHandle.encode(handle) })
 * })
 * const server = app.listen(3000)
 * process.once("SIGTERM", () => server.close(() => executor.close()))
 * ```
 *
 * @since 0.1.0
 */
import type { Request, RequestHandler, Response } from "express"
import * as internal from "./internal/adapters/express.js"
import type * as NodeAdapter from "./NodeAdapter.js"
import type * as PromiseExecutor from "./PromiseExecutor.js"

/**
 * The options of `statusRoute`: `prefix`, `session(req)`, `authorize(req)`, `onError`, as for
 * `NodeAdapter.statusRoute`, with Express's `Request`.
 *
 * @since 0.1.0
 * @category models
 */
export interface StatusRouteOptions extends NodeAdapter.StatusRouteOptions<Request> {}

/**
 * The middleware that gives every request its submitter, on `res.locals.tasks` and `req.tasks`.
 * Use it before the routes that submit.
 *
 * @since 0.1.0
 * @category middleware
 */
export const middleware: <E>(executor: PromiseExecutor.PromiseExecutor<E>) => RequestHandler = internal.middleware

/**
 * The request's submitter that `middleware` put on `res.locals`, typed. Throws an `Error` that
 * names the fix when the middleware did not run for this request.
 *
 * @since 0.1.0
 * @category accessors
 */
export const tasks: (res: Response) => PromiseExecutor.Submitter = internal.tasks

/**
 * The status route as a middleware: answers `GET` (and `HEAD`) `<prefix>/tasks/:id`, relative to
 * where it is mounted (`app.use("/api", statusRoute(executor))` is `prefix: "/api"` at the root),
 * and calls `next()` for every other request.
 *
 * @since 0.1.0
 * @category constructors
 */
export const statusRoute: <E>(executor: PromiseExecutor.PromiseExecutor<E>, options?: StatusRouteOptions) => RequestHandler =
  internal.statusRoute
