import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { ExecutorAdmin } from "../ExecutorAdmin.js"
import type * as StatusApi from "../StatusApi.js"
import { declaredBody } from "./bodyLimit.js"
import { sameSecret } from "./sameSecret.js"

const problem = (status: number, error: string) => HttpServerResponse.unsafeJson({ error }, { status })

type Answer = StatusApi.Answer

const problemAnswer = (status: number, error: string): Answer => ({ status, body: { error } })

/**
 * The status route's answer for a task id, the same on every server: 404 for an unknown, malformed
 * or forged id and for another session's task (when `session` is given, as the request's session:
 * `null` for a request without one), 503 when the store is away, never a defect.
 *
 * @internal
 */
export const answerFor = (
  id: string,
  session?: string | null | undefined
): Effect.Effect<Answer, never, ExecutorAdmin> =>
  Effect.gen(function*() {
    const admin = yield* ExecutorAdmin
    const info = yield* admin.inspect(id)
    if (info.sessionHash !== undefined && session !== undefined) {
      if (session === null || !sameSecret(admin.hashSession(session), info.sessionHash)) {
        return problemAnswer(404, "no such task")
      }
    }
    const body: StatusApi.TaskResponse = {
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
    return { status: 200, body }
  }).pipe(
    Effect.catchTags({
      TaskNotFound: () => Effect.succeed(problemAnswer(404, "no such task")),
      StoreUnavailable: () => Effect.succeed(problemAnswer(503, "the task store is unavailable"))
    }),
    Effect.catchAllCause((cause) =>
      Effect.as(Effect.logError("StatusApi: unexpected failure", cause), problemAnswer(500, "internal error"))
    )
  )

/** @internal */
export const router = (options: StatusApi.Options = {}): HttpRouter.HttpRouter<never, ExecutorAdmin> => {
  const prefix = (options.prefix ?? "").replace(/\/+$/, "")
  const handler = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    // a GET has no body to read: one that declares a large one is refused without reading it
    const body = declaredBody(request)
    if (body !== "ok") return body === "too-large" ? problem(413, "request body too large") : problem(400, "bad request")
    if (options.authorize !== undefined && !(yield* options.authorize(request))) return problem(403, "forbidden")
    const { id } = yield* HttpRouter.params
    const session = options.session === undefined ? undefined : (yield* options.session(request)) ?? null
    const answer = yield* answerFor(id ?? "", session)
    return answer.status === 200
      ? yield* HttpServerResponse.json(answer.body, { headers: { "cache-control": "no-store" } })
      : HttpServerResponse.unsafeJson(answer.body, { status: answer.status })
  }).pipe(
    Effect.catchTags({
      HttpBodyError: () => Effect.succeed(problem(500, "the task's result cannot be sent as JSON"))
    }),
    Effect.catchAllCause((cause) =>
      Effect.as(Effect.logError("StatusApi: unexpected failure", cause), problem(500, "internal error"))
    )
  )
  return HttpRouter.empty.pipe(HttpRouter.get(`${prefix}/tasks/:id` as HttpRouter.PathInput, handler))
}
