import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Metric, Schedule, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { DurableExecutor, Executor, ExecutorMetrics, Task } from "../src/index.js"

const dir = mkdtempSync(join(tmpdir(), "effect-executor-metrics-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

class Nope extends Schema.TaggedError<Nope>()("Nope", {}) {}

/** Tasks with names of their own, since metrics are global to the process. */
const tasksNamed = (prefix: string) => {
  let calls = 0
  return {
    ok: Task.make(`${prefix}Ok`, { payload: Schema.Void, run: () => Effect.void }),
    flaky: Task.make(`${prefix}Flaky`, {
      payload: Schema.Void,
      failure: Nope,
      run: () => Effect.suspend(() => ++calls % 2 === 1 ? Effect.fail(new Nope()) : Effect.void),
      retry: Schedule.recurs(1)
    }),
    broken: Task.make(`${prefix}Broken`, { payload: Schema.Void, failure: Nope, run: () => Effect.fail(new Nope()) })
  }
}

const valueOf = <Out>(metric: Metric.Metric<any, any, Out>, task: string, queue = "default") =>
  Metric.value(metric.pipe(Metric.tagged("task", task), Metric.tagged("queue", queue)))

const expectCounts = (prefix: string) =>
  Effect.gen(function*() {
    expect((yield* valueOf(ExecutorMetrics.tasksSubmitted, `${prefix}Ok`)).count).toBe(2)
    expect((yield* valueOf(ExecutorMetrics.tasksSucceeded, `${prefix}Ok`)).count).toBe(2)
    expect((yield* valueOf(ExecutorMetrics.tasksSucceeded, `${prefix}Flaky`)).count).toBe(1)
    expect((yield* valueOf(ExecutorMetrics.tasksRetried, `${prefix}Flaky`)).count).toBe(1)
    expect((yield* valueOf(ExecutorMetrics.tasksFailed, `${prefix}Broken`)).count).toBe(1)
    expect((yield* valueOf(ExecutorMetrics.tasksFailed, `${prefix}Ok`)).count).toBe(0)
    expect((yield* valueOf(ExecutorMetrics.duration, `${prefix}Ok`)).count).toBe(2)
    expect((yield* valueOf(ExecutorMetrics.startLatency, `${prefix}Ok`)).count).toBe(2)
    expect((yield* valueOf(ExecutorMetrics.tasksRunning, `${prefix}Ok`)).value).toBe(0)
  })

describe("metrics", () => {
  it.effect("layerMemory records submitted, succeeded, failed, retried, running, latency and duration", () =>
    Effect.gen(function*() {
      const tasks = tasksNamed("MemoryMetrics")
      const handles = [
        yield* Executor.submit(tasks.ok.make(undefined)),
        yield* Executor.submit(tasks.ok.make(undefined)),
        yield* Executor.submit(tasks.flaky.make(undefined)),
        yield* Executor.submit(tasks.broken.make(undefined))
      ]
      yield* Effect.forEach(handles, (h) => Effect.either(Executor.await(h)))
      yield* expectCounts("MemoryMetrics")
    }).pipe(Effect.provide(Executor.layerMemory())))

  it.effect("the running gauge and the backlog gauge follow the tasks", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const first = yield* Executor.submit(Deferred.await(gate), { name: "GaugeProbe", queue: "gauges" })
      const second = yield* Executor.submit(Deferred.await(gate), { name: "GaugeProbe", queue: "gauges" })
      expect((yield* valueOf(ExecutorMetrics.tasksRunning, "GaugeProbe", "gauges")).value).toBe(1)
      expect((yield* valueOf(ExecutorMetrics.backlog, "*", "gauges")).value).toBe(1)
      yield* Deferred.succeed(gate, undefined)
      yield* Executor.await(first)
      yield* Executor.await(second)
      expect((yield* valueOf(ExecutorMetrics.tasksRunning, "GaugeProbe", "gauges")).value).toBe(0)
      expect((yield* valueOf(ExecutorMetrics.backlog, "*", "gauges")).value).toBe(0)
    }).pipe(Effect.provide(Executor.layerMemory({ queues: { gauges: { concurrency: 1 } } }))))

  it.live("layerSqlite records the same metrics", () => {
    const tasks = tasksNamed("SqliteMetrics")
    return Effect.gen(function*() {
      const handles = [
        yield* DurableExecutor.submit(tasks.ok.make(undefined)),
        yield* DurableExecutor.submit(tasks.ok.make(undefined)),
        yield* DurableExecutor.submit(tasks.flaky.make(undefined)),
        yield* DurableExecutor.submit(tasks.broken.make(undefined))
      ]
      yield* Effect.forEach(handles, (h) => Effect.either(DurableExecutor.await(h)))
      yield* expectCounts("SqliteMetrics")
    }).pipe(Effect.provide(Executor.layerSqlite({
      filename: join(dir, "metrics.db"),
      tasks: [tasks.ok, tasks.flaky, tasks.broken],
      pollInterval: "20 millis"
    })))
  })
})
