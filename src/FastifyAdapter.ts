/**
 * After-response tasks on Fastify 5. `plugin(executor, options)` is a Fastify plugin that gives
 * every request its submitter as `request.tasks`: what a handler submits through it is held until
 * that request's response has been written (or its client went away), then run, also when the
 * handler failed with a 500. The plugin is not encapsulated (as with fastify-plugin): register it
 * on the app, and `request.tasks` is there in every route, whatever the route's plugin. It also
 *
 * - answers `GET <prefix>/tasks/:id` with the task's status as JSON, as `StatusApi` does: 404 for
 *   unknown, forged and other sessions' ids, never a 500 or a stack trace (`statusRoute: false`
 *   leaves it out);
 * - drains the executor when Fastify closes (its `onClose` hook: `executor.close()`, after the
 *   server has stopped taking requests; `drain: false` leaves that to the app).
 *
 * This module imports only Fastify's types: `fastify` is an optional peer dependency, needed only
 * by the app that uses it. It types `request.tasks` by augmenting `FastifyRequest`. The server must
 * be Fastify's default HTTP/1 server (the hold watches Node's `ServerResponse`, `reply.raw`).
 *
 * Fastify refuses some URLs before any route runs, the status route's too: a malformed percent
 * escape answers 400 and a path parameter longer than `maxParamLength` (default 100) answers 414,
 * each with Fastify's own JSON error (task ids are 24 characters).
 *
 * @example
 * ```ts
 * import Fastify from "fastify"
 * import { Executor, PromiseExecutor, TaskHandle } from "effect-executor"
 * import * as FastifyAdapter from "effect-executor/FastifyAdapter"
 *
 * const executor = PromiseExecutor.make(Executor.layerSqlite({ filename: "data/tasks.db", tasks: [SendWelcome] }))
 * const app = Fastify()
 * await app.register(FastifyAdapter.plugin(executor, { prefix: "/api" })) // and GET /api/tasks/:id
 * app.post("/signup", async (request) => {
 *   const handle = await request.tasks.submit(SendWelcome.make({ to: "ada@example.com" }))
 *   return { task: TaskHandle.encode(handle) }
 * })
 * await app.listen({ port: 3000 })
 * process.once("SIGTERM", () => app.close()) // stops the server, then drains the executor
 * ```
 *
 * @since 0.1.0
 */
import type { FastifyPluginCallback, FastifyRequest } from "fastify"
import * as internal from "./internal/adapters/fastify.js"
import type * as NodeAdapter from "./NodeAdapter.js"
import type * as PromiseExecutor from "./PromiseExecutor.js"

declare module "fastify" {
  interface FastifyRequest {
    /** The request's submitter (effect-executor's `FastifyAdapter.plugin`). */
    tasks: PromiseExecutor.Submitter
  }
}

/**
 * The options of `plugin`. `prefix`, `session(request)`, `authorize(request)` and `onError` are
 * the status route's, as for `NodeAdapter.statusRoute`, with Fastify's request.
 *
 * @since 0.1.0
 * @category models
 */
export interface PluginOptions extends Pick<NodeAdapter.StatusRouteOptions, "prefix" | "onError"> {
  readonly session?: ((request: FastifyRequest) => string | undefined | PromiseLike<string | undefined>) | undefined
  readonly authorize?: ((request: FastifyRequest) => boolean | PromiseLike<boolean>) | undefined
  /** Whether to add the status route `GET <prefix>/tasks/:id`. Default `true`. */
  readonly statusRoute?: boolean | undefined
  /** Whether Fastify's `onClose` drains the executor (`executor.close()`). Default `true`. */
  readonly drain?: boolean | undefined
}

/**
 * The plugin: `await app.register(FastifyAdapter.plugin(executor, options))`, before the routes
 * that submit.
 *
 * @since 0.1.0
 * @category constructors
 */
export const plugin: <E>(executor: PromiseExecutor.PromiseExecutor<E>, options?: PluginOptions) => FastifyPluginCallback =
  internal.plugin

/**
 * The request's submitter (`request.tasks`). Throws an `Error` that names the fix when the plugin
 * was not registered for this request.
 *
 * @since 0.1.0
 * @category accessors
 */
export const tasks: (request: FastifyRequest) => PromiseExecutor.Submitter = internal.tasks
