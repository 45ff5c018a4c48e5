/**
 * A `Task` is a named unit of work with Schemas for its payload, its success and its failure.
 * Volatile executors run any `Effect`; durable executors run only task calls, because a closure
 * cannot be persisted but a task name and an encoded payload can.
 *
 * @since 0.1.0
 */
import type { Effect, Schedule } from "effect"
import { Duration, Pipeable, Predicate, Schema } from "effect"
import type { TaskFailed } from "./ExecutorError.js"
import * as promiseInternal from "./internal/promise/run.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("effect-executor/Task")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * @since 0.1.0
 * @category type ids
 */
export const CallTypeId: unique symbol = Symbol.for("effect-executor/TaskCall")

/**
 * @since 0.1.0
 * @category type ids
 */
export type CallTypeId = typeof CallTypeId

/**
 * What a task does when the client of the request that submitted it goes away before the
 * response was fully written: `"run"` it anyway (the default) or `"drop"` it.
 *
 * @since 0.1.0
 * @category models
 */
export type OnAbort = "run" | "drop"

/**
 * A registered kind of work.
 *
 * @since 0.1.0
 * @category models
 */
export interface Task<
  out Name extends string,
  in out Payload extends Schema.Schema.All,
  in out Success extends Schema.Schema.All,
  in out Failure extends Schema.Schema.All,
  out R
> extends Pipeable.Pipeable {
  readonly [TypeId]: TypeId
  readonly name: Name
  readonly payload: Payload
  readonly success: Success
  readonly failure: Failure
  readonly run: (
    payload: Schema.Schema.Type<Payload>
  ) => Effect.Effect<Schema.Schema.Type<Success>, Schema.Schema.Type<Failure>, R>
  /** Retries on the task's typed failures and on timeouts; defects are not retried. */
  readonly retry: Schedule.Schedule<unknown, Schema.Schema.Type<Failure> | TaskFailed> | undefined
  /** Limit for one attempt; an attempt past it fails with `TaskFailed` (reason `"timeout"`). */
  readonly timeout: Duration.Duration | undefined
  readonly onAbort: OnAbort
  /** The queue (lane) its calls go to unless `submit` says otherwise. */
  readonly queue: string | undefined
  readonly priority: number
  /** Makes a call of this task, ready for `submit`. */
  make(payload: Schema.Schema.Type<Payload>): TaskCall<Task<Name, Payload, Success, Failure, R>>
}

/**
 * @since 0.1.0
 */
export declare namespace Task {
  /** Any task. */
  export interface Any {
    readonly [TypeId]: TypeId
    readonly name: string
    readonly payload: Schema.Schema.All
    readonly success: Schema.Schema.All
    readonly failure: Schema.Schema.All
    readonly run: (payload: any) => Effect.Effect<any, any, any>
    readonly retry: Schedule.Schedule<unknown, any> | undefined
    readonly timeout: Duration.Duration | undefined
    readonly onAbort: OnAbort
    readonly queue: string | undefined
    readonly priority: number
  }
  /** The value a task succeeds with. */
  export type Success<T> = T extends Task<infer _N, infer _P, infer S, infer _F, infer _R> ? Schema.Schema.Type<S>
    : never
  /** The typed error a task fails with. */
  export type Failure<T> = T extends Task<infer _N, infer _P, infer _S, infer F, infer _R> ? Schema.Schema.Type<F>
    : never
  /** The payload a task takes. */
  export type Payload<T> = T extends Task<infer _N, infer P, infer _S, infer _F, infer _R> ? Schema.Schema.Type<P>
    : never
  /** The services a task needs to run. */
  export type Context<T> = T extends Task<infer _N, infer _P, infer _S, infer _F, infer R> ? R : never
}

/**
 * A task with its payload: what `submit` takes.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskCall<out T extends Task.Any> {
  readonly [CallTypeId]: CallTypeId
  readonly task: T
  readonly payload: unknown
}

/**
 * @since 0.1.0
 */
export declare namespace TaskCall {
  /** Any task call. */
  export type Any = TaskCall<Task.Any>
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isTask = (u: unknown): u is Task.Any => Predicate.hasProperty(u, TypeId)

/**
 * @since 0.1.0
 * @category guards
 */
export const isTaskCall = (u: unknown): u is TaskCall.Any => Predicate.hasProperty(u, CallTypeId)

const TaskProto = {
  [TypeId]: TypeId,
  pipe() {
    return Pipeable.pipeArguments(this, arguments)
  },
  make(this: Task.Any, payload: unknown): TaskCall.Any {
    return { [CallTypeId]: CallTypeId, task: this, payload }
  }
}

/**
 * Defines a task.
 *
 * @example
 * ```ts
 * const SendWelcome = Task.make("SendWelcome", {
 *   payload: Schema.Struct({ to: Schema.String }),
 *   failure: MailError,
 *   run: ({ to }) => Mailer.send(to),
 *   retry: Schedule.exponential("200 millis").pipe(Schedule.intersect(Schedule.recurs(5))),
 *   timeout: "30 seconds"
 * })
 * yield* Executor.submit(SendWelcome.make({ to: "ada@example.com" }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <
  const Name extends string,
  Payload extends Schema.Schema.All,
  R,
  Success extends Schema.Schema.All = typeof Schema.Void,
  Failure extends Schema.Schema.All = typeof Schema.Never
>(
  name: Name,
  options: {
    readonly payload: Payload
    readonly success?: Success | undefined
    readonly failure?: Failure | undefined
    readonly run: (
      payload: Schema.Schema.Type<Payload>
    ) => Effect.Effect<Schema.Schema.Type<Success>, Schema.Schema.Type<Failure>, R>
    readonly retry?: Schedule.Schedule<unknown, Schema.Schema.Type<Failure> | TaskFailed> | undefined
    readonly timeout?: Duration.DurationInput | undefined
    readonly onAbort?: OnAbort | undefined
    readonly queue?: string | undefined
    readonly priority?: number | undefined
  }
): Task<Name, Payload, Success, Failure, R> => {
  if (name.length === 0) throw new TypeError("Task.make: a task needs a non-empty name")
  const self = Object.create(TaskProto)
  self.name = name
  self.payload = options.payload
  self.success = options.success ?? Schema.Void
  self.failure = options.failure ?? Schema.Never
  self.run = options.run
  self.retry = options.retry
  self.timeout = options.timeout === undefined ? undefined : Duration.decode(options.timeout)
  self.onAbort = options.onAbort ?? "run"
  self.queue = options.queue
  self.priority = options.priority ?? 0
  return self
}

/**
 * A task's `run` from a function that gives a Promise: a rejection is a defect (the task ends
 * `Failed` with `TaskFailed`, reason `"defect"`, and is not retried). The `AbortSignal` aborts
 * when the task is interrupted; it is made only when `f` declares it as its second parameter
 * (an `AbortController` per run costs more than a small task), otherwise `f` gets one that never
 * aborts.
 *
 * @example
 * ```ts
 * const Notify = Task.make("Notify", {
 *   payload: Schema.Struct({ url: Schema.String }),
 *   run: Task.fromPromise(({ url }, signal) => fetch(url, { method: "POST", signal }).then(() => undefined))
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPromise: <P, A>(
  f: (payload: P, signal: AbortSignal) => PromiseLike<A>
) => (payload: P) => Effect.Effect<A> = promiseInternal.fromPromise

/**
 * As `fromPromise`, with a rejection turned into the task's typed failure by `onRejection` (so it
 * is retried by the task's `retry` and decoded with its `failure` Schema).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPromiseOr: <P, A, E>(
  f: (payload: P, signal: AbortSignal) => PromiseLike<A>,
  onRejection: (error: unknown) => E
) => (payload: P) => Effect.Effect<A, E> = promiseInternal.fromPromiseOr
