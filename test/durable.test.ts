import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Layer, Option, Ref, Schedule, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { DurableExecutor, Executor, ExecutorError, SqliteStore, Task, TaskHandle, TaskStatus } from "../src/index.js"
import { TaskStore } from "../src/TaskStore.js"
import { readBody, request, startServer } from "./httpSupport.js"

const dir = mkdtempSync(join(tmpdir(), "effect-executor-durable-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const freshFile = () => join(dir, `tasks-${++files}.db`)

class Declined extends Schema.TaggedError<Declined>()("Declined", { cents: Schema.Number }) {}

/** Records what ran, in the test process; a real service the tasks need from the layer. */
class Ledger extends Context.Tag("test/Ledger")<Ledger, Ref.Ref<ReadonlyArray<number>>>() {}

const Charge = Task.make("Charge", {
  payload: Schema.Struct({ cents: Schema.Number }),
  success: Schema.Struct({ charged: Schema.Number, at: Schema.DateFromString }),
  failure: Declined,
  run: ({ cents }) =>
    Effect.gen(function*() {
      yield* Ref.update(yield* Ledger, (runs) => [...runs, cents])
      if (cents < 0) return yield* new Declined({ cents })
      return { charged: cents, at: new Date(0) }
    })
})

const ledgerLayer = Layer.effect(Ledger, Ref.make<ReadonlyArray<number>>([]))

const sqlite = (filename: string, options: Partial<Executor.DurableOptions<ReadonlyArray<Task.Task.Any>>> = {}) =>
  Executor.layerSqlite({
    filename,
    tasks: [Charge],
    leaseDuration: "1 second",
    pollInterval: "50 millis",
    ...options
  })

const withExecutor = (filename: string, options?: Partial<Executor.DurableOptions<ReadonlyArray<Task.Task.Any>>>) =>
  Effect.provide(Layer.provideMerge(sqlite(filename, options), ledgerLayer))

describe("Executor.layerSqlite", () => {
  it.live("provides both services: durable reliability, task calls stored, plain effects in memory", () =>
    Effect.gen(function*() {
      const executor = yield* Executor.Executor
      expect(executor.reliability).toBe("durable")
      const stored = yield* DurableExecutor.submit(Charge.make({ cents: 5 }))
      const value = yield* DurableExecutor.await(stored)
      expect(value).toEqual({ charged: 5, at: new Date(0) })
      const plain = yield* Executor.submit(Effect.succeed("volatile"))
      expect(yield* Executor.await(plain)).toBe("volatile")
      expect(yield* Executor.status(stored)).toEqual(TaskStatus.Succeeded({ value, attempts: 1 }))
    }).pipe(withExecutor(freshFile())))

  it.live("a typed failure is stored encoded and decoded by a process started later", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const handle = yield* Effect.gen(function*() {
        const handle = yield* DurableExecutor.submit(Charge.make({ cents: -3 }))
        expect(yield* Effect.flip(DurableExecutor.await(handle))).toEqual(new Declined({ cents: -3 }))
        return TaskHandle.encode(handle)
      }).pipe(withExecutor(filename))
      // a new layer on the same file, as after a restart: status and await still work
      yield* Effect.gen(function*() {
        const back = yield* Schema.decode(TaskHandle.schemaFor(Charge))(handle)
        const status = yield* DurableExecutor.status(back)
        expect(status).toEqual(TaskStatus.Failed({ error: new Declined({ cents: -3 }), attempts: 1 }))
        expect(yield* Effect.flip(DurableExecutor.await(back))).toBeInstanceOf(Declined)
      }).pipe(withExecutor(filename))
    }))

  it.live("retries keep their attempt count and next run time in the store", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const Flaky = Task.make("Flaky", {
        payload: Schema.Void,
        success: Schema.Number,
        failure: Declined,
        run: () =>
          Ref.updateAndGet(attempts, (n) => n + 1).pipe(
            Effect.flatMap((n) => n < 3 ? Effect.fail(new Declined({ cents: n })) : Effect.succeed(n))
          ),
        retry: Schedule.spaced("20 millis").pipe(Schedule.intersect(Schedule.recurs(4)))
      })
      const GivesUp = Task.make("GivesUp", {
        payload: Schema.Void,
        failure: Declined,
        run: () => Effect.fail(new Declined({ cents: 0 })),
        retry: Schedule.recurs(2)
      })
      yield* Effect.gen(function*() {
        const flaky = yield* DurableExecutor.submit(Flaky.make(undefined))
        expect(yield* DurableExecutor.await(flaky)).toBe(3)
        expect(yield* DurableExecutor.status(flaky)).toEqual(TaskStatus.Succeeded({ value: 3, attempts: 3 }))
        const givesUp = yield* DurableExecutor.submit(GivesUp.make(undefined))
        expect(yield* Effect.flip(DurableExecutor.await(givesUp))).toEqual(new Declined({ cents: 0 }))
        expect(yield* DurableExecutor.status(givesUp)).toMatchObject({ _tag: "Failed", attempts: 3 })
      }).pipe(withExecutor(freshFile(), { tasks: [Charge, Flaky, GivesUp] }))
    }))

  it.live("an idempotency key returns the first handle and stores nothing new", () =>
    Effect.gen(function*() {
      const first = yield* DurableExecutor.submit(Charge.make({ cents: 1 }), { idempotencyKey: "charge:1" })
      const second = yield* DurableExecutor.submit(Charge.make({ cents: 1 }), { idempotencyKey: "charge:1" })
      expect(second.id).toBe(first.id)
      yield* DurableExecutor.await(first)
      const third = yield* DurableExecutor.submit(Charge.make({ cents: 1 }), { idempotencyKey: "charge:1" })
      expect(third.id).toBe(first.id)
      expect(yield* Ref.get(yield* Ledger)).toEqual([1])
    }).pipe(withExecutor(freshFile())))

  it.live("interrupt cancels a queued task and interrupts a running one", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const finalized = yield* Deferred.make<void>()
      const Blocking = Task.make("Blocking", {
        payload: Schema.Void,
        run: () =>
          Deferred.succeed(started, undefined).pipe(
            Effect.zipRight(Effect.never),
            Effect.ensuring(Deferred.succeed(finalized, undefined))
          )
      })
      yield* Effect.gen(function*() {
        const runningTask = yield* DurableExecutor.submit(Blocking.make(undefined))
        yield* Deferred.await(started)
        const queued = yield* DurableExecutor.submit(Charge.make({ cents: 7 }))
        yield* DurableExecutor.interrupt(queued)
        expect(yield* DurableExecutor.status(queued)).toEqual(TaskStatus.Interrupted())
        yield* DurableExecutor.interrupt(runningTask)
        expect(yield* Deferred.isDone(finalized)).toBe(true)
        expect(yield* DurableExecutor.status(runningTask)).toEqual(TaskStatus.Interrupted())
        expect(yield* Effect.flip(DurableExecutor.await(runningTask))).toBeInstanceOf(ExecutorError.TaskInterrupted)
        expect(yield* Ref.get(yield* Ledger)).toEqual([])
      }).pipe(withExecutor(freshFile(), { tasks: [Charge, Blocking], concurrency: 1 }))
    }))

  it.live("a payload that fails its Schema is a typed error and nothing is stored", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      yield* Effect.gen(function*() {
        const error = yield* Effect.flip(DurableExecutor.submit(Charge.make({ cents: "ten" as unknown as number })))
        expect(error).toBeInstanceOf(ExecutorError.InvalidPayload)
        const Unregistered = Task.make("Unregistered", { payload: Schema.Void, run: () => Effect.void })
        expect(yield* Effect.flip(DurableExecutor.submit(Unregistered.make(undefined)))).toEqual(
          new ExecutorError.UnknownTask({ name: "Unregistered" })
        )
      }).pipe(withExecutor(filename))
      const claimed = yield* Effect.flatMap(TaskStore, (store) =>
        store.claim({ owner: "probe", queue: "default", limit: 10, now: Date.now() + 60_000, leaseMillis: 1 })
      ).pipe(Effect.provide(SqliteStore.layer({ filename })))
      expect(claimed).toEqual([])
    }))

  it.live("unknown task names and rows that no longer decode fail alone; the others run on", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const row = (id: string, name: string, payload: string) => ({
        id,
        name,
        queue: "default",
        payload,
        priority: 0,
        runAt: 0,
        delayMillis: 0,
        state: "queued" as const,
        idempotencyKey: undefined,
        owner: undefined,
        leaseExpiresAt: undefined,
        traceParent: undefined,
        createdAt: 0
      })
      const ids = { gone: "G".repeat(24), broken: "B".repeat(24), fine: "F".repeat(24) }
      yield* Effect.flatMap(TaskStore, (store) =>
        store.insert([
          row(ids.gone, "RemovedInLastDeploy", "{}"),
          row(ids.broken, "Charge", "{\"cents\":\"not a number\"}"),
          row(ids.fine, "Charge", "{\"cents\":9}")
        ])
      ).pipe(Effect.provide(SqliteStore.layer({ filename })))
      yield* Effect.gen(function*() {
        const fine = yield* TaskHandle.decode<unknown, unknown>(ids.fine)
        expect(yield* DurableExecutor.await(fine)).toEqual({ charged: 9, at: new Date(0) })
        const gone = yield* DurableExecutor.status(yield* TaskHandle.decode(ids.gone))
        expect(gone).toEqual(
          TaskStatus.Failed({ error: new ExecutorError.UnknownTask({ name: "RemovedInLastDeploy" }), attempts: 1 })
        )
        const broken = yield* DurableExecutor.status(yield* TaskHandle.decode(ids.broken))
        expect(broken._tag === "Failed" && broken.error).toMatchObject({ _tag: "TaskFailed", reason: "undecodable" })
        expect(yield* Ref.get(yield* Ledger)).toEqual([9])
      }).pipe(withExecutor(filename))
    }))

  it.live("held tasks of a request that never finished (a crash) are released on the next start", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const id = "H".repeat(24)
      yield* Effect.flatMap(TaskStore, (store) =>
        store.insert([{
          id,
          name: "Charge",
          queue: "default",
          payload: "{\"cents\":4}",
          priority: 0,
          runAt: 0,
          delayMillis: 0,
          state: "held",
          idempotencyKey: undefined,
          owner: "a-process-that-died",
          leaseExpiresAt: Date.now() - 1,
          traceParent: undefined,
          createdAt: 0
        }])
      ).pipe(Effect.provide(SqliteStore.layer({ filename })))
      yield* Effect.gen(function*() {
        const handle = yield* TaskHandle.decode<unknown, unknown>(id)
        expect(yield* DurableExecutor.await(handle)).toEqual({ charged: 4, at: new Date(0) })
      }).pipe(withExecutor(filename))
    }))

  it.live("concurrent submits share transactions (group commit)", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const batches: Array<number> = []
      const countingStore = Layer.effect(
        TaskStore,
        Effect.map(TaskStore, (store) => ({
          ...store,
          insert: (tasks: Parameters<typeof store.insert>[0]) => {
            batches.push(tasks.length)
            return store.insert(tasks)
          }
        }))
      ).pipe(Layer.provide(SqliteStore.layer({ filename })))
      const layer = Executor.layerStore({ tasks: [Charge], pollInterval: "50 millis" }).pipe(
        Layer.provide(countingStore),
        Layer.provideMerge(ledgerLayer)
      )
      yield* Effect.gen(function*() {
        const handles = yield* Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (cents) => DurableExecutor.submit(Charge.make({ cents })),
          { concurrency: 64 }
        )
        yield* Effect.forEach(handles, DurableExecutor.await, { concurrency: 64 })
      }).pipe(Effect.provide(layer))
      expect(batches.reduce((a, b) => a + b, 0)).toBe(200)
      expect(batches.length).toBeLessThan(200 / 4)
      expect(Math.max(...batches)).toBeGreaterThan(8)
    }))

  it.live("inside a request the task is Held (written before submit returns) and runs after the response", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const statusInHandler = yield* Deferred.make<TaskStatus.TaskStatus<unknown, unknown>>()
      const router = HttpRouter.empty.pipe(
        HttpRouter.post(
          "/charge",
          Effect.gen(function*() {
            const handle = yield* DurableExecutor.submit(Charge.make({ cents: 12 }))
            yield* Deferred.succeed(statusInHandler, yield* DurableExecutor.status(handle))
            return yield* HttpServerResponse.json({ task: TaskHandle.encode(handle) })
          })
        )
      )
      const layer = Layer.provideMerge(sqlite(filename), ledgerLayer)
      const context = yield* Layer.build(layer)
      const { port } = yield* startServer(router as unknown as HttpRouter.HttpRouter<never, Executor.Executor>, {
        executor: Layer.succeedContext(context)
      }).pipe(Effect.provide(context))
      const body = JSON.parse(yield* readBody(yield* request(port, "/charge"))) as { task: string }
      expect(yield* Deferred.await(statusInHandler)).toEqual(TaskStatus.Held())
      const handle = yield* Schema.decode(TaskHandle.schemaFor(Charge))(body.task)
      const durable = Context.get(context, DurableExecutor.DurableExecutor)
      expect(yield* durable.await(handle)).toEqual({ charged: 12, at: new Date(0) })
      expect(Option.isSome(Option.some(body.task))).toBe(true)
    }).pipe(Effect.scoped))

  it.effect("two tasks of one name are a typed InvalidOptions when the layer is built", () =>
    Effect.gen(function*() {
      const Twin = Task.make("Charge", { payload: Schema.Void, run: () => Effect.void })
      const exit = yield* Effect.exit(Layer.build(sqlite(freshFile(), { tasks: [Charge, Twin] })).pipe(
        Effect.provide(ledgerLayer),
        Effect.scoped
      ))
      expect(exit).toEqual(Exit.fail(new ExecutorError.InvalidOptions({
        reason: "two tasks are named \"Charge\": a stored row names its task"
      })))
    }))
})
