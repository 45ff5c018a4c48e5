/**
 * Where a submitted task stands. A Schema'd union, so a status can be sent to a browser or read
 * from a store and decoded with the task's own Schemas.
 *
 * - `Held`: submitted during a request, waiting for that request's response to be written.
 * - `Queued`: released, waiting for a free slot, or for its time: `runAt` while it waits for its
 *   delay or for the backoff before a retry (no slot is taken meanwhile); `attempts`, once an
 *   earlier attempt failed and it waits to be retried.
 * - `Running`: attempt `attempt` is running.
 * - `Succeeded`: finished with `value`.
 * - `Failed`: finished with `error` (the task's typed failure; `TaskFailed` for a timeout, a defect
 *   or an undecodable payload; `UnknownTask` for a stored task no longer registered) after
 *   `attempts` attempts.
 * - `Interrupted`: stopped before it produced a result.
 *
 * @since 0.1.0
 */
import { Data, Schema } from "effect"
import { TaskFailure } from "./ExecutorError.js"

/**
 * @since 0.1.0
 * @category models
 */
export type TaskStatus<A, E> = Data.TaggedEnum<{
  Held: {}
  Queued: { readonly runAt?: Date | undefined; readonly attempts?: number | undefined }
  Running: { readonly attempt: number }
  Succeeded: { readonly value: A; readonly attempts: number }
  Failed: { readonly error: E | TaskFailure; readonly attempts: number }
  Interrupted: {}
}>

interface TaskStatusDefinition extends Data.TaggedEnum.WithGenerics<2> {
  readonly taggedEnum: TaskStatus<this["A"], this["B"]>
}

const constructors = Data.taggedEnum<TaskStatusDefinition>()

/** @since 0.1.0 @category constructors */
export const Held = constructors.Held
/**
 * `Queued()`, or `Queued({ runAt, attempts })` for a task waiting for its time.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Queued = (
  args: { readonly runAt?: Date | undefined; readonly attempts?: number | undefined } = {}
): TaskStatus<never, never> => constructors.Queued(args)
/** @since 0.1.0 @category constructors */
export const Running = constructors.Running
/** @since 0.1.0 @category constructors */
export const Succeeded = constructors.Succeeded
/** @since 0.1.0 @category constructors */
export const Failed = constructors.Failed
/** @since 0.1.0 @category constructors */
export const Interrupted = constructors.Interrupted

/**
 * Narrows a status by its tag: `TaskStatus.$is("Succeeded")(status)`.
 *
 * @since 0.1.0
 * @category guards
 */
export const $is = constructors.$is

/**
 * Handles every state: `TaskStatus.$match(status, { Held: () => ..., ... })`.
 *
 * @since 0.1.0
 * @category pattern matching
 */
export const $match = constructors.$match

/**
 * `true` once the task has a final state (`Succeeded`, `Failed` or `Interrupted`).
 *
 * @since 0.1.0
 * @category guards
 */
export const isFinished = <A, E>(self: TaskStatus<A, E>): boolean =>
  self._tag === "Succeeded" || self._tag === "Failed" || self._tag === "Interrupted"

/**
 * The Schema of a status whose value and error are encoded with `success` and `failure`.
 *
 * @example
 * ```ts
 * const json = Schema.encodeSync(TaskStatus.schema(Report, Schema.Never))(status)
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema = <A, IA, E, IE>(
  success: Schema.Schema<A, IA, never>,
  failure: Schema.Schema<E, IE, never>
): Schema.Schema<TaskStatus<A, E>, TaskStatus.Encoded<IA, IE>> =>
  Schema.Union(...members(success, failure)).pipe(Schema.annotations({ identifier: "TaskStatus" })) as any

/** The states, one Schema each: the single source of the encoded form. */
const members = <A, IA, E, IE>(success: Schema.Schema<A, IA, never>, failure: Schema.Schema<E, IE, never>) =>
  [
    Schema.TaggedStruct("Held", {}),
    Schema.TaggedStruct("Queued", {
      runAt: Schema.optional(Schema.DateFromNumber),
      attempts: Schema.optional(Schema.Number)
    }),
    Schema.TaggedStruct("Running", { attempt: Schema.Number }),
    Schema.TaggedStruct("Succeeded", { value: success, attempts: Schema.Number }),
    Schema.TaggedStruct("Failed", { error: Schema.Union(failure, TaskFailure), attempts: Schema.Number }),
    Schema.TaggedStruct("Interrupted", {})
  ] as const

/**
 * @since 0.1.0
 */
export declare namespace TaskStatus {
  /**
   * The encoded (JSON) form of a status, derived from `schema`: `runAt` as epoch milliseconds,
   * the value and error in their encoded forms.
   */
  export type Encoded<IA, IE> = Schema.Schema.Encoded<ReturnType<typeof members<unknown, IA, unknown, IE>>[number]>
}
