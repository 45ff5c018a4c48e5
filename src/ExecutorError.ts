/**
 * The typed errors of effect-executor. Every way a caller can be refused or a task can end
 * badly is one of these; none of them is a defect.
 *
 * @since 0.1.0
 */
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

/**
 * `submit` was refused because the backlog (held, delayed and queued tasks) is at `maxBacklog`.
 * Nothing was stored; the caller may answer 503 and let the client retry.
 *
 * @since 0.1.0
 */
export class ExecutorBusy extends Schema.TaggedError<ExecutorBusy>()("ExecutorBusy", {
  maxBacklog: Schema.Number
}) {
  override get message(): string {
    return `the executor backlog is full (maxBacklog ${this.maxBacklog}); try again later`
  }
}

/**
 * `submit` was refused because the executor's layer is shutting down or has shut down.
 *
 * @since 0.1.0
 */
export class ExecutorClosed extends Schema.TaggedError<ExecutorClosed>()("ExecutorClosed", {}) {
  override get message(): string {
    return "the executor is closed and accepts no new tasks"
  }
}

/**
 * `submit` named a queue that the layer was not configured with.
 *
 * @since 0.1.0
 */
export class UnknownQueue extends Schema.TaggedError<UnknownQueue>()("UnknownQueue", {
  queue: Schema.String
}) {
  override get message(): string {
    return `unknown queue "${this.queue}": declare it in the layer's "queues" option`
  }
}

/**
 * A task call's payload does not satisfy its task's payload Schema. Nothing was stored.
 *
 * @since 0.1.0
 */
export class InvalidPayload extends Schema.TaggedError<InvalidPayload>()("InvalidPayload", {
  task: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid payload for task "${this.task}": ${this.reason}`
  }
}

/**
 * The submit options are not usable (a negative delay, a non-finite priority, ...).
 *
 * @since 0.1.0
 */
export class InvalidOptions extends Schema.TaggedError<InvalidOptions>()("InvalidOptions", {
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid submit options: ${this.reason}`
  }
}

/**
 * No task is known under this handle: the id is malformed, was never issued here,
 * or its entry has passed its retention.
 *
 * @since 0.1.0
 */
export class TaskNotFound extends Schema.TaggedError<TaskNotFound>()("TaskNotFound", {
  id: Schema.String
}) {
  override get message(): string {
    return `no task found for handle "${this.id.slice(0, 64)}"`
  }
}

/**
 * A task ended without a value and without one of its own typed errors: it timed out on its
 * last attempt, it died with a defect, or its stored payload no longer decodes. `reason` says which.
 *
 * @since 0.1.0
 */
export class TaskFailed extends Schema.TaggedError<TaskFailed>()("TaskFailed", {
  reason: Schema.Literal("timeout", "defect", "undecodable"),
  detail: Schema.String
}) {
  override get message(): string {
    return `task failed (${this.reason}): ${this.detail}`
  }
}

/**
 * The task was interrupted (by `interrupt`, by a client disconnect with `onAbort: "drop"`,
 * or by the executor shutting down) before it produced a result.
 *
 * @since 0.1.0
 */
export class TaskInterrupted extends Schema.TaggedError<TaskInterrupted>()("TaskInterrupted", {
  id: Schema.String
}) {
  override get message(): string {
    return `task ${this.id} was interrupted`
  }
}

/**
 * A task this executor does not register: at `submit` on a durable layer (nothing is stored), or
 * in a stored row (code was deployed without it; that task is `Failed` with this error, the others
 * run on).
 *
 * @since 0.1.0
 */
export class UnknownTask extends Schema.TaggedError<UnknownTask>()("UnknownTask", {
  name: Schema.String
}) {
  override get message(): string {
    return `no task named "${this.name}" is registered with this executor`
  }
}

/**
 * The durable store cannot be used: the file cannot be opened or written, the database went away,
 * a query failed. `path` names the file or database.
 *
 * @since 0.1.0
 */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `task store ${this.path} is unavailable: ${this.reason}`
  }
}

/**
 * How a task can fail besides its own typed error.
 *
 * @since 0.1.0
 */
export type TaskFailure = TaskFailed | UnknownTask

/**
 * The Schema of `TaskFailure`, for encoding statuses.
 *
 * @since 0.1.0
 */
export const TaskFailure: Schema.Union<[typeof TaskFailed, typeof UnknownTask]> = Schema.Union(TaskFailed, UnknownTask)

/**
 * Every error `submit` can fail with.
 *
 * @since 0.1.0
 */
export type SubmitError =
  | ExecutorBusy
  | ExecutorClosed
  | UnknownQueue
  | UnknownTask
  | InvalidPayload
  | InvalidOptions
  | StoreUnavailable

/**
 * Every error `status` and `interrupt` can fail with.
 *
 * @since 0.1.0
 */
export type LookupError = TaskNotFound | StoreUnavailable

/**
 * Every error `await` can fail with, besides the task's own typed error.
 *
 * @since 0.1.0
 */
export type AwaitError = TaskFailure | TaskInterrupted | TaskNotFound | StoreUnavailable

/**
 * The failure of a submit that was answered over HTTP: the one StoreUnavailable a client sees,
 * without the server's database path and reason (they stay in the server's logs).
 */
const StoreUnavailableAnswer: Schema.Schema<StoreUnavailable, { readonly _tag: "StoreUnavailable" }> = Schema.transform(
  Schema.TaggedStruct("StoreUnavailable", {}),
  Schema.declare((u: unknown): u is StoreUnavailable => u instanceof StoreUnavailable, { identifier: "StoreUnavailable" }),
  {
    strict: true,
    decode: () => new StoreUnavailable({ path: "(server)", reason: "the server's task store is unavailable" }),
    encode: () => ({ _tag: "StoreUnavailable" as const })
  }
).annotations({ identifier: "StoreUnavailable" })

const status = (code: number) => ({ [HttpApiSchema.AnnotationStatus]: code })

/**
 * `SubmitError` as one Schema, for an `HttpApi` endpoint to add once:
 * `HttpApiEndpoint.post("signup", "/signup").addError(ExecutorError.SubmitError)`. Each member
 * carries its HTTP status, so a handler that lets a refused submit fail answers it with a JSON body
 * (`{ "_tag": "ExecutorBusy", "maxBacklog": 10000 }`) and the right status, and the OpenAPI document
 * lists them:
 *
 * - 503 (retrying later may succeed): `ExecutorBusy`, `ExecutorClosed`, `StoreUnavailable` (sent as
 *   `{ "_tag": "StoreUnavailable" }` only: its `path` and `reason` name the server's database);
 * - 422 (the same request will be refused again): `InvalidPayload`, `InvalidOptions`,
 *   `UnknownQueue`, `UnknownTask`.
 *
 * @example
 * ```ts
 * const Api = HttpApi.make("app").add(HttpApiGroup.make("users").add(
 *   HttpApiEndpoint.post("signup", "/signup").addSuccess(Schema.Struct({ task: Schema.String }))
 *     .addError(ExecutorError.SubmitError)
 * ))
 * ```
 *
 * @since 0.1.0
 */
export const SubmitError: Schema.Schema<SubmitError, SubmitError.Encoded> = Schema.Union(
  ExecutorBusy.annotations(status(503)),
  ExecutorClosed.annotations(status(503)),
  StoreUnavailableAnswer.annotations(status(503)),
  InvalidPayload.annotations(status(422)),
  InvalidOptions.annotations(status(422)),
  UnknownQueue.annotations(status(422)),
  UnknownTask.annotations(status(422))
).annotations({ identifier: "SubmitError" })

/**
 * @since 0.1.0
 */
export declare namespace SubmitError {
  /** The JSON form of a `SubmitError` answered over HTTP (see the `SubmitError` Schema). */
  export type Encoded =
    | Schema.Schema.Encoded<typeof ExecutorBusy>
    | Schema.Schema.Encoded<typeof ExecutorClosed>
    | { readonly _tag: "StoreUnavailable" }
    | Schema.Schema.Encoded<typeof InvalidPayload>
    | Schema.Schema.Encoded<typeof InvalidOptions>
    | Schema.Schema.Encoded<typeof UnknownQueue>
    | Schema.Schema.Encoded<typeof UnknownTask>
}
