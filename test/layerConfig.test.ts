import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Config, ConfigError, ConfigProvider, Duration, Effect, Layer, Schema } from "effect"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { DurableExecutor, Executor, ExecutorError, PgStore, SqliteStore, Task, TaskStore } from "../src/index.js"
import { pgAvailable, pgUrl, schemasDroppedAfterAll } from "./pgSupport.js"

const dir = mkdtempSync(join(tmpdir(), "effect-executor-config-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const freshFile = () => join(dir, `tasks-${++files}.db`)

const schemaForTest = schemasDroppedAfterAll()

const Greet = Task.make("Greet", {
  payload: Schema.Struct({ name: Schema.String }),
  success: Schema.String,
  run: ({ name }) => Effect.succeed(`hello ${name}`)
})

/** Runs `effect` with the layer built from a config provider of exactly these values. */
const withConfig = (values: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(values))))

/** The error the layer fails to build with, read from these config values. */
const buildError = <A, E>(layer: Layer.Layer<A, E>, values: Record<string, string>) =>
  Effect.flip(Effect.scoped(Layer.build(layer))).pipe(withConfig(values))

const expectConfigError = (error: unknown, kind: "MissingData" | "InvalidData", text: string) => {
  expect(ConfigError.isConfigError(error)).toBe(true)
  const configError = error as ConfigError.ConfigError
  expect(kind === "MissingData" ? ConfigError.isMissingData(configError) : ConfigError.isInvalidData(configError))
    .toBe(true)
  expect(String(configError)).toContain(text)
}

describe("Executor.layerMemoryConfig", () => {
  const memory = Executor.layerMemoryConfig({
    concurrency: Config.integer("CONCURRENCY"),
    maxBacklog: Config.integer("MAX_BACKLOG").pipe(Config.withDefault(10_000)),
    queues: { reports: { concurrency: Config.integer("REPORTS_CONCURRENCY") } },
    retention: Config.duration("RETENTION").pipe(Config.withDefault("1 hour")),
    drainTimeout: Config.duration("DRAIN_TIMEOUT").pipe(Config.withDefault("30 seconds"))
  })

  it.live("reads its options from the config provider", () =>
    Effect.gen(function*() {
      const handle = yield* Executor.submit(Effect.succeed(1), { queue: "reports", when: "now" })
      expect(yield* Executor.await(handle)).toBe(1)
      // maxBacklog 1: one delayed task fills the backlog
      yield* Executor.submit(Effect.void, { delay: "1 hour", when: "now" })
      expect(yield* Effect.flip(Executor.submit(Effect.void, { when: "now" }))).toBeInstanceOf(
        ExecutorError.ExecutorBusy
      )
    }).pipe(
      Effect.provide(memory),
      withConfig({
        CONCURRENCY: "2",
        MAX_BACKLOG: "1",
        REPORTS_CONCURRENCY: "1",
        RETENTION: "1 minute",
        // the delayed task is still waiting when the layer closes: the drain must not take 30 s
        DRAIN_TIMEOUT: "10 millis"
      }),
      Effect.timed,
      Effect.map(([took]) => expect(Duration.toMillis(took)).toBeLessThan(5_000))
    ))

  it.effect("a missing value fails the layer with a ConfigError", () =>
    Effect.gen(function*() {
      const error = yield* buildError(memory, { REPORTS_CONCURRENCY: "1" })
      expectConfigError(error, "MissingData", "CONCURRENCY")
    }))

  it.effect("a malformed value fails the layer with a ConfigError", () =>
    Effect.gen(function*() {
      const error = yield* buildError(memory, { CONCURRENCY: "many", REPORTS_CONCURRENCY: "1" })
      expectConfigError(error, "InvalidData", "CONCURRENCY")
    }))

  it.effect("a value the layer refuses (a concurrency of 0) is a ConfigError, not a defect", () =>
    Effect.gen(function*() {
      const error = yield* buildError(memory, { CONCURRENCY: "2", REPORTS_CONCURRENCY: "0" })
      expectConfigError(error, "InvalidData", `"queues.reports.concurrency" must be a positive integer, got 0`)
      const empty = yield* buildError(
        Executor.layerMemoryConfig({ sessionKey: Config.redacted("SESSION_KEY") }),
        { SESSION_KEY: "" }
      )
      expectConfigError(empty, "InvalidData", "sessionKey")
    }))
})

describe("Executor.layerSqliteConfig", () => {
  const sqlite = Executor.layerSqliteConfig([Greet], {
    filename: Config.string("TASKS_DB"),
    synchronous: Config.literal("FULL", "NORMAL", "OFF")("TASKS_SYNCHRONOUS").pipe(Config.withDefault("FULL")),
    pollInterval: Config.duration("TASKS_POLL")
  })

  it.live("opens the configured file and runs its tasks durably", () => {
    const filename = freshFile()
    return Effect.gen(function*() {
      const handle = yield* DurableExecutor.submit(Greet.make({ name: "config" }))
      expect(yield* DurableExecutor.await(handle)).toBe("hello config")
      expect(existsSync(filename)).toBe(true)
    }).pipe(
      Effect.provide(sqlite),
      withConfig({ TASKS_DB: filename, TASKS_SYNCHRONOUS: "NORMAL", TASKS_POLL: "50 millis" })
    )
  })

  it.effect("a missing filename fails the layer with a ConfigError, and opens no file", () =>
    Effect.gen(function*() {
      const error = yield* buildError(sqlite, { TASKS_POLL: "50 millis" })
      expectConfigError(error, "MissingData", "TASKS_DB")
    }))

  it.effect("a value outside a literal set, or a duration that does not parse, is a ConfigError", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const synchronous = yield* buildError(sqlite, {
        TASKS_DB: filename,
        TASKS_SYNCHRONOUS: "SOMETIMES",
        TASKS_POLL: "50 millis"
      })
      expectConfigError(synchronous, "InvalidData", "TASKS_SYNCHRONOUS")
      const poll = yield* buildError(sqlite, { TASKS_DB: filename, TASKS_POLL: "soon" })
      expectConfigError(poll, "InvalidData", "TASKS_POLL")
      expect(existsSync(filename)).toBe(false)
    }))

  it.effect("two tasks of one name still fail with InvalidOptions", () =>
    Effect.gen(function*() {
      const error = yield* buildError(
        Executor.layerSqliteConfig([Greet, Greet], { filename: Config.string("TASKS_DB") }),
        { TASKS_DB: freshFile() }
      )
      expect(error).toBeInstanceOf(ExecutorError.InvalidOptions)
    }))
})

describe("SqliteStore.layerConfig and Executor.layerStoreConfig", () => {
  it.live("the store opens the configured file; the executor on it reads its own config", () => {
    const filename = freshFile()
    return Effect.gen(function*() {
      expect((yield* TaskStore.TaskStore).location).toBe(filename)
      const handle = yield* DurableExecutor.submit(Greet.make({ name: "store" }))
      expect(yield* DurableExecutor.await(handle)).toBe("hello store")
    }).pipe(
      Effect.provide(
        Executor.layerStoreConfig([Greet], { pollInterval: Config.duration("TASKS_POLL") }).pipe(
          Layer.provideMerge(SqliteStore.layerConfig({ filename: Config.string("TASKS_DB") }))
        )
      ),
      withConfig({ TASKS_DB: filename, TASKS_POLL: "50 millis" })
    )
  })

  it.effect("a missing filename fails the store layer with a ConfigError", () =>
    Effect.gen(function*() {
      const error = yield* buildError(SqliteStore.layerConfig({ filename: Config.string("TASKS_DB") }), {})
      expectConfigError(error, "MissingData", "TASKS_DB")
    }))

  it.effect("a value layerStore refuses is a ConfigError", () =>
    Effect.gen(function*() {
      const error = yield* buildError(
        Executor.layerStoreConfig([Greet], { maxBacklog: Config.integer("MAX_BACKLOG") }).pipe(
          Layer.provide(SqliteStore.layerConfig({ filename: Config.string("TASKS_DB") }))
        ),
        { TASKS_DB: freshFile(), MAX_BACKLOG: "-1" }
      )
      expectConfigError(error, "InvalidData", `"maxBacklog" must be a positive integer, got -1`)
    }))
})

describe.runIf(pgAvailable)("Executor.layerPgConfig and PgStore.layerConfig", () => {
  const client = PgClient.layerConfig({ url: Config.redacted("DATABASE_URL"), maxConnections: Config.succeed(4) })

  it.live("runs task calls in the configured schema", () => {
    const schema = schemaForTest()
    return Effect.gen(function*() {
      const handle = yield* DurableExecutor.submit(Greet.make({ name: "pg config" }))
      expect(yield* DurableExecutor.await(handle)).toBe("hello pg config")
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ readonly name: string }>`SELECT name FROM ${sql(`${schema}.tasks`)}`
      expect(rows.map((row) => row.name)).toEqual(["Greet"])
    }).pipe(
      Effect.provide(
        Executor.layerPgConfig([Greet], {
          schema: Config.string("TASKS_SCHEMA"),
          pollInterval: Config.duration("TASKS_POLL").pipe(Config.withDefault("100 millis"))
        }).pipe(Layer.provideMerge(client))
      ),
      withConfig({ DATABASE_URL: pgUrl, TASKS_SCHEMA: schema })
    )
  })

  it.live("PgStore.layerConfig makes its store in the configured schema", () => {
    const schema = schemaForTest()
    return Effect.gen(function*() {
      expect((yield* TaskStore.TaskStore).location).toBe(`postgresql schema ${schema}`)
    }).pipe(
      Effect.provide(PgStore.layerConfig({ schema: Config.string("TASKS_SCHEMA") }).pipe(Layer.provide(client))),
      withConfig({ DATABASE_URL: pgUrl, TASKS_SCHEMA: schema })
    )
  })

  it.live("a missing schema fails the layers with a ConfigError", () =>
    Effect.gen(function*() {
      const executor = yield* buildError(
        Executor.layerPgConfig([Greet], { schema: Config.string("TASKS_SCHEMA") }).pipe(Layer.provide(client)),
        { DATABASE_URL: pgUrl }
      )
      expectConfigError(executor, "MissingData", "TASKS_SCHEMA")
      const store = yield* buildError(
        PgStore.layerConfig({ schema: Config.string("TASKS_SCHEMA") }).pipe(Layer.provide(client)),
        { DATABASE_URL: pgUrl }
      )
      expectConfigError(store, "MissingData", "TASKS_SCHEMA")
    }))

  it.live("a value layerPg refuses is a ConfigError", () =>
    Effect.gen(function*() {
      const error = yield* buildError(
        Executor.layerPgConfig([Greet], {
          takeoverAfter: Config.string("TAKEOVER_AFTER").pipe(Config.map((text) => text as Duration.DurationInput))
        }).pipe(Layer.provide(client)),
        { DATABASE_URL: pgUrl, TAKEOVER_AFTER: "a while" }
      )
      expectConfigError(error, "InvalidData", `"takeoverAfter" must be a duration, got a while`)
    }))
})
