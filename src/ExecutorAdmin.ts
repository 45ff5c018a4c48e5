/**
 * The operator's view of an executor: look tasks up by id with their timing and encoded results,
 * list and count them, retry failed ones, cancel, prune. Every layer provides it next to
 * `Executor`; `StatusApi`, `Dashboard` and the command line are built on it. It is not meant for
 * request handlers (use `Executor`); it is how people see and steer their tasks without code.
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import { Context, Schema } from "effect"
import type { StoreUnavailable, TaskNotFound } from "./ExecutorError.js"
import type * as TaskStatus from "./TaskStatus.js"
import type { StoredState } from "./TaskStore.js"

/**
 * One task as an operator sees it. `status` is encoded (JSON-ready) with the task's Schemas.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskInfo {
  readonly id: string
  readonly name: string
  readonly queue: string
  readonly state: StoredState
  readonly durable: boolean
  readonly attempts: number
  readonly createdAt: number
  readonly startedAt: number | undefined
  readonly finishedAt: number | undefined
  /**
   * The keyed hash of the session that submitted the task, never the session itself; compare it
   * with `ExecutorAdmin.hashSession(session)`.
   */
  readonly sessionHash: string | undefined
  /** The status in its encoded form: `{ _tag, value?, error?, attempt?, attempts? }`. */
  readonly status: EncodedStatus
  /**
   * A one-line description of the error of a failed task; for a queued or running durable task,
   * how its previous attempt ended (e.g. "attempt 1 ended: worker lost"), when one did.
   */
  readonly error: string | undefined
}

/**
 * A status in its encoded (JSON) form.
 *
 * @since 0.1.0
 * @category models
 */
export type EncodedStatus = TaskStatus.TaskStatus.Encoded<unknown, unknown>

/**
 * Counts of tasks by queue and state.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskCount {
  readonly queue: string
  readonly state: StoredState
  readonly count: number
}

/**
 * A retry was asked of a task that is not finished without success (it is waiting, running or
 * succeeded), or of a volatile task whose work is gone.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotRetryable extends Schema.TaggedError<NotRetryable>()("NotRetryable", {
  id: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `task ${this.id} cannot be retried: ${this.reason}`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ExecutorAdmin {
  readonly inspect: (id: string) => Effect.Effect<TaskInfo, TaskNotFound | StoreUnavailable>
  readonly list: (options?: {
    readonly state?: StoredState | undefined
    readonly queue?: string | undefined
    readonly limit?: number | undefined
  }) => Effect.Effect<ReadonlyArray<TaskInfo>, StoreUnavailable>
  readonly counts: () => Effect.Effect<ReadonlyArray<TaskCount>, StoreUnavailable>
  /** Runs a failed or interrupted task again, from its first attempt. */
  readonly retry: (id: string) => Effect.Effect<void, TaskNotFound | NotRetryable | StoreUnavailable>
  /** Cancels a held or queued task, interrupts a running one. */
  readonly cancel: (id: string) => Effect.Effect<void, TaskNotFound | StoreUnavailable>
  /** Deletes (durable) or forgets (volatile) tasks finished longer ago than the retention; answers how many. */
  readonly prune: () => Effect.Effect<number, StoreUnavailable>
  /** Hashes a session with this layer's key, to compare with `TaskInfo.sessionHash`. */
  readonly hashSession: (session: string) => string
}

/**
 * The `ExecutorAdmin` service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const ExecutorAdmin: Context.Tag<ExecutorAdmin, ExecutorAdmin> = Context.GenericTag<ExecutorAdmin>(
  "effect-executor/ExecutorAdmin"
)

/**
 * States in the order a task goes through them, for tables.
 *
 * @since 0.1.0
 */
export const states: ReadonlyArray<StoredState> = ["held", "queued", "running", "succeeded", "failed", "interrupted"]
