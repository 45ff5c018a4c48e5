/**
 * Fencing: two executors (two owners, as two processes would be) on one SQLite file. The first
 * claims a task and its first attempt waits on a latch. The test then does what another process
 * does when the first stalls: ends the lease and takes the task back (one transaction, through the
 * store's own `reclaimExpired`), and the executors claim it again. The second claim's result wins,
 * and the first attempt stops: its heartbeat finds the claim gone and interrupts it; or, when the
 * attempt ends before its heartbeat has noticed, its late result is refused by the store, counted
 * and logged.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, type Duration, Effect, Layer, Metric, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll } from "vitest"
import { DurableExecutor, Executor, ExecutorMetrics, SqliteStore, Task, TaskHandle } from "../src/index.js"
import { TaskStore } from "../src/TaskStore.js"

const dir = mkdtempSync(join(tmpdir(), "effect-executor-fencing-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const freshFile = () => join(dir, `tasks-${++files}.db`)

/** What the test lets the first attempt do; attempts are counted over both executors. */
class FirstAttempt extends Context.Tag("test/fencing/FirstAttempt")<FirstAttempt, {
  readonly started: Deferred.Deferred<void>
  readonly latch: Deferred.Deferred<void>
  readonly stopped: Deferred.Deferred<void>
  attempts: number
}>() {}

const Race = Task.make("Race", {
  payload: Schema.Struct({ n: Schema.Int }),
  success: Schema.String,
  run: () =>
    Effect.gen(function*() {
      const first = yield* FirstAttempt
      const attempt = ++first.attempts
      if (attempt > 1) return `attempt ${attempt}`
      yield* Deferred.succeed(first.started, undefined)
      yield* Deferred.await(first.latch).pipe(Effect.onInterrupt(() => Deferred.succeed(first.stopped, undefined)))
      return "attempt 1"
    })
})

/** Builds an executor on `filename` in the current scope. */
const executor = (
  filename: string,
  first: Context.Tag.Service<FirstAttempt>,
  leaseDuration: Duration.DurationInput,
  concurrency: number
) =>
  Layer.build(
    Executor.layerSqlite({
      filename,
      tasks: [Race],
      concurrency,
      // the heartbeat runs every third of the lease
      leaseDuration,
      pollInterval: "50 millis"
    }).pipe(Layer.provide(Layer.succeed(FirstAttempt, first)))
  )

/** What another process does to the task of a stalled one: its lease ends, the task is taken back. */
const takeOver = (filename: string, id: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const store = yield* TaskStore
    yield* sql.withTransaction(Effect.gen(function*() {
      yield* sql`UPDATE effect_executor_tasks SET lease_expires_at = 0 WHERE id = ${id} AND state = 'running'`
      expect(yield* store.reclaimExpired({ self: "another-process", now: Date.now(), deadBefore: 0 })).toBe(1)
    }))
  }).pipe(
    Effect.provide(Layer.effect(TaskStore, SqliteStore.make(resolve(filename))).pipe(
      Layer.provideMerge(SqliteStore.layerClient({ filename }))
    ))
  )

const fencedWrites = Metric.value(
  ExecutorMetrics.fencedWrites.pipe(Metric.tagged("task", "Race"), Metric.tagged("queue", "default"))
)

/** `firstLease`: the lease of the executor that runs the first attempt (its heartbeat, a third of it). */
const race = (firstLease: Duration.DurationInput) =>
  Effect.gen(function*() {
    const filename = freshFile()
    const first: Context.Tag.Service<FirstAttempt> = {
      started: yield* Deferred.make<void>(),
      latch: yield* Deferred.make<void>(),
      stopped: yield* Deferred.make<void>(),
      attempts: 0
    }
    // one slot, taken by the first attempt: the task's next claim can only be the other executor's
    // while the first attempt has not stopped
    const one = yield* executor(filename, first, firstLease, 1)
    const two = yield* executor(filename, first, "300 millis", 4)
    const handle = yield* DurableExecutor.submit(Race.make({ n: 1 })).pipe(Effect.provide(one))
    yield* Deferred.await(first.started)
    const before = (yield* fencedWrites).count
    yield* takeOver(filename, handle.id)
    // claimed again (by either executor) and run: the second claim's result is the task's
    expect(yield* DurableExecutor.await(handle).pipe(Effect.provide(two))).toBe("attempt 2")
    return { first, one, handle, before }
  })

describe("fencing", () => {
  it.live("a lease taken over while the attempt runs: the second claim's result wins, the first attempt is stopped", () =>
    Effect.gen(function*() {
      // a heartbeat every 100 ms
      const { first, handle, one } = yield* race("300 millis")
      // the first owner's heartbeat finds the claim gone and interrupts its attempt
      yield* Deferred.await(first.stopped)
      const status = yield* Executor.status(TaskHandle.unsafeMake(handle.id, "Race")).pipe(Effect.provide(one))
      expect(status).toMatchObject({ _tag: "Succeeded", value: "attempt 2", attempts: 2 })
    }).pipe(Effect.scoped), 30_000)

  it.live("a late result of the first attempt is refused, counted, and the second claim's stays", () =>
    Effect.gen(function*() {
      // a heartbeat every 20 minutes: the first attempt ends before its owner notices the takeover
      const { before, first, handle, one } = yield* race("1 hour")
      yield* Deferred.succeed(first.latch, undefined)
      for (let i = 0; (yield* fencedWrites).count === before; i++) {
        if (i > 500) return yield* Effect.dieMessage("the late result was never refused")
        yield* Effect.sleep("10 millis")
      }
      expect((yield* fencedWrites).count).toBe(before + 1)
      const status = yield* Executor.status(TaskHandle.unsafeMake(handle.id, "Race")).pipe(Effect.provide(one))
      expect(status).toMatchObject({ _tag: "Succeeded", value: "attempt 2", attempts: 2 })
    }).pipe(Effect.scoped), 30_000)
})
