import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Option, Schema } from "effect"
import { afterAll } from "vitest"
import { DurableExecutor, Executor, ExecutorError, PgStore, Task, TaskHandle, TaskStatus } from "../src/index.js"
import { TaskStore } from "../src/TaskStore.js"
import { dropSchemas, freshSchema, pgAvailable, pgClientLayer } from "./pgSupport.js"
import { newTask } from "./support.js"

const schemas: Array<string> = []
afterAll(() => pgAvailable ? Effect.runPromise(dropSchemas(schemas)) : undefined)
const schemaForTest = () => {
  const schema = freshSchema()
  schemas.push(schema)
  return schema
}

const Greet = Task.make("Greet", {
  payload: Schema.Struct({ name: Schema.String }),
  success: Schema.String,
  run: ({ name }) => Effect.succeed(`hello ${name}`)
})

const pgExecutor = (schema: string, options: Partial<Executor.DurableOptions<ReadonlyArray<Task.Task.Any>>> = {}) =>
  Executor.layerPg({ schema, tasks: [Greet], leaseDuration: "2 seconds", pollInterval: "100 millis", ...options })

describe.runIf(pgAvailable)("Executor.layerPg", () => {
  it.live("runs task calls durably on PostgreSQL", () =>
    Effect.gen(function*() {
      expect((yield* Executor.Executor).reliability).toBe("durable")
      const handle = yield* DurableExecutor.submit(Greet.make({ name: "pg" }))
      expect(yield* DurableExecutor.await(handle)).toBe("hello pg")
      expect(yield* DurableExecutor.status(handle)).toEqual(TaskStatus.Succeeded({ value: "hello pg", attempts: 1 }))
    }).pipe(Effect.provide(pgExecutor(schemaForTest()).pipe(Layer.provideMerge(pgClientLayer())))))

  it.live("a submit inside the caller's transaction commits with the caller's rows", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const table = sql(`${schemas[schemas.length - 1]}_signups`)
      yield* sql`CREATE TABLE ${table} (email TEXT PRIMARY KEY)`
      const handle = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO ${table} (email) VALUES ('ada@example.com')`
        return yield* DurableExecutor.submit(Greet.make({ name: "ada" }))
      }))
      expect(yield* DurableExecutor.await(handle)).toBe("hello ada")
      expect(yield* sql`SELECT email FROM ${table}`).toEqual([{ email: "ada@example.com" }])
      yield* sql`DROP TABLE ${table}`
    }).pipe(Effect.provide(pgExecutor(schemaForTest()).pipe(Layer.provideMerge(pgClientLayer())))))

  it.live("a submit inside the caller's transaction disappears when the caller rolls back", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const table = sql(`${schemas[schemas.length - 1]}_signups`)
      yield* sql`CREATE TABLE ${table} (email TEXT PRIMARY KEY)`
      const submitted = yield* Deferred.make<TaskHandle.TaskHandle<string, never>>()
      const outcome = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO ${table} (email) VALUES ('bob@example.com')`
        yield* Deferred.succeed(submitted, yield* DurableExecutor.submit(Greet.make({ name: "bob" })))
        return yield* Effect.fail("the signup failed after the submit" as const)
      })).pipe(Effect.flip)
      expect(outcome).toBe("the signup failed after the submit")
      const handle = yield* Deferred.await(submitted)
      expect(yield* Effect.flip(DurableExecutor.status(handle))).toBeInstanceOf(ExecutorError.TaskNotFound)
      expect(yield* sql`SELECT email FROM ${table}`).toEqual([])
      // a task submitted afterwards runs, and the rolled-back one never appears
      expect(yield* DurableExecutor.await(yield* DurableExecutor.submit(Greet.make({ name: "next" })))).toBe("hello next")
      expect(yield* Effect.flip(DurableExecutor.status(handle))).toBeInstanceOf(ExecutorError.TaskNotFound)
      yield* sql`DROP TABLE ${table}`
    }).pipe(Effect.provide(pgExecutor(schemaForTest()).pipe(Layer.provideMerge(pgClientLayer())))))

  it.live("status and interrupt inside a caller's transaction do not run on it", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const handle = yield* DurableExecutor.submit(Greet.make({ name: "x" }), { delay: "1 hour" })
      const status = yield* sql.withTransaction(Effect.gen(function*() {
        yield* DurableExecutor.interrupt(handle)
        return yield* Effect.fail("rolled back" as const)
      })).pipe(Effect.flip, Effect.zipRight(DurableExecutor.status(handle)))
      // the cancel was committed on the executor's own connection, not rolled back with the caller
      expect(status).toEqual(TaskStatus.Interrupted())
    }).pipe(Effect.provide(pgExecutor(schemaForTest()).pipe(Layer.provideMerge(pgClientLayer())))))

  it.live("LISTEN/NOTIFY wakes an idle worker at once, long before its poll", () =>
    Effect.gen(function*() {
      const schema = schemaForTest()
      const worker = pgExecutor(schema, { pollInterval: "10 minutes" })
      yield* Effect.gen(function*() {
        // another process writes the task: here the store itself, on its own connection
        const id = "N".repeat(24)
        yield* Effect.flatMap(TaskStore, (store) =>
          store.insert([
            newTask({ id, name: "Greet", payload: JSON.stringify({ name: "notified" }), runAt: 0, createdAt: Date.now() })
          ])
        ).pipe(Effect.provide(PgStore.layer({ schema }).pipe(Layer.provide(pgClientLayer({ maxConnections: 1 })))))
        const handle = yield* TaskHandle.decode<string, never>(id)
        const value = yield* DurableExecutor.await(handle).pipe(Effect.timeout("20 seconds"))
        expect(value).toBe("hello notified")
      }).pipe(Effect.provide(worker.pipe(Layer.provideMerge(pgClientLayer()))))
    }))

  it.live("tables live in their own schema, beside the application's", () =>
    Effect.gen(function*() {
      const schema = schemaForTest()
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const tables = yield* sql<{ table_name: string }>`SELECT table_name FROM information_schema.tables
          WHERE table_schema = ${schema} ORDER BY table_name`
        expect(tables.map((t) => t.table_name)).toEqual(["meta", "migrations", "tasks", "workers"])
        const found = yield* sql<{ n: string }>`SELECT count(*) AS n FROM information_schema.tables
          WHERE table_schema = 'public' AND table_name = 'tasks'`
        expect(Option.some(found[0]?.n)).toEqual(Option.some("0"))
      }).pipe(Effect.provide(pgExecutor(schema).pipe(Layer.provideMerge(pgClientLayer()))))
    }))

  it.live("a bad schema name is a typed StoreUnavailable", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(PgStore.layer({ schema: "Robert'); DROP TABLE students;--" })).pipe(
        Effect.provide(pgClientLayer({ maxConnections: 1 })),
        Effect.scoped,
        Effect.flip
      )
      expect(error).toBeInstanceOf(ExecutorError.StoreUnavailable)
    }))
})

describe.runIf(pgAvailable)("runTasks: false", () => {
  it.live("a submit-only process stores tasks and polls them; a worker process runs them", () =>
    Effect.gen(function*() {
      const schema = schemaForTest()
      const submitter = pgExecutor(schema, { runTasks: false }).pipe(Layer.provideMerge(pgClientLayer()))
      const handle = yield* Effect.gen(function*() {
        const handle = yield* DurableExecutor.submit(Greet.make({ name: "later" }))
        // nobody runs it here: it stays queued
        expect(yield* DurableExecutor.status(handle)).toEqual(TaskStatus.Queued())
        return TaskHandle.encode(handle)
      }).pipe(Effect.provide(submitter))
      const worker = pgExecutor(schema).pipe(Layer.provideMerge(pgClientLayer()))
      const value = yield* Effect.gen(function*() {
        return yield* DurableExecutor.await(yield* Schema.decode(TaskHandle.schemaFor(Greet))(handle))
      }).pipe(Effect.provide(worker))
      expect(value).toBe("hello later")
    }))
})
