/**
 * The typed errors of effect-executor. Every way a caller can be refused or a task can end
 * badly is one of these; none of them is a defect.
 *
 * @since 0.1.0
 */
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
