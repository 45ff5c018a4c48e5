/**
 * The embedded durable store: one SQLite file (WAL, `synchronous=FULL` unless you choose otherwise),
 * through `@effect/sql-sqlite-node`. It is the default a newcomer gets with `Executor.layerSqlite`.
 *
 * @since 0.1.0
 */
import { Migrator, SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Cause, Effect, Layer } from "effect"
import { mkdirSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { StoreUnavailable } from "./ExecutorError.js"
import { makeSqlTaskStore, storeGuard } from "./internal/sqlTaskStore.js"
import { chunked as chunks, type ClaimedRow, toClaimedTasks } from "./internal/storedRow.js"
import * as TaskStore from "./TaskStore.js"

/**
 * `synchronous` pragma of the SQLite file. `"FULL"` (the default) syncs the WAL on every commit, so
 * an acknowledged submit survives a power loss; `"NORMAL"` survives a process crash but may lose
 * the last commits on power loss, and is faster.
 *
 * @since 0.1.0
 * @category models
 */
export type Synchronous = "FULL" | "NORMAL" | "OFF"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The database file; its directory is created when missing. */
  readonly filename: string
  readonly synchronous?: Synchronous | undefined
}

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
    ], { discard: true }))
})

/** SQLite allows 32,766 bound parameters per statement; 15 columns a row. */
const INSERT_CHUNK = 1_000

/**
 * A `TaskStore` on the `SqlClient` in context (a SQLite database). Runs the migrations first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (location: string): Effect.Effect<TaskStore.TaskStore, StoreUnavailable, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const guard = storeGuard(location)

    yield* Migrator.make({})({ loader: migrations, table: "effect_executor_migrations" }).pipe(
      Effect.mapError((error) =>
        new StoreUnavailable({ path: location, reason: `migration failed: ${error.message}` })
      )
    )

    const claim: TaskStore.TaskStore["claim"] = ({ leaseMillis, limit, now, owner, queue }) =>
      guard(sql<ClaimedRow>`UPDATE effect_executor_tasks
        SET state = 'running', owner = ${owner}, lease_expires_at = ${now + leaseMillis},
            attempts = attempts + 1, started_at = ${now}
        WHERE id IN (
          SELECT id FROM effect_executor_tasks
          WHERE state = 'queued' AND queue = ${queue} AND run_at <= ${now}
          ORDER BY priority DESC, run_at, rowid
          LIMIT ${limit}
        )
        RETURNING id, name, queue, payload, attempts, trace_parent, priority, run_at, rowid AS seq`).pipe(
        Effect.map(toClaimedTasks)
      )

    // One statement per batch: the results travel as a JSON array joined to the rows.
    const complete: TaskStore.TaskStore["complete"] = (results, now) =>
      guard(Effect.forEach(chunks(results, INSERT_CHUNK), (chunk) =>
        sql`UPDATE effect_executor_tasks
          SET state = 'succeeded', result = done.value ->> '$.result', finished_at = ${now},
              owner = NULL, lease_expires_at = NULL
          FROM json_each(${JSON.stringify(chunk)}) AS done
          WHERE effect_executor_tasks.id = done.value ->> '$.id'
            AND effect_executor_tasks.owner = done.value ->> '$.owner'
            AND effect_executor_tasks.state = 'running'`, { discard: true }))

    const fail: TaskStore.TaskStore["fail"] = (failures, now) =>
      guard(sql.withTransaction(Effect.forEach(failures, ({ error, id, owner, retryAt }) =>
        retryAt === undefined
          ? sql`UPDATE effect_executor_tasks
              SET state = 'failed', error = ${error}, finished_at = ${now}, owner = NULL, lease_expires_at = NULL
              WHERE id = ${id} AND owner = ${owner} AND state = 'running'`
          : sql`UPDATE effect_executor_tasks
              SET state = 'queued', error = ${error}, run_at = ${retryAt}, owner = NULL, lease_expires_at = NULL
              WHERE id = ${id} AND owner = ${owner} AND state = 'running'`, { discard: true })))

    const prune: TaskStore.TaskStore["prune"] = (before) =>
      guard(sql<{ id: string }>`DELETE FROM effect_executor_tasks
        WHERE finished_at < ${before} AND state IN ('succeeded', 'failed', 'interrupted') RETURNING id`).pipe(
        Effect.map((rows) => rows.length)
      )

    return TaskStore.TaskStore.of(makeSqlTaskStore(sql, {
      location,
      transactional: false,
      notifications: undefined,
      tasks: sql("effect_executor_tasks"),
      yes: sql.literal("1"),
      no: sql.literal("0"),
      lockRow: sql.literal(""),
      // one process, one file: there is nobody to wake
      notify: () => Effect.void,
      claim,
      complete,
      fail,
      prune
    }))
  })

/**
 * The `SqliteClient` for a store file: creates its directory, opens it (a typed
 * `StoreUnavailable` naming the path when it cannot be opened or written), WAL, `synchronous`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (options: Options): Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient, StoreUnavailable> => {
  const path = resolve(options.filename)
  const fail = (reason: unknown) =>
    new StoreUnavailable({ path, reason: reason instanceof Error ? reason.message : String(reason) })
  return Layer.unwrapEffect(Effect.gen(function*() {
    yield* Effect.try({ try: () => mkdirSync(dirname(path), { recursive: true }), catch: fail })
    return SqliteClient.layer({ filename: path }).pipe(
      Layer.tap((context) => {
        const sql = context.unsafeMap.get(SqlClient.SqlClient.key) as SqlClient.SqlClient
        return Effect.all([
          sql.unsafe(`PRAGMA synchronous = ${options.synchronous ?? "FULL"}`),
          sql.unsafe("PRAGMA busy_timeout = 5000"),
          // a write proves the file is writable before the layer is handed out
          sql.unsafe("BEGIN IMMEDIATE"),
          sql.unsafe("COMMIT")
        ], { discard: true }).pipe(Effect.mapError(fail))
      }),
      // better-sqlite3 throws when the file cannot be opened: a defect of SqliteClient, typed here
      Layer.catchAllCause((cause) => Layer.fail(fail(Cause.squash(cause))))
    )
  }))
}

/**
 * A `TaskStore` on a SQLite file.
 *
 * @example
 * ```ts
 * const store = SqliteStore.layer({ filename: "data/tasks.db" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<TaskStore.TaskStore, StoreUnavailable> =>
  Layer.effect(TaskStore.TaskStore, make(resolve(options.filename))).pipe(Layer.provide(layerClient(options)))
