import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { ExecutorAdmin } from "../ExecutorAdmin.js"
import type * as StatusApi from "../StatusApi.js"
import { declaredBody } from "./bodyLimit.js"
import { sameSecret } from "./sameSecret.js"

const problem = (status: number, error: string) => HttpServerResponse.unsafeJson({ error }, { status })

const notFound = problem(404, "no such task")

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
    const admin = yield* ExecutorAdmin
    const info = yield* admin.inspect(id ?? "")
    if (info.sessionHash !== undefined && options.session !== undefined) {
      const session = yield* options.session(request)
      if (session === undefined || !sameSecret(admin.hashSession(session), info.sessionHash)) return notFound
    }
    const answer: StatusApi.TaskResponse = {
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
