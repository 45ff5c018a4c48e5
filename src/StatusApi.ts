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
 * @since 0.1.0
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { ExecutorAdmin, type TaskInfo } from "./ExecutorAdmin.js"
import { declaredBody } from "./internal/bodyLimit.js"
import { sameSecret } from "./internal/sameSecret.js"

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

const problem = (status: number, error: string) => HttpServerResponse.unsafeJson({ error }, { status })

const notFound = problem(404, "no such task")

/**
 * The status routes, to concat with or mount in the application's router.
 *
 * @since 0.1.0
 * @category constructors
 */
export const router = (options: Options = {}): HttpRouter.HttpRouter<never, ExecutorAdmin> => {
  const prefix = (options.prefix ?? "").replace(/\/+$/, "")
  const handler = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    // a GET has no body to read: one that declares a large one is refused without reading it
    const body = declaredBody(request)
    if (body !== "ok") return body === "too-large" ? problem(413, "request body too large") : problem(400, "bad request")
    if (options.authorize !== undefined && !(yield* options.authorize(request))) return problem(403, "forbidden")
    const { id } = yield* HttpRouter.params
    const admin = yield* ExecutorAdmin
    const info = yield* admin.inspect(id ?? "")
    if (info.sessionHash !== undefined && options.session !== undefined) {
      const session = yield* options.session(request)
      if (session === undefined || !sameSecret(admin.hashSession(session), info.sessionHash)) return notFound
    }
    const answer: TaskResponse = {
      id: info.id,
      task: info.name,
      queue: info.queue,
      state: info.state,
      status: info.status,
      attempts: info.attempts,
      createdAt: info.createdAt,
      startedAt: info.startedAt ?? null,
      finishedAt: info.finishedAt ?? null
    }
    return yield* HttpServerResponse.json(answer, { headers: { "cache-control": "no-store" } })
  }).pipe(
    Effect.catchTags({
      TaskNotFound: () => Effect.succeed(notFound),
      StoreUnavailable: () => Effect.succeed(problem(503, "the task store is unavailable")),
      HttpBodyError: () => Effect.succeed(problem(500, "the task's result cannot be sent as JSON"))
    }),
    Effect.catchAllCause((cause) =>
      Effect.as(Effect.logError("StatusApi: unexpected failure", cause), problem(500, "internal error"))
    )
  )
  return HttpRouter.empty.pipe(HttpRouter.get(`${prefix}/tasks/:id` as HttpRouter.PathInput, handler))
}
