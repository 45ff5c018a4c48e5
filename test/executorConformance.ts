/**
 * The executor conformance suite (issue 14, point 1): every executor layer runs it by passing a
 * factory that gives a fresh `Executor | ExecutorAdmin` layer (memory, SQLite on a fresh file,
 * PostgreSQL on a fresh schema) for the given tasks and options. The tests use task calls
 * (`Task.make`) only, submitted through `Executor`, so that the same expectations hold on the
 * volatile and the durable levels. The tasks' services (`Probe`) are given to the layer and to the
 * submitter alike: durable tasks take them from the layer, memory tasks from the submitter.
 *
 * Divergences: none known. Those found while this suite was written (issue 14) are fixed and
 * each is a test here: a retry's backoff held its slot and showed `Running` in memory (now
 * `Queued({ runAt, attempts })` with the slot free on every layer); the durable layers replayed
 * the retry Schedule with one constant `now`, so `Schedule.upTo` never ended retries there (one
 * retry policy, run/retryPolicy.ts, measuring from the first failure); durable `maxBacklog`
 * counted only submits waiting for their write (now held and queued rows, as memory counts held,
 * delayed and queued tasks); a fractional priority was refused on durable layers only.
 *
 * Tests on the TestClock pass `slowLoops`: the durable layers' loops run on the test's clock, and
 * an adjustment runs every poll, beat and heartbeat it passes.
 */
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Context, Deferred, Effect, Either, Exit, Fiber, Layer, Logger, Option, Queue, Ref, Schedule, Schema, Scope, Stream, TestClock } from "effect"
import { Executor, ExecutorAdmin, ExecutorError, Task, TaskHandle, TaskStatus } from "../src/index.js"
import { readBody, request, startServer } from "./httpSupport.js"

/** A service the tasks need: records the runs, in the test process. */
export class Probe extends Context.Tag("test/conformance/Probe")<Probe, Ref.Ref<ReadonlyArray<string>>>() {}

/** What a factory is given: the tasks a durable layer registers, and the executor's options. */
export interface ConformanceOptions extends Executor.MemoryOptions {
  readonly tasks: ReadonlyArray<Task.Task.Any>
  /**
   * For TestClock tests: the durable layers' loops fire on the test's clock, so each adjustment
   * runs every poll, beat and heartbeat it passes; these make them rare (memory layers ignore it).
   */
  readonly slowLoops?: boolean
}

/** Durable loop timings for `slowLoops`. */
export const slowLoops = { pollInterval: "1 minute", leaseDuration: "5 minutes", takeoverAfter: "5 minutes" } as const

export type MakeExecutorLayer = (
  options: ConformanceOptions
) => Layer.Layer<Executor.Executor | ExecutorAdmin.ExecutorAdmin, unknown, Probe>

class Declined extends Schema.TaggedError<Declined>()("Declined", { reason: Schema.String }) {}

const Double = Task.make("Double", {
  payload: Schema.Struct({ n: Schema.Number }),
  success: Schema.Number,
  failure: Declined,
  run: ({ n }) =>
    Effect.gen(function*() {
      yield* Ref.update(yield* Probe, (runs) => [...runs, `double ${n}`])
      if (n < 0) return yield* new Declined({ reason: `negative ${n}` })
      return n * 2
    })
})

const Record = Task.make("Record", {
  payload: Schema.Struct({ name: Schema.String }),
  run: ({ name }) => Effect.flatMap(Probe, (runs) => Ref.update(runs, (names) => [...names, name]))
})

/** A task whose first two attempts fail (`Declined`) and whose third answers 3, counting them in `attempts`. */
const failsTwice = (attempts: Ref.Ref<number>, retry: Schedule.Schedule<unknown, Declined | ExecutorError.TaskFailed>) =>
  Task.make("Flaky", {
    payload: Schema.Void,
    success: Schema.Number,
    failure: Declined,
    run: () =>
      Ref.updateAndGet(attempts, (n) => n + 1).pipe(
        Effect.flatMap((n) => n < 3 ? Effect.fail(new Declined({ reason: `attempt ${n}` })) : Effect.succeed(n))
      ),
    retry
  })

/** A task that waits on an in-process gate, so that it occupies its slot as long as the test wants. */
const gated = (name: string, gate: Deferred.Deferred<void>, started?: Deferred.Deferred<void>) =>
  Task.make(name, {
    payload: Schema.Void,
    success: Schema.String,
    run: () =>
      (started === undefined ? Effect.void : Deferred.succeed(started, undefined)).pipe(
        Effect.zipRight(Deferred.await(gate)),
        Effect.as(`${name} done`)
      )
  })

const gatedBody = (gate: Queue.Dequeue<void>, chunks: ReadonlyArray<string>) =>
  Stream.fromIterable(chunks).pipe(Stream.tap(() => Queue.take(gate)), Stream.encodeText)

/**
 * Polls `effect` until `done` holds, pausing 5 ms of real time between reads (a durable status
 * changes when its write lands, on no clock of the test's): for tests on the TestClock.
 */
const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, done: (a: A) => boolean): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const deadline = Date.now() + 30_000
    for (;;) {
      const value = yield* effect
      if (done(value)) return value
      if (Date.now() > deadline) return yield* Effect.dieMessage("the awaited status did not come within 30 s")
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
    }
  })

/** Log lines of the logging test, captured by `capture`. */
const capturedLines: Array<{ level: string; message: string; cause: boolean }> = []
const capture = Logger.make(({ cause, logLevel, message }) => {
  const text = (Array.isArray(message) ? message : [message]).map(String).join(" ")
  capturedLines.push({ level: logLevel.label, message: text, cause: !Cause.isEmpty(cause) })
})

const probeLayer = Layer.effect(Probe, Ref.make<ReadonlyArray<string>>([]))

export const executorConformance = (name: string, makeLayer: MakeExecutorLayer) =>
  describe(`Executor conformance: ${name}`, () => {
    const withExecutor = (options: ConformanceOptions) =>
      Effect.provide(Layer.provideMerge(makeLayer(options), probeLayer))

    /** Builds the layer in a scope of the test's own, for tests that need the context itself. */
    const build = (options: ConformanceOptions, scope: Scope.Scope) =>
      Layer.buildWithScope(Layer.provideMerge(makeLayer(options), probeLayer), scope)

    it.live("submit, await the value; status Succeeded with it; a typed failure is decoded", () =>
      Effect.gen(function*() {
        const ok = yield* Executor.submit(Double.make({ n: 21 }))
        expect(yield* Executor.await(ok)).toBe(42)
        expect(yield* Executor.status(ok)).toEqual(TaskStatus.Succeeded({ value: 42, attempts: 1 }))
        const failed = yield* Executor.submit(Double.make({ n: -1 }))
        const error = yield* Effect.flip(Executor.await(failed))
        expect(error).toBeInstanceOf(Declined)
        expect(error).toEqual(new Declined({ reason: "negative -1" }))
        expect(yield* Executor.status(failed)).toEqual(
          TaskStatus.Failed({ error: new Declined({ reason: "negative -1" }), attempts: 1 })
        )
        expect(yield* Ref.get(yield* Probe)).toEqual(["double 21", "double -1"])
      }).pipe(withExecutor({ tasks: [Double] })))

    it.live("the admin shows a status in its encoded form, the same on every layer", () =>
      Effect.gen(function*() {
        const admin = yield* ExecutorAdmin.ExecutorAdmin
        const ok = yield* Executor.submit(Double.make({ n: 21 }))
        yield* Executor.await(ok)
        const failed = yield* Executor.submit(Double.make({ n: -1 }))
        yield* Effect.flip(Executor.await(failed))
        const delayed = yield* Executor.submit(Double.make({ n: 1 }), { delay: "1 hour" })
        expect((yield* admin.inspect(ok.id)).status).toEqual({ _tag: "Succeeded", value: 42, attempts: 1 })
        expect((yield* admin.inspect(failed.id)).status).toEqual({
          _tag: "Failed",
          error: { _tag: "Declined", reason: "negative -1" },
          attempts: 1
        })
        const waiting = (yield* admin.inspect(delayed.id)).status
        expect(waiting._tag === "Queued" && typeof waiting.runAt === "number" && waiting.runAt > Date.now()).toBe(true)
        yield* Executor.interrupt(delayed)
      }).pipe(withExecutor({ tasks: [Double] })))

    it.live("interrupt of a running task runs its finalizer; await fails TaskInterrupted; status Interrupted", () =>
      Effect.gen(function*() {
        const started = yield* Deferred.make<void>()
        const finalized = yield* Deferred.make<void>()
        const Blocking = Task.make("Blocking", {
          payload: Schema.Void,
          run: () =>
            Deferred.succeed(started, undefined).pipe(
              Effect.zipRight(Effect.never),
              Effect.onInterrupt(() => Deferred.succeed(finalized, undefined))
            )
        })
        yield* Effect.gen(function*() {
          const handle = yield* Executor.submit(Blocking.make(undefined))
          yield* Deferred.await(started)
          expect(yield* Executor.status(handle)).toEqual(TaskStatus.Running({ attempt: 1 }))
          yield* Executor.interrupt(handle)
          yield* Deferred.await(finalized).pipe(Effect.timeout("5 seconds"))
          expect(yield* Effect.flip(Executor.await(handle))).toBeInstanceOf(ExecutorError.TaskInterrupted)
          expect(yield* Executor.status(handle)).toEqual(TaskStatus.Interrupted())
        }).pipe(withExecutor({ tasks: [Blocking] }))
      }))

    it.live("interrupt of a queued (delayed) task: it never starts", () =>
      Effect.gen(function*() {
        const before = yield* Clock.currentTimeMillis
        const delayed = yield* Executor.submit(Record.make({ name: "delayed" }), { delay: "100 millis" })
        const waiting = yield* Executor.status(delayed)
        // waiting for its time, which the status tells
        expect(waiting._tag).toBe("Queued")
        const runAt = waiting._tag === "Queued" ? waiting.runAt?.getTime() ?? 0 : 0
        expect(runAt).toBeGreaterThanOrEqual(before + 100)
        expect(runAt).toBeLessThanOrEqual((yield* Clock.currentTimeMillis) + 100)
        yield* Executor.interrupt(delayed)
        expect(yield* Executor.status(delayed)).toEqual(TaskStatus.Interrupted())
        expect(yield* Effect.flip(Executor.await(delayed))).toBeInstanceOf(ExecutorError.TaskInterrupted)
        // a task due later than the interrupted one: once it ran, the interrupted one's time had come
        const later = yield* Executor.submit(Record.make({ name: "later" }), { delay: "200 millis" })
        yield* Executor.await(later)
        expect(yield* Ref.get(yield* Probe)).toEqual(["later"])
        expect(yield* Executor.status(delayed)).toEqual(TaskStatus.Interrupted())
      }).pipe(withExecutor({ tasks: [Record], concurrency: 1 })))

    it.live("inside a request the task is held until the client has the whole response", () =>
      Effect.gen(function*() {
        const started = yield* Deferred.make<void>()
        const Mark = Task.make("Mark", {
          payload: Schema.Void,
          success: Schema.String,
          run: () => Deferred.succeed(started, undefined).pipe(Effect.as("ran"))
        })
        const gate = yield* Queue.unbounded<void>()
        const inHandler = yield* Deferred.make<{
          readonly handle: TaskHandle.TaskHandle<string, never>
          readonly status: TaskStatus.TaskStatus<string, never>
          readonly startedAtReturn: boolean
        }>()
        const router = HttpRouter.empty.pipe(
          HttpRouter.post(
            "/held",
            Effect.gen(function*() {
              const handle = yield* Executor.submit(Mark.make(undefined))
              const status = yield* Executor.status(handle)
              yield* Deferred.succeed(inHandler, { handle, status, startedAtReturn: yield* Deferred.isDone(started) })
              return HttpServerResponse.stream(gatedBody(gate, ["one,", "two"]))
            })
          )
        )
        const scope = yield* Effect.scope
        const context = yield* build({ tasks: [Mark] }, scope)
        const { executor, port } = yield* startServer(
          router as unknown as HttpRouter.HttpRouter<never, Executor.Executor>,
          { executor: Layer.succeedContext(context) }
        )
        yield* Queue.offer(gate, undefined)
        const response = yield* request(port, "/held")
        expect(yield* Queue.take(response.chunks)).toBe("one,")
        const { handle, startedAtReturn, status } = yield* Deferred.await(inHandler)
        expect(startedAtReturn).toBe(false)
        expect(status).toEqual(TaskStatus.Held())
        // the body is not complete: the task is still held
        expect(yield* Deferred.isDone(started)).toBe(false)
        expect(yield* executor.status(handle)).toEqual(TaskStatus.Held())
        yield* Queue.offer(gate, undefined)
        expect(yield* readBody(response)).toBe("two")
        expect(yield* executor.await(handle)).toBe("ran")
        expect(yield* Deferred.isDone(started)).toBe(true)
      }).pipe(Effect.scoped))

    it.live("onAbort \"drop\": a client that disconnects mid-response leaves the task Interrupted", () =>
      Effect.gen(function*() {
        const gate = yield* Queue.unbounded<void>()
        const handles = yield* Deferred.make<{
          readonly dropped: TaskHandle.TaskHandle<void, never>
          readonly kept: TaskHandle.TaskHandle<void, never>
        }>()
        const router = HttpRouter.empty.pipe(
          HttpRouter.post(
            "/abort",
            Effect.gen(function*() {
              const dropped = yield* Executor.submit(Record.make({ name: "dropped" }), { onAbort: "drop" })
              const kept = yield* Executor.submit(Record.make({ name: "kept" }))
              yield* Deferred.succeed(handles, { dropped, kept })
              return HttpServerResponse.stream(gatedBody(gate, ["first", "never sent"]))
            })
          )
        )
        const scope = yield* Effect.scope
        const context = yield* build({ tasks: [Record] }, scope)
        const { executor, port } = yield* startServer(
          router as unknown as HttpRouter.HttpRouter<never, Executor.Executor>,
          { executor: Layer.succeedContext(context) }
        )
        yield* Queue.offer(gate, undefined)
        const response = yield* request(port, "/abort")
        expect(yield* Queue.take(response.chunks)).toBe("first")
        const { dropped, kept } = yield* Deferred.await(handles)
        response.disconnect()
        yield* executor.await(kept)
        expect(yield* Effect.flip(executor.await(dropped))).toBeInstanceOf(ExecutorError.TaskInterrupted)
        expect(yield* executor.status(dropped)).toEqual(TaskStatus.Interrupted())
        expect(yield* Ref.get(Context.get(context, Probe))).toEqual(["kept"])
      }).pipe(Effect.scoped))

    it.live("retry with backoff: failing twice then succeeding ends Succeeded after 3 attempts", () =>
      Effect.gen(function*() {
        const attempts = yield* Ref.make(0)
        const Flaky = failsTwice(attempts, Schedule.spaced("10 millis").pipe(Schedule.intersect(Schedule.recurs(3))))
        yield* Effect.gen(function*() {
          const handle = yield* Executor.submit(Flaky.make(undefined))
          expect(yield* Executor.await(handle)).toBe(3)
          expect(yield* Executor.status(handle)).toEqual(TaskStatus.Succeeded({ value: 3, attempts: 3 }))
          expect(yield* Ref.get(attempts)).toBe(3)
        }).pipe(withExecutor({ tasks: [Flaky] }))
      }))

    it.effect("retry (TestClock): the backoff frees the slot and shows Queued with the next attempt's time", () =>
      Effect.gen(function*() {
        const attempts = yield* Ref.make(0)
        const Flaky = failsTwice(attempts, Schedule.spaced("10 seconds").pipe(Schedule.intersect(Schedule.recurs(5))))
        yield* Effect.gen(function*() {
          const handle = yield* Executor.submit(Flaky.make(undefined))
          // the TestClock starts at 0: the first attempt fails at 0, the second is due at 10 s
          expect(yield* eventually(Executor.status(handle), (s) => s._tag === "Queued" && s.attempts === 1))
            .toEqual(TaskStatus.Queued({ runAt: new Date(10_000), attempts: 1 }))
          // concurrency 1: another task runs while the first waits for its retry
          expect(yield* Executor.await(yield* Executor.submit(Double.make({ n: 1 })))).toBe(2)
          expect(yield* Ref.get(attempts)).toBe(1)
          yield* TestClock.adjust("10 seconds")
          expect(yield* eventually(Executor.status(handle), (s) => s._tag === "Queued" && s.attempts === 2))
            .toEqual(TaskStatus.Queued({ runAt: new Date(20_000), attempts: 2 }))
          yield* TestClock.adjust("10 seconds")
          expect(yield* Executor.await(handle)).toBe(3)
          expect(yield* Executor.status(handle)).toEqual(TaskStatus.Succeeded({ value: 3, attempts: 3 }))
        }).pipe(withExecutor({ tasks: [Flaky, Double], concurrency: 1, slowLoops: true }))
      }))

    it.effect("retry (TestClock): a task waiting for its retry can be interrupted; it never runs again", () =>
      Effect.gen(function*() {
        const attempts = yield* Ref.make(0)
        const Failing = Task.make("Failing", {
          payload: Schema.Void,
          failure: Declined,
          run: () => Ref.update(attempts, (n) => n + 1).pipe(Effect.zipRight(Effect.fail(new Declined({ reason: "no" })))),
          retry: Schedule.spaced("10 seconds")
        })
        yield* Effect.gen(function*() {
          const handle = yield* Executor.submit(Failing.make(undefined))
          yield* eventually(Executor.status(handle), (s) => s._tag === "Queued" && s.attempts === 1)
          yield* Executor.interrupt(handle)
          expect(yield* Executor.status(handle)).toEqual(TaskStatus.Interrupted())
          yield* TestClock.adjust("1 minute")
          expect(yield* Effect.flip(Executor.await(handle))).toBeInstanceOf(ExecutorError.TaskInterrupted)
          expect(yield* Ref.get(attempts)).toBe(1)
        }).pipe(withExecutor({ tasks: [Failing], slowLoops: true }))
      }))

    it.effect("retry (TestClock): a time-based schedule (upTo) ends the retries when its time is up", () =>
      Effect.gen(function*() {
        const Always = Task.make("Always", {
          payload: Schema.Void,
          failure: Declined,
          run: () => Effect.fail(new Declined({ reason: "always" })),
          // failures at 0, 1, 2, 3, 4 s are retried; at 5 s the 5 seconds are up
          retry: Schedule.spaced("1 second").pipe(Schedule.upTo("5 seconds"), Schedule.intersect(Schedule.recurs(20)))
        })
        yield* Effect.gen(function*() {
          const handle = yield* Executor.submit(Always.make(undefined))
          for (let attempt = 1; attempt <= 10; attempt++) {
            const status = yield* eventually(
              Executor.status(handle),
              (s) => s._tag === "Failed" || (s._tag === "Queued" && s.attempts === attempt)
            )
            if (status._tag === "Failed") break
            yield* TestClock.adjust("1 second")
          }
          expect(yield* Executor.status(handle)).toEqual(
            TaskStatus.Failed({ error: new Declined({ reason: "always" }), attempts: 6 })
          )
        }).pipe(withExecutor({ tasks: [Always] , slowLoops: true }))
      }))

    it.effect("retention (TestClock): a finished task is forgotten once its retention has passed", () =>
      Effect.gen(function*() {
        const handle = yield* Executor.submit(Double.make({ n: 2 }))
        expect(yield* Executor.await(handle)).toBe(4)
        yield* TestClock.adjust("30 seconds")
        expect(yield* Executor.status(handle)).toEqual(TaskStatus.Succeeded({ value: 4, attempts: 1 }))
        // past the minute (durable layers prune every retention/2, so within 90 s)
        yield* TestClock.adjust("61 seconds")
        const gone = yield* eventually(Effect.either(Executor.status(handle)), Either.isLeft)
        expect(Either.isLeft(gone) && gone.left).toBeInstanceOf(ExecutorError.TaskNotFound)
      }).pipe(withExecutor({ tasks: [Double], retention: "1 minute" , slowLoops: true })))

    it.live("an attempt past its timeout fails with TaskFailed (timeout)", () =>
      Effect.gen(function*() {
        const Slow = Task.make("Slow", { payload: Schema.Void, run: () => Effect.never, timeout: "50 millis" })
        yield* Effect.gen(function*() {
          const handle = yield* Executor.submit(Slow.make(undefined))
          const error = yield* Effect.flip(Executor.await(handle))
          expect(error).toBeInstanceOf(ExecutorError.TaskFailed)
          expect(error).toMatchObject({ _tag: "TaskFailed", reason: "timeout" })
          expect(yield* Executor.status(handle)).toMatchObject({
            _tag: "Failed",
            attempts: 1,
            error: { _tag: "TaskFailed", reason: "timeout" }
          })
        }).pipe(withExecutor({ tasks: [Slow] }))
      }))

    it.live("an idempotency key returns the first handle, while it runs and after", () =>
      Effect.gen(function*() {
        const first = yield* Executor.submit(Record.make({ name: "once" }), { idempotencyKey: "k:1" })
        const second = yield* Executor.submit(Record.make({ name: "once" }), { idempotencyKey: "k:1" })
        expect(second.id).toBe(first.id)
        yield* Executor.await(first)
        const third = yield* Executor.submit(Record.make({ name: "once" }), { idempotencyKey: "k:1" })
        expect(third.id).toBe(first.id)
        const other = yield* Executor.submit(Record.make({ name: "other" }), { idempotencyKey: "k:2" })
        expect(other.id).not.toBe(first.id)
        yield* Executor.await(other)
        expect(yield* Ref.get(yield* Probe)).toEqual(["once", "other"])
      }).pipe(withExecutor({ tasks: [Record] })))

    it.live("with concurrency 1, higher priority runs first; an unknown queue is UnknownQueue, bad options InvalidOptions", () =>
      Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        const started = yield* Deferred.make<void>()
        const Gate = gated("Gate", gate, started)
        yield* Effect.gen(function*() {
          const blocker = yield* Executor.submit(Gate.make(undefined))
          yield* Deferred.await(started)
          const low = yield* Executor.submit(Record.make({ name: "low" }), { priority: -1 })
          const normal = yield* Executor.submit(Record.make({ name: "normal" }))
          const high = yield* Executor.submit(Record.make({ name: "high" }), { priority: 10 })
          yield* Deferred.succeed(gate, undefined)
          yield* Executor.await(blocker)
          yield* Effect.forEach([low, normal, high], Executor.await)
          expect(yield* Ref.get(yield* Probe)).toEqual(["high", "normal", "low"])
          const unknown = yield* Effect.flip(Executor.submit(Record.make({ name: "x" }), { queue: "nope" }))
          expect(unknown).toBeInstanceOf(ExecutorError.UnknownQueue)
          // one check of the options on both levels: a priority is an integer, a delay not negative
          for (const options of [{ priority: 0.5 }, { priority: Number.NaN }, { delay: -1 }, { runAt: new Date(Number.NaN) }]) {
            const refused = yield* Effect.flip(Executor.submit(Record.make({ name: "x" }), options))
            expect(refused).toBeInstanceOf(ExecutorError.InvalidOptions)
          }
        }).pipe(withExecutor({ tasks: [Gate, Record], concurrency: 1 }))
      }))

    it.live("past maxBacklog (held, delayed and queued tasks), submit fails with ExecutorBusy and nothing is lost", () =>
      Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        const started = yield* Deferred.make<void>()
        const Blocking = gated("Blocking", gate, started)
        yield* Effect.gen(function*() {
          const running = yield* Executor.submit(Blocking.make(undefined))
          yield* Deferred.await(started)
          // the running task is not backlog; two queued ones fill it
          const first = yield* Executor.submit(Record.make({ name: "first" }))
          const second = yield* Executor.submit(Record.make({ name: "second" }))
          const busy = new ExecutorError.ExecutorBusy({ maxBacklog: 2 })
          expect(yield* Effect.flip(Executor.submit(Record.make({ name: "third" })))).toEqual(busy)
          expect(yield* Effect.flip(Executor.submit(Record.make({ name: "later" }), { delay: "1 hour" }))).toEqual(busy)
          yield* Deferred.succeed(gate, undefined)
          yield* Executor.await(running)
          yield* Executor.await(first)
          yield* Executor.await(second)
          expect(yield* Ref.get(yield* Probe)).toEqual(["first", "second"])
          // room again
          yield* Executor.await(yield* Executor.submit(Record.make({ name: "fourth" })))
        }).pipe(withExecutor({ tasks: [Blocking, Record], concurrency: 1, maxBacklog: 2 }))
      }))

    it.live("a named queue runs its tasks", () =>
      Effect.gen(function*() {
        const handle = yield* Executor.submit(Double.make({ n: 2 }), { queue: "reports" })
        expect(yield* Executor.await(handle)).toBe(4)
      }).pipe(withExecutor({ tasks: [Double], queues: { reports: { concurrency: 1 } } })))

    it.live("closing the layer's scope lets a running task finish within drainTimeout", () =>
      Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        const started = yield* Deferred.make<void>()
        const finished = yield* Deferred.make<void>()
        const Draining = Task.make("Draining", {
          payload: Schema.Void,
          run: () =>
            Deferred.succeed(started, undefined).pipe(
              Effect.zipRight(Deferred.await(gate)),
              Effect.zipRight(Deferred.succeed(finished, undefined))
            )
        })
        const scope = yield* Scope.make()
        const context = yield* build({ tasks: [Draining], drainTimeout: "10 seconds" }, scope)
        yield* Executor.submit(Draining.make(undefined)).pipe(Effect.provide(context))
        yield* Deferred.await(started)
        const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
        // intake stops: once a submit is refused with ExecutorClosed, the close is under way
        const refused = yield* Executor.submit(Draining.make(undefined)).pipe(
          Effect.provide(context),
          Effect.flip,
          Effect.retry(Schedule.spaced("5 millis").pipe(Schedule.intersect(Schedule.recurs(200))))
        )
        expect(refused).toBeInstanceOf(ExecutorError.ExecutorClosed)
        // and it waits for the running task
        expect(Option.isNone(yield* Fiber.poll(closing))).toBe(true)
        expect(yield* Deferred.isDone(finished)).toBe(false)
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(closing).pipe(Effect.timeout("5 seconds"))
        expect(yield* Deferred.isDone(finished)).toBe(true)
      }))

    it.live("logs: a retried attempt at WARN with its next time, a final failure at ERROR, a drain with what it waits for", () =>
      Effect.gen(function*() {
        const lines = capturedLines
        lines.length = 0
        const attempts = yield* Ref.make(0)
        const OnceFlaky = Task.make("OnceFlaky", {
          payload: Schema.Void,
          failure: Declined,
          run: () =>
            Ref.updateAndGet(attempts, (n) => n + 1).pipe(
              Effect.flatMap((n) => n === 1 ? Effect.fail(new Declined({ reason: "first" })) : Effect.void)
            ),
          retry: Schedule.spaced("20 millis").pipe(Schedule.intersect(Schedule.recurs(1)))
        })
        const gate = yield* Deferred.make<void>()
        const started = yield* Deferred.make<void>()
        const Waiting = gated("Waiting", gate, started)
        const scope = yield* Scope.make()
        const context = yield* build({ tasks: [OnceFlaky, Double, Waiting], drainTimeout: "10 seconds" }, scope)
        yield* Effect.gen(function*() {
          yield* Executor.await(yield* Executor.submit(OnceFlaky.make(undefined)))
          yield* Effect.flip(Executor.await(yield* Executor.submit(Double.make({ n: -2 }))))
          yield* Executor.submit(Waiting.make(undefined))
          yield* Deferred.await(started)
        }).pipe(Effect.provide(context))
        const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
        yield* Effect.repeat(Effect.sync(() => lines.some((l) => l.message.startsWith("shutting down"))), {
          until: (logged) => logged,
          schedule: Schedule.spaced("5 millis").pipe(Schedule.intersect(Schedule.recurs(1000)))
        })
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(closing)
        const retried = lines.find((l) => l.message.includes("task OnceFlaky: attempt 1 failed; attempt 2 at "))
        expect(retried).toMatchObject({ level: "WARN", cause: true })
        expect(lines.find((l) => l.message.includes("task Double failed after 1 attempt"))).toMatchObject({
          level: "ERROR",
          cause: true
        })
        expect(lines.find((l) => l.message.startsWith("shutting down: waiting up to 10s for 1 running"))).toMatchObject({
          level: "INFO"
        })
        // the task that succeeded on its second attempt logged no failure of its own
        expect(lines.filter((l) => l.message.includes("OnceFlaky") && l.level === "ERROR")).toEqual([])
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture))))

    it.live("a malformed, forged or unknown handle is TaskNotFound for status, await and interrupt", () =>
      Effect.gen(function*() {
        const malformed = TaskHandle.unsafeMake("../../etc/passwd")
        const unknown = TaskHandle.unsafeMake("A".repeat(24))
        const notAHandle = { id: 12 } as unknown as TaskHandle.TaskHandle<unknown, unknown>
        for (const handle of [malformed, unknown, notAHandle]) {
          expect(yield* Effect.flip(Executor.status(handle))).toBeInstanceOf(ExecutorError.TaskNotFound)
          expect(yield* Effect.flip(Executor.await(handle))).toBeInstanceOf(ExecutorError.TaskNotFound)
          expect(yield* Effect.flip(Executor.interrupt(handle))).toBeInstanceOf(ExecutorError.TaskNotFound)
        }
      }).pipe(withExecutor({ tasks: [Record] })))
  })
