/**
 * A JSON endpoint for the browser (or any client) to poll a task by its handle:
 * `GET <prefix>/tasks/:id` answers the task's status, with its result or error encoded with the
 * task's Schemas once it has finished. Unknown, malformed, forged and other sessions' ids all
 * answer 404: never a 500, never a stack trace. A request declaring a body over 64 KiB answers 413.
 *
 * A task submitted with `{ session }` keeps only a keyed hash of it; the API hashes the request's
 * session with the layer's key and compares. Give it a user id or a session id, never the session
 * cookie or token itself.
 *
 * @example
 * ```ts
 * const api = StatusApi.router({
 *   prefix: "/api",
 *   // who the request is, from the application's own login: the user id the handler also gave
 *   // `submit(..., { session })`. Never the raw session cookie.
 *   session: (request) => Effect.map(Auth.currentUser(request), (user) => user?.id)
 * })
 * HttpRouter.concat(appRouter, api)
 * ```
 *
 * The same route is offered as an `HttpApiGroup` for `@effect/platform`'s HttpApi (`group`, with
 * `layerGroup` for its handler), so that it shows in the API's OpenAPI document; it gives the same
 * answers as the router.
 *
 * @since 0.1.0
 */
import type { HttpApi, HttpApiGroup, HttpRouter, HttpServerRequest } from "@effect/platform"
import type { Effect, Layer, Schema } from "effect"
import type { ExecutorAdmin, TaskInfo } from "./ExecutorAdmin.js"
import * as internal from "./internal/statusApi.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Where the routes are mounted, e.g. `"/api"`. Default `""`. */
  readonly prefix?: string | undefined
  /** Whether the request may use the API at all; `false` answers 403. Default: every request may. */
  readonly authorize?: ((request: HttpServerRequest.HttpServerRequest) => Effect.Effect<boolean>) | undefined
  /**
   * The session of the request: a session id or a user id (not the session cookie itself). A task
   * submitted with `submit(..., { session })` is answered only to requests of that session; any
   * other gets 404.
   */
  readonly session?: ((request: HttpServerRequest.HttpServerRequest) => Effect.Effect<string | undefined>) | undefined
}

/**
 * The JSON body of `GET <prefix>/tasks/:id`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskResponse {
  readonly id: string
  readonly task: string
  readonly queue: string
  readonly state: TaskInfo["state"]
  readonly status: TaskInfo["status"]
  readonly attempts: number
  readonly createdAt: number
  readonly startedAt: number | null
  readonly finishedAt: number | null
}

/**
 * An answer of the status route for servers other than `@effect/platform`'s (see
 * `PromiseExecutor.statusAnswer`): the HTTP status (200, 404, 503) and the JSON body to send.
 *
 * @since 0.1.0
 * @category models
 */
export interface Answer {
  readonly status: number
  readonly body: TaskResponse | { readonly error: string }
}

/**
 * The status routes, to concat with or mount in the application's router.
 *
 * @since 0.1.0
 * @category constructors
 */
export const router: (options?: Options) => HttpRouter.HttpRouter<never, ExecutorAdmin> = internal.router

/**
 * The status route as an `HttpApiGroup` (identifier `"taskStatus"`, endpoint `"status"`,
 * `GET /tasks/:id`), to add to an application's `HttpApi` so that it is served and listed in the
 * OpenAPI document with its answers: 200 with a `TaskResponse`, 404 `{ "error": "no such task" }`
 * for unknown, malformed, forged and other sessions' ids, 403, 413, 400 and 503 as the router
 * answers them. Prefix it like any group; implement it with `layerGroup`.
 *
 * @example
 * ```ts
 * const Api = HttpApi.make("app").add(UsersGroup).add(StatusApi.group.prefix("/api"))
 *
 * const ApiLive = HttpApiBuilder.api(Api).pipe(
 *   Layer.provide(UsersLive),
 *   Layer.provide(StatusApi.layerGroup(Api, { session: (request) => Auth.userId(request) }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category HttpApi
 */
export const group: Group = internal.group

/**
 * The type of `group`.
 *
 * @since 0.1.0
 * @category HttpApi
 */
export type Group = typeof internal.group

/**
 * The Schema of the JSON body of `GET <prefix>/tasks/:id` (`TaskResponse`), as the OpenAPI
 * document shows it; the task's value and error are in their encoded forms.
 *
 * @since 0.1.0
 * @category HttpApi
 */
export const TaskResponse: Schema.Schema<TaskResponse> = internal.TaskResponse as any

/**
 * The options of `layerGroup`: the router's, but the prefix, which the group takes with
 * `group.prefix("/api")`.
 *
 * @since 0.1.0
 * @category HttpApi
 */
export type GroupOptions = Omit<Options, "prefix">

/**
 * The handler of `group` in `api` (an `HttpApi` that includes `group`, prefixed or not), as the
 * layer `HttpApiBuilder.api(api)` needs for it. It answers as `router` does.
 *
 * @since 0.1.0
 * @category HttpApi
 */
export const layerGroup: <ApiId extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, E, R>(
  api: HttpApi.HttpApi<ApiId, Groups | Group, E, R>,
  options?: GroupOptions
) => Layer.Layer<HttpApiGroup.ApiGroup<ApiId, "taskStatus">, never, ExecutorAdmin> = internal.layerGroup as any
