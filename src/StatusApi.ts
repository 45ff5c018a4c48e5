/**
 * A JSON endpoint for the browser (or any client) to poll a task by its handle:
 * `GET <prefix>/tasks/:id` answers the task's status, with its result or error encoded with the
 * task's Schemas once it has finished. Unknown, malformed, forged and other sessions' ids all
 * answer 404: never a 500, never a stack trace.
 *
 * @example
 * ```ts
 * const api = StatusApi.router({
 *   prefix: "/api",
 *   session: (request) => Effect.succeed(request.cookies.session)
 * })
 * HttpRouter.concat(appRouter, api)
 * ```
 *
 * @since 0.1.0
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { ExecutorAdmin, type TaskInfo } from "./ExecutorAdmin.js"

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
   * The session of the request (a session id, a user id). A task submitted with
   * `submit(..., { session })` is answered only to requests of that session; any other gets 404.
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
    if (options.authorize !== undefined && !(yield* options.authorize(request))) return problem(403, "forbidden")
    const { id } = yield* HttpRouter.params
    const admin = yield* ExecutorAdmin
    const info = yield* admin.inspect(id ?? "")
    if (info.session !== undefined && options.session !== undefined) {
      if ((yield* options.session(request)) !== info.session) return notFound
    }
    const body: TaskResponse = {
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
    return yield* HttpServerResponse.json(body, { headers: { "cache-control": "no-store" } })
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
