/**
 * Large tables (issue 16, point 4): does a table full of finished rows slow the queue down?
 * `npx tsx bench/largeTable.ts` (after `npm run build`). Prints, never asserts.
 *
 * For each store (SQLite in a temporary file, PostgreSQL in a schema of its own at 127.0.0.1) and
 * each fill (0 and BENCH_FILL finished rows, `succeeded` and within retention, written straight
 * into the table, then ANALYZE), with BENCH_TASKS queued no-op tasks (written with `submitAll`):
 *   claim: BENCH_CLAIMS claims of 24 tasks (the store's own `TaskStore.claim`), each in a
 *          transaction that is rolled back (PostgreSQL) or on a copy of the queue (SQLite: the
 *          claimed rows are put back), p50 and p99 in milliseconds;
 *   end to end: a layer with `concurrency: 24, prefetch: 500` runs the queued tasks, timed from
 *          its start until the last has run (tasks/s).
 * and the ratio of each figure with the fill to the same without it (target: within 20 %).
 *
 * Environment (defaults in brackets): BENCH_FILL [1000000], BENCH_TASKS [20000],
 * BENCH_CLAIMS [200], BENCH_ONLY [all] ("sqlite" or "pg"),
 * EFFECT_EXECUTOR_PG_URL [postgres://postgres@127.0.0.1:5432/test].
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Deferred, Effect, Layer, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { Executor, PgStore, SqliteStore, type Task, TaskStore } from "effect-executor"
import { env, fmt, ratio, revision, runMain, verdict } from "./harness.js"
import { counter, Noop, submitNoopsInBatches } from "./noopTask.js"

const FILL = Math.round(env("BENCH_FILL", 1_000_000))
const TASKS = Math.round(env("BENCH_TASKS", 20_000))
const CLAIMS = Math.round(env("BENCH_CLAIMS", 200))
const ONLY = process.env.BENCH_ONLY ?? "all"
const PG_URL = process.env.EFFECT_EXECUTOR_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"


const percentile = (xs: ReadonlyArray<number>, p: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

interface Store {
  readonly name: string
  /** A fresh place (a file, a schema) and what runs there. */
  readonly fresh: () => {
    readonly executor: (options: Partial<Executor.DurableOptions<ReadonlyArray<Task.Task.Any>>>) => Layer.Layer<any, any, never>
    readonly store: Layer.Layer<TaskStore.TaskStore | SqlClient.SqlClient, any, never>
    /** Writes `n` finished rows straight into the tasks table, then ANALYZE. */
    readonly fill: (n: number) => Effect.Effect<void, unknown, SqlClient.SqlClient>
    /** One claim of 24, undone. */
    readonly claimOnce: Effect.Effect<number, unknown, TaskStore.TaskStore | SqlClient.SqlClient>
    readonly remove: () => Promise<void>
  }
}

const claimArgs = () => ({ owner: "bench", queue: "default", limit: 24, now: Date.now(), leaseMillis: 30_000 })

/** Times `claim` inside a transaction that is rolled back, so the queue is the same for every sample. */
const timedClaim = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const store = yield* TaskStore.TaskStore
  const start = performance.now()
  let claimed = 0
  yield* sql.withTransaction(
    Effect.flatMap(store.claim(claimArgs()), (tasks) => {
      claimed = tasks.length
      return Effect.fail("undo" as const)
    })
  ).pipe(Effect.catchIf((e) => e === "undo", () => Effect.void))
  if (claimed !== 24) return yield* Effect.dieMessage(`claimed ${claimed} of 24`)
  return performance.now() - start
})

const sqliteStore: Store = {
  name: "SQLite (FULL)",
  fresh: () => {
    const dir = mkdtempSync(join(tmpdir(), "effect-executor-large-"))
    const filename = join(dir, "tasks.db")
    const client = SqliteClient.layer({ filename })
    return {
      executor: (options) => Executor.layerSqlite({ filename, tasks: [Noop], ...options }),
      // the store on this client, so that the claim's transaction is the one that is rolled back
      store: Layer.provideMerge(Layer.effect(TaskStore.TaskStore, SqliteStore.make(filename)), client),
      fill: (n) =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const now = Date.now()
          yield* sql.unsafe(`WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ${n})
            INSERT INTO effect_executor_tasks (id, name, queue, payload, state, priority, run_at, attempts, result,
              created_at, started_at, finished_at)
            SELECT 'done' || i, 'Noop', 'default', '{"i":0}', 'succeeded', 0, ${now}, 1, 'null', ${now}, ${now}, ${now} FROM g`)
          yield* sql.unsafe("ANALYZE")
        }),
      claimOnce: timedClaim,
      remove: async () => rmSync(dir, { recursive: true, force: true })
    }
  }
}

const pgStore: Store = {
  name: "PostgreSQL",
  fresh: () => {
    const schema = `bench_large_${randomBytes(4).toString("hex")}`
    const client = PgClient.layer({ url: Redacted.make(PG_URL), maxConnections: 8 })
    return {
      executor: (options) => Executor.layerPg({ schema, tasks: [Noop], ...options }).pipe(Layer.provide(client)),
      store: Layer.provideMerge(PgStore.layer({ schema }), client),
      fill: (n) =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const now = Date.now()
          yield* sql.unsafe(`INSERT INTO ${schema}.tasks (id, name, queue, payload, state, priority, run_at, attempts,
              result, created_at, started_at, finished_at)
            SELECT 'done' || i, 'Noop', 'default', '{"i":0}', 'succeeded', 0, ${now}, 1, 'null', ${now}, ${now}, ${now}
            FROM generate_series(1, ${n}) AS i`)
          yield* sql.unsafe(`ANALYZE ${schema}.tasks`)
        }),
      claimOnce: timedClaim,
      remove: () =>
        Effect.runPromise(
          Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).pipe(
            Effect.provide(client),
            Effect.asVoid
          )
        )
    }
  }
}

interface Figures {
  readonly claimP50: number
  readonly claimP99: number
  readonly perSecond: number
}

const measure = async (store: Store, fill: number): Promise<Figures> => {
  const place = store.fresh()
  try {
    // the tables, the fill and the queue: a layer that does not run tasks
    await Effect.runPromise(Effect.gen(function*() {
      yield* place.fill(fill)
      yield* submitNoopsInBatches(TASKS)
    }).pipe(Effect.provide(Layer.merge(place.executor({ runTasks: false }), place.store))))
    const claims = await Effect.runPromise(
      Effect.forEach(Array.from({ length: CLAIMS }), () => place.claimOnce).pipe(Effect.provide(place.store))
    )
    const perSecond = await Effect.runPromise(Effect.gen(function*() {
      counter.ran = 0
      counter.target = TASKS
      counter.done = yield* Deferred.make<void>()
      const start = performance.now()
      yield* Layer.build(place.executor({ concurrency: 24, prefetch: 500 }))
      yield* Deferred.await(counter.done)
      return (TASKS / (performance.now() - start)) * 1000
    }).pipe(Effect.scoped))
    return { claimP50: percentile(claims, 0.5), claimP99: percentile(claims, 0.99), perSecond }
  } finally {
    counter.done = undefined
    await place.remove()
  }
}

const main = async () => {
  console.log(
    `# large-table bench (${revision()}), ${cpus()[0]?.model ?? "cpu"}, ${availableParallelism()} cores, ` +
      `${fmt(FILL)} finished rows against none, ${fmt(TASKS)} queued, ${CLAIMS} claims of 24; load ${loadavg()[0]!.toFixed(2)}`
  )
  const stores = [...(ONLY === "pg" ? [] : [sqliteStore]), ...(ONLY === "sqlite" ? [] : [pgStore])]
  const rows: Array<string> = []
  for (const store of stores) {
    const empty = await measure(store, 0)
    const full = await measure(store, FILL)
    for (const [label, figures] of [["empty", empty], [`${fmt(FILL)} finished`, full]] as const) {
      console.log(
        `${store.name}, ${label}: claim p50 ${figures.claimP50.toFixed(2)} ms, p99 ${figures.claimP99.toFixed(2)} ms; ` +
          `end to end ${fmt(figures.perSecond)} tasks/s`
      )
    }
    const claimRatio = empty.claimP50 / full.claimP50
    const throughputRatio = full.perSecond / empty.perSecond
    rows.push(
      `| ${store.name} | claim p50 ${empty.claimP50.toFixed(2)} ms -> ${full.claimP50.toFixed(2)} ms ` +
        `(p99 ${empty.claimP99.toFixed(2)} -> ${full.claimP99.toFixed(2)}); end to end ${fmt(empty.perSecond)} -> ` +
        `${fmt(full.perSecond)} tasks/s | claim ${ratio(claimRatio)} (${verdict(claimRatio, 0.8)}), ` +
        `end to end ${ratio(throughputRatio)} (${verdict(throughputRatio, 0.8)}) |`
    )
  }
  console.log(
    `\n| store | empty -> ${fmt(FILL)} finished rows | full/empty (target >= 0.80) |\n|---|---|---|\n${rows.join("\n")}`
  )
}

runMain(main)
