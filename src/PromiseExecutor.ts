/**
 * The executor for code that is not written with Effect: a Promise API made from any executor
 * layer (`Executor.layerMemory`, `layerSqlite`, `layerPg`). Handles and statuses are the same
 * typed values; a refusal or a task's failure rejects with the typed error itself (an
 * `ExecutorError` or the task's own error, each with its `_tag`).
 *
 * @example
 * ```ts
 * import { Executor, PromiseExecutor } from "effect-executor"
 *
 * const executor = PromiseExecutor.make(Executor.layerSqlite({ filename: "data/tasks.db", tasks: [SendWelcome] }))
 * const handle = await executor.submit(SendWelcome.make({ to: "ada@example.com" }))
 * await executor.await(handle)
 * await executor.close() // drains, as closing the layer does
 * ```
 *
 * @since 0.1.0
 */
import type { Effect, Layer, ManagedRuntime } from "effect"
import type { ServerResponse } from "node:http"
import type * as Executor from "./Executor.js"
import type { ExecutorAdmin } from "./ExecutorAdmin.js"
import * as internal from "./internal/promise/executor.js"
import type * as StatusApi from "./StatusApi.js"
import type * as Task from "./Task.js"
import type * as TaskHandle from "./TaskHandle.js"
import type * as TaskStatus from "./TaskStatus.js"

/**
 * Submits a task call, an `Effect`, or a function that gives a Promise (called with an
 * `AbortSignal` that aborts when the task is interrupted). Resolves with the handle once the task
 * is accepted (on durable layers: once its row is committed); rejects with a `SubmitError`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Submit {
  <T extends Task.Task.Any>(
    call: Task.TaskCall<T>,
    options?: Executor.SubmitOptions
  ): Promise<TaskHandle.TaskHandle<Task.Task.Success<T>, Task.Task.Failure<T>>>
  <A, E>(effect: Effect.Effect<A, E>, options?: Executor.SubmitOptions): Promise<TaskHandle.TaskHandle<A, E>>
  <A>(run: (signal: AbortSignal) => PromiseLike<A>, options?: Executor.SubmitOptions): Promise<TaskHandle.TaskHandle<A, unknown>>
}

/**
 * The submitter of one request (`forResponse`): what it submits is held until that request's
 * response has been written. What the server adapters hand to a handler.
 *
 * @since 0.1.0
 * @category models
 */
export interface Submitter {
  readonly submit: Submit
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PromiseExecutor<LayerError = never, Extra = never> {
  readonly submit: Submit
  /** Rejects with `TaskNotFound` (or `StoreUnavailable`). */
  readonly status: <A, E>(handle: TaskHandle.TaskHandle<A, E>) => Promise<TaskStatus.TaskStatus<A, E>>
  /** Resolves with the task's value; rejects with its error, `TaskFailed`, `TaskInterrupted` or `TaskNotFound`. */
  readonly await: <A, E>(handle: TaskHandle.TaskHandle<A, E>) => Promise<A>
  readonly interrupt: <A, E>(handle: TaskHandle.TaskHandle<A, E>) => Promise<void>
  /**
   * The submitter of one request: what it submits is held until `response` has been written (or
   * its client went away), as `AfterResponse.middleware` holds submits on `@effect/platform`. What
   * the server adapters use.
   */
  readonly forResponse: (response: ServerResponse) => Submitter
  /**
   * The status route's answer (as `StatusApi` gives it) for a task id from a request: send
   * `body` as JSON with `status` (200; 404 for unknown, malformed and forged ids, and for another
   * session's task when `session` is given: `null` for a request without a session; 503 when the
   * store is away). Never rejects. What the server adapters' status routes use.
   */
  readonly statusAnswer: (id: string, session?: string | null) => Promise<StatusApi.Answer>
  /** Runs any effect that needs the executor (`Executor`, `ExecutorAdmin`), e.g. for a status route. */
  readonly run: <A, E>(effect: Effect.Effect<A, E, Executor.Executor | ExecutorAdmin | Extra>) => Promise<A>
  /**
   * Builds the layer now instead of on first use; rejects with the layer's error. Call it when a
   * server starts: a durable layer's workers then start at once (resuming what a previous process
   * left unfinished), and a store that cannot be opened fails the start, not the first request.
   */
  readonly start: () => Promise<void>
  /** The runtime of the layer, built on first use. */
  readonly runtime: ManagedRuntime.ManagedRuntime<Executor.Executor | ExecutorAdmin | Extra, LayerError>
  /**
   * Closes the layer: intake stops, unfinished tasks get `drainTimeout` to finish, then the rest is
   * stopped. Every call made after it rejects with `ExecutorClosed`.
   */
  readonly close: () => Promise<void>
}

/**
 * A Promise API over `layer`, built when it is first used (a layer that fails to build rejects
 * that first call with its error). Services the layer provides beside the executor (e.g.
 * `ExecutorTest`) are available to `run`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <E, Extra = never>(
  layer: Layer.Layer<Executor.Executor | ExecutorAdmin | Extra, E, never>
) => PromiseExecutor<E, Extra> =
  internal.make
