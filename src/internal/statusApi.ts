import {
  type HttpApi,
  HttpApiBuilder,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiSchema,
  HttpRouter,
  HttpServerRequest,
  HttpServerResponse,
  OpenApi
} from "@effect/platform"
import { Effect, type Layer, Schema } from "effect"
import { ExecutorAdmin, states } from "../ExecutorAdmin.js"
import * as TaskStatus from "../TaskStatus.js"
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

/**
 * The status route's response for `id`: the router's and the HttpApi group's, the same bytes.
 *
 * @internal
 */
export const respond = (
  id: string,
  options: Pick<StatusApi.Options, "authorize" | "session">
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, ExecutorAdmin | HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    // a GET has no body to read: one that declares a large one is refused without reading it
    const body = declaredBody(request)
    if (body !== "ok") return body === "too-large" ? problem(413, "request body too large") : problem(400, "bad request")
    if (options.authorize !== undefined && !(yield* options.authorize(request))) return problem(403, "forbidden")
    const session = options.session === undefined ? undefined : (yield* options.session(request)) ?? null
    const answer = yield* answerFor(id, session)
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

/** @internal */
export const router = (options: StatusApi.Options = {}): HttpRouter.HttpRouter<never, ExecutorAdmin> => {
  const prefix = (options.prefix ?? "").replace(/\/+$/, "")
  const handler = Effect.flatMap(HttpRouter.params, ({ id }) => respond(id ?? "", options))
  return HttpRouter.empty.pipe(HttpRouter.get(`${prefix}/tasks/:id` as HttpRouter.PathInput, handler))
}

/** An error answer of the status route, as a Schema: its `error` text tells the members apart. */
const problemSchema = <const S extends number, const T extends string>(status: S, error: T, description: string) =>
  Schema.Struct({ error: Schema.Literal(error) }).annotations({
    ...HttpApiSchema.annotations({ status }),
    identifier: `TaskStatus${status}`,
    description
  })

const encodedStatus = Schema.encodedSchema(TaskStatus.schema(Schema.Unknown, Schema.Unknown))

/** @internal */
export const TaskResponse = Schema.Struct({
  id: Schema.String,
  task: Schema.String,
  queue: Schema.String,
  state: Schema.Literal(...states),
  status: encodedStatus,
  attempts: Schema.Number,
  createdAt: Schema.Number,
  startedAt: Schema.NullOr(Schema.Number),
  finishedAt: Schema.NullOr(Schema.Number)
}).annotations({
  identifier: "TaskResponse",
  description: "A task's state, with its result or error encoded with the task's Schemas once it has finished"
})

/** @internal */
export const groupName = "taskStatus" as const

/** @internal */
export const group = HttpApiGroup.make(groupName).add(
  HttpApiEndpoint.get("status", "/tasks/:id")
    .setPath(Schema.Struct({ id: Schema.String }))
    .addSuccess(TaskResponse)
    .addError(problemSchema(400, "bad request", "The request's content-length is not a length"))
    .addError(problemSchema(403, "forbidden", "The authorize hook refused the request"))
    .addError(problemSchema(404, "no such task", "Unknown, malformed or forged id, or another session's task"))
    .addError(problemSchema(413, "request body too large", "The request declared a body over 64 KiB"))
    .addError(problemSchema(503, "the task store is unavailable", "The durable store cannot be reached"))
    .annotate(OpenApi.Summary, "A task's status by its handle")
).annotate(OpenApi.Description, "Poll tasks submitted to effect-executor by their handles")

/** @internal */
export const layerGroup = (
  api: HttpApi.HttpApi.Any,
  options: Pick<StatusApi.Options, "authorize" | "session"> = {}
): Layer.Layer<any, never, ExecutorAdmin> =>
  HttpApiBuilder.group(
    api as unknown as HttpApi.HttpApi<string, typeof group>,
    groupName,
    (handlers) => handlers.handle("status", ({ path }) => respond(path.id, options))
  ) as any
