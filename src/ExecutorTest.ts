/**
 * A layer for tests of code that submits work: it records what each request submitted (and what
 * was submitted outside requests), and waits until that work has finished, within a bounded time
 * that fails with what is still held, queued or running. It never hangs, also under `TestClock`,
 * and it keeps the final status of what it recorded until the test takes it, so a `retention`
 * that passes under `TestClock.adjust` does not make a task disappear.
 *
 * It needs neither vitest nor any test runner: only this library and `effect`.
 *
 * @example
 * ```ts
 * it.effect("signup sends the welcome mail after the response", () =>
 *   Effect.gen(function*() {
 *     const response = yield* HttpClient.post("/signup")           // the app, on ExecutorTest.layer()
 *     expect(response.status).toBe(200)
 *     const [mail] = yield* ExecutorTest.awaitSubmitted()            // what was submitted since the last call
 *     expect(mail.name).toBe("SendWelcome")
 *     expect(mail.status._tag).toBe("Succeeded")
 *   }))
 * ```
 *
 * @since 0.1.0
 */
import type { Context, Duration, Layer } from "effect"
import { Effect } from "effect"
import * as Executor from "./Executor.js"
import type { ExecutorAdmin } from "./ExecutorAdmin.js"
import * as internal from "./internal/test/recorder.js"
import type * as TaskHandle from "./TaskHandle.js"
import type * as TaskStatus from "./TaskStatus.js"

/**
 * The request a task was submitted in: an `@effect/platform` request, or the `ServerResponse` of
 * another server given by `AfterResponse.withResponse` (what the adapters do). `id` is the
 * request's `x-request-id` header (see `Options.requestIdHeader`), so that a test can name the
 * request it made. The submissions of one request share one `Request` object.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  readonly method: string
  readonly url: string
  readonly id: string | undefined
}

/**
 * One recorded submit: its handle, the task's name (or the `name` option of a plain effect,
 * `"effect"` without one), the request it was made in (`undefined` outside requests), and its final
 * status once it has finished.
 *
 * @since 0.1.0
 * @category models
 */
export interface Submission {
  readonly handle: TaskHandle.TaskHandle<unknown, unknown>
  readonly name: string
  readonly request: Request | undefined
  readonly status: TaskStatus.TaskStatus<unknown, unknown> | undefined
}

/**
 * A finished submission: `status` is `Succeeded` (with the value), `Failed` (with the error) or
 * `Interrupted`. Its `attempts` is 0 in the rare case the executor had forgotten the task before
 * its end was read.
 *
 * @since 0.1.0
 * @category models
 */
export interface Finished extends Submission {
  readonly status: TaskStatus.TaskStatus<unknown, unknown>
}

/**
 * A submission that had not finished when the wait timed out; `state` is `"held"`,
 * `"queued"`, `"queued (until <time>, <n> attempt(s) made)"`, `"running (attempt <n>)"`, or
 * `"unknown"` when the executor could not say.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pending {
  readonly handle: TaskHandle.TaskHandle<unknown, unknown>
  readonly name: string
  readonly request: Request | undefined
  readonly state: string
  readonly status: TaskStatus.TaskStatus<unknown, unknown> | undefined
}

/**
 * What to wait for: the given handles (recorded or not), the submissions of the request whose
 * request id header was `requestId`, or those a predicate picks. Without one: everything recorded
 * and not yet taken, i.e. everything submitted since the last `awaitSubmitted` or `drain`.
 *
 * @since 0.1.0
 * @category models
 */
export type Selector =
  | Iterable<TaskHandle.TaskHandle<unknown, unknown>>
  | { readonly requestId: string }
  | ((submission: Submission) => boolean)

/**
 * @since 0.1.0
 * @category models
 */
export interface AwaitOptions {
  /** How long to wait, in real time (not the `TestClock`'s). Default: the layer's `timeout`. */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * The options of the test layer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The header that names a request (`Request.id`). Default `"x-request-id"`. */
  readonly requestIdHeader?: string | undefined
  /** How long `awaitSubmitted` and `drain` wait by default, in real time. Default 5 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * The wait timed out: `pending` lists what had not finished, each with its id, name, request and
 * state. Nothing is taken; the message lists them too.
 *
 * @since 0.1.0
 * @category errors
 */
export const Unfinished: new(args: {
  readonly timeout: Duration.Duration
  readonly pending: ReadonlyArray<Pending>
}) => Unfinished = internal.Unfinished

/**
 * @since 0.1.0
 * @category errors
 */
export type Unfinished = internal.Unfinished

/**
 * The recorder's service.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecutorTest {
  /** What was recorded and not yet taken (or what `selector` picks), finished or not, without waiting. */
  readonly submitted: (selector?: Selector) => Effect.Effect<ReadonlyArray<Submission>>
  /**
   * Waits until what `selector` picks at the time of the call has finished, and takes it (the
   * recorder forgets it). Fails with `Unfinished` after the timeout, taking nothing.
   */
  readonly awaitSubmitted: (
    selector?: Selector,
    options?: AwaitOptions
  ) => Effect.Effect<ReadonlyArray<Finished>, Unfinished>
  /**
   * Waits until everything recorded has finished, also what those tasks submit meanwhile, and
   * takes it all. Fails with `Unfinished` after the timeout, taking nothing.
   */
  readonly drain: (options?: AwaitOptions) => Effect.Effect<ReadonlyArray<Finished>, Unfinished>
}

/**
 * The `ExecutorTest` service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const ExecutorTest: Context.Tag<ExecutorTest, ExecutorTest> = internal.tag

/**
 * An in-memory executor for tests (`Executor.layerMemory(options)`) that records its submits.
 *
 * @example
 * ```ts
 * Layer.provide(app, ExecutorTest.layer({ retention: "1 second", timeout: "2 seconds" }))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Executor.MemoryOptions & Options = {}
): Layer.Layer<Executor.Executor | ExecutorAdmin | ExecutorTest> => internal.wrap(Executor.layerMemory(options), options)

/**
 * Records the submits of any executor layer: `layerSqlite`, `layerPg`, `layerStore` (its
 * `DurableExecutor` is recorded too) or one of the application's own.
 *
 * @example
 * ```ts
 * ExecutorTest.wrap(Executor.layerSqlite({ filename: ":memory:", tasks: [SendWelcome] }))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const wrap: <ROut, E, RIn>(
  layer: Layer.Layer<ROut | Executor.Executor, E, RIn>,
  options?: Options
) => Layer.Layer<ROut | Executor.Executor | ExecutorTest, E, RIn> = internal.wrap

/**
 * `awaitSubmitted` of the `ExecutorTest` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const awaitSubmitted = (
  selector?: Selector,
  options?: AwaitOptions
): Effect.Effect<ReadonlyArray<Finished>, Unfinished, ExecutorTest> =>
  Effect.flatMap(ExecutorTest, (recorder) => recorder.awaitSubmitted(selector, options))

/**
 * `drain` of the `ExecutorTest` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const drain = (options?: AwaitOptions): Effect.Effect<ReadonlyArray<Finished>, Unfinished, ExecutorTest> =>
  Effect.flatMap(ExecutorTest, (recorder) => recorder.drain(options))

/**
 * `submitted` of the `ExecutorTest` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const submitted = (selector?: Selector): Effect.Effect<ReadonlyArray<Submission>, never, ExecutorTest> =>
  Effect.flatMap(ExecutorTest, (recorder) => recorder.submitted(selector))
