/**
 * After-response tasks on Hono, served by `@hono/node-server`. `middleware(executor)` puts the
 * request's submitter in `c.var.tasks`: what a handler submits through it is held until that
 * request's response has been written to the socket (or its client went away), then run, also
 * when the handler failed with a 500. A streamed body (`stream()`, `streamText()`) is written to
 * Node chunk by chunk, so the hold lasts until its last chunk has been sent. The submitter is made
 * from the Node `ServerResponse` that `@hono/node-server` gives in `c.env.outgoing`: an app served
 * otherwise (Bun, Deno, a worker, `app.request()`) gets an error that says so from the middleware.
 *
 * `statusRoute(executor, options)` is a handler for `GET .../tasks/:id` (mount it where you like;
 * Hono answers HEAD with it too): the task's status as JSON, as `StatusApi` does, with 404 for
 * unknown, malformed, forged and other sessions' ids, never a 500 or a stack trace.
 *
 * This module imports only Hono's types: `hono` and `@hono/node-server` are optional peer
 * dependencies, needed only by the app that uses them. Type the app with `HonoAdapter.Env`
 * (`new Hono<HonoAdapter.Env>()`) for `c.var.tasks`, or read it with `HonoAdapter.tasks(c)`.
 * Draining is `executor.close()`, after the server stopped taking requests (see the example).
 *
 * @example
 * ```ts
 * import { serve } from "@hono/node-server"
 * import { Hono } from "hono"
 * import { Executor, PromiseExecutor, TaskHandle } from "effect-executor"
 * import * as HonoAdapter from "effect-executor/HonoAdapter"
 *
 * const executor = PromiseExecutor.make(Executor.layerSqlite({ filename: "data/tasks.db", tasks: [SendWelcome] }))
 * const app = new Hono<HonoAdapter.Env>()
 * app.use(HonoAdapter.middleware(executor))
 * app.get("/api/tasks/:id", HonoAdapter.statusRoute(executor))
 * app.post("/signup", async (c) => {
 *   const handle = await c.var.tasks.submit(SendWelcome.make({ to: "ada@example.com" }))
 *   return c.json({ task: TaskHandle.encode(handle) })
 * })
 * const server = serve({ fetch: app.fetch, port: 3000 })
 * process.once("SIGTERM", () => server.close(() => executor.close()))
 * ```
 *
 * @since 0.1.0
 */
import type { HttpBindings } from "@hono/node-server"
import type { Context, Handler, MiddlewareHandler } from "hono"
import * as internal from "./internal/adapters/hono.js"
import type * as NodeAdapter from "./NodeAdapter.js"
import type * as PromiseExecutor from "./PromiseExecutor.js"

/**
 * The app's environment with the middleware: `@hono/node-server`'s bindings, and `tasks` in
 * `c.var`. `new Hono<HonoAdapter.Env>()`.
 *
 * @since 0.1.0
 * @category models
 */
export type Env = {
  Bindings: HttpBindings
  Variables: { tasks: PromiseExecutor.Submitter }
}

/**
 * The options of `statusRoute`: `session(c)`, `authorize(c)` and `onError`, as for
 * `NodeAdapter.statusRoute`, with Hono's context.
 *
 * @since 0.1.0
 * @category models
 */
export interface StatusRouteOptions extends Pick<NodeAdapter.StatusRouteOptions, "onError"> {
  readonly session?: ((c: Context) => string | undefined | PromiseLike<string | undefined>) | undefined
  readonly authorize?: ((c: Context) => boolean | PromiseLike<boolean>) | undefined
  /** The route's parameter that holds the task id. Default `"id"` (`/tasks/:id`). */
  readonly param?: string | undefined
}

/**
 * The middleware that gives every request its submitter, in `c.var.tasks`. Use it before the
 * routes that submit. Throws (Hono answers 500) when the request has no Node `ServerResponse`
 * in `c.env.outgoing`, i.e. is not served by `@hono/node-server`.
 *
 * @since 0.1.0
 * @category middleware
 */
export const middleware: <E>(executor: PromiseExecutor.PromiseExecutor<E>) => MiddlewareHandler<Env> =
  internal.middleware

/**
 * The request's submitter that `middleware` put in `c.var`. Throws an `Error` that names the fix
 * when the middleware did not run for this request.
 *
 * @since 0.1.0
 * @category accessors
 */
export const tasks: (c: Context) => PromiseExecutor.Submitter = internal.tasks

/**
 * The status route as a handler: `app.get("/api/tasks/:id", HonoAdapter.statusRoute(executor))`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const statusRoute: <E>(executor: PromiseExecutor.PromiseExecutor<E>, options?: StatusRouteOptions) => Handler =
  internal.statusRoute
