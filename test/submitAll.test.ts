/**
 * `DurableExecutor.submitAll` on both stores: one transaction for many calls, handles in order,
 * all or nothing, idempotency keys honoured, held inside a request, the backlog bound, and on
 * PostgreSQL inside the caller's own transaction.
 */
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { DurableExecutor, Executor, ExecutorAdmin, ExecutorError, Task, TaskHandle, TaskStatus } from "../src/index.js"
import { readBody, request, startServer } from "./httpSupport.js"
import { dropSchemas, freshSchema, pgAvailable, pgClientLayer } from "./pgSupport.js"

const dir = mkdtempSync(join(tmpdir(), "effect-executor-submit-all-"))
const schemas: Array<string> = []
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  if (pgAvailable) await Effect.runPromise(dropSchemas(schemas))
})
let files = 0

const Square = Task.make("Square", {
  payload: Schema.Struct({ n: Schema.Number }),
  success: Schema.Number,
  run: ({ n }) => Effect.succeed(n * n)
})

type Options = Partial<Executor.DurableOptions<ReadonlyArray<Task.Task.Any>>>

const stores: ReadonlyArray<{ readonly name: string; readonly run: boolean; readonly layer: (options?: Options) => Layer.Layer<any, any, never> }> = [
  {
    name: "SQLite",
    run: true,
    layer: (options = {}) =>
      Executor.layerSqlite({ filename: join(dir, `tasks-${++files}.db`), tasks: [Square], pollInterval: "100 millis", ...options })
  },
  {
    name: "PostgreSQL",
    run: pgAvailable,
    layer: (options = {}) => {
      const schema = freshSchema()
      schemas.push(schema)
      return Executor.layerPg({ schema, tasks: [Square], pollInterval: "100 millis", ...options }).pipe(
        Layer.provideMerge(pgClientLayer())
      )
    }
  }
]

const stored = Effect.flatMap(ExecutorAdmin.ExecutorAdmin, (admin) => admin.list({ limit: 1_000 }))

for (const store of stores) {
  describe.runIf(store.run)(`DurableExecutor.submitAll on ${store.name}`, () => {
    it.live("writes every call, answers their handles in order, and each task runs", () =>
      Effect.gen(function*() {
        const handles = yield* DurableExecutor.submitAll([1, 2, 3, 4].map((n) => Square.make({ n })))
        expect(handles).toHaveLength(4)
        expect(new Set(handles.map((handle) => handle.id)).size).toBe(4)
        const values = yield* Effect.forEach(handles, (handle) => DurableExecutor.await(handle))
        expect(values).toEqual([1, 4, 9, 16])
        expect(yield* DurableExecutor.status(handles[2]!)).toEqual(TaskStatus.Succeeded({ value: 9, attempts: 1 }))
        expect(yield* DurableExecutor.submitAll([])).toEqual([])
      }).pipe(Effect.provide(store.layer())))

    it.live("all or nothing: one call its Schema refuses, or an unknown queue, refuses the batch and writes none", () =>
      Effect.gen(function*() {
        const bad = Square.make({ n: "three" as unknown as number })
        const refused = yield* Effect.flip(DurableExecutor.submitAll([Square.make({ n: 1 }), bad, Square.make({ n: 2 })]))
        expect(refused).toBeInstanceOf(ExecutorError.InvalidPayload)
        const noQueue = yield* Effect.flip(DurableExecutor.submitAll([Square.make({ n: 1 })], { queue: "nope" }))
        expect(noQueue._tag).toBe("UnknownQueue")
        expect(yield* stored).toEqual([])
      }).pipe(Effect.provide(store.layer({ runTasks: false }))))

    it.live("idempotency keys are honoured, across batches and within one", () =>
      Effect.gen(function*() {
        const batch = (ns: ReadonlyArray<number>) =>
          DurableExecutor.submitAll(ns.map((n) => Square.make({ n })), { idempotencyKey: (_, i) => `square:${ns[i]}` })
        const first = yield* batch([1, 2])
        const again = yield* batch([2, 3, 3])
        expect(again[0]!.id).toBe(first[1]!.id)
        expect(again[2]!.id).toBe(again[1]!.id)
        expect((yield* stored).map((info) => info.id).sort()).toEqual([first[0]!.id, first[1]!.id, again[1]!.id].sort())
      }).pipe(Effect.provide(store.layer({ runTasks: false }))))

    it.live("inside a request every task of the batch is Held until the response is written, then runs", () =>
      Effect.gen(function*() {
        const inHandler = yield* Deferred.make<ReadonlyArray<TaskStatus.TaskStatus<number, never>>>()
        const submitted = yield* Deferred.make<ReadonlyArray<TaskHandle.TaskHandle<number, never>>>()
        const router = HttpRouter.empty.pipe(HttpRouter.get("/", Effect.gen(function*() {
          const handles = yield* DurableExecutor.submitAll([Square.make({ n: 7 }), Square.make({ n: 8 })])
          yield* Deferred.succeed(inHandler, yield* Effect.forEach(handles, (handle) => DurableExecutor.status(handle)))
          yield* Deferred.succeed(submitted, handles)
          return yield* HttpServerResponse.text("ok")
        })))
        const context = yield* Layer.build(store.layer())
        const { port } = yield* startServer(router as unknown as HttpRouter.HttpRouter<never, Executor.Executor>, {
          executor: Layer.succeedContext(context)
        }).pipe(Effect.provide(context))
        expect(yield* readBody(yield* request(port, "/", "GET"))).toBe("ok")
        expect(yield* Deferred.await(inHandler)).toEqual([TaskStatus.Held(), TaskStatus.Held()])
        const durable = yield* Effect.provide(DurableExecutor.DurableExecutor, context)
        const values = yield* Effect.forEach(yield* Deferred.await(submitted), (handle) => durable.await(handle))
        expect(values).toEqual([49, 64])
      }).pipe(Effect.scoped))

    it.live("a batch that would pass maxBacklog is refused with ExecutorBusy and writes nothing", () =>
      Effect.gen(function*() {
        yield* DurableExecutor.submitAll([1, 2].map((n) => Square.make({ n })))
        const busy = yield* Effect.flip(DurableExecutor.submitAll([3, 4].map((n) => Square.make({ n }))))
        expect(busy).toBeInstanceOf(ExecutorError.ExecutorBusy)
        expect(yield* stored).toHaveLength(2)
        yield* DurableExecutor.submitAll([Square.make({ n: 3 })])
      }).pipe(Effect.provide(store.layer({ runTasks: false, maxBacklog: 3 }))))
  })
}

describe.runIf(pgAvailable)("DurableExecutor.submitAll inside the caller's transaction on PostgreSQL", () => {
  it.live("commits with the caller's rows, and disappears when the caller rolls back", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const table = sql(`${schemas[schemas.length - 1]}_orders`)
      yield* sql`CREATE TABLE ${table} (id INTEGER PRIMARY KEY)`
      const kept = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO ${table} (id) VALUES (1)`
        return yield* DurableExecutor.submitAll([Square.make({ n: 5 }), Square.make({ n: 6 })])
      }))
      const rolledBack = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO ${table} (id) VALUES (2)`
        yield* DurableExecutor.submitAll([Square.make({ n: 7 })])
        return yield* Effect.fail("the order failed after the submit" as const)
      })).pipe(Effect.flip)
      expect(rolledBack).toBe("the order failed after the submit")
      expect((yield* stored).map((info) => info.id).sort()).toEqual(kept.map((handle) => handle.id).sort())
      expect(yield* sql`SELECT id FROM ${table}`).toEqual([{ id: 1 }])
      yield* sql`DROP TABLE ${table}`
    }).pipe(Effect.provide(stores[1]!.layer({ runTasks: false }))))
})
