/**
 * The SQLite store: its migrations and dialect statements, on any SQLite `SqlClient` (the client
 * of a store file is `sqliteClient.ts`). Loaded by `SqliteStore` (the face) when `make` or `layer`
 * is built, not when the package is imported.
 *
 * @internal
 */
import { Migrator, SqlClient } from "@effect/sql"
import { Effect } from "effect"
import type { StoreUnavailable } from "../../ExecutorError.js"
import type * as TaskStore from "../../TaskStore.js"
import { checkTables } from "./migrations.js"
import { loadSessionKey, makeSqlTaskStore, PRUNE_BATCH, storeGuard } from "./sql.js"
import { chunked as chunks, type ClaimedRow, newRow, refused, toClaimedTasks } from "./storedRow.js"

/** Lets the event loop run between prune's statements (better-sqlite3 runs each on it). */
const yieldToEventLoop: Effect.Effect<void> = Effect.async<void>((resume) => {
  const timer = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(timer))
})

const migrations = Migrator.fromRecord({
  "0001_create_tasks": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([
      sql`CREATE TABLE effect_executor_tasks (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        queue TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        run_at INTEGER NOT NULL,
        delay_ms INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        idempotency_key TEXT UNIQUE,
        owner TEXT,
        lease_expires_at INTEGER,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        trace_parent TEXT,
        result TEXT,
        error TEXT,
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER
      )`,
      sql`CREATE INDEX effect_executor_tasks_ready ON effect_executor_tasks (queue, priority DESC, run_at) WHERE state = 'queued'`,
      sql`CREATE INDEX effect_executor_tasks_leases ON effect_executor_tasks (lease_expires_at) WHERE state IN ('running', 'held')`,
      sql`CREATE INDEX effect_executor_tasks_owner ON effect_executor_tasks (owner) WHERE owner IS NOT NULL`,
      sql`CREATE INDEX effect_executor_tasks_finished ON effect_executor_tasks (finished_at) WHERE finished_at IS NOT NULL`
    ], { discard: true })),
  "0002_add_sessions": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([
      sql`ALTER TABLE effect_executor_tasks ADD COLUMN session TEXT`,
      sql`CREATE INDEX effect_executor_tasks_created ON effect_executor_tasks (created_at)`
    ], { discard: true })),
  "0003_add_fencing_and_liveness": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.all([
      sql`ALTER TABLE effect_executor_tasks ADD COLUMN claims INTEGER NOT NULL DEFAULT 0`,
      sql`CREATE TABLE effect_executor_workers (owner TEXT PRIMARY KEY, beat_at INTEGER NOT NULL, started_at INTEGER NOT NULL)`,
      sql`CREATE TABLE effect_executor_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`
    ], { discard: true })),
  "0004_add_failed_since": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`ALTER TABLE effect_executor_tasks ADD COLUMN failed_since INTEGER`)
})

/** SQLite allows 32,766 bound parameters per statement; 15 columns a row. */
const INSERT_CHUNK = 1_000

/** A `TaskStore` on the `SqlClient` in context (a SQLite database). Runs the migrations first. */
export const make = (location: string): Effect.Effect<TaskStore.TaskStore, StoreUnavailable, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const guard = storeGuard(location)

    yield* checkTables(
      location,
      Migrator.make({})({ loader: migrations, table: "effect_executor_migrations" }),
      sql`SELECT id, name, queue, payload, state, priority, run_at, delay_ms, attempts, idempotency_key, owner,
        lease_expires_at, cancel_requested, trace_parent, result, error, created_at, started_at, finished_at,
        session, claims, failed_since FROM effect_executor_tasks LIMIT 0`,
      "effect_executor_tasks"
    )
    const sessionKey = yield* guard(loadSessionKey(sql, sql("effect_executor_meta")))

    const claim: TaskStore.TaskStore["claim"] = ({ leaseMillis, limit, now, owner, queue }) =>
      guard(sql<ClaimedRow>`UPDATE effect_executor_tasks
        SET state = 'running', owner = ${owner}, lease_expires_at = ${now + leaseMillis},
            attempts = attempts + 1, claims = claims + 1, started_at = ${now}
        WHERE id IN (
          SELECT id FROM effect_executor_tasks
          WHERE state = 'queued' AND queue = ${queue} AND run_at <= ${now}
          ORDER BY priority DESC, run_at, rowid
          LIMIT ${limit}
        )
        RETURNING id, name, queue, payload, attempts, claims, trace_parent, priority, run_at, rowid AS seq, failed_since`).pipe(
        Effect.map(toClaimedTasks)
      )

    // One statement per batch: the results travel as a JSON array joined to the rows. A result
    // is taken only while the row is still under the claim that ran it (owner and fence).
    const complete: TaskStore.TaskStore["complete"] = (results, now) =>
      guard(Effect.forEach(chunks(results, INSERT_CHUNK), (chunk) =>
        sql<{ id: string }>`UPDATE effect_executor_tasks
          SET state = 'succeeded', result = done.value ->> '$.result', finished_at = ${now},
              owner = NULL, lease_expires_at = NULL
          FROM json_each(${JSON.stringify(chunk)}) AS done
          WHERE effect_executor_tasks.id = done.value ->> '$.id'
            AND effect_executor_tasks.owner = done.value ->> '$.owner'
            AND effect_executor_tasks.claims = done.value ->> '$.claim'
            AND effect_executor_tasks.state = 'running'
          RETURNING effect_executor_tasks.id`)).pipe(Effect.map((batches) => refused(results, batches.flat())))

    const fail: TaskStore.TaskStore["fail"] = (failures, now) =>
      guard(sql.withTransaction(Effect.forEach(failures, ({ claim, error, failedSince, id, owner, retryAt }) =>
        retryAt === undefined
          ? sql<{ id: string }>`UPDATE effect_executor_tasks
              SET state = 'failed', error = ${error}, finished_at = ${now}, owner = NULL, lease_expires_at = NULL
              WHERE id = ${id} AND owner = ${owner} AND claims = ${claim} AND state = 'running' RETURNING id`
          : sql<{ id: string }>`UPDATE effect_executor_tasks
              SET state = 'queued', error = ${error}, run_at = ${retryAt}, failed_since = ${failedSince ?? null},
                  owner = NULL, lease_expires_at = NULL
              WHERE id = ${id} AND owner = ${owner} AND claims = ${claim} AND state = 'running' RETURNING id`)))
        .pipe(Effect.map((batches) => refused(failures, batches.flat())))

    // better-sqlite3 runs a statement synchronously, on the event loop: one DELETE of a million
    // rows would stall the server for seconds, so prune deletes a batch at a time.
    const prune: TaskStore.TaskStore["prune"] = (before) =>
      guard(Effect.gen(function*() {
        let total = 0
        for (;;) {
          const result = (yield* sql`DELETE FROM effect_executor_tasks WHERE rowid IN (
              SELECT rowid FROM effect_executor_tasks
              WHERE finished_at < ${before} AND state IN ('succeeded', 'failed', 'interrupted')
              LIMIT ${PRUNE_BATCH})`.raw) as unknown as { readonly changes: number }
          total += result.changes
          if (result.changes < PRUNE_BATCH) return total
          yield* yieldToEventLoop
        }
      }))

    return makeSqlTaskStore(sql, {
      location,
      sessionKey,
      transactional: false,
      notifications: undefined,
      tasks: sql("effect_executor_tasks"),
      workers: sql("effect_executor_workers"),
      yes: sql.literal("1"),
      no: sql.literal("0"),
      lockRow: sql.literal(""),
      // one process, one file: there is nobody to wake
      notify: () => Effect.void,
      insertChunk: (rows) =>
        sql<{ id: string }>`INSERT INTO ${sql("effect_executor_tasks")} ${sql.insert(rows.map(newRow))}
          ON CONFLICT DO NOTHING RETURNING id`,
      claim,
      complete,
      fail,
      prune
    })
  })
