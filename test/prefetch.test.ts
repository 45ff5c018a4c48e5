/**
 * `prefetch` on both stores: tasks claimed ahead of free slots run in order, show `Running` while
 * they wait here, end `Interrupted` at once when cancelled, and go back to the queue when the
 * layer shuts down (their attempt not counted).
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Layer, Schema, Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { DurableExecutor, Executor, ExecutorAdmin, Task, TaskHandle, TaskStatus } from "../src/index.js"
import { dropSchemas, freshSchema, pgAvailable, pgClientLayer } from "./pgSupport.js"

const dir = mkdtempSync(join(tmpdir(), "effect-executor-prefetch-"))
const schemas: Array<string> = []
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  if (pgAvailable) await Effect.runPromise(dropSchemas(schemas))
})
let files = 0

/** What ran, in order, in this process. */
const ran: Array<number> = []
/** The first task of a test waits on this gate, so that the ones after it are claimed ahead. */
let gate = Effect.runSync(Deferred.make<void>())

const Step = Task.make("Step", {
  payload: Schema.Struct({ n: Schema.Number, wait: Schema.Boolean }),
  success: Schema.Number,
  run: ({ n, wait }) =>
    Effect.gen(function*() {
      if (wait) yield* Deferred.await(gate)
      ran.push(n)
      return n
    })
})

type Options = Partial<Executor.DurableOptions<ReadonlyArray<Task.Task.Any>>>

const stores = [
  {
    name: "SQLite",
    run: true,
    layer: (file: string, options: Options) =>
      Executor.layerSqlite({ filename: file, tasks: [Step], pollInterval: "50 millis", ...options })
  },
  {
    name: "PostgreSQL",
    run: pgAvailable,
    layer: (schema: string, options: Options) =>
      Executor.layerPg({ schema, tasks: [Step], pollInterval: "50 millis", ...options }).pipe(
        Layer.provideMerge(pgClientLayer())
      )
  }
] as const

const placeOf = (store: (typeof stores)[number]) => {
  if (store.name === "SQLite") return join(dir, `tasks-${++files}.db`)
  const schema = freshSchema()
  schemas.push(schema)
  return schema
}

/** Waits until `handle`'s status is `tag` (each look is an event: a store round trip). */
const untilStatus = (handle: TaskHandle.TaskHandle<number, never>, tag: TaskStatus.TaskStatus<number, never>["_tag"]) =>
  Effect.gen(function*() {
    while ((yield* DurableExecutor.status(handle))._tag !== tag) yield* Effect.yieldNow()
  })

for (const store of stores) {
  describe.runIf(store.run)(`prefetch on ${store.name}`, () => {
    it.live("tasks claimed ahead wait as Running, run in order once a slot frees, and a cancelled one never runs", () =>
      Effect.gen(function*() {
        ran.length = 0
        gate = yield* Deferred.make<void>()
        const first = yield* DurableExecutor.submit(Step.make({ n: 0, wait: true }))
        yield* untilStatus(first, "Running")
        const rest = yield* DurableExecutor.submitAll([1, 2, 3, 4].map((n) => Step.make({ n, wait: false })))
        // concurrency 1: the four are claimed ahead while the first holds the only slot
        for (const handle of rest) yield* untilStatus(handle, "Running")
        yield* DurableExecutor.interrupt(rest[1]!)
        expect(yield* DurableExecutor.status(rest[1]!)).toEqual(TaskStatus.Interrupted())
        yield* Deferred.succeed(gate, undefined)
        expect(yield* DurableExecutor.await(first)).toBe(0)
        expect(yield* Effect.forEach([rest[0]!, rest[2]!, rest[3]!], (handle) => DurableExecutor.await(handle))).toEqual([1, 3, 4])
        expect(ran).toEqual([0, 1, 3, 4])
      }).pipe(Effect.provide(store.layer(placeOf(store), { concurrency: 1, prefetch: 10 }))))

    it.live("a shutdown gives the tasks claimed ahead back to the queue, their attempt not counted", () =>
      Effect.gen(function*() {
        ran.length = 0
        gate = yield* Deferred.make<void>()
        const place = placeOf(store)
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(
          store.layer(place, { concurrency: 1, prefetch: 10, drainTimeout: "50 millis" }),
          scope
        )
        const submitted = yield* Effect.gen(function*() {
          const first = yield* DurableExecutor.submit(Step.make({ n: 0, wait: true }))
          yield* untilStatus(first, "Running")
          const rest = yield* DurableExecutor.submitAll([1, 2].map((n) => Step.make({ n, wait: false })))
          for (const handle of rest) yield* untilStatus(handle, "Running")
          return rest
        }).pipe(Effect.provide(context))
        yield* Scope.close(scope, Exit.void)
        // a process that only looks: the rows are queued again, with no attempt spent
        const infos = yield* Effect.gen(function*() {
          const admin = yield* ExecutorAdmin.ExecutorAdmin
          return yield* Effect.forEach(submitted, (handle) => admin.inspect(handle.id))
        }).pipe(Effect.provide(store.layer(place, { runTasks: false })))
        expect(infos.map((info) => [info.state, info.attempts])).toEqual([["queued", 0], ["queued", 0]])
        expect(ran).toEqual([])
        yield* Deferred.succeed(gate, undefined)
      }))
  })
}
