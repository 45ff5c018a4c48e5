import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, Option } from "effect"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { ExecutorError, SqliteStore, TaskStore } from "../src/index.js"
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
      expect(rows).toEqual([
        { migration_id: 1, name: "create_tasks" },
        { migration_id: 2, name: "add_sessions" },
        { migration_id: 3, name: "add_fencing_and_liveness" },
        { migration_id: 4, name: "add_failed_since" }
      ])
    }))

  /**
   * The main thread's time spent runnable but waiting for a CPU, in ms (Linux schedstat), or
   * `undefined` where the kernel does not say.
   */
  const waitedForCpu = (): number | undefined => {
    try {
      return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[1]) / 1e6
    } catch {
      return undefined
    }
  }

  /**
   * Measures the longest gap between turns of the event loop until the returned function is
   * called, and the longest gap less the time the thread waited for a CPU meanwhile: on a loaded
   * machine the scheduler holds any process back for tens of milliseconds, which no code of ours
   * can help; what is left is the stall the code itself causes (its work and its fsyncs).
   */
  const watchEventLoop = () => {
    let last = performance.now()
    let lastWaited = waitedForCpu()
    let longestMillis = 0
    let longestOwnMillis = 0
    let timer: ReturnType<typeof setTimeout>
    const tick = () => {
      const now = performance.now()
      const waited = waitedForCpu()
      const gap = now - last
      longestMillis = Math.max(longestMillis, gap)
      longestOwnMillis = Math.max(longestOwnMillis, gap - (waited === undefined || lastWaited === undefined ? 0 : waited - lastWaited))
      last = now
      lastWaited = waited
      timer = setTimeout(tick, 1)
    }
    timer = setTimeout(tick, 1)
    return () => {
      clearTimeout(timer)
      tick()
      clearTimeout(timer)
      return { longestMillis, longestOwnMillis }
    }
  }

  /** Builds the store on `filename` and answers its typed failure (a defect fails the test). */
  const storeFailure = (filename: string) =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Layer.build(SqliteStore.layer({ filename })).pipe(Effect.scoped))
      expect(Exit.isFailure(exit) && Cause.isFailType(exit.cause)).toBe(true)
      return Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
    })

  const withClient = (filename: string, statements: ReadonlyArray<string>) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.forEach(statements, (statement) => sql.unsafe(statement)))
      .pipe(Effect.provide(SqliteStore.layerClient({ filename })))

  it.effect("a table of the same name made by another application is a typed StoreUnavailable naming file and table", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      yield* withClient(filename, ["CREATE TABLE effect_executor_tasks (id INTEGER PRIMARY KEY, title TEXT)"])
      const error = yield* storeFailure(filename)
      expect(error).toBeInstanceOf(ExecutorError.StoreUnavailable)
      expect(error?.message).toContain(filename)
      expect(error?.message).toContain("effect_executor_tasks")
    }))

  it.effect("a half-made table (migrations recorded, columns missing) is a typed StoreUnavailable", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      yield* Layer.build(SqliteStore.layer({ filename })).pipe(Effect.scoped)
      yield* withClient(filename, ["ALTER TABLE effect_executor_tasks DROP COLUMN claims"])
      const error = yield* storeFailure(filename)
      expect(error).toBeInstanceOf(ExecutorError.StoreUnavailable)
      expect(error?.message).toContain(filename)
      expect(error?.message).toContain("effect_executor_tasks")
      expect(error?.message).toContain("claims")
    }))

  it.effect("the session key is made once and kept in the file", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const keyOf = Effect.map(TaskStore.TaskStore, (store) => store.sessionKey).pipe(
        Effect.provide(SqliteStore.layer({ filename }))
      )
      const first = yield* keyOf
      expect(yield* keyOf).toBe(first)
      expect(yield* Effect.map(TaskStore.TaskStore, (store) => store.sessionKey).pipe(
        Effect.provide(SqliteStore.layer({ filename: freshFile() }))
      )).not.toBe(first)
    }))

  // On a RAM disk where there is one (Linux's /dev/shm): the test is about the statements the
  // prune runs and the turns it leaves the event loop, not about how long this machine's disk,
  // shared with the other test files, takes for an fsync or a WAL checkpoint.
  const ramDir = existsSync("/dev/shm") ? mkdtempSync(join("/dev/shm", "effect-executor-prune-")) : dir
  afterAll(() => rmSync(ramDir, { recursive: true, force: true }))

  it.live("prune of 200,000 finished rows never stalls the event loop for 50 ms of its own", () =>
    Effect.gen(function*() {
      const filename = join(ramDir, "prune.db")
      const store = Context.get(yield* Layer.build(SqliteStore.layer({ filename })), TaskStore.TaskStore)
      const total = 200_000
      // written by SQLite itself, so that no garbage of the setup is collected during the prune
      yield* withClient(filename, [`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${total})
        INSERT INTO effect_executor_tasks (id, name, queue, payload, state, run_at, attempts, claims, created_at, finished_at, result)
        SELECT printf('prune-%019d', i), 'Work', 'default', '{}', 'succeeded', 1000, 1, 1, 1000, 1100, '1' FROM n`])
      const histogram = monitorEventLoopDelay({ resolution: 5 })
      histogram.enable()
      const watch = watchEventLoop()
      const started = Date.now()
      const pruned = yield* store.prune(2_000)
      const tookMillis = Date.now() - started
      const { longestOwnMillis, longestMillis } = watch()
      histogram.disable()
      expect(pruned).toBe(total)
      console.log(
        `prune of ${total} rows: ${tookMillis} ms; longest event-loop delay ${(histogram.max / 1e6).toFixed(1)} ms ` +
          `(monitorEventLoopDelay), ${longestMillis.toFixed(1)} ms between turns, of which ` +
          `${longestOwnMillis.toFixed(1)} ms not spent waiting for a CPU`
      )
      expect(longestOwnMillis).toBeLessThan(50)
    }).pipe(Effect.scoped), 120_000)
})
