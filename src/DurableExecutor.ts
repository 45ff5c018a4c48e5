/**
 * The `DurableExecutor` service: only durable layers (SQLite, PostgreSQL) provide it. A handler
 * that must not lose its work (charging a card, sending an invoice) submits through it, and the
 * program does not compile until a durable layer is provided.
 *
 * Only task calls can be submitted: a registered task name and a payload its Schema encodes.
 * The task's services come from the layer, which registers the tasks it can run.
 *
 * @example
 * ```ts
 * const handle = yield* DurableExecutor.submit(SendWelcome.make({ to }), { idempotencyKey: `welcome:${to}` })
 * ```
 *
 * @since 0.1.0
 */
import { Context, Effect } from "effect"
import type { SubmitOptions } from "./Executor.js"
import type { AwaitError, LookupError, SubmitError } from "./ExecutorError.js"
import type * as Task from "./Task.js"
import type * as TaskHandle from "./TaskHandle.js"
import type * as TaskStatus from "./TaskStatus.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface DurableExecutor {
  readonly reliability: "durable"
  /** Persists the call (state `Held` inside a request, `Queued` outside) before it returns the handle. */
  readonly submit: <T extends Task.Task.Any>(
    call: Task.TaskCall<T>,
    options?: SubmitOptions
  ) => Effect.Effect<TaskHandle.TaskHandle<Task.Task.Success<T>, Task.Task.Failure<T>>, SubmitError>
  readonly status: <A, E>(handle: TaskHandle.TaskHandle<A, E>) => Effect.Effect<TaskStatus.TaskStatus<A, E>, LookupError>
  readonly await: <A, E>(
    handle: TaskHandle.TaskHandle<A, E>
  ) => Effect.Effect<A, E | AwaitError>
  readonly interrupt: <A, E>(handle: TaskHandle.TaskHandle<A, E>) => Effect.Effect<void, LookupError>
}

/**
 * The `DurableExecutor` service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const DurableExecutor: Context.Tag<DurableExecutor, DurableExecutor> = Context.GenericTag<DurableExecutor>(
  "effect-executor/DurableExecutor"
)

/**
 * Submits durably with the `DurableExecutor` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const submit = <T extends Task.Task.Any>(
  call: Task.TaskCall<T>,
  options?: SubmitOptions
): Effect.Effect<TaskHandle.TaskHandle<Task.Task.Success<T>, Task.Task.Failure<T>>, SubmitError, DurableExecutor> =>
  Effect.flatMap(DurableExecutor, (executor) => executor.submit(call, options))

/**
 * @since 0.1.0
 * @category accessors
 */
export const status = <A, E>(
  handle: TaskHandle.TaskHandle<A, E>
): Effect.Effect<TaskStatus.TaskStatus<A, E>, LookupError, DurableExecutor> =>
  Effect.flatMap(DurableExecutor, (executor) => executor.status(handle))

const await_ = <A, E>(
  handle: TaskHandle.TaskHandle<A, E>
): Effect.Effect<A, E | AwaitError, DurableExecutor> =>
  Effect.flatMap(DurableExecutor, (executor) => executor.await(handle))

export {
  /**
   * Waits for the task behind `handle` and returns its value.
   *
   * @since 0.1.0
   * @category accessors
   */
  await_ as await
}

/**
 * @since 0.1.0
 * @category accessors
 */
export const interrupt = <A, E>(
  handle: TaskHandle.TaskHandle<A, E>
): Effect.Effect<void, LookupError, DurableExecutor> =>
  Effect.flatMap(DurableExecutor, (executor) => executor.interrupt(handle))
