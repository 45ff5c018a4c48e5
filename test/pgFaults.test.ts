/**
 * The PostgreSQL engine under real database faults (issue 13, item 1). No mocks and no fixed
 * sleeps: the tests wait on the children's stdout, on the submits' answers, and poll the rows a
 * bounded number of times.
 *
 * - PostgreSQL restarted (a cluster of the test's own, `privatePostgres()`: never the shared server)
 *   while a worker process runs and an in-process submitter submits: every refused submit fails with
 *   `StoreUnavailable` (no defect), none hangs, every acknowledged task succeeds after the restarts;
 * - a worker's connections terminated by the server 10 times during 3,000 tasks: no task left
 *   unfinished, none failed;
 * - a COMMIT that fails (a deferred constraint trigger on the executor's `tasks` that raises while
 *   a flag row says so): `submit` fails with `StoreUnavailable`, not a defect, and once the flag is
 *   off every task submitted before and after finishes: the claim and recovery loops survived.
 *
 * The first needs root (skipped otherwise, see `test/faultSupport.ts`); the others run on the shared
 * server, each in a schema of its own, and terminate only their own connections.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { type Duration, Effect, Exit, Layer, ManagedRuntime, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DurableExecutor, Executor } from "../src/index.js"
import {
  canRunRootFaults,
  type Child,
  countingLogger,
  describeExit,
  explainCause,
  gatedEcho,
  killChildren,
  pollUntil,
  type PrivatePostgres,
  privatePostgres,
  runClients,
  seconds,
  startChild,
  stopChild,
  SubmitLedger,
  within
} from "./faultSupport.js"
import { executorOptions, pgLayer, Work, WorkSchema } from "./fixtures/pgWork.js"
import { dropSchemas, freshSchema, pgAvailable, pgUrl } from "./pgSupport.js"

// ---- the database, as the test sees it --------------------------------------------------

const openDb = (url: string) => {
  const runtime = ManagedRuntime.make(
    PgClient.layer({ url: Redacted.make(url), maxConnections: 2, connectTimeout: "3 seconds" })
  )
  const query = <A extends object>(statement: string, params: ReadonlyArray<unknown> = []) =>
    runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<A>(statement, params)))
  const count = async (statement: string, params: ReadonlyArray<unknown> = []) =>
    Number((await query<{ c: number | string }>(statement, params))[0]!.c)
  /** Tasks by state. */
  const states = async (schema: string) =>
    Object.fromEntries(
      (await query<{ state: string; c: number }>(`SELECT state, count(*)::int AS c FROM ${schema}.tasks GROUP BY state`))
        .map((row) => [row.state, row.c])
    ) as Record<string, number>
  /** A few unfinished rows, for failure messages. */
  const unfinishedRows = (schema: string) =>
    query<Record<string, unknown>>(
      `SELECT id, state, attempts, owner, lease_expires_at - (extract(epoch from now()) * 1000)::bigint AS lease_left_ms
       FROM ${schema}.tasks WHERE state NOT IN ('succeeded', 'failed', 'interrupted') ORDER BY seq LIMIT 5`
    )
  return { query, count, states, unfinishedRows, dispose: () => runtime.dispose() }
}

type Db = ReturnType<typeof openDb>

/** The tables `Work` writes (`runs`, `results`, `gate`); the executor's migrations add `tasks`. */
const createWorkTables = async (db: Db, schema: string) => {
  await db.query(`CREATE SCHEMA ${schema}`)
  await db.query(`CREATE TABLE ${schema}.results (n INTEGER PRIMARY KEY, pid INTEGER NOT NULL)`)
  await db.query(`CREATE TABLE ${schema}.runs (n INTEGER NOT NULL, pid INTEGER NOT NULL, at BIGINT NOT NULL)`)
  await db.query(`CREATE TABLE ${schema}.gate (n INTEGER PRIMARY KEY)`)
}

const finished = (states: Record<string, number>) =>
  Object.keys(states).every((state) => state === "succeeded" || state === "failed" || state === "interrupted")

/**
 * Waits (bounded) until no task of `schema` is held, queued or running; the failure message says
 * what was left and shows a few of the rows.
 */
const awaitAllFinished = async (
  db: Db,
  schema: string,
  alive: ReadonlyArray<Child>,
  { attempts = 200, every = 100 } = {}
) => {
  let left = "not read yet"
  await pollUntil(() => `every task finished (${left})`, async () => {
    const states = await db.states(schema)
    if (finished(states)) return true
    left = `${JSON.stringify(states)}; e.g. ${JSON.stringify(await db.unfinishedRows(schema))}`
    return false
  }, { alive, attempts, every })
}

/** How many of `ids` are `succeeded` in `schema.tasks`. */
const succeededOf = (db: Db, schema: string, ids: ReadonlyArray<string>) =>
  db.count(`SELECT count(*)::int AS c FROM ${schema}.tasks WHERE state = 'succeeded' AND id = ANY($1)`, [ids])

/** `{ kind: count }` of some exits. */
const tally = (exits: ReadonlyArray<Exit.Exit<unknown, unknown>>) => {
  const counts: Record<string, number> = {}
  for (const exit of exits) counts[describeExit(exit)] = (counts[describeExit(exit)] ?? 0) + 1
  return counts
}


// ---- PostgreSQL restarted: a cluster of the test's own ----------------------------------

describe.runIf(canRunRootFaults)("PostgreSQL restarted under a worker and a submitter (a cluster of its own)", () => {
  let cluster: PrivatePostgres | undefined
  let db: Db | undefined

  beforeAll(async () => {
    cluster = await privatePostgres()
    db = openDb(cluster.url)
  }, 60_000)

  afterAll(async () => {
    await killChildren()
    await db?.dispose()
    await cluster?.remove()
  }, 60_000)

  it("every refused submit is a typed StoreUnavailable, none hangs, every acknowledged task succeeds", async () => {
    const pg = cluster!
    const schema = freshSchema()
    await createWorkTables(db!, schema)
    const worker = startChild("worker", "pgWorker.ts", [pg.url, schema, `w_${schema}`, "12"])
    await worker.line(/^READY \d+$/)

    const logs = countingLogger()
    const submitter = ManagedRuntime.make(
      Executor.layerPg({ schema, tasks: [Work], queues: { work: { concurrency: 1 } }, runTasks: false, ...executorOptions })
        .pipe(
          Layer.provide(Layer.succeed(WorkSchema, schema)),
          Layer.provide(pgLayer(pg.url, `s_${schema}`, 4)),
          Layer.provide(logs.layer)
        )
    )
    await submitter.runPromise(Effect.void)
    const ledger = new SubmitLedger()
    const clients = runClients(
      16,
      (n) => submitter.runPromiseExit(DurableExecutor.submit(Work.make({ n })).pipe(Effect.timeout("10 seconds"))),
      ledger
    )
    const acknowledged = async (more: number) => {
      const target = ledger.acked.size + more
      await pollUntil(() => `${target} acknowledged submits (${ledger.acked.size}; ${ledger.summary()})`, () =>
        ledger.acked.size >= target, { alive: [worker], attempts: 400, every: 50 })
    }

    const report: Array<string> = []
    const started = Date.now()
    try {
      await acknowledged(300)
      // 1. stopped, then started again once submits have been refused meanwhile
      const refusedBefore = ledger.failures
      const stoppedAt = Date.now()
      await pg.stop()
      await pollUntil(() => `submits refused while PostgreSQL is down (${ledger.summary()})`, () =>
        ledger.failures >= refusedBefore + 20, { alive: [worker], attempts: 400, every: 50 })
      const refusedWhileDown = ledger.failures - refusedBefore
      await pg.start()
      const downFor = seconds(stoppedAt)
      await acknowledged(300)
      // 2. restarted in one step
      await pg.restart()
      await acknowledged(300)
      await within(clients.stop(), 15_000, "the submits in flight")
      const submitted = Date.now()
      report.push(
        `PostgreSQL stopped (down ${downFor}, ${refusedWhileDown}+ submits refused meanwhile) and restarted, ` +
          `under 1 worker x 12 and 16 in-process submitters:`,
        `  ${ledger.attempts} submits: ${ledger.summary()}`
      )

      // every refusal typed: no defect, no hang
      expect.soft(ledger.unexpected(), ledger.unexpectedSamples()).toEqual([])
      // the restarts were seen by the submitter
      expect(ledger.failures).toBeGreaterThan(0)

      await awaitAllFinished(db!, schema, [worker])
      const done = Date.now()
      const ids = Array.from(ledger.acked.values())
      const states = await db!.states(schema)
      report.push(
        `  ${ids.length} acknowledged; rows ${JSON.stringify(states)}; all finished ${seconds(submitted, done)} after ` +
          `the last submit (${seconds(started, done)} in all)`
      )
      // every acknowledged task is there and succeeded, and so did every other row (none failed)
      expect(await succeededOf(db!, schema, ids)).toBe(ids.length)
      expect(Object.keys(states)).toEqual(["succeeded"])
      expect(worker.alive(), worker.output()).toBe(true)

      await within(submitter.dispose(), 15_000, "closing the submitter's layer")
      expect(await stopChild(worker), worker.output()).toBe(0)
    } finally {
      const warnings = worker.output().split("\n").filter((line) => /WARN/.test(line)).length
      console.log([...report, `  submitter logs: ${logs.summary()}; worker: ${warnings} warnings logged`].join("\n"))
      await within(submitter.dispose(), 15_000, "closing the submitter's layer").catch(() => undefined)
    }
  }, 180_000)
})

// ---- faults on the shared server, in a schema of the test's own --------------------------

describe.runIf(pgAvailable)("PostgreSQL faults on the shared server (a schema of its own)", () => {
  const db = pgAvailable ? openDb(pgUrl) : undefined
  const schemas: Array<string> = []

  afterAll(async () => {
    await killChildren()
    await db?.dispose()
    await Effect.runPromise(dropSchemas(schemas))
  }, 60_000)

  it("a worker's connections terminated 10 times during 3,000 tasks: none left unfinished, none failed", async () => {
    const TOTAL = 3_000
    const CUTS = 10
    const schema = freshSchema()
    schemas.push(schema)
    await createWorkTables(db!, schema)
    const name = `w_${schema}`
    const worker = startChild(name, "pgWorker.ts", [pgUrl, schema, name, "12"])
    await worker.line(/^READY \d+$/)
    const submitter = startChild("submitter", "pgSubmitter.ts", [pgUrl, schema, "0", String(TOTAL)])
    await submitter.line(/^SUBMITTED \d+ \d+$/, 60_000)
    expect(await submitter.exited, submitter.output()).toBe(0)

    const results = () => db!.count(`SELECT count(*)::int AS c FROM ${schema}.results`)
    const terminate = () =>
      db!.count(
        `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS c FROM pg_stat_activity WHERE application_name = $1`,
        [name]
      )
    const cuts: Array<{ readonly backends: number; readonly results: number; readonly at: number }> = []
    const first = Date.now()
    for (let i = 0; i < CUTS; i++) {
      // cut i once the worker has made progress since cut i - 1 (it reconnected and runs tasks again)
      const threshold = Math.max(Math.round((TOTAL * (i + 1)) / (CUTS + 2)), (cuts[i - 1]?.results ?? 0) + 1)
      let seen = 0
      await pollUntil(
        () => `${threshold} results before cut ${i + 1} (${seen}; cuts so far ${JSON.stringify(cuts)})`,
        async () => (seen = await results()) >= threshold,
        { alive: [worker], attempts: 1_000, every: 20 }
      )
      cuts.push({ backends: await terminate(), results: seen, at: Date.now() })
    }
    // each cut took its pool's connections or its LISTEN connection: one at least
    expect(cuts.filter((cut) => cut.backends === 0)).toEqual([])

    await awaitAllFinished(db!, schema, [worker])
    const done = Date.now()
    // none left unfinished, none failed, none lost
    expect(await db!.states(schema)).toEqual({ succeeded: TOTAL })
    expect(await db!.count(`SELECT count(DISTINCT n)::int AS c FROM ${schema}.results`)).toBe(TOTAL)
    expect(worker.alive(), worker.output()).toBe(true)
    const retried = await db!.count(`SELECT count(*)::int AS c FROM ${schema}.tasks WHERE attempts > 1`)
    const runs = await db!.count(`SELECT count(*)::int AS c FROM ${schema}.runs`)
    const warnings = worker.output().split("\n").filter((line) => /WARN/.test(line)).length

    console.log([
      `1 worker x 12, ${TOTAL} tasks, its connections terminated ${CUTS} times:`,
      `  cut ${cuts.map((cut) => `${cut.backends}@${cut.results}`).join(", ")} (backends@results)`,
      `  all succeeded ${seconds(cuts[CUTS - 1]!.at, done)} after the last cut (${seconds(first, done)} after the first); ` +
      `executions ${runs}, tasks with attempts > 1: ${retried}, warnings logged: ${warnings}`
    ].join("\n"))

    expect(await stopChild(worker), worker.output()).toBe(0)
  }, 180_000)

  it("a COMMIT that fails: submit fails with StoreUnavailable (not a defect), and the loops go on afterwards", async () => {
    const GATED = 16
    const DELAYED = 16
    const LEASE_MILLIS = 1_000
    const schema = freshSchema()
    schemas.push(schema)

    // tasks that wait for the test (so that they run while the COMMITs fail), and plain ones
    const { open: openGate, returned, task: Echo } = gatedEcho("FaultEcho")
    const logs = countingLogger()
    const executor = ManagedRuntime.make(
      Executor.layerPg({ schema, tasks: [Echo], concurrency: 32, leaseDuration: `${LEASE_MILLIS} millis`, pollInterval: "100 millis" })
        .pipe(
          Layer.provide(PgClient.layer({ url: Redacted.make(pgUrl), applicationName: `c_${schema}`, maxConnections: 6 })),
          Layer.provide(logs.layer)
        )
    )
    const submit = (n: number, options: { readonly gated?: boolean; readonly delay?: Duration.DurationInput } = {}) =>
      executor.runPromiseExit(
        DurableExecutor.submit(Echo.make({ n, ...(options.gated ? { gated: true } : {}) }), options.delay !== undefined ? { delay: options.delay } : undefined)
          .pipe(Effect.timeout("10 seconds"))
      )
    const acked: Array<string> = []
    const expectAcked = (exits: ReadonlyArray<Exit.Exit<{ readonly id: string }, unknown>>) => {
      expect(exits.map(describeExit)).toEqual(exits.map(() => "Success"))
      for (const exit of exits) if (Exit.isSuccess(exit)) acked.push(exit.value.id)
    }
    await executor.runPromise(Effect.void)
    const report: Array<string> = []
    try {
      // the fault: at COMMIT (or at the end of a statement outside a transaction), any write of a
      // task row raises while `fault.active`; `fault_hits` counts the refusals, `fault_takeovers` those
      // of a running row going back to the queue (the recovery taking an expired lease over)
      const s = schema
      await db!.query(`CREATE TABLE ${s}.fault (active BOOLEAN NOT NULL)`)
      await db!.query(`INSERT INTO ${s}.fault VALUES (false)`)
      await db!.query(`CREATE SEQUENCE ${s}.fault_hits`)
      await db!.query(`CREATE SEQUENCE ${s}.fault_takeovers`)
      await db!.query(`CREATE FUNCTION ${s}.fault_at_commit() RETURNS trigger LANGUAGE plpgsql AS $f$
        BEGIN
          IF (SELECT active FROM ${s}.fault) THEN
            PERFORM nextval('${s}.fault_hits');
            IF TG_OP = 'UPDATE' AND OLD.state = 'running' AND NEW.state IN ('queued', 'held') THEN
              PERFORM nextval('${s}.fault_takeovers');
            END IF;
            RAISE EXCEPTION 'injected COMMIT failure (test fault)';
          END IF;
          RETURN NULL;
        END $f$`)
      await db!.query(`CREATE CONSTRAINT TRIGGER fault_at_commit AFTER INSERT OR UPDATE ON ${s}.tasks
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${s}.fault_at_commit()`)
      const sequence = (name: string) =>
        db!.count(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS c FROM ${s}.${name}`)
      const setFault = (active: boolean) => db!.query(`UPDATE ${s}.fault SET active = $1`, [active])

      // before: tasks running (held at their gate) and tasks due later
      expectAcked(await Promise.all(Array.from({ length: GATED }, (_, i) => submit(i, { gated: true }))))
      expectAcked(await Promise.all(Array.from({ length: DELAYED }, (_, i) => submit(100 + i, { delay: "1 second" }))))
      await pollUntil(() => `${GATED} gated tasks running`, async () =>
        (await db!.count(`SELECT count(*)::int AS c FROM ${s}.tasks WHERE state = 'running'`)) === GATED)

      // the COMMITs fail
      await setFault(true)
      const faultOn = Date.now()
      const refused: Array<Exit.Exit<{ readonly id: string }, unknown>> = []
      for (let i = 0; i < 10; i++) refused.push(await submit(200 + i))
      refused.push(...await Promise.all(Array.from({ length: 30 }, (_, i) => submit(300 + i))))
      // a Fail with StoreUnavailable each, not a Die
      const firstOther = refused.find((exit) => describeExit(exit) !== "Fail StoreUnavailable")
      report.push(`COMMIT failing: ${refused.length} submits meanwhile: ${JSON.stringify(tally(refused))}`)
      expect.soft(tally(refused), firstOther && Exit.isFailure(firstOther) ? explainCause(firstOther.cause) : undefined)
        .toEqual({ "Fail StoreUnavailable": refused.length })

      // the gated tasks end while their end cannot be written, and their leases cannot be renewed.
      // The fault stays on until every lease has been over for two lease durations: by then no
      // end-write bounded by the lease is still being tried, so only the recovery (taking the
      // expired leases over once the COMMITs work again) can finish these tasks.
      openGate()
      await pollUntil(() => `the gated tasks returned (${returned()})`, () => returned() === GATED)
      let live = -1
      await pollUntil(() => `the leases of the running tasks over for ${2 * LEASE_MILLIS} ms (${live} not yet)`, async () =>
        (live = await db!.count(
          `SELECT count(*)::int AS c FROM ${s}.tasks WHERE state = 'running' AND lease_expires_at >= $1`,
          [Date.now() - 2 * LEASE_MILLIS]
        )) === 0, { attempts: 200, every: 50 })
      const takeovers = await sequence("fault_takeovers")
      const hits = await sequence("fault_hits")
      const stateAtFaultOff = await db!.states(s)
      await setFault(false)
      report.push(
        `  on for ${seconds(faultOn)}: ${hits} writes refused, ${takeovers} of them the recovery's takeovers; ` +
          `rows when it ended: ${JSON.stringify(stateAtFaultOff)}`
      )

      // after: submits are acknowledged again, and every task (before and after) finishes
      expectAcked(await Promise.all(Array.from({ length: 20 }, (_, i) => submit(400 + i))))
      const offAt = Date.now()
      await awaitAllFinished(db!, s, [])
      const done = Date.now()
      expect(await succeededOf(db!, s, acked)).toBe(acked.length)
      expect(await db!.states(s)).toEqual({ succeeded: GATED + DELAYED + 20 })
      report.push(`  all ${acked.length} acknowledged tasks succeeded ${seconds(offAt, done)} after it ended`)

      await within(executor.dispose(), 15_000, "closing the executor's layer")
    } finally {
      console.log([...report, `  executor logs: ${logs.summary()}`].join("\n"))
      await within(executor.dispose(), 15_000, "closing the executor's layer").catch(() => undefined)
    }
  }, 60_000)
})
