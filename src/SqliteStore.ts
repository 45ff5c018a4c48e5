/**
 * The embedded durable store: one SQLite file (WAL, `synchronous=FULL` unless you choose otherwise),
 * through `@effect/sql-sqlite-node`. It is the default a newcomer gets with `Executor.layerSqlite`.
 *
 * @since 0.1.0
 */
import { Migrator, SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Cause, Effect, Layer, Option } from "effect"
import { mkdirSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { StoreUnavailable } from "./ExecutorError.js"
import { chunked as chunks, type ClaimedRow, newRow, type TaskRow, taskColumns, toClaimedTasks, toStoredTask } from "./internal/storedRow.js"
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
    const unavailable = (error: SqlError) =>
      new StoreUnavailable({ path: location, reason: String((error.cause as Error | undefined)?.message ?? error.message) })
    const guard = <A>(effect: Effect.Effect<A, SqlError>) => Effect.mapError(effect, unavailable)

    yield* Migrator.make({})({ loader: migrations, table: "effect_executor_migrations" }).pipe(
      Effect.mapError((error) =>
        new StoreUnavailable({ path: location, reason: `migration failed: ${error.message}` })
      )
    )

    const insert: TaskStore.TaskStore["insert"] = (tasks) =>
      guard(sql.withTransaction(Effect.gen(function*() {
        const inserted = new Set<string>()
        for (const chunk of chunks(tasks, INSERT_CHUNK)) {
          const rows = yield* sql<{ id: string }>`INSERT INTO effect_executor_tasks ${
            sql.insert(chunk.map(newRow))
          } ON CONFLICT DO NOTHING RETURNING id`
          for (const row of rows) inserted.add(row.id)
        }
        if (inserted.size === tasks.length) return tasks.map((task) => task.id)
        const keys = tasks.filter((task) => !inserted.has(task.id) && task.idempotencyKey !== undefined)
          .map((task) => task.idempotencyKey!)
        const existing = new Map<string, string>()
        for (const chunk of chunks(keys, INSERT_CHUNK)) {
          const rows = yield* sql<{ id: string; idempotency_key: string }>`
            SELECT id, idempotency_key FROM effect_executor_tasks WHERE ${sql.in("idempotency_key", chunk)}`
          for (const row of rows) existing.set(row.idempotency_key, row.id)
        }
        return tasks.map((task) =>
          inserted.has(task.id) ? task.id : existing.get(task.idempotencyKey ?? "") ?? task.id
        )
      })))

    const release: TaskStore.TaskStore["release"] = (ids, { drop, now }) =>
      guard(sql.withTransaction(Effect.gen(function*() {
        const dropped = new Set(drop ?? [])
        const kept = ids.filter((id) => !dropped.has(id))
        for (const chunk of chunks(kept, INSERT_CHUNK)) {
          yield* sql`UPDATE effect_executor_tasks
            SET state = 'queued', run_at = ${now} + delay_ms, owner = NULL, lease_expires_at = NULL
            WHERE state = 'held' AND ${sql.in("id", chunk)}`
        }
        for (const chunk of chunks(Array.from(dropped), INSERT_CHUNK)) {
          yield* sql`UPDATE effect_executor_tasks
            SET state = 'interrupted', finished_at = ${now}, owner = NULL, lease_expires_at = NULL
            WHERE state = 'held' AND ${sql.in("id", chunk)}`
        }
      })))

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

    const heartbeat: TaskStore.TaskStore["heartbeat"] = ({ ids, leaseMillis, now, owner }) =>
      guard(Effect.forEach(chunks(ids, INSERT_CHUNK), (chunk) =>
        sql<{ id: string; cancel_requested: number }>`UPDATE effect_executor_tasks
          SET lease_expires_at = ${now + leaseMillis}
          WHERE owner = ${owner} AND state IN ('running', 'held') AND ${sql.in("id", chunk)}
          RETURNING id, cancel_requested`)).pipe(
        Effect.map((batches) => {
          const rows = batches.flat()
          const held = new Set(rows.map((row) => row.id))
          return {
            lost: ids.filter((id) => !held.has(id)),
            cancelled: rows.filter((row) => row.cancel_requested === 1).map((row) => row.id)
          }
        })
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

    const requeue: TaskStore.TaskStore["requeue"] = (ids, owner, now) =>
      guard(Effect.forEach(chunks(ids, INSERT_CHUNK), (chunk) =>
        sql`UPDATE effect_executor_tasks
          SET state = CASE WHEN cancel_requested = 1 THEN 'interrupted' ELSE 'queued' END,
              attempts = CASE WHEN cancel_requested = 1 THEN attempts ELSE attempts - 1 END,
              finished_at = CASE WHEN cancel_requested = 1 THEN ${now} ELSE NULL END,
              run_at = ${now}, owner = NULL, lease_expires_at = NULL
          WHERE owner = ${owner} AND state = 'running' AND ${sql.in("id", chunk)}`, { discard: true }))

    const reclaimExpired: TaskStore.TaskStore["reclaimExpired"] = (now) =>
      guard(sql.withTransaction(Effect.gen(function*() {
        const cancelled = yield* sql<{ id: string }>`UPDATE effect_executor_tasks
          SET state = 'interrupted', finished_at = ${now}, owner = NULL, lease_expires_at = NULL
          WHERE state = 'running' AND cancel_requested = 1 AND lease_expires_at < ${now} RETURNING id`
        const running = yield* sql<{ id: string }>`UPDATE effect_executor_tasks
          SET state = 'queued', run_at = ${now}, owner = NULL, lease_expires_at = NULL
          WHERE state = 'running' AND lease_expires_at < ${now} RETURNING id`
        const held = yield* sql<{ id: string }>`UPDATE effect_executor_tasks
          SET state = 'queued', run_at = ${now} + delay_ms, owner = NULL, lease_expires_at = NULL
          WHERE state = 'held' AND lease_expires_at < ${now} RETURNING id`
        return cancelled.length + running.length + held.length
      })))

    const status: TaskStore.TaskStore["status"] = (id) =>
      guard(sql<TaskRow>`SELECT ${sql.literal(taskColumns)}
        FROM effect_executor_tasks WHERE id = ${id}`).pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toStoredTask))
      )

    const cancel: TaskStore.TaskStore["cancel"] = (id, now) =>
      guard(sql.withTransaction(Effect.gen(function*() {
        const rows = yield* sql<{ state: TaskStore.StoredState }>`SELECT state FROM effect_executor_tasks WHERE id = ${id}`
        const state = rows[0]?.state
        if (state === undefined) return "missing" as const
        if (state === "held" || state === "queued") {
          yield* sql`UPDATE effect_executor_tasks
            SET state = 'interrupted', finished_at = ${now}, owner = NULL, lease_expires_at = NULL WHERE id = ${id}`
          return "cancelled" as const
        }
        if (state === "running") {
          yield* sql`UPDATE effect_executor_tasks SET cancel_requested = 1 WHERE id = ${id}`
          return "requested" as const
        }
        return "finished" as const
      })))

    const markInterrupted: TaskStore.TaskStore["markInterrupted"] = (id, owner, now) =>
      guard(sql`UPDATE effect_executor_tasks
        SET state = 'interrupted', finished_at = ${now}, owner = NULL, lease_expires_at = NULL
        WHERE id = ${id} AND owner = ${owner} AND state = 'running'`).pipe(Effect.asVoid)

    const prune: TaskStore.TaskStore["prune"] = (before) =>
      guard(sql<{ id: string }>`DELETE FROM effect_executor_tasks
        WHERE finished_at < ${before} AND state IN ('succeeded', 'failed', 'interrupted') RETURNING id`).pipe(
        Effect.map((rows) => rows.length)
      )

    const list: TaskStore.TaskStore["list"] = ({ limit, queue, state }) =>
      guard(sql<TaskRow>`SELECT ${sql.literal(taskColumns)} FROM effect_executor_tasks
        WHERE ${state === undefined ? sql`1 = 1` : sql`state = ${state}`}
          AND ${queue === undefined ? sql`1 = 1` : sql`queue = ${queue}`}
        ORDER BY created_at DESC, id
        LIMIT ${limit}`).pipe(Effect.map((rows) => rows.map(toStoredTask)))

    const counts: TaskStore.TaskStore["counts"] = (options) =>
      guard(sql<{ queue: string; state: TaskStore.StoredState; count: number | string }>`
        SELECT queue, state, count(*) AS count FROM effect_executor_tasks
        WHERE ${options?.states === undefined ? sql`1 = 1` : sql.in("state", options.states)}
        GROUP BY queue, state ORDER BY queue, state`).pipe(
        Effect.map((rows) => rows.map((row) => ({ queue: row.queue, state: row.state, count: Number(row.count) })))
      )

    const retry: TaskStore.TaskStore["retry"] = (id, now) =>
      guard(sql.withTransaction(Effect.gen(function*() {
        const rows = yield* sql<{ state: TaskStore.StoredState; queue: string }>`
          SELECT state, queue FROM effect_executor_tasks WHERE id = ${id}`
        const row = rows[0]
        if (row === undefined) return "missing" as const
        if (row.state === "succeeded") return "succeeded" as const
        if (row.state !== "failed" && row.state !== "interrupted") return "not-finished" as const
        yield* sql`UPDATE effect_executor_tasks
          SET state = 'queued', run_at = ${now}, attempts = 0, error = NULL, finished_at = NULL,
              cancel_requested = 0, owner = NULL, lease_expires_at = NULL
          WHERE id = ${id}`
        return "retried" as const
      })))

    return TaskStore.TaskStore.of({
      location,
      transactional: false,
      notifications: undefined,
      insert,
      release,
      claim,
      heartbeat,
      complete,
      fail,
      requeue,
      reclaimExpired,
      status,
      cancel,
      markInterrupted,
      prune,
      list,
      counts,
      retry
    })
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
