/**
 * Durable benchmarks with baselines and peers measured in the same run (`npx tsx bench/durable.ts`).
 * Prints ratios, never asserts. Variants alternate (A,B then B,A) so drift does not favour one side.
 * Measures the built package (`dist/`, imported as `effect-executor`): `npm run build` first.
 *
 * SQLite (`Executor.layerSqlite`, one file in the OS temp directory, removed afterwards):
 * 1. The disk's own limit: better-sqlite3 directly, WAL, synchronous=FULL, committed one-row
 *    transactions (`BEGIN IMMEDIATE; INSERT; COMMIT`) per second for BENCH_DISK_SECONDS.
 * 2. Submits per second from BENCH_SUBMITTERS concurrent `DurableExecutor.submit` fibers, with
 *    `runTasks: false`: group commit (`groupCommit: true`, BENCH_TASKS submits) against one
 *    transaction per submit (`groupCommit: false`, BENCH_SINGLE_TASKS submits). Target >= 10x.
 * 3. End to end: BENCH_TASKS no-op tasks submitted by BENCH_SUBMITTERS fibers to a layer that runs
 *    them (`concurrency` BENCH_CONCURRENCY); the task counts its runs and the clock stops when the
 *    last one has run. synchronous=FULL (the default, target >= 5,000 tasks/s) and NORMAL for
 *    reference. After the layer has closed, the file is checked: every row `succeeded`.
 *
 * PostgreSQL (127.0.0.1, database `test`) and Redis (127.0.0.1:6379), end to end with worker
 * processes. For each library, each worker count (BENCH_PG_PROCS) and each concurrency
 * (BENCH_PG_CONCURRENCY). Peers run at their documented fast settings and at their defaults:
 *   - `graphile-worker-fast`: `preset.worker.localQueue: { size: 500 }`, `completeJobBatchDelay: 0`,
 *     `failJobBatchDelay: 0` (https://worker.graphile.org/docs/performance#batching), a pool of
 *     concurrency + 2, jobs added with `addJobs` in batches of 1,000;
 *   - `graphile-worker`: its defaults (a query per job), `addJob` per job;
 *   - `pg-boss`: its batch fetch (`work` with `batchSize: 500`, the handler gets the batch; its
 *     per-job default takes one job per 2 s poll and cannot finish 20,000 jobs in a run);
 *   - `bullmq`: `new Worker({ concurrency })`, its defaults (it has no faster documented mode).
 *   a. the parent enqueues BENCH_PG_TASKS no-op jobs from BENCH_SUBMITTERS concurrent callers with
 *      the library's own call (effect-executor: `DurableExecutor.submit` in a `layerPg` with
 *      `runTasks: false`; graphile-worker `addJob`, or `addJobs` in its fast mode; pg-boss `send`;
 *      BullMQ `Queue.add`); its rate is printed as "enqueue";
 *   b. the worker processes start (Node + tsx, libraries loaded, connection pools opened where
 *      the API allows it) and print READY; then all are told GO at once, and each starts its
 *      library's worker: `Executor.layerPg({ schema, tasks: [Noop], concurrency })`,
 *      graphile-worker `run({ concurrency })` (and its fast preset), pg-boss `work({ batchSize: 500 })`, BullMQ
 *      `new Worker({ concurrency })`; BENCH_PG_CONCURRENCY jobs at once per process for all of them.
 *      Pools: effect-executor 4 connections per process (+1 for LISTEN); graphile-worker
 *      max(10, min(concurrency, 64 / processes)) (it wants one per job slot; fast: concurrency + 2);
 *      pg-boss its default 10. pg-boss 10 has no per-job concurrency: one `work` loop fetches up to
 *      `batchSize` jobs and then waits out its polling interval (0.5 s at least), so it cannot
 *      exceed 2 x batchSize jobs/s per process;
 *   c. the parent polls the store every 20 ms (rows `succeeded`, graphile-worker's remaining
 *      rows, pg-boss's `completed` rows, BullMQ's completed count) until all are done or
 *      BENCH_PG_MAX_SECONDS have passed; tasks/s = done / time from GO.
 *   Each run has a schema (or Redis prefix) of its own, dropped afterwards.
 *
 * Environment (defaults in brackets):
 *   BENCH_ONLY [all]               "sqlite" or "pg"
 *   BENCH_TASKS [20000]            SQLite: group-commit submits and end-to-end tasks per run
 *   BENCH_SINGLE_TASKS [2000]      SQLite: submits per run with groupCommit: false
 *   BENCH_SUBMITTERS [64]          concurrent submitting fibers (and peers' concurrent enqueue calls)
 *   BENCH_CONCURRENCY [256]        SQLite end to end: layerSqlite concurrency
 *   BENCH_ROUNDS [2]               SQLite rounds (each: disk, both submit variants, both syncs)
 *   BENCH_DISK_SECONDS [1.5]       SQLite: how long each disk-limit measurement runs
 *   BENCH_PG_TASKS [20000]         PostgreSQL/Redis: jobs per run
 *   BENCH_PG_PROCS [1,4]           worker process counts
 *   BENCH_PG_CONCURRENCY [24]      jobs at once per worker process, every library (a list: 24,100)
 *   BENCH_PG_ROUNDS [3]            rounds per worker count (library order reversed every round)
 *   BENCH_PG_MAX_SECONDS [300]     a safety stop: a run that has not finished by then reports what
 *                                  was done (and is marked so); no run of the defaults comes near it
 *   BENCH_PEERS [graphile-worker-fast,graphile-worker,pg-boss,bullmq]  peers to run (installed with
 *                                  `npm --prefix bench/peers install`; skipped with one line if not)
 *   BENCH_CPU_PROF [unset]         a directory: effect-executor worker processes run with --cpu-prof
 *                                  into <dir>/<lib>-<procs>p/ (the SQLite part runs in this process:
 *                                  `node --cpu-prof --import tsx bench/durable.ts` profiles it)
 *   EFFECT_EXECUTOR_PG_URL [postgres://postgres@127.0.0.1:5432/test]
 *
 * Only 127.0.0.1 is used; every child process is killed before exit.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Deferred, Effect, Layer, Redacted } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { connect } from "node:net"
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { performance } from "node:perf_hooks"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { DurableExecutor, Executor } from "effect-executor"
import { counter, Noop, submitNoopsInBatches } from "./noopTask.js"
import { env, envList, fmt, killChildrenOnExit, median, ratio, revision, root, runMain, track, verdict } from "./harness.js"

const TASKS = Math.round(env("BENCH_TASKS", 20_000))
const SINGLE_TASKS = Math.round(env("BENCH_SINGLE_TASKS", 2_000))
const SUBMITTERS = Math.round(env("BENCH_SUBMITTERS", 64))
const CONCURRENCY = Math.round(env("BENCH_CONCURRENCY", 256))
const ROUNDS = Math.round(env("BENCH_ROUNDS", 2))
const DISK_SECONDS = env("BENCH_DISK_SECONDS", 1.5)
const PG_TASKS = Math.round(env("BENCH_PG_TASKS", 20_000))
const PG_PROCS = envList("BENCH_PG_PROCS", "1,4").map(Number)
const PG_CONCURRENCIES = envList("BENCH_PG_CONCURRENCY", "24").map(Number)
const PG_ROUNDS = Math.round(env("BENCH_PG_ROUNDS", 3))
const PG_MAX_SECONDS = env("BENCH_PG_MAX_SECONDS", 300)
const PEERS = envList("BENCH_PEERS", "graphile-worker-fast,graphile-worker,pg-boss,bullmq")
const ONLY = process.env.BENCH_ONLY ?? "all"
const CPU_PROF = process.env.BENCH_CPU_PROF
const PG_URL = process.env.EFFECT_EXECUTOR_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const REDIS = { host: "127.0.0.1", port: 6379 } as const

const here = dirname(fileURLToPath(import.meta.url))
const peersDir = join(here, "peers")
const requireRoot = createRequire(import.meta.url)
// better-sqlite3 comes with @effect/sql-sqlite-node; pg with @effect/sql-pg
const requireSqlite = createRequire(requireRoot.resolve("@effect/sql-sqlite-node"))
const requirePg = createRequire(requireRoot.resolve("@effect/sql-pg"))
const peersInstalled = existsSync(join(peersDir, "node_modules"))
const requirePeer = createRequire(join(peersDir, "package.json"))

const load = () => loadavg()[0]!.toFixed(2)
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const hex = () => randomBytes(4).toString("hex")


/** `submitters` fibers submit `n` tasks between them; returns milliseconds. */
const submitAll = (n: number, submitters: number) =>
  Effect.gen(function*() {
    const start = performance.now()
    yield* Effect.forEach(
      Array.from({ length: submitters }, (_, w) => w),
      (w) =>
        Effect.gen(function*() {
          for (let i = w; i < n; i += submitters) yield* DurableExecutor.submit(Noop.make({ i }))
        }),
      { concurrency: "unbounded", discard: true }
    )
    return performance.now() - start
  })

// ---------------------------------------------------------------------------------------------
// Minimal shapes of the untyped modules (better-sqlite3, pg, the peers): loaded with require so
// that `tsc` passes without bench/peers installed.
// ---------------------------------------------------------------------------------------------

interface SqliteDatabase {
  pragma(source: string): unknown
  exec(source: string): void
  prepare(source: string): { run(...params: Array<unknown>): unknown; get(...params: Array<unknown>): any }
  close(): void
}
interface PgPoolLike {
  query(text: string, params?: Array<unknown>): Promise<{ rows: Array<any> }>
  end(): Promise<void>
}

const openSqlite = (file: string): SqliteDatabase => {
  const Database = requireSqlite("better-sqlite3") as new(file: string) => SqliteDatabase
  return new Database(file)
}

const tempDb = () => {
  const dir = mkdtempSync(join(tmpdir(), "effect-executor-bench-"))
  return { file: join(dir, "tasks.db"), remove: () => rmSync(dir, { recursive: true, force: true }) }
}

// ---------------------------------------------------------------------------------------------
// 1. SQLite
// ---------------------------------------------------------------------------------------------

/** Committed one-row transactions per second on the disk, WAL + synchronous=FULL. */
const diskLimit = (seconds: number): number => {
  const db = tempDb()
  try {
    const sqlite = openSqlite(db.file)
    sqlite.pragma("journal_mode = WAL")
    sqlite.pragma("synchronous = FULL")
    sqlite.exec("CREATE TABLE t (x INTEGER)")
    const begin = sqlite.prepare("BEGIN IMMEDIATE")
    const insert = sqlite.prepare("INSERT INTO t (x) VALUES (?)")
    const commit = sqlite.prepare("COMMIT")
    let n = 0
    const start = performance.now()
    let elapsed = 0
    while ((elapsed = performance.now() - start) < seconds * 1000) {
      begin.run()
      insert.run(n)
      commit.run()
      n++
    }
    sqlite.close()
    return (n / elapsed) * 1000
  } finally {
    db.remove()
  }
}

/** Submits per second, `runTasks: false`. The layer is built before and closed after the timed part. */
const submitRound = async (groupCommit: boolean, n: number): Promise<number> => {
  const db = tempDb()
  try {
    const ms = await Effect.runPromise(
      submitAll(n, SUBMITTERS).pipe(
        Effect.provide(Executor.layerSqlite({ filename: db.file, tasks: [Noop], runTasks: false, groupCommit }))
      )
    )
    return (n / ms) * 1000
  } finally {
    db.remove()
  }
}

interface EndToEnd {
  readonly perSecond: number
  readonly submitPerSecond: number
  readonly succeededRows: number
}

/** Submit n no-op tasks to a running layer and wait until the last one has run. */
const endToEndRound = async (synchronous: "FULL" | "NORMAL", n: number): Promise<EndToEnd> => {
  const db = tempDb()
  try {
    const [total, submitted] = await Effect.runPromise(
      Effect.gen(function*() {
        counter.ran = 0
        counter.target = n
        counter.done = yield* Deferred.make<void>()
        const start = performance.now()
        const submitMs = yield* submitAll(n, SUBMITTERS)
        yield* Deferred.await(counter.done)
        return [performance.now() - start, submitMs] as const
      }).pipe(
        Effect.provide(
          Executor.layerSqlite({
            filename: db.file,
            tasks: [Noop],
            concurrency: CONCURRENCY,
            maxBacklog: Math.max(10_000, SUBMITTERS * 2),
            synchronous
          })
        )
      )
    )
    counter.done = undefined
    // untimed: the layer has closed (drained); every task's end must be in the file
    const sqlite = openSqlite(db.file)
    const row = sqlite.prepare("SELECT count(*) AS n FROM effect_executor_tasks WHERE state = 'succeeded'").get() as {
      n: number
    }
    sqlite.close()
    return { perSecond: (n / total) * 1000, submitPerSecond: (n / submitted) * 1000, succeededRows: row.n }
  } finally {
    db.remove()
  }
}

/** The SQLite fast runs' median, for the comparison with graphile-worker's fast mode on PostgreSQL. */
let sqliteFastMedian: number | undefined

/**
 * As the PostgreSQL runs measure: `n` tasks enqueued first (`submitAll` in batches of 1,000, a
 * layer with `runTasks: false`), then a layer that runs them (`concurrency` PG_CONCURRENCIES[0],
 * `prefetch: 500`, synchronous=FULL) timed from its start until the last has run.
 */
const sqliteFastRound = async (n: number): Promise<{ readonly enqueuePerSecond: number; readonly perSecond: number }> => {
  const db = tempDb()
  try {
    const enqueueMs = await Effect.runPromise(Effect.gen(function*() {
      const start = performance.now()
      yield* submitNoopsInBatches(n)
      return performance.now() - start
    }).pipe(Effect.provide(Executor.layerSqlite({ filename: db.file, tasks: [Noop], runTasks: false }))))
    const runMs = await Effect.runPromise(Effect.gen(function*() {
      counter.ran = 0
      counter.target = n
      counter.done = yield* Deferred.make<void>()
      const start = performance.now()
      yield* Layer.build(
        Executor.layerSqlite({ filename: db.file, tasks: [Noop], concurrency: PG_CONCURRENCIES[0]!, prefetch: 500 })
      )
      yield* Deferred.await(counter.done)
      return performance.now() - start
    }).pipe(Effect.scoped))
    counter.done = undefined
    return { enqueuePerSecond: (n / enqueueMs) * 1000, perSecond: (n / runMs) * 1000 }
  } finally {
    db.remove()
  }
}

const sqliteBench = async (summary: Array<string>) => {
  console.log(
    `\n## SQLite: ${SUBMITTERS} submitters; group commit ${fmt(TASKS)} submits, one transaction per submit ` +
      `${fmt(SINGLE_TASKS)} submits; end to end ${fmt(TASKS)} tasks at concurrency ${CONCURRENCY}; ${ROUNDS} rounds`
  )
  // warm-up (JIT, module loading), untimed
  await submitRound(true, Math.min(TASKS, 2_000))
  await endToEndRound("NORMAL", Math.min(TASKS, 2_000))

  const disk: Array<number> = []
  const group: Array<number> = []
  const single: Array<number> = []
  const full: Array<EndToEnd> = []
  const normal: Array<EndToEnd> = []
  for (let round = 1; round <= ROUNDS; round++) {
    disk.push(diskLimit(DISK_SECONDS))
    const firstGroup = round % 2 === 1
    for (const gc of firstGroup ? [true, false] : [false, true]) {
      const rate = await submitRound(gc, gc ? TASKS : SINGLE_TASKS)
      ;(gc ? group : single).push(rate)
    }
    for (const sync of firstGroup ? ["FULL", "NORMAL"] as const : ["NORMAL", "FULL"] as const) {
      const r = await endToEndRound(sync, TASKS)
      ;(sync === "FULL" ? full : normal).push(r)
    }
    const f = full.at(-1)!
    const nm = normal.at(-1)!
    console.log(
      `round ${round}: disk ${fmt(disk.at(-1)!)} commits/s; submit: group commit ${fmt(group.at(-1)!)}/s, ` +
        `one tx per submit ${fmt(single.at(-1)!)}/s (ratio ${ratio(group.at(-1)! / single.at(-1)!)}); ` +
        `end to end: FULL ${fmt(f.perSecond)} tasks/s (submits alone ${fmt(f.submitPerSecond)}/s), ` +
        `NORMAL ${fmt(nm.perSecond)} tasks/s; load ${load()}`
    )
    for (const r of [f, nm]) {
      if (r.succeededRows !== TASKS) console.log(`  CHECK FAILED: ${r.succeededRows} of ${TASKS} rows succeeded`)
    }
  }
  const fast: Array<{ readonly enqueuePerSecond: number; readonly perSecond: number }> = []
  for (let round = 1; round <= ROUNDS; round++) {
    fast.push(await sqliteFastRound(PG_TASKS))
    console.log(
      `round ${round}: fast: ${fmt(PG_TASKS)} pre-enqueued tasks run at ${fmt(fast.at(-1)!.perSecond)} tasks/s ` +
        `(submitAll ${fmt(fast.at(-1)!.enqueuePerSecond)}/s); load ${load()}`
    )
  }
  sqliteFastMedian = median(fast.map((r) => r.perSecond))
  const d = median(disk)
  const g = median(group)
  const s = median(single)
  const fe = median(full.map((r) => r.perSecond))
  const ne = median(normal.map((r) => r.perSecond))
  summary.push(
    `| sqlite: disk limit (better-sqlite3, WAL, synchronous=FULL, 1-row transactions) | median ${fmt(d)} commits/s ` +
      `(${disk.map(fmt).join(" / ")}) | 1.00 |`,
    `| sqlite: submit, one transaction per submit (groupCommit: false) | median ${fmt(s)}/s (${single.map(fmt).join(" / ")}) ` +
      `| ${ratio(s / d)} of the disk limit |`,
    `| sqlite: submit, group commit | median ${fmt(g)}/s (${group.map(fmt).join(" / ")}) | ${ratio(g / d)}x the disk limit; ` +
      `group/single ${ratio(g / s)} (per round ${group.map((x, i) => ratio(x / single[i]!)).join(" / ")}; ` +
      `target >= 10: ${verdict(g / s, 10)}) |`,
    `| sqlite: end to end, synchronous=FULL | median ${fmt(fe)} tasks/s (${full.map((r) => fmt(r.perSecond)).join(" / ")}) | ` +
      `target >= 5,000: ${verdict(fe, 5_000)} |`,
    `| sqlite: end to end, synchronous=NORMAL | median ${fmt(ne)} tasks/s (${normal.map((r) => fmt(r.perSecond)).join(" / ")}) | ` +
      `FULL/NORMAL ${ratio(fe / ne)} |`,
    `| sqlite fast: ${fmt(PG_TASKS)} pre-enqueued tasks, 1 process x ${PG_CONCURRENCIES[0]}, prefetch 500, FULL | ` +
      `median ${fmt(sqliteFastMedian)} tasks/s (${fast.map((r) => fmt(r.perSecond)).join(" / ")}); ` +
      `submitAll ${fmt(median(fast.map((r) => r.enqueuePerSecond)))}/s | see graphile-worker fast below |`
  )
}

// ---------------------------------------------------------------------------------------------
// 2. PostgreSQL and Redis: worker processes
// ---------------------------------------------------------------------------------------------

type Lib = "effect-executor" | "effect-executor-fast" | "graphile-worker-fast" | "graphile-worker" | "pg-boss" | "bullmq"
const allLibs: ReadonlyArray<Lib> = [
  "effect-executor",
  "effect-executor-fast",
  "graphile-worker-fast",
  "graphile-worker",
  "pg-boss",
  "bullmq"
]

/** How each row of the results names its library and settings. */
const libLabel: Record<Lib, string> = {
  "effect-executor": "effect-executor (layerPg, defaults)",
  "effect-executor-fast": "effect-executor fast (prefetch 500, submitAll in batches of 1,000)",
  "graphile-worker-fast": "graphile-worker fast (localQueue 500, batched completes)",
  "graphile-worker": "graphile-worker (defaults)",
  "pg-boss": "pg-boss (batchSize 500)",
  bullmq: "bullmq (Redis, defaults)"
}

/** What a worker process needs to know; passed as JSON on its command line. */
interface WorkerConfig {
  readonly lib: Lib
  /** schema (effect-executor, graphile-worker, pg-boss) or Redis key prefix (BullMQ) */
  readonly space: string
  readonly queue: string
  readonly concurrency: number
  /** graphile-worker's pool size in this process */
  readonly pool: number
}


interface Worker {
  readonly child: ChildProcess
  readonly ready: Promise<void>
}

const startWorker = (config: WorkerConfig, profileDir: string | undefined): Worker => {
  const args = [
    ...(profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", profileDir]),
    "--import",
    "tsx",
    fileURLToPath(import.meta.url),
    "worker",
    JSON.stringify(config)
  ]
  // stdin stays a pipe: GO goes down it, and the child leaves when it closes (even if this one is killed -9)
  const child = spawn(process.execPath, [...(process.env.BENCH_WORKER_TRACE_GC ? ["--trace-gc"] : []), ...args], { cwd: root, stdio: ["pipe", process.env.BENCH_WORKER_TRACE_GC ? "pipe" : "pipe", "inherit"] })
  track(child)
  const lines = createInterface({ input: child.stdout! })
  const waitFor = (word: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${config.lib} worker did not print ${word} within 60 s`)), 60_000)
      const onLine = (line: string) => {
        if (line.trim() === word) {
          clearTimeout(timer)
          lines.off("line", onLine)
          resolve()
        }
      }
      lines.on("line", onLine)
      child.once("exit", (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`${config.lib} worker exited before ${word} (code ${code}, signal ${signal})`))
      })
    })
  return { child, ready: waitFor("READY") }
}

const stopWorker = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    child.stdin!.end() // the child exits when its stdin closes (and writes its --cpu-prof profile)
  })

/** One library's side of a run: setup and enqueue in the parent, a completion count, cleanup. */
interface Contender {
  /** Enqueues n jobs from SUBMITTERS concurrent callers; returns milliseconds. */
  readonly enqueue: (n: number) => Promise<number>
  readonly done: () => Promise<number>
  readonly cleanup: () => Promise<void>
  readonly config: WorkerConfig
}

/** `submitters` concurrent callers share n calls of `one`. */
const concurrently = async (n: number, submitters: number, one: (i: number) => Promise<unknown>) => {
  const start = performance.now()
  await Promise.all(Array.from({ length: submitters }, async (_, w) => {
    for (let i = w; i < n; i += submitters) await one(i)
  }))
  return performance.now() - start
}

const pgLayer = (maxConnections: number, applicationName: string) =>
  PgClient.layer({ url: Redacted.make(PG_URL), maxConnections, applicationName, connectTimeout: "5 seconds" })

const makePool = (max: number): PgPoolLike => {
  const { Pool } = requirePg("pg") as { Pool: new(options: object) => PgPoolLike }
  return new Pool({ connectionString: PG_URL, max, application_name: "effect_executor_bench" })
}

const contenders: Record<Lib, (pool: PgPoolLike, procs: number, concurrency: number) => Promise<Contender>> = {
  "effect-executor": (pool, _procs, concurrency) => effectExecutorContender(pool, concurrency, false),
  "effect-executor-fast": (pool, _procs, concurrency) => effectExecutorContender(pool, concurrency, true),
  "graphile-worker-fast": (pool, procs, concurrency) => graphileContender(pool, procs, concurrency, true),
  "graphile-worker": (pool, procs, concurrency) => graphileContender(pool, procs, concurrency, false),
  "pg-boss": async (pool, _procs, concurrency) => {
    const schema = `bench_boss_${hex()}`
    const PgBoss = requirePeer("pg-boss")
    const boss = new PgBoss({ connectionString: PG_URL, schema, supervise: false, schedule: false })
    boss.on("error", (error: unknown) => console.error("pg-boss (enqueue):", error))
    await boss.start()
    await boss.createQueue("noop")
    return {
      config: { lib: "pg-boss", space: schema, queue: "noop", concurrency, pool: 10 },
      enqueue: (n) => concurrently(n, SUBMITTERS, (i) => boss.send("noop", { i })),
      done: async () =>
        Number(
          (await pool.query(`SELECT count(*) AS n FROM ${schema}.job WHERE name = 'noop' AND state = 'completed'`)).rows[0].n
        ),
      cleanup: async () => {
        await boss.stop({ graceful: false, wait: true })
        await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      }
    }
  },
  bullmq: async (_pool, _procs, concurrency) => {
    const prefix = `bench_bull_${hex()}`
    const { Queue } = requirePeer("bullmq")
    const queue = new Queue("noop", { connection: { ...REDIS }, prefix })
    await queue.waitUntilReady()
    return {
      config: { lib: "bullmq", space: prefix, queue: "noop", concurrency, pool: 0 },
      enqueue: (n) => concurrently(n, SUBMITTERS, (i) => queue.add("noop", { i })),
      done: async () => Number((await queue.getJobCounts("completed")).completed),
      cleanup: async () => {
        await queue.obliterate({ force: true })
        await queue.close()
      }
    }
  }
}


/**
 * effect-executor's side: at its defaults, enqueued with `DurableExecutor.submit` from SUBMITTERS
 * concurrent callers; or fast (`batch`), as graphile-worker's fast mode: `DurableExecutor.submitAll`
 * in batches of 1,000 from 8 callers, and workers with `prefetch: 500`.
 */
const effectExecutorContender = async (pool: PgPoolLike, concurrency: number, batch: boolean): Promise<Contender> => {
  const schema = `bench_ee_${hex()}`
  const config: WorkerConfig = {
    lib: batch ? "effect-executor-fast" : "effect-executor",
    space: schema,
    queue: "default",
    concurrency,
    pool: 4
  }
  const layer = Executor.layerPg({ schema, tasks: [Noop], runTasks: false }).pipe(
    Layer.provide(pgLayer(4, "effect_executor_bench_submit"))
  )
  return {
    config,
    enqueue: (n) =>
      batch
        ? Effect.runPromise(Effect.gen(function*() {
          // the layer is built once, before the clock starts, and the batches share it
          const context = yield* Layer.build(layer)
          const start = performance.now()
          yield* Effect.promise(() =>
            concurrently(Math.ceil(n / 1_000), Math.min(SUBMITTERS, 8), (b) =>
              Effect.runPromise(
                DurableExecutor.submitAll(
                  Array.from({ length: Math.min(1_000, n - b * 1_000) }, (_, k) => Noop.make({ i: b * 1_000 + k }))
                ).pipe(Effect.provide(context))
              ))
          )
          return performance.now() - start
        }).pipe(Effect.scoped))
        : Effect.runPromise(submitAll(n, SUBMITTERS).pipe(Effect.provide(layer))),
    done: async () =>
      Number((await pool.query(`SELECT count(*) AS n FROM ${schema}.tasks WHERE state = 'succeeded'`)).rows[0].n),
    cleanup: async () => void await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  }
}

/** graphile-worker's side, in its fast mode (`fast`) or at its defaults. */
const graphileContender = async (pool: PgPoolLike, procs: number, concurrency: number, fast: boolean): Promise<Contender> => {
  const schema = `bench_gw_${hex()}`
  const { makeWorkerUtils } = requirePeer("graphile-worker")
  const utils = await makeWorkerUtils({ connectionString: PG_URL, schema, logger: quietGraphileLogger() })
  await utils.migrate()
  let total = 0
  return {
    config: {
      lib: fast ? "graphile-worker-fast" : "graphile-worker",
      space: schema,
      queue: "noop",
      concurrency,
      pool: graphilePool(procs, concurrency, fast)
    },
    enqueue: async (n) => {
      total = n
      if (!fast) return concurrently(n, SUBMITTERS, (i) => utils.addJob("noop", { i }))
      const batches = Math.ceil(n / 1_000)
      return concurrently(batches, Math.min(SUBMITTERS, 8), (b) =>
        utils.addJobs(
          Array.from({ length: Math.min(1_000, n - b * 1_000) }, (_, k) => ({ identifier: "noop", payload: { i: b * 1_000 + k } }))
        ))
    },
    // a finished job is deleted
    done: async () => total - Number((await pool.query(`SELECT count(*) AS n FROM ${schema}._private_jobs`)).rows[0].n),
    cleanup: async () => {
      await utils.release()
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    }
  }
}

/**
 * graphile-worker wants a pool at least as large as its concurrency (it runs one query per job
 * slot); its default is 10. In its fast mode, concurrency + 2 (the local queue's fetch and the
 * batched completes). Capped so that all processes together stay under ~64 connections
 * (PostgreSQL allows 100 here, and other clients share it).
 */
const graphilePool = (procs: number, concurrency: number, fast: boolean) =>
  Math.max(10, Math.min(fast ? concurrency + 2 : concurrency, Math.floor(64 / procs)))

const quietGraphileLogger = () => {
  const { Logger } = requirePeer("graphile-worker")
  return new Logger(() => (level: string, message: string) => {
    if (level === "error") console.error(`graphile-worker: ${message}`)
  })
}

interface PgRun {
  readonly lib: Lib
  readonly procs: number
  readonly concurrency: number
  readonly round: number
  readonly enqueuePerSecond: number
  readonly perSecond: number
  readonly done: number
  readonly finished: boolean
}

const pgRun = async (lib: Lib, procs: number, concurrency: number, round: number, pool: PgPoolLike): Promise<PgRun> => {
  const contender = await contenders[lib](pool, procs, concurrency)
  const workers: Array<Worker> = []
  try {
    const enqueueMs = await contender.enqueue(PG_TASKS)
    const profileDir = CPU_PROF !== undefined && lib.startsWith("effect-executor") ? join(CPU_PROF, `${lib}-${procs}p`) : undefined
    for (let i = 0; i < procs; i++) workers.push(startWorker(contender.config, profileDir))
    await Promise.all(workers.map((w) => w.ready))
    const start = performance.now()
    for (const w of workers) w.child.stdin!.write("GO\n")
    let done = 0
    let elapsed = 0
    while ((elapsed = performance.now() - start) < PG_MAX_SECONDS * 1000) {
      done = await contender.done()
      if (done >= PG_TASKS) break
      await sleep(20)
    }
    elapsed = performance.now() - start
    if (done < PG_TASKS) done = await contender.done()
    const run: PgRun = {
      lib,
      procs,
      concurrency,
      round,
      enqueuePerSecond: (PG_TASKS / enqueueMs) * 1000,
      perSecond: (done / elapsed) * 1000,
      done,
      finished: done >= PG_TASKS
    }
    console.log(
      `round ${round} ${procs}p x ${concurrency} ${lib.padEnd(20)} ${fmt(run.perSecond).padStart(6)} tasks/s ` +
        `(${run.finished ? `${fmt(done)} in ${(elapsed / 1000).toFixed(2)} s` : `only ${fmt(done)} of ${fmt(PG_TASKS)} in ${PG_MAX_SECONDS} s`}); ` +
        `enqueue ${fmt(run.enqueuePerSecond)}/s; load ${load()}`
    )
    return run
  } finally {
    await Promise.all(workers.map((w) => stopWorker(w.child)))
    await contender.cleanup().catch((error) => console.error(`cleanup of ${lib} failed:`, error))
  }
}

/** Redis answers PING on 127.0.0.1:6379 within a second. */
const redisUp = () =>
  new Promise<boolean>((resolve) => {
    const socket = connect(REDIS.port, REDIS.host)
    const finish = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1_000, () => finish(false))
    socket.once("error", () => finish(false))
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.once("data", (data) => finish(data.toString().startsWith("+PONG")))
  })

const pgBench = async (summary: Array<string>) => {
  const pool = makePool(2)
  try {
    await pool.query("SELECT 1")
  } catch (error) {
    console.log(`\n## PostgreSQL: skipped, ${PG_URL} is not reachable (${String(error)})`)
    await pool.end().catch(() => {})
    return
  }
  const libs: Array<Lib> = ["effect-executor", "effect-executor-fast"]
  const peers = allLibs.filter((lib) => !libs.includes(lib) && PEERS.includes(lib))
  if (peers.length > 0 && !peersInstalled) {
    console.log(`peers skipped (${peers.join(", ")}): bench/peers/node_modules is missing; run npm --prefix bench/peers install`)
  } else {
    for (const peer of peers) {
      if (peer === "bullmq" && !(await redisUp())) {
        console.log(`bullmq skipped: Redis does not answer on ${REDIS.host}:${REDIS.port}`)
        continue
      }
      libs.push(peer)
    }
  }
  console.log(
    `\n## PostgreSQL${libs.includes("bullmq") ? " (BullMQ: Redis)" : ""}: ${fmt(PG_TASKS)} no-op jobs enqueued by ` +
      `${SUBMITTERS} concurrent callers, then ${PG_PROCS.join(" and ")} worker process(es) x concurrency ` +
      `${PG_CONCURRENCIES.join(" and ")}; ${PG_ROUNDS} rounds, library order reversed each round; safety stop ${PG_MAX_SECONDS} s`
  )
  const runs: Array<PgRun> = []
  try {
    for (const concurrency of PG_CONCURRENCIES) {
      for (const procs of PG_PROCS) {
        for (let round = 1; round <= PG_ROUNDS; round++) {
          for (const lib of round % 2 === 1 ? libs : [...libs].reverse()) {
            runs.push(await pgRun(lib, procs, concurrency, round, pool))
          }
        }
      }
    }
  } finally {
    await pool.end()
  }
  for (const concurrency of PG_CONCURRENCIES) {
    for (const procs of PG_PROCS) {
      const of = (lib: Lib) => runs.filter((r) => r.lib === lib && r.procs === procs && r.concurrency === concurrency)
      const ee = median(of("effect-executor").map((r) => r.perSecond))
      for (const lib of libs) {
        const rs = of(lib)
        const m = median(rs.map((r) => r.perSecond))
        const partial = rs.some((r) => !r.finished) ? ` (stopped at ${PG_MAX_SECONDS} s: rate over that time)` : ""
        const perRound = (r: PgRun) => ratio(of("effect-executor").find((e) => e.round === r.round)!.perSecond / r.perSecond)
        const figures = `median ${fmt(m)} tasks/s (${rs.map((r) => fmt(r.perSecond)).join(" / ")})${partial}; ` +
          `enqueue ${fmt(median(rs.map((r) => r.enqueuePerSecond)))}/s`
        const fast = of("effect-executor-fast")
        const sqliteTarget = lib === "graphile-worker-fast" && procs === 1 && sqliteFastMedian !== undefined
          ? `; sqlite fast/this ${ratio(sqliteFastMedian / m)} (target >= 1.5: ${verdict(sqliteFastMedian / m, 1.5)})`
          : ""
        const target = lib === "graphile-worker-fast" && fast.length > 0
          ? `; effect-executor fast/this ${ratio(median(fast.map((r) => r.perSecond)) / m)} (target >= 1, goal 1.5: ` +
            `${verdict(median(fast.map((r) => r.perSecond)) / m, 1)}); enqueue submitAll/addJobs ` +
            `${ratio(median(fast.map((r) => r.enqueuePerSecond)) / median(rs.map((r) => r.enqueuePerSecond)))} (target >= 1)` +
            sqliteTarget
          : ""
        summary.push(
          lib === "effect-executor"
            ? `| pg ${procs} proc x ${concurrency}: ${libLabel[lib]} | ${figures} | 1.00 |`
            : `| pg ${procs} proc x ${concurrency}: ${libLabel[lib]} | ${figures} | ` +
              `effect-executor/this ${ratio(ee / m)} (per round ${rs.map(perRound).join(" / ")})${target} |`
        )
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Worker process: `node --import tsx bench/durable.ts worker <json WorkerConfig>`
// Prints READY when loaded and connected, waits for GO on stdin, starts its library's worker.
// Exits when stdin closes.
// ---------------------------------------------------------------------------------------------

const workerMain = async (config: WorkerConfig) => {
  const lines = createInterface({ input: process.stdin })
  let go: () => void = () => {}
  const gone = new Promise<void>((resolve) => (go = resolve))
  lines.on("line", (line) => line.trim() === "GO" && go())
  lines.on("close", () => process.exit(0))
  const say = (word: string) => process.stdout.write(`${word}\n`)
  const C = config.concurrency

  switch (config.lib) {
    case "effect-executor":
    case "effect-executor-fast": {
      await Effect.runPromise(
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`SELECT 1`
          say("READY")
          yield* Effect.promise(() => gone)
          const prefetch = config.lib === "effect-executor-fast" ? 500 : 0
          yield* Layer.launch(Executor.layerPg({ schema: config.space, tasks: [Noop], concurrency: C, prefetch }))
        }).pipe(Effect.provide(pgLayer(config.pool, "effect_executor_bench_worker")))
      )
      break
    }
    case "graphile-worker-fast":
    case "graphile-worker": {
      const { run } = requirePeer("graphile-worker")
      say("READY")
      await gone
      await run({
        connectionString: PG_URL,
        schema: config.space,
        concurrency: C,
        maxPoolSize: config.pool,
        noHandleSignals: true,
        logger: quietGraphileLogger(),
        taskList: { noop: async () => {} },
        ...(config.lib === "graphile-worker-fast"
          ? { preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } } }
          : {})
      })
      break
    }
    case "pg-boss": {
      const PgBoss = requirePeer("pg-boss")
      const boss = new PgBoss({ connectionString: PG_URL, schema: config.space, supervise: false, schedule: false, migrate: false })
      boss.on("error", (error: unknown) => console.error("pg-boss:", error))
      await boss.start()
      say("READY")
      await gone
      // pg-boss 10 has no per-job concurrency: one fetch loop takes up to batchSize jobs, runs the
      // handler once with all of them, then waits out its polling interval (0.5 s at least)
      await boss.work(config.queue, { batchSize: 500, pollingIntervalSeconds: 0.5 }, async () => {})
      break
    }
    case "bullmq": {
      const { Worker } = requirePeer("bullmq")
      const worker = new Worker(config.queue, async () => {}, {
        connection: { ...REDIS },
        prefix: config.space,
        concurrency: C,
        autorun: false
      })
      worker.on("error", (error: unknown) => console.error("bullmq:", error))
      await worker.waitUntilReady()
      say("READY")
      await gone
      void worker.run()
      break
    }
  }
}

// ---------------------------------------------------------------------------------------------

const main = async () => {
  killChildrenOnExit()
  const started = performance.now()
  console.log(
    `# effect-executor durable bench (${revision()}) — node ${process.version}, ${cpus()[0]?.model ?? "cpu"}, ` +
      `${availableParallelism()} cores, load average ${load()} (other load skews results), ${new Date().toISOString()}`
  )
  const summary: Array<string> = []
  if (ONLY === "all" || ONLY === "sqlite") await sqliteBench(summary)
  if (ONLY === "all" || ONLY === "pg") await pgBench(summary)
  console.log(`\n## Summary\n\n| benchmark | result | ratio |\n|---|---|---|\n${summary.join("\n")}`)
  console.log(
    `\ntotal time ${((performance.now() - started) / 1000).toFixed(0)} s; 1-minute load average now ${load()} ` +
      `(worker processes, PostgreSQL and this process share the cores; more means other processes competed)`
  )
}

if (process.argv[2] === "worker") {
  workerMain(JSON.parse(process.argv[3]!) as WorkerConfig).catch((error) => {
    console.error(error)
    process.exit(1)
  })
} else {
  runMain(main)
}
