import { describe, expect, it } from "@effect/vitest"
import {
  Deferred,
  Either,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  Queue,
  Ref,
  Schedule,
  Schema,
  Scope,
  Supervisor as FiberSupervisor,
  TestClock
} from "effect"
import { Executor, ExecutorError, Task, TaskHandle, TaskStatus } from "../src/index.js"
import { fromSupervisor, makeMemory } from "../src/internal/executor.js"
import { awaitSleepers, recordingTracer } from "./support.js"

class ReportError extends Schema.TaggedError<ReportError>()("ReportError", { reason: Schema.String }) {}

const Double = Task.make("Double", {
  payload: Schema.Struct({ n: Schema.Number }),
  success: Schema.Number,
  failure: ReportError,
  run: ({ n }) => n < 0 ? Effect.fail(new ReportError({ reason: "negative" })) : Effect.succeed(n * 2)
})

const memory = (options?: Executor.MemoryOptions) => Effect.provide(Executor.layerMemory(options))

describe("Executor.layerMemory", () => {
  it.effect("reports Queued, Running, then Succeeded with the value, and await returns it", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const finish = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const blocker = yield* Executor.submit(Deferred.await(gate), { when: "now" })
      const task = yield* Executor.submit(
        Deferred.succeed(started, undefined).pipe(Effect.zipRight(Deferred.await(finish)), Effect.as(42)),
        { when: "now" }
      )
      expect((yield* Executor.status(blocker))._tag).toBe("Running")
      expect(yield* Executor.status(task)).toEqual(TaskStatus.Queued())
      yield* Deferred.succeed(gate, undefined)
      yield* Deferred.await(started)
      expect(yield* Executor.status(task)).toEqual(TaskStatus.Running({ attempt: 1 }))
      yield* Deferred.succeed(finish, undefined)
      expect(yield* Executor.await(task)).toBe(42)
      expect(yield* Executor.status(task)).toEqual(TaskStatus.Succeeded({ value: 42, attempts: 1 }))
    }).pipe(memory({ concurrency: 1 })))

  it.effect("a task call's typed failure comes back as Failed with the error, and await fails with it", () =>
    Effect.gen(function*() {
      const ok = yield* Executor.submit(Double.make({ n: 21 }))
      const bad = yield* Executor.submit(Double.make({ n: -1 }))
      expect(yield* Executor.await(ok)).toBe(42)
      const error = yield* Effect.flip(Executor.await(bad))
      expect(error).toEqual(new ReportError({ reason: "negative" }))
      const status = yield* Executor.status(bad)
      expect(status._tag).toBe("Failed")
      if (status._tag === "Failed") {
        expect(status.error).toBeInstanceOf(ReportError)
        expect(status.attempts).toBe(1)
        // the status survives encoding with the task's Schemas, as a StatusApi would send it
        const codec = TaskStatus.schema(Double.success, Double.failure)
        const decoded = yield* Schema.decode(codec)(yield* Schema.encode(codec)(status))
        expect(decoded._tag === "Failed" && decoded.error).toBeInstanceOf(ReportError)
      }
    }).pipe(memory()))

  it.effect("a defect becomes Failed with TaskFailed (reason defect), never a defect of the caller", () =>
    Effect.gen(function*() {
      const handle = yield* Executor.submit(Effect.die(new Error("boom")))
      const error = yield* Effect.flip(Executor.await(handle))
      expect(error).toBeInstanceOf(ExecutorError.TaskFailed)
      expect(error).toMatchObject({ reason: "defect", detail: "Error: boom" })
    }).pipe(memory()))

  it.effect("interrupt stops a running task, runs its finalizers, and the status is Interrupted", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const finalized = yield* Deferred.make<void>()
      const handle = yield* Executor.submit(
        Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Effect.never),
          Effect.ensuring(Deferred.succeed(finalized, undefined))
        )
      )
      yield* Deferred.await(started)
      yield* Executor.interrupt(handle)
      expect(yield* Deferred.isDone(finalized)).toBe(true)
      expect(yield* Executor.status(handle)).toEqual(TaskStatus.Interrupted())
      expect(yield* Effect.flip(Executor.await(handle))).toBeInstanceOf(ExecutorError.TaskInterrupted)
    }).pipe(memory()))

  it.effect("interrupt of a queued task: it never starts", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const ran = yield* Ref.make(false)
      yield* Executor.submit(Deferred.await(gate))
      const queued = yield* Executor.submit(Ref.set(ran, true))
      yield* Executor.interrupt(queued)
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Executor.status(queued)).toEqual(TaskStatus.Interrupted())
      const after = yield* Executor.submit(Effect.void)
      yield* Executor.await(after)
      expect(yield* Ref.get(ran)).toBe(false)
    }).pipe(memory({ concurrency: 1 })))

  it.effect("a malformed, forged or unknown handle is TaskNotFound for status, await and interrupt", () =>
    Effect.gen(function*() {
      const malformed = TaskHandle.unsafeMake("../../etc/passwd")
      const unknown = TaskHandle.unsafeMake("A".repeat(24))
      const notAHandle = { id: 12 } as unknown as TaskHandle.TaskHandle<unknown, unknown>
      for (const handle of [malformed, unknown, notAHandle]) {
        expect(yield* Effect.flip(Executor.status(handle))).toBeInstanceOf(ExecutorError.TaskNotFound)
        expect(yield* Effect.flip(Executor.await(handle))).toBeInstanceOf(ExecutorError.TaskNotFound)
        expect(yield* Effect.flip(Executor.interrupt(handle))).toBeInstanceOf(ExecutorError.TaskNotFound)
      }
      expect(yield* Effect.flip(TaskHandle.decode("not a handle"))).toBeInstanceOf(ExecutorError.TaskNotFound)
    }).pipe(memory()))

  it.effect("a payload that fails its Schema, an unknown queue and bad options are typed errors", () =>
    Effect.gen(function*() {
      const call = Double.make({ n: "x" as unknown as number })
      expect(yield* Effect.flip(Executor.submit(call))).toBeInstanceOf(ExecutorError.InvalidPayload)
      expect(yield* Effect.flip(Executor.submit(Effect.void, { queue: "nope" }))).toEqual(
        new ExecutorError.UnknownQueue({ queue: "nope" })
      )
      expect(yield* Effect.flip(Executor.submit(Effect.void, { delay: -5 }))).toBeInstanceOf(
        ExecutorError.InvalidOptions
      )
      expect(yield* Effect.flip(Executor.submit(Effect.void, { priority: Number.NaN }))).toBeInstanceOf(
        ExecutorError.InvalidOptions
      )
      expect(yield* Effect.flip(Executor.submit(Effect.void, { runAt: new Date("garbage") }))).toBeInstanceOf(
        ExecutorError.InvalidOptions
      )
    }).pipe(memory()))

  it.effect("an idempotency key returns the first handle while the first task is retained", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const first = yield* Executor.submit(Ref.update(runs, (n) => n + 1), { idempotencyKey: "k" })
      const second = yield* Executor.submit(Ref.update(runs, (n) => n + 1), { idempotencyKey: "k" })
      expect(second.id).toBe(first.id)
      yield* Executor.await(first)
      expect(yield* Ref.get(runs)).toBe(1)
    }).pipe(memory()))

  it.effect("Executor.submit calls the submit of an Executor the application built itself", () =>
    Effect.gen(function*() {
      const submitted: Array<unknown> = []
      const double: Executor.Executor = {
        reliability: "volatile",
        submit: ((task: unknown) =>
          Effect.sync(() => {
            submitted.push(task)
            return TaskHandle.unsafeMake("AAAAAAAAAAAAAAAAAAAAAAAA")
          })) as Executor.Executor["submit"],
        status: () => Effect.die("unused"),
        await: () => Effect.die("unused"),
        interrupt: () => Effect.die("unused")
      }
      const handle = yield* Executor.submit(Effect.void, { when: "now" }).pipe(
        Effect.provideService(Executor.Executor, double)
      )
      expect(handle.id).toBe("AAAAAAAAAAAAAAAAAAAAAAAA")
      expect(submitted).toEqual([Effect.void])
    }))
})

describe("handles", () => {
  it.effect("a handle survives a round trip through a cookie value", () =>
    Effect.gen(function*() {
      const handle = yield* Executor.submit(Double.make({ n: 2 }))
      const cookie = `task=${yield* Schema.encode(TaskHandle.schemaFor(Double))(handle)}; Path=/; HttpOnly`
      const value = cookie.split(";")[0]!.slice("task=".length)
      expect(encodeURIComponent(value)).toBe(value)
      const back = yield* Schema.decode(TaskHandle.schemaFor(Double))(value)
      expect(back).toEqual(handle)
      const n: number = yield* Executor.await(back)
      expect(n).toBe(4)
      expect(Either.isLeft(Schema.decodeEither(TaskHandle.schema)("short"))).toBe(true)
    }).pipe(memory()))

  it.effect("ids carry at least 128 random bits", () =>
    Effect.gen(function*() {
      const ids = new Set<string>()
      const counts = new Map<string, number>()
      for (let i = 0; i < 2_000; i++) {
        const handle = yield* Executor.submit(Effect.void, { when: "now" })
        ids.add(handle.id)
        for (const c of handle.id) counts.set(c, (counts.get(c) ?? 0) + 1)
      }
      expect(ids.size).toBe(2_000)
      for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{24}$/)
      // 24 base64url characters are 144 bits; all 64 symbols must be in use, none over-represented
      expect(counts.size).toBe(64)
      const expected = (2_000 * 24) / 64
      for (const n of counts.values()) expect(Math.abs(n - expected)).toBeLessThan(expected * 0.35)
    }).pipe(memory({ maxRetained: 10 })))
})

describe("concurrency and backlog", () => {
  it.effect("never more than the global limit nor a queue's limit run at once", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const started = yield* Queue.unbounded<string>()
      const active = yield* Ref.make({ all: 0, slow: 0, maxAll: 0, maxSlow: 0 })
      const work = (lane: "slow" | "default") =>
        Ref.update(active, (a) => {
          const all = a.all + 1
          const slow = a.slow + (lane === "slow" ? 1 : 0)
          return { all, slow, maxAll: Math.max(a.maxAll, all), maxSlow: Math.max(a.maxSlow, slow) }
        }).pipe(
          Effect.zipRight(Queue.offer(started, lane)),
          Effect.zipRight(Deferred.await(gate)),
          Effect.ensuring(
            Ref.update(active, (a) => ({ ...a, all: a.all - 1, slow: a.slow - (lane === "slow" ? 1 : 0) }))
          )
        )
      const handles = []
      for (let i = 0; i < 6; i++) handles.push(yield* Executor.submit(work("slow"), { queue: "slow" }))
      for (let i = 0; i < 10; i++) handles.push(yield* Executor.submit(work("default")))
      // 1 slow + 2 default fill the 3 global slots
      const first = yield* Queue.takeN(started, 3)
      expect(Array.from(first).filter((lane) => lane === "slow")).toHaveLength(1)
      expect(yield* Queue.size(started)).toBe(0)
      const statuses = yield* Effect.forEach(handles, Executor.status)
      expect(statuses.filter((s) => s._tag === "Running")).toHaveLength(3)
      expect(statuses.filter((s) => s._tag === "Queued")).toHaveLength(13)
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.forEach(handles, Executor.await)
      const final = yield* Ref.get(active)
      expect(final.maxAll).toBe(3)
      expect(final.maxSlow).toBe(1)
    }).pipe(memory({ concurrency: 3, queues: { slow: { concurrency: 1 } } })))

  it.effect("a burst of 5,000 submits from one fiber, with 1,000 workers allowed, all run", () =>
    Effect.gen(function*() {
      // Workers that start in place nest one call per worker: this burst overflowed the stack.
      let ran = 0
      const handles = []
      for (let i = 0; i < 5_000; i++) {
        handles.push(yield* Executor.submit(Effect.sync(() => void ran++), { when: "now" }))
      }
      yield* Effect.forEach(handles, Executor.await, { discard: true })
      expect(ran).toBe(5_000)
    }).pipe(memory({ concurrency: 1_000, maxBacklog: 5_000, maxRetained: 10_000 })))

  it.effect("a burst of tasks that wait, handed to idle workers, all run at once", () =>
    Effect.gen(function*() {
      const started = yield* Queue.unbounded<number>()
      const burst = (gate: Deferred.Deferred<void>) =>
        Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          (i) => Executor.submit(Queue.offer(started, i).pipe(Effect.zipRight(Deferred.await(gate)))),
          { concurrency: 1 }
        )
      // the first burst starts 20 workers, which are idle once it is over
      const first = yield* Deferred.make<void>()
      const warm = yield* burst(first)
      yield* Queue.takeN(started, 20)
      yield* Deferred.succeed(first, undefined)
      yield* Effect.forEach(warm, Executor.await, { discard: true })
      // handed over one at a time, each waiting task still gets its own worker: all 20 run together
      const second = yield* Deferred.make<void>()
      const handles = yield* burst(second)
      expect((yield* Queue.takeN(started, 20)).length).toBe(20)
      const statuses = yield* Effect.forEach(handles, Executor.status)
      expect(statuses.every((status) => status._tag === "Running")).toBe(true)
      yield* Deferred.succeed(second, undefined)
      yield* Effect.forEach(handles, Executor.await, { discard: true })
    }).pipe(memory({ concurrency: 20 })))

  it.effect("past maxBacklog, submit fails with ExecutorBusy and nothing is lost", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const running = yield* Executor.submit(Deferred.await(gate))
      const queued = [yield* Executor.submit(Effect.succeed(1)), yield* Executor.submit(Effect.succeed(2))]
      const refused = yield* Effect.flip(Executor.submit(Effect.succeed(3)))
      expect(refused).toEqual(new ExecutorError.ExecutorBusy({ maxBacklog: 2 }))
      yield* Deferred.succeed(gate, undefined)
      yield* Executor.await(running)
      expect(yield* Effect.forEach(queued, Executor.await)).toEqual([1, 2])
      // with room again, submits are accepted
      expect(yield* Executor.await(yield* Executor.submit(Effect.succeed(4)))).toBe(4)
    }).pipe(memory({ concurrency: 1, maxBacklog: 2 })))

  it.effect("higher priority runs first among queued tasks", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const order = yield* Ref.make<Array<string>>([])
      const record = (name: string) => Ref.update(order, (names) => [...names, name])
      yield* Executor.submit(Deferred.await(gate))
      const low = yield* Executor.submit(record("low"), { priority: -1 })
      const normal = yield* Executor.submit(record("normal"))
      const high = yield* Executor.submit(record("high"), { priority: 10 })
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.forEach([low, normal, high], Executor.await)
      expect(yield* Ref.get(order)).toEqual(["high", "normal", "low"])
    }).pipe(memory({ concurrency: 1 })))
})

describe("retry, timeout and delay (TestClock)", () => {
  it.effect("the task's retry Schedule is honoured and attempts are counted", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const Flaky = Task.make("Flaky", {
        payload: Schema.Void,
        success: Schema.String,
        failure: ReportError,
        run: () =>
          Ref.updateAndGet(attempts, (n) => n + 1).pipe(
            Effect.flatMap((n) => n < 3 ? Effect.fail(new ReportError({ reason: `try ${n}` })) : Effect.succeed("done"))
          ),
        retry: Schedule.spaced("10 seconds").pipe(Schedule.intersect(Schedule.recurs(5)))
      })
      const handle = yield* Executor.submit(Flaky.make(undefined))
      yield* awaitSleepers(1)
      expect(yield* Ref.get(attempts)).toBe(1)
      // waiting for its retry, the task is Queued with its time and holds no slot
      expect(yield* Executor.status(handle)).toEqual(TaskStatus.Queued({ runAt: new Date(10_000), attempts: 1 }))
      yield* TestClock.adjust("9 seconds")
      expect(yield* Ref.get(attempts)).toBe(1)
      yield* TestClock.adjust("1 second")
      yield* awaitSleepers(1)
      expect(yield* Ref.get(attempts)).toBe(2)
      yield* TestClock.adjust("10 seconds")
      expect(yield* Executor.await(handle)).toBe("done")
      expect(yield* Executor.status(handle)).toEqual(TaskStatus.Succeeded({ value: "done", attempts: 3 }))
    }).pipe(memory()))

  it.effect("after the last attempt the task is Failed with its last error", () =>
    Effect.gen(function*() {
      const Always = Task.make("Always", {
        payload: Schema.Void,
        failure: ReportError,
        run: () => Effect.fail(new ReportError({ reason: "always" })),
        retry: Schedule.recurs(2)
      })
      const handle = yield* Executor.submit(Always.make(undefined))
      expect(yield* Effect.flip(Executor.await(handle))).toEqual(new ReportError({ reason: "always" }))
      expect(yield* Executor.status(handle)).toMatchObject({ _tag: "Failed", attempts: 3 })
    }).pipe(memory()))

  it.effect("an attempt past the timeout fails with TaskFailed (timeout) and is retried", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const Slow = Task.make("Slow", {
        payload: Schema.Void,
        run: () => Ref.update(attempts, (n) => n + 1).pipe(Effect.zipRight(Effect.never)),
        timeout: "5 seconds",
        retry: Schedule.recurs(1)
      })
      const handle = yield* Executor.submit(Slow.make(undefined))
      yield* awaitSleepers(1)
      yield* TestClock.adjust("5 seconds")
      yield* awaitSleepers(1)
      expect(yield* Ref.get(attempts)).toBe(2)
      expect((yield* Executor.status(handle))._tag).toBe("Running")
      yield* TestClock.adjust("5 seconds")
      const error = yield* Effect.flip(Executor.await(handle))
      expect(error).toBeInstanceOf(ExecutorError.TaskFailed)
      expect(error).toMatchObject({ reason: "timeout" })
      expect(yield* Executor.status(handle)).toMatchObject({ _tag: "Failed", attempts: 2 })
    }).pipe(memory()))

  it.effect("delay keeps a task Queued until its time has come", () =>
    Effect.gen(function*() {
      const handle = yield* Executor.submit(Effect.succeed("later"), { delay: "1 minute" })
      yield* awaitSleepers(1)
      expect(yield* Executor.status(handle)).toEqual(TaskStatus.Queued({ runAt: new Date(60_000) }))
      yield* TestClock.adjust("59 seconds")
      expect(yield* Executor.status(handle)).toEqual(TaskStatus.Queued({ runAt: new Date(60_000) }))
      yield* TestClock.adjust("1 second")
      expect(yield* Executor.await(handle)).toBe("later")
    }).pipe(memory()))
})

describe("closing the layer's scope", () => {
  it.effect("stops intake, gives running tasks drainTimeout, then interrupts them; no fiber is left", () =>
    Effect.gen(function*() {
      // the executor's fibers (its workers) are started from the layer: track what the layer starts
      const tracker = yield* FiberSupervisor.track
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Executor.layerMemory({ drainTimeout: "10 seconds" }), scope).pipe(
        Effect.supervised(tracker)
      )
      const executor = context.pipe((ctx) => ctx.unsafeMap.get(Executor.Executor.key) as Executor.Executor)
      const gate = yield* Deferred.make<void>()
      const finalized = yield* Deferred.make<void>()
      const started = yield* Queue.unbounded<string>()
      const { finishing, stuck } = yield* Effect.gen(function*() {
        const finishing = yield* executor.submit(
          Queue.offer(started, "finishing").pipe(Effect.zipRight(Deferred.await(gate)), Effect.as("finished"))
        )
        const stuck = yield* executor.submit(
          Queue.offer(started, "stuck").pipe(
            Effect.zipRight(Effect.never),
            Effect.ensuring(Deferred.succeed(finalized, undefined))
          )
        )
        return { finishing, stuck }
      })
      yield* Queue.takeN(started, 2)
      expect((yield* tracker.value).length).toBe(2)

      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* awaitSleepers(1)
      expect(yield* Effect.flip(executor.submit(Effect.void))).toBeInstanceOf(ExecutorError.ExecutorClosed)
      // within drainTimeout a task may still finish normally
      yield* Deferred.succeed(gate, undefined)
      expect(yield* executor.await(finishing)).toBe("finished")
      expect(yield* Deferred.isDone(finalized)).toBe(false)
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(closing)
      expect(yield* Deferred.isDone(finalized)).toBe(true)
      expect(yield* executor.status(stuck)).toEqual(TaskStatus.Interrupted())
      expect(yield* tracker.value).toEqual([])
    }))

  it.effect("with nothing running, closing is immediate", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Executor.layerMemory(), scope)
      const executor = context.unsafeMap.get(Executor.Executor.key) as Executor.Executor
      expect(yield* executor.await(yield* executor.submit(Effect.succeed(1)))).toBe(1)
      yield* Scope.close(scope, Exit.void)
      expect(yield* Effect.flip(executor.submit(Effect.void))).toBeInstanceOf(ExecutorError.ExecutorClosed)
    }))
})

describe("retention", () => {
  it.scoped("after 100,000 finished tasks the registry holds no more than maxRetained", () =>
    Effect.gen(function*() {
      const supervisor = yield* makeMemory({ concurrency: 64, maxBacklog: 100_000, maxRetained: 500 })
      const executor = fromSupervisor(supervisor)
      const handles: Array<TaskHandle.TaskHandle<unknown, unknown>> = []
      for (let i = 0; i < 100_000; i++) {
        handles.push(yield* executor.submit(Effect.succeed(i), { when: "now" }))
      }
      yield* supervisor.await(handles[handles.length - 1]!)
      yield* Effect.forEach(handles, (h) => Effect.either(supervisor.await(h)), { discard: true })
      expect(supervisor.size).toBeLessThanOrEqual(500)
      const found = yield* Effect.forEach(handles, (h) => Effect.option(supervisor.status(h)))
      expect(found.filter(Option.isSome).length).toBeLessThanOrEqual(500)
      expect(Option.isSome(found[found.length - 1]!)).toBe(true)
      expect(Option.isNone(found[0]!)).toBe(true)
    }))

  it.effect("finished tasks are forgotten after the retention period", () =>
    Effect.gen(function*() {
      const handle = yield* Executor.submit(Effect.succeed(1))
      yield* Executor.await(handle)
      yield* TestClock.adjust("59 seconds")
      expect((yield* Executor.status(handle))._tag).toBe("Succeeded")
      yield* TestClock.adjust("1 second")
      expect(yield* Effect.flip(Executor.status(handle))).toBeInstanceOf(ExecutorError.TaskNotFound)
    }).pipe(memory({ retention: "1 minute" })))
})

describe("tracing", () => {
  it.effect("a task runs in a span executor.task <name>, linked to the submitter's span", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recordingTracer
      const handle = yield* Executor.submit(Double.make({ n: 1 })).pipe(
        Effect.withSpan("request"),
        Effect.withTracer(tracer)
      )
      yield* Executor.await(handle)
      const request = spans.find((span) => span.name === "request")!
      const task = spans.find((span) => span.name === "executor.task Double")!
      expect(task).toBeDefined()
      expect(Option.isNone(task.parent)).toBe(true)
      expect(task.links.map((link) => link.span.spanId)).toEqual([request.spanId])
      expect(task.attributes.get("executor.task.id")).toBe(handle.id)
      expect(task.status._tag).toBe("Ended")
    }).pipe(memory()))
})

describe("typed handles", () => {
  it.effect("a handle decoded for one task does not resolve another task's id", () =>
    Effect.gen(function*() {
      const Other = Task.make("Other", { payload: Schema.Void, success: Schema.String, run: () => Effect.succeed("x") })
      const other = yield* Executor.submit(Other.make(undefined))
      yield* Executor.await(other)
      const forged = yield* Schema.decode(TaskHandle.schemaFor(Double))(other.id)
      expect(yield* Effect.flip(Executor.status(forged))).toBeInstanceOf(ExecutorError.TaskNotFound)
      const untyped = yield* TaskHandle.decode(other.id)
      expect((yield* Executor.status(untyped))._tag).toBe("Succeeded")
    }).pipe(memory()))
})
