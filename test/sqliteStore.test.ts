import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { ExecutorError, SqliteStore } from "../src/index.js"
import { storeConformance } from "./storeConformance.js"

const dir = mkdtempSync(join(tmpdir(), "effect-executor-sqlite-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const freshFile = () => join(dir, `store-${++files}.db`)

storeConformance("SQLite", () => SqliteStore.layer({ filename: freshFile() }))

describe("SqliteStore", () => {
  it.effect("synchronous is FULL by default, and can be relaxed", () =>
    Effect.gen(function*() {
      const pragma = (options: SqliteStore.Options) =>
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ synchronous: number }>`PRAGMA synchronous`).pipe(
          Effect.provide(SqliteStore.layerClient(options))
        )
      expect(yield* pragma({ filename: freshFile() })).toEqual([{ synchronous: 2 }])
      expect(yield* pragma({ filename: freshFile(), synchronous: "NORMAL" })).toEqual([{ synchronous: 1 }])
      const journal = yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ journal_mode: string }>`PRAGMA journal_mode`).pipe(
        Effect.provide(SqliteStore.layerClient({ filename: freshFile() }))
      )
      expect(journal).toEqual([{ journal_mode: "wal" }])
    }))

  it.effect("a file that cannot be opened is a typed StoreUnavailable naming the path", () =>
    Effect.gen(function*() {
      const notADirectory = join(dir, "plain-file")
      writeFileSync(notADirectory, "x")
      for (const filename of [join(notADirectory, "tasks.db"), dir]) {
        const exit = yield* Effect.exit(Layer.build(SqliteStore.layer({ filename })).pipe(Effect.scoped))
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) {
          const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          expect(error).toBeInstanceOf(ExecutorError.StoreUnavailable)
          expect(error?.message).toContain(filename)
        }
      }
    }))

  it.effect("migrations are versioned and run once", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      yield* Layer.build(SqliteStore.layer({ filename })).pipe(Effect.scoped)
      yield* Layer.build(SqliteStore.layer({ filename })).pipe(Effect.scoped)
      const rows = yield* Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql<{ migration_id: number; name: string }>`SELECT migration_id, name FROM effect_executor_migrations`
      ).pipe(Effect.provide(SqliteStore.layerClient({ filename })))
      expect(rows).toEqual([{ migration_id: 1, name: "create_tasks" }, { migration_id: 2, name: "add_sessions" }])
    }))
})
