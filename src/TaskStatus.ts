/**
 * Where a submitted task stands. A Schema'd union, so a status can be sent to a browser or read
 * from a store and decoded with the task's own Schemas.
 *
 * - `Held`: submitted during a request, waiting for that request's response to be written.
 * - `Queued`: released, waiting for a free slot (or for its delay to pass).
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
  Queued: {}
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
/** @since 0.1.0 @category constructors */
export const Queued = constructors.Queued
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
) =>
  Schema.Union(
    Schema.TaggedStruct("Held", {}),
    Schema.TaggedStruct("Queued", {}),
    Schema.TaggedStruct("Running", { attempt: Schema.Number }),
    Schema.TaggedStruct("Succeeded", { value: success, attempts: Schema.Number }),
    Schema.TaggedStruct("Failed", { error: Schema.Union(failure, TaskFailure), attempts: Schema.Number }),
    Schema.TaggedStruct("Interrupted", {})
  ).pipe(Schema.annotations({ identifier: "TaskStatus" })) as unknown as Schema.Schema<
    TaskStatus<A, E>,
    TaskStatus.Encoded<IA, IE>
  >

/**
 * @since 0.1.0
 */
export declare namespace TaskStatus {
  /** The encoded (JSON) form of a status. */
  export type Encoded<IA, IE> =
    | { readonly _tag: "Held" }
    | { readonly _tag: "Queued" }
    | { readonly _tag: "Running"; readonly attempt: number }
    | { readonly _tag: "Succeeded"; readonly value: IA; readonly attempts: number }
    | {
      readonly _tag: "Failed"
      readonly error: IE | Schema.Schema.Encoded<typeof TaskFailure>
      readonly attempts: number
    }
    | { readonly _tag: "Interrupted" }
}
