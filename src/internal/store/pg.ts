/**
 * The PostgreSQL store: migrations, dialect statements and wake-ups on `@effect/sql-pg`. The only
 * module of the library that imports the driver: `PgStore` (the face) loads it when `make` or
 * `layer` (or `Executor.layerPg`) is built, so an app that does not use PostgreSQL never loads
 * `@effect/sql-pg` or `pg`.
 *
 * @internal
 */
import { Migrator, SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Schedule, Stream } from "effect"
import { StoreUnavailable } from "../../ExecutorError.js"
import type * as PgStore from "../../PgStore.js"
import type * as TaskStore from "../../TaskStore.js"
import { randomTaskId } from "../handleId.js"
import { checkTables } from "./migrations.js"
import { loadSessionKey, makeSqlTaskStore, PRUNE_BATCH, type SqlDialect, storeGuard } from "./sql.js"
import { chunked, type ClaimedRow, newRow, refused, toClaimedTasks } from "./storedRow.js"

const CHUNK = 1_000

const migrations = (schema: string) =>
  Migrator.fromRecord({
    "0001_create_tasks": Effect.flatMap(SqlClient.SqlClient, (sql) => {
      const tasks = sql(`${schema}.tasks`)
      return Effect.all([
        sql`CREATE TABLE ${tasks} (
          seq BIGSERIAL NOT NULL,
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          queue TEXT NOT NULL,
          payload TEXT NOT NULL,
          state TEXT NOT NULL,
          priority INTEGER NOT NULL DEFAULT 0,
          run_at BIGINT NOT NULL,
          delay_ms BIGINT NOT NULL DEFAULT 0,
          attempts INTEGER NOT NULL DEFAULT 0,
          idempotency_key TEXT UNIQUE,
          owner TEXT,
          lease_expires_at BIGINT,
          cancel_requested BOOLEAN NOT NULL DEFAULT false,
          trace_parent TEXT,
          result TEXT,
          error TEXT,
          created_at BIGINT NOT NULL,
          started_at BIGINT,
          finished_at BIGINT
        )`,
        sql`CREATE INDEX tasks_ready ON ${tasks} (queue, priority DESC, run_at, seq) WHERE state = 'queued'`,
        sql`CREATE INDEX tasks_leases ON ${tasks} (lease_expires_at) WHERE state IN ('running', 'held')`,
        sql`CREATE INDEX tasks_owner ON ${tasks} (owner) WHERE owner IS NOT NULL`,
        sql`CREATE INDEX tasks_finished ON ${tasks} (finished_at) WHERE finished_at IS NOT NULL`
      ], { discard: true })
    }),
    "0002_add_sessions": Effect.flatMap(SqlClient.SqlClient, (sql) => {
      const tasks = sql(`${schema}.tasks`)
      return Effect.all([
        sql`ALTER TABLE ${tasks} ADD COLUMN session TEXT`,
        sql`CREATE INDEX tasks_created ON ${tasks} (created_at)`
      ], { discard: true })
    }),
    "0003_add_fencing_and_liveness": Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.all([
        sql`ALTER TABLE ${sql(`${schema}.tasks`)} ADD COLUMN claims INTEGER NOT NULL DEFAULT 0`,
        sql`CREATE TABLE ${sql(`${schema}.workers`)} (owner TEXT PRIMARY KEY, beat_at BIGINT NOT NULL, started_at BIGINT NOT NULL)`,
        sql`CREATE TABLE ${sql(`${schema}.meta`)} (key TEXT PRIMARY KEY, value TEXT NOT NULL)`
      ], { discard: true })),
    "0004_add_failed_since": Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql`ALTER TABLE ${sql(`${schema}.tasks`)} ADD COLUMN failed_since BIGINT`)
  })

/** See `PgStore.make`. */
export const make = (
  options: PgStore.Options = {}
): Effect.Effect<TaskStore.TaskStore, StoreUnavailable, SqlClient.SqlClient | PgClient.PgClient> =>
  Effect.gen(function*() {
    const schema = options.schema ?? "effect_executor"
    const location = `postgresql schema ${schema}`
    if (!/^[a-z_][a-z0-9_]{0,40}$/.test(schema)) {
      return yield* new StoreUnavailable({
        path: location,
        reason: "the schema name must be lower-case letters, digits and _, starting with a letter or _"
      })
    }
    const sql = yield* SqlClient.SqlClient
    const pg = yield* PgClient.PgClient
    const tasks = sql(`${schema}.tasks`)
    const channel = `effect_executor_${schema}`
    const guard = storeGuard(location)
    const notify = (queues: Iterable<string>) =>
      Effect.forEach(new Set(queues), (queue) => sql`SELECT pg_notify(${channel}, ${queue})`, { discard: true })

    yield* checkTables(
      location,
      sql.withTransaction(Effect.gen(function*() {
        yield* sql`SELECT pg_advisory_xact_lock(hashtext(${channel}))`
        yield* sql`CREATE SCHEMA IF NOT EXISTS ${sql(schema)}`
        // the Migrator probes its table with a query that would abort this transaction if it failed
        yield* sql`CREATE TABLE IF NOT EXISTS ${sql(`${schema}.migrations`)} (
          migration_id integer primary key,
          created_at timestamp with time zone not null default now(),
          name text not null
        )`
        yield* Migrator.make({})({ loader: migrations(schema), table: `${schema}.migrations` })
      })),
      sql`SELECT seq, id, name, queue, payload, state, priority, run_at, delay_ms, attempts, idempotency_key, owner,
        lease_expires_at, cancel_requested, trace_parent, result, error, created_at, started_at, finished_at,
        session, claims, failed_since FROM ${tasks} LIMIT 0`,
      `${schema}.tasks`
    )
    const sessionKey = yield* guard(loadSessionKey(sql, sql(`${schema}.meta`)))

    const claim: TaskStore.TaskStore["claim"] = ({ leaseMillis, limit, now, owner, queue }) =>
      guard(sql<ClaimedRow>`WITH next AS (
          SELECT id FROM ${tasks}
          WHERE state = 'queued' AND queue = ${queue} AND run_at <= ${now}
          ORDER BY priority DESC, run_at, seq
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED
        )
        UPDATE ${tasks} AS t
        SET state = 'running', owner = ${owner}, lease_expires_at = ${now + leaseMillis},
            attempts = t.attempts + 1, claims = t.claims + 1, started_at = ${now}
        FROM next WHERE t.id = next.id
        RETURNING t.id, t.name, t.queue, t.payload, t.attempts, t.claims, t.trace_parent, t.priority, t.run_at, t.seq, t.failed_since`).pipe(
        Effect.map(toClaimedTasks)
      )

    // The rows travel as one JSON parameter (as graphile-worker's add_jobs does): a statement with
    // 14 parameters a row took longer to bind than to run.
    const insertChunk: SqlDialect["insertChunk"] = (rows) =>
      sql<{ id: string }>`INSERT INTO ${tasks}
          (id, name, queue, payload, state, priority, run_at, delay_ms, idempotency_key, owner, lease_expires_at,
           trace_parent, session, created_at)
        SELECT id, name, queue, payload, state, priority, run_at, delay_ms, idempotency_key, owner, lease_expires_at,
           trace_parent, session, created_at
        FROM jsonb_to_recordset(${JSON.stringify(rows.map(newRow))}::jsonb) AS r(
          id text, name text, queue text, payload text, state text, priority integer, run_at bigint, delay_ms bigint,
          idempotency_key text, owner text, lease_expires_at bigint, trace_parent text, session text, created_at bigint)
        ON CONFLICT DO NOTHING RETURNING id`

    // One statement per batch: the batch travels as one JSON parameter joined to the rows. A
    // result is taken only while the row is still under the claim that ran it (owner and fence).
    const complete: TaskStore.TaskStore["complete"] = (results, now) =>
      guard(Effect.forEach(chunked(results, CHUNK), (chunk) =>
        sql<{ id: string }>`UPDATE ${tasks} AS t
          SET state = 'succeeded', result = done.result, finished_at = ${now}, owner = NULL, lease_expires_at = NULL
          FROM jsonb_to_recordset(${JSON.stringify(chunk)}::jsonb) AS done(id text, owner text, claim integer, result text)
          WHERE t.id = done.id AND t.owner = done.owner AND t.claims = done.claim AND t.state = 'running'
          RETURNING t.id`)).pipe(Effect.map((batches) => refused(results, batches.flat())))

    const fail: TaskStore.TaskStore["fail"] = (failures, now) =>
      guard(sql.withTransaction(Effect.gen(function*() {
        const taken: Array<{ id: string }> = []
        for (const chunk of chunked(failures, CHUNK)) {
          const retried = yield* sql<{ id: string; queue: string | null }>`UPDATE ${tasks} AS t
            SET state = CASE WHEN f."retryAt" IS NULL THEN 'failed' ELSE 'queued' END,
                error = f.error,
                run_at = COALESCE(f."retryAt", t.run_at),
                failed_since = CASE WHEN f."retryAt" IS NULL THEN t.failed_since ELSE f."failedSince" END,
                finished_at = CASE WHEN f."retryAt" IS NULL THEN ${now}::bigint ELSE NULL END,
                owner = NULL, lease_expires_at = NULL
            FROM jsonb_to_recordset(${JSON.stringify(chunk)}::jsonb)
              AS f(id text, owner text, claim integer, error text, "retryAt" bigint, "failedSince" bigint)
            WHERE t.id = f.id AND t.owner = f.owner AND t.claims = f.claim AND t.state = 'running'
            RETURNING t.id, CASE WHEN f."retryAt" IS NULL THEN NULL ELSE t.queue END AS queue`
          taken.push(...retried)
          yield* notify(retried.flatMap((row) => row.queue === null ? [] : [row.queue]))
        }
        return refused(failures, taken)
      })))

    /**
     * One LISTEN, which says when it is active: `pg.listen` gives no signal once its LISTEN is in
     * place, and a NOTIFY sent before that is lost. So a probe is notified until it comes back; its
     * arrival is itself a wake-up, after which no task inserted meanwhile is missed.
     */
    const listenOnce = Stream.suspend(() => {
      const probe = `listening ${randomTaskId()}`
      let heard = false
      const sendProbes = Effect.gen(function*() {
        while (!heard) {
          yield* sql`SELECT pg_notify(${channel}, ${probe})`
          yield* Effect.sleep("100 millis")
        }
      })
      return pg.listen(channel).pipe(
        Stream.tap((payload) => Effect.sync(() => {
          if (payload === probe) heard = true
        })),
        Stream.merge(Stream.drain(Stream.fromEffect(sendProbes)))
      )
    })

    // In batches: one huge DELETE would hold its locks and bloat one transaction for minutes.
    const prune: TaskStore.TaskStore["prune"] = (before) =>
      guard(Effect.gen(function*() {
        let total = 0
        for (;;) {
          const rows = yield* sql<{ count: string }>`WITH gone AS (
              DELETE FROM ${tasks} WHERE id IN (
                SELECT id FROM ${tasks}
                WHERE finished_at < ${before} AND state IN ('succeeded', 'failed', 'interrupted')
                LIMIT ${PRUNE_BATCH})
              RETURNING 1
            ) SELECT count(*) AS count FROM gone`
          const count = Number(rows[0]?.count ?? 0)
          total += count
          if (count < PRUNE_BATCH) return total
        }
      }))

    return makeSqlTaskStore(sql, {
      location,
      sessionKey,
      transactional: true,
      // @effect/sql-pg does not LISTEN again when its connection is terminated, and says nothing:
      // the subscription is renewed every 30 seconds. In between, the workers' poll finds the work.
      notifications: listenOnce.pipe(
        Stream.interruptAfter("30 seconds"),
        Stream.forever,
        Stream.retry(Schedule.spaced("1 second")),
        Stream.orDie
      ),
      tasks,
      workers: sql(`${schema}.workers`),
      yes: sql.literal("true"),
      no: sql.literal("false"),
      lockRow: sql.literal("FOR UPDATE"),
      notify,
      insertChunk,
      claim,
      complete,
      fail,
      prune
    })
  })
