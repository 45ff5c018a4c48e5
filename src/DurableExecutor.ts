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
 * const handles = yield* DurableExecutor.submitAll(users.map((user) => SendWelcome.make({ to: user.email })))
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
 * The options of `submitAll`: those of `submit`, for every call, but the idempotency key, which is
 * given per call by a function (`undefined`: none for that call).
 *
 * @since 0.1.0
 * @category models
 */
export interface SubmitAllOptions<T extends Task.Task.Any> extends Omit<SubmitOptions, "idempotencyKey" | "name"> {
  readonly idempotencyKey?: ((call: Task.TaskCall<T>, index: number) => string | undefined) | undefined
}

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
  /**
   * Persists many calls in one transaction (the caller's own, when it runs in one on the store's
   * database) and returns their handles in order. All or nothing: a call that `submit` would
   * refuse (`UnknownTask`, `InvalidPayload`, an unknown queue, ...) refuses the whole batch with
   * that error, and nothing is written. A call whose idempotency key is taken gets the earlier
   * task's handle, as with `submit`.
   */
  readonly submitAll: <T extends Task.Task.Any>(
    calls: Iterable<Task.TaskCall<T>>,
    options?: SubmitAllOptions<T>
  ) => Effect.Effect<ReadonlyArray<TaskHandle.TaskHandle<Task.Task.Success<T>, Task.Task.Failure<T>>>, SubmitError>
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
 * Submits many calls durably, in one transaction, with the `DurableExecutor` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const submitAll = <T extends Task.Task.Any>(
  calls: Iterable<Task.TaskCall<T>>,
  options?: SubmitAllOptions<T>
): Effect.Effect<
  ReadonlyArray<TaskHandle.TaskHandle<Task.Task.Success<T>, Task.Task.Failure<T>>>,
  SubmitError,
  DurableExecutor
> => Effect.flatMap(DurableExecutor, (executor) => executor.submitAll(calls, options))

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
