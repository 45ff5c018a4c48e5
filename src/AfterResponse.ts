/**
 * After-response timing. With `AfterResponse.middleware` applied, a task submitted while a request
 * is handled is *held* and released only when the response has been fully written to the socket
 * (Node's `ServerResponse` `close` event with `writableFinished`). If the client goes away first,
 * the task is released anyway unless it asked for `onAbort: "drop"`.
 *
 * A request that submits nothing pays one property write (a mark on its Node response): the
 * request's hold is made and the response's listener attached on its first submit.
 *
 * Apply it to the app, as below. `HttpServer.serve(AfterResponse.middleware)` works the same, but
 * the platform then adds an error-handling step of its own around every request.
 *
 * @example
 * ```ts
 * HttpRouter.empty.pipe(
 *   HttpRouter.post("/signup", signup),
 *   AfterResponse.middleware,
 *   HttpServer.serve(),
 *   Layer.provide(Executor.layerMemory())
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { HttpApp } from "@effect/platform"
import { Effect } from "effect"
import type { ServerResponse } from "node:http"
import * as internal from "./internal/requestHold.js"

/**
 * Marks every request so that tasks submitted while it is handled run after its response.
 *
 * @since 0.1.0
 * @category middleware
 */
export const middleware = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
  Effect.withFiberRuntime((fiber) => {
    internal.markRequest(fiber.currentContext)
    return app
  })

/**
 * The seam through which submits find the Node `ServerResponse` of the request they are made in:
 * a submit made where it is provided is held until that response has been written (or its client
 * went away). The adapters for other servers provide it; `middleware` does the same for
 * `@effect/platform` without a service per request.
 *
 * @since 0.1.0
 * @category seam
 */
export const ResponseLifecycle = internal.ResponseLifecycle

/**
 * @since 0.1.0
 * @category seam
 */
export type ResponseLifecycle = internal.ResponseLifecycle

/**
 * Runs `effect` as part of the request whose response is `response`: what it submits is held
 * until that response is done. For servers other than `@effect/platform`'s.
 *
 * @example
 * ```ts
 * createServer((req, res) => {
 *   runtime.runFork(AfterResponse.withResponse(res)(handler(req, res)))
 * })
 * ```
 *
 * @since 0.1.0
 * @category seam
 */
export const withResponse = (response: ServerResponse) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provideService(effect, internal.ResponseLifecycle, response)
