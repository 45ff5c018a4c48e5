/**
 * The PostgreSQL engine across real processes: workers (`test/fixtures/pgWorker.ts`), a submitter
 * (`test/fixtures/pgSubmitter.ts`) and a poller (`test/fixtures/pgPoller.ts`) on one database and one
 * schema, running `Work` (`test/fixtures/pgWork.ts`), which leaves one row per execution in `runs`
 * (so duplicates can be counted) and one row per task in `results` (keyed by `n`).
 *
 * - three workers share 5,000 tasks submitted by a fourth process (`runTasks: false`: it never runs a
 *   task): each runs once, all succeed, every worker takes part;
 * - one of three workers is killed with SIGKILL mid-way: nothing is lost, and a task runs twice only
 *   if the killed worker held it (`running`, with its owner) in the store at the kill;
 * - a worker's connections are terminated by the server (`pg_terminate_backend`) while it works: it
 *   reconnects and every task succeeds;
 * - a handle submitted by one process, run by a second, is read and awaited by a third (`runTasks: false`).
 *
 * No mocks and no fixed sleeps: the test waits on the children's stdout and exits, and polls the
 * database a bounded number of times. Each test has a schema of its own, dropped at the end.
 */
import { SqlClient } from "@effect/sql"
import { Effect, ManagedRuntime } from "effect"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { dropSchemas, freshSchema, pgAvailable, pgClientLayer, pgUrl } from "./pgSupport.js"
import { type Child, killChildren, startChild } from "./processes.js"

const CONCURRENCY = 12

// ---- child processes: test/processes.ts ----------------------------------------------------

const start = startChild

const startWorker = async (schema: string, applicationName: string): Promise<Child> => {
  const worker = start(applicationName, "pgWorker.ts", [pgUrl, schema, applicationName, String(CONCURRENCY)])
  await worker.line(/^READY \d+$/)
  return worker
}

/** Submits `Work(n)` for n in [from, from + count) from a process of its own; resolves with its lines. */
const submit = async (schema: string, from: number, count: number, hold = false) => {
  const submitter = start("submitter", "pgSubmitter.ts", [pgUrl, schema, String(from), String(count), ...(hold ? ["hold"] : [])])
  const [, , millis] = await submitter.line(/^SUBMITTED (\d+) (\d+)$/, 60_000)
  expect(await submitter.exited, submitter.output()).toBe(0)
  const handles = new Map<number, string>()
  for (const match of submitter.output().matchAll(/^HANDLE (\d+) (\S+)$/gm)) handles.set(Number(match[1]), match[2]!)
  return { pid: submitter.pid, millis: Number(millis), handles }
}

/** SIGTERM (the layer closes: intake stops, nothing is running), and the exit, within a bound. */
const stop = async (child: Child) => {
  child.process.kill("SIGTERM")
  const timer = setTimeout(() => child.process.kill("SIGKILL"), 15_000)
  const code = await child.exited
  clearTimeout(timer)
  return code
}

const kill = async (child: Child) => {
  child.process.kill("SIGKILL")
  return child.exited
}

// ---- the database, as the test sees it --------------------------------------------------

const db = pgAvailable ? ManagedRuntime.make(pgClientLayer({ maxConnections: 2 })) : undefined
const schemas: Array<string> = []

const query = <A extends object>(statement: string, params: ReadonlyArray<unknown> = []) =>
  db!.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<A>(statement, params)))

const count = async (statement: string, params: ReadonlyArray<unknown> = []) =>
  (await query<{ c: number }>(statement, params))[0]!.c

/** A schema of its own with the tables `Work` writes; the executor's migrations add `tasks`. */
const freshTables = async () => {
  const schema = freshSchema()
  schemas.push(schema)
  await query(`CREATE SCHEMA ${schema}`)
  await query(`CREATE TABLE ${schema}.results (n INTEGER PRIMARY KEY, pid INTEGER NOT NULL)`)
  await query(`CREATE TABLE ${schema}.runs (n INTEGER NOT NULL, pid INTEGER NOT NULL, at BIGINT NOT NULL)`)
  await query(`CREATE TABLE ${schema}.gate (n INTEGER PRIMARY KEY)`)
  return schema
}

const pause = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

/** Polls `done` every `every` ms, at most `attempts` times; fails with `what` when it never holds. */
const pollUntil = async (
  what: () => string,
  done: () => Promise<boolean>,
  { attempts = 600, every = 100, alive = [] as ReadonlyArray<Child> } = {}
) => {
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (await done()) return
    for (const child of alive) {
      if (child.process.exitCode !== null || child.process.signalCode !== null) {
        throw new Error(`${child.name} exited while waiting for ${what()}:\n${child.output()}`)
      }
    }
    await pause(every)
  }
  throw new Error(`not reached after ${attempts} polls of ${every} ms: ${what()}`)
}

const unfinished = (schema: string) =>
  count(`SELECT count(*)::int AS c FROM ${schema}.tasks WHERE state NOT IN ('succeeded', 'failed', 'interrupted')`)

/** Waits until no task is held, queued or running. */
const awaitAllFinished = async (schema: string, alive: ReadonlyArray<Child>) => {
  let left = -1
  await pollUntil(() => `all tasks finished (${left} left)`, async () => (left = await unfinished(schema)) === 0, {
    alive
  })
}

interface Summary {
  readonly states: Record<string, number>
  readonly results: number
  readonly distinctResults: number
  readonly runs: number
  readonly runsByPid: Map<number, number>
  readonly runsByN: Map<number, number>
  readonly retried: number
}

const summarize = async (schema: string): Promise<Summary> => {
  const states = await query<{ state: string; c: number }>(
    `SELECT state, count(*)::int AS c FROM ${schema}.tasks GROUP BY state`
  )
  const results = await query<{ c: number; d: number }>(
    `SELECT count(*)::int AS c, count(DISTINCT n)::int AS d FROM ${schema}.results`
  )
  const byPid = await query<{ pid: number; c: number }>(`SELECT pid, count(*)::int AS c FROM ${schema}.runs GROUP BY pid`)
  const byN = await query<{ n: number; c: number }>(`SELECT n, count(*)::int AS c FROM ${schema}.runs GROUP BY n`)
  return {
    states: Object.fromEntries(states.map((row) => [row.state, row.c])),
    results: results[0]!.c,
    distinctResults: results[0]!.d,
    runs: byN.reduce((sum, row) => sum + row.c, 0),
    runsByPid: new Map(byPid.map((row) => [row.pid, row.c])),
    runsByN: new Map(byN.map((row) => [row.n, row.c])),
    retried: await count(`SELECT count(*)::int AS c FROM ${schema}.tasks WHERE attempts > 1`)
  }
}

/** The n of every task that succeeded, read from its stored payload. */
const succeededNs = async (schema: string) =>
  (await query<{ n: number }>(
    `SELECT (payload::jsonb->>'n')::int AS n FROM ${schema}.tasks WHERE state = 'succeeded' ORDER BY 1`
  )).map((row) => row.n)

const range = (from: number, length: number) => Array.from({ length }, (_, i) => from + i)

/**
 * Nothing lost: tasks 0..total-1 all succeeded, each n has its one result, and every n ran at
 * least once. Answers the summary for the test's own checks.
 */
const expectEveryTaskSucceeded = async (schema: string, total: number): Promise<Summary> => {
  const summary = await summarize(schema)
  expect(summary.states).toEqual({ succeeded: total })
  expect(await succeededNs(schema)).toEqual(range(0, total))
  expect(summary.results).toBe(total)
  expect(summary.distinctResults).toBe(total)
  expect(range(0, total).filter((n) => !summary.runsByN.has(n))).toEqual([])
  return summary
}

const seconds = (from: number, to = Date.now()) => `${((to - from) / 1000).toFixed(1)} s`

afterEach(async () => {
  // a test that failed half-way leaves its processes: kill them before the schema goes
  await killChildren()
})

afterAll(async () => {
  if (!pgAvailable) return
  await db!.dispose()
  await Effect.runPromise(dropSchemas(schemas))
})

// ---- the tests -----------------------------------------------------------------------------

describe.runIf(pgAvailable)("PostgreSQL engine across processes", () => {
  it("three workers share 5,000 tasks from a fourth process: each runs exactly once, all succeed", async () => {
    const TOTAL = 5_000
    const schema = await freshTables()
    const started = Date.now()
    const workers = await Promise.all(range(0, 3).map((i) => startWorker(schema, `w${i}_${schema}`)))
    const ready = Date.now()
    const submitted = await submit(schema, 0, TOTAL)
    const committed = Date.now()
    await awaitAllFinished(schema, workers)
    const finished = Date.now()

    const summary = await expectEveryTaskSucceeded(schema, TOTAL)
    expect(summary.retried).toBe(0)
    // exactly once: one execution per n
    expect(summary.runs).toBe(TOTAL)
    expect([...summary.runsByN.entries()].filter(([, runs]) => runs !== 1)).toEqual([])
    // by the workers only, and by each of them
    expect([...summary.runsByPid.keys()].sort()).toEqual(workers.map((worker) => worker.pid).sort())
    for (const worker of workers) expect(summary.runsByPid.get(worker.pid) ?? 0).toBeGreaterThan(0)

    console.log([
      `3 workers x ${CONCURRENCY}, ${TOTAL} tasks submitted by another process:`,
      `  runs per worker: ${workers.map((worker) => `${worker.name.slice(0, 2)} ${summary.runsByPid.get(worker.pid)}`).join(", ")}`,
      `  workers ready ${seconds(started, ready)}; submitted in ${submitted.millis} ms (process ${seconds(ready, committed)}); ` +
      `all succeeded ${seconds(committed, finished)} after the submitter exited ` +
      `(${Math.round(TOTAL / ((finished - committed) / 1000))} tasks/s); duplicates 0`
    ].join("\n"))

    for (const worker of workers) expect(await stop(worker), worker.output()).toBe(0)
  }, 180_000)

  it("a worker killed with SIGKILL mid-way: none lost, duplicates only among the tasks it held", async () => {
    const TOTAL = 5_000
    const KILL_AFTER = 1_000
    const schema = await freshTables()
    const workers = await Promise.all(range(0, 3).map((i) => startWorker(schema, `w${i}_${schema}`)))
    const [victim, ...survivors] = workers as [Child, Child, Child]
    await submit(schema, 0, TOTAL)

    let results = 0
    await pollUntil(
      () => `${KILL_AFTER} results before the kill (${results})`,
      async () => (results = await count(`SELECT count(*)::int AS c FROM ${schema}.results`)) >= KILL_AFTER,
      { attempts: 1_500, every: 20, alive: workers }
    )
    expect(await kill(victim)).toBe("SIGKILL")
    const killed = Date.now()

    // The store as the kill left it. A task can run twice only if its lease expired, and only the
    // dead worker stops renewing leases: so the tasks that may run again are those `running` under
    // its owner id. The owner id is internal; it is the owner of the running rows whose `n` the
    // dead worker has recorded in `runs` (it writes that row first). Those rows keep its owner until
    // the lease ends (2 s), long after this read.
    const runningAtKill = await query<{ n: number; owner: string }>(
      `SELECT (payload::jsonb->>'n')::int AS n, owner FROM ${schema}.tasks WHERE state = 'running'`
    )
    const resultsAtKill = await count(`SELECT count(*)::int AS c FROM ${schema}.results`)
    const ranByVictim = new Set((await query<{ n: number }>(
      `SELECT n FROM ${schema}.runs WHERE pid = $1`,
      [victim.pid]
    )).map((row) => row.n))
    const victimOwners = new Set(runningAtKill.filter((row) => ranByVictim.has(row.n)).map((row) => row.owner))
    expect(victimOwners.size, "the killed worker held running tasks at the kill").toBe(1)
    const heldByVictim = new Set(runningAtKill.filter((row) => victimOwners.has(row.owner)).map((row) => row.n))
    expect(resultsAtKill).toBeLessThan(TOTAL)

    await awaitAllFinished(schema, survivors)
    const finished = Date.now()

    // takeover: when the survivors started again the tasks the killed worker was running
    const restarted = await query<{ n: number; at: string }>(
      `SELECT n, MIN(at) AS at FROM ${schema}.runs WHERE pid <> $1 AND n = ANY($2::int[]) GROUP BY n`,
      [victim.pid, [...heldByVictim]]
    )
    expect(restarted.length).toBe(heldByVictim.size)
    const takeovers = restarted.map((row) => Number(row.at) - killed)

    // every task ran; the ones that ran more than once were all held by the dead worker
    const summary = await expectEveryTaskSucceeded(schema, TOTAL)
    const duplicates = [...summary.runsByN.entries()].filter(([, runs]) => runs > 1)
    expect(duplicates.filter(([n]) => !heldByVictim.has(n))).toEqual([])
    expect(duplicates.filter(([, runs]) => runs > 2)).toEqual([])
    for (const worker of workers) expect(summary.runsByPid.get(worker.pid) ?? 0).toBeGreaterThan(0)
    expect([...summary.runsByPid.keys()].sort()).toEqual(workers.map((worker) => worker.pid).sort())

    console.log([
      `3 workers x ${CONCURRENCY}, ${TOTAL} tasks, SIGKILL of one after ${results} results:`,
      `  at the kill: ${resultsAtKill} results, ${runningAtKill.length} tasks running in the store, ` +
      `${heldByVictim.size} of them held by the killed worker`,
      `  runs per worker: killed ${summary.runsByPid.get(victim.pid)}, ` +
      `${survivors.map((worker) => `${worker.name.slice(0, 2)} ${summary.runsByPid.get(worker.pid)}`).join(", ")}`,
      `  ran twice: ${duplicates.length} (all held by the killed worker); tasks with attempts > 1: ${summary.retried}; ` +
      `all succeeded ${seconds(killed, finished)} after the kill (takeoverAfter 2 s); its running tasks started again ` +
      `${(Math.min(...takeovers) / 1000).toFixed(2)}-${(Math.max(...takeovers) / 1000).toFixed(2)} s after the kill`
    ].join("\n"))

    for (const worker of survivors) expect(await stop(worker), worker.output()).toBe(0)
  }, 180_000)

  it("a worker whose connections the server terminates reconnects, and every task succeeds", async () => {
    const TOTAL = 3_000
    const schema = await freshTables()
    const name = `w_${schema}`
    const worker = await startWorker(schema, name)
    const backends = () => count(`SELECT count(*)::int AS c FROM pg_stat_activity WHERE application_name = $1`, [name])
    const terminate = () =>
      count(
        `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS c FROM pg_stat_activity WHERE application_name = $1`,
        [name]
      )
    await submit(schema, 0, TOTAL)

    const terminated: Array<{ readonly backends: number; readonly results: number; readonly at: number }> = []
    for (const threshold of [TOTAL / 5, TOTAL / 2]) {
      let results = 0
      await pollUntil(
        () => `${threshold} results (${results})`,
        async () => (results = await count(`SELECT count(*)::int AS c FROM ${schema}.results`)) >= threshold,
        { attempts: 1_500, every: 20, alive: [worker] }
      )
      const at = Date.now()
      terminated.push({ backends: await terminate(), results, at })
    }
    // its pool and its LISTEN connection were cut: at least one connection each time
    for (const cut of terminated) expect(cut.backends).toBeGreaterThan(0)

    await awaitAllFinished(schema, [worker])
    const finished = Date.now()
    expect(worker.process.exitCode).toBe(null)

    // nothing lost (a statement cut off fails the attempt, which is retried), all in the one worker
    const summary = await expectEveryTaskSucceeded(schema, TOTAL)
    expect([...summary.runsByPid.keys()]).toEqual([worker.pid])
    // it reconnected: it ran tasks after the last cut, and has connections again
    const after = await count(
      `SELECT count(*)::int AS c FROM ${schema}.runs WHERE at > $1`,
      [terminated[terminated.length - 1]!.at]
    )
    expect(after).toBeGreaterThan(0)
    expect(await backends()).toBeGreaterThan(0)
    const listening = await count(
      `SELECT count(*)::int AS c FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'LISTEN %'`,
      [name]
    )
    const duplicates = [...summary.runsByN.values()].filter((runs) => runs > 1).length
    const warnings = worker.output().split("\n").filter((line) => /level=WARN|WARN/.test(line)).length

    console.log([
      `1 worker x ${CONCURRENCY}, ${TOTAL} tasks, its connections terminated twice:`,
      `  cut ${terminated.map((cut) => `${cut.backends} backends at ${cut.results} results`).join(", then ")}`,
      `  after the last cut: ${after} executions; all succeeded ${seconds(terminated[0]!.at, finished)} after the first cut`,
      `  executions ${summary.runs} for ${TOTAL} tasks (${duplicates} tasks ran more than once), ` +
      `tasks with attempts > 1: ${summary.retried}, warnings logged: ${warnings}`,
      `  LISTEN connections of the worker at the end: ${listening}`
    ].join("\n"))

    expect(await stop(worker), worker.output()).toBe(0)
  }, 180_000)

  it("a handle submitted by one process and run by a second is awaited by a third", async () => {
    const schema = await freshTables()
    const runner = await startWorker(schema, `w_${schema}`)
    // A: submits Work(42), which waits for its gate once it runs, prints the handle and exits
    const submitter = await submit(schema, 42, 1, true)
    const encoded = submitter.handles.get(42)!
    expect(encoded).toMatch(/^[A-Za-z0-9_-]{24}$/)

    // B runs it: wait until the store says so
    await pollUntil(() => `Work(42) running`, async () =>
      (await count(`SELECT count(*)::int AS c FROM ${schema}.tasks WHERE id = $1 AND state = 'running'`, [encoded])) === 1, {
      alive: [runner]
    })

    // C: decodes the handle, reads its status (running), awaits it
    const poller = start("poller", "pgPoller.ts", [pgUrl, schema, encoded])
    const [, status] = await poller.line(/^STATUS (.*)$/)
    expect(JSON.parse(status!)).toEqual({ _tag: "Running", attempt: 1 })
    await query(`INSERT INTO ${schema}.gate (n) VALUES (42)`)
    const [, value] = await poller.line(/^VALUE (.*)$/)
    expect(JSON.parse(value!)).toEqual({ n: 42, pid: runner.pid })
    expect(await poller.exited, poller.output()).toBe(0)

    // it ran once, in B: neither A nor C ran it
    expect(await query(`SELECT n, pid FROM ${schema}.runs`)).toEqual([{ n: 42, pid: runner.pid }])
    console.log(
      `handle ${encoded}: submitted by pid ${submitter.pid}, run by pid ${runner.pid}, awaited by pid ${poller.pid}: ${value}`
    )

    expect(await stop(runner), runner.output()).toBe(0)
  }, 60_000)
})
