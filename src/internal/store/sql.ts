import type { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import type { Fragment } from "@effect/sql/Statement"
import { Cause, Effect, Option } from "effect"
import { randomBytes } from "node:crypto"
import { StoreUnavailable } from "../../ExecutorError.js"
import type * as TaskStore from "../../TaskStore.js"
import { chunked, type TaskRow, taskColumns, toStoredTask } from "./storedRow.js"

/** Enough rows per statement to stay under SQLite's 32,766 bound parameters (15 columns a row). @internal */
export const CHUNK = 1_000

/**
 * What differs between the SQL databases: the table, the boolean literal, row locks, wake-ups,
 * and the statements written for each (insert, claim, complete, fail, prune).
 *
 * @internal
 */
export interface SqlDialect {
  readonly location: string
  readonly transactional: boolean
  readonly notifications: TaskStore.TaskStore["notifications"]
  readonly sessionKey: string
  /** The tasks table, as an identifier. */
  readonly tasks: Statement.Identifier
  /** The liveness table: one row per process, its last beat. */
  readonly workers: Statement.Identifier
  /** The column value of `cancel_requested` when it is set: `1` or `true`. */
  readonly yes: Fragment
  readonly no: Fragment
  /** Appended to the SELECT that `cancel` and `retry` make before they write: `FOR UPDATE` or nothing. */
  readonly lockRow: Fragment
  /** Tells idle workers of other processes that these queues have due tasks. */
  readonly notify: (queues: Iterable<string>) => Effect.Effect<void, SqlError>
  /** Inserts up to CHUNK rows, skipping conflicts (id, idempotency key); answers the ids written. */
  readonly insertChunk: (rows: ReadonlyArray<TaskStore.NewTask>) => Effect.Effect<ReadonlyArray<{ readonly id: string }>, SqlError>
  readonly claim: TaskStore.TaskStore["claim"]
  readonly complete: TaskStore.TaskStore["complete"]
  readonly fail: TaskStore.TaskStore["fail"]
  readonly prune: TaskStore.TaskStore["prune"]
}

/**
 * The `StoreUnavailable` for a failed store call, naming the store (and, given `why`, what was
 * being done). Defects count as failures: @effect/sql turns a failed COMMIT or ROLLBACK (a
 * connection terminated mid-transaction, a full disk) into a defect, and so does its Migrator for
 * a failed migration; a store fault must reach the caller typed. Interruption stays interruption.
 *
 * @internal
 */
export const storeGuard = (location: string, why?: string) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, StoreUnavailable, R> =>
  Effect.catchAllCause(effect, (cause) =>
    Cause.isInterruptedOnly(cause)
      ? Effect.failCause(cause as Cause.Cause<never>)
      : Effect.fail(
        new StoreUnavailable({ path: location, reason: why === undefined ? reasonOf(cause) : `${why}: ${reasonOf(cause)}` })
      ))

/** The message of the innermost error the cause wraps: the driver's own words. */
const reasonOf = (cause: Cause.Cause<unknown>): string => {
  let error: unknown = Option.getOrElse(Cause.failureOption(cause), () => Cause.squash(cause))
  if (error instanceof StoreUnavailable) return error.reason
  while (error instanceof Error && error.cause instanceof Error) error = error.cause
  return error instanceof Error ? error.message : String(error)
}

/**
 * The key sessions are hashed with: made once per store and kept in its `meta` table, so every
 * process on the store hashes alike.
 *
 * @internal
 */
export const loadSessionKey = (sql: SqlClient.SqlClient, meta: Statement.Identifier) =>
  Effect.gen(function*() {
    yield* sql`INSERT INTO ${meta} (key, value) VALUES ('session_key', ${randomBytes(32).toString("base64url")})
      ON CONFLICT (key) DO NOTHING`
    const rows = yield* sql<{ value: string }>`SELECT value FROM ${meta} WHERE key = 'session_key'`
    return rows[0]!.value
  })

/** Rows per prune statement: each deletes at most this many and the event loop runs between. */
export const PRUNE_BATCH = 200

/**
 * The operations whose SQL is the same on SQLite and PostgreSQL, completed with the dialect's own.
 *
 * @internal
 */
export const makeSqlTaskStore = (sql: SqlClient.SqlClient, dialect: SqlDialect): TaskStore.TaskStore => {
  const { notify, tasks, yes } = dialect
  const guard = storeGuard(dialect.location)

  const insert: TaskStore.TaskStore["insert"] = (rows) =>
    guard(sql.withTransaction(Effect.gen(function*() {
      const inserted = new Set<string>()
      for (const chunk of chunked(rows, CHUNK)) {
        const returned = yield* dialect.insertChunk(chunk)
        for (const row of returned) inserted.add(row.id)
      }
      yield* notify(rows.filter((row) => row.state === "queued" && inserted.has(row.id)).map((row) => row.queue))
      if (inserted.size === rows.length) return rows.map((row) => row.id)
      const keys = rows.filter((row) => !inserted.has(row.id) && row.idempotencyKey !== undefined)
        .map((row) => row.idempotencyKey!)
      const existing = new Map<string, string>()
      for (const chunk of chunked(keys, CHUNK)) {
        const found = yield* sql<{ id: string; idempotency_key: string }>`
          SELECT id, idempotency_key FROM ${tasks} WHERE ${sql.in("idempotency_key", chunk)}`
        for (const row of found) existing.set(row.idempotency_key, row.id)
      }
      return rows.map((row) => inserted.has(row.id) ? row.id : existing.get(row.idempotencyKey ?? "") ?? row.id)
    })))

  const release: TaskStore.TaskStore["release"] = (ids, { drop, now }) =>
    guard(sql.withTransaction(Effect.gen(function*() {
      const dropped = new Set(drop ?? [])
      const queues = new Set<string>()
      for (const chunk of chunked(ids.filter((id) => !dropped.has(id)), CHUNK)) {
        const released = yield* sql<{ queue: string }>`UPDATE ${tasks}
          SET state = 'queued', run_at = ${now} + delay_ms, owner = NULL, lease_expires_at = NULL
          WHERE state = 'held' AND ${sql.in("id", chunk)} RETURNING queue`
        for (const row of released) queues.add(row.queue)
      }
      for (const chunk of chunked(Array.from(dropped), CHUNK)) {
        yield* sql`UPDATE ${tasks}
          SET state = 'interrupted', finished_at = ${now}, owner = NULL, lease_expires_at = NULL
          WHERE state = 'held' AND ${sql.in("id", chunk)}`
      }
      yield* notify(queues)
    })))

  const heartbeat: TaskStore.TaskStore["heartbeat"] = ({ ids, leaseMillis, now, owner }) =>
    guard(Effect.forEach(chunked(ids, CHUNK), (chunk) =>
      sql<{ id: string; cancel_requested: number | boolean }>`UPDATE ${tasks}
        SET lease_expires_at = ${now + leaseMillis}
        WHERE owner = ${owner} AND state IN ('running', 'held') AND ${sql.in("id", chunk)}
        RETURNING id, cancel_requested`)).pipe(
      Effect.map((batches) => {
        const rows = batches.flat()
        const held = new Set(rows.map((row) => row.id))
        return {
          lost: ids.filter((id) => !held.has(id)),
          cancelled: rows.filter((row) => row.cancel_requested === 1 || row.cancel_requested === true).map((row) => row.id)
        }
      })
    )

  const requeue: TaskStore.TaskStore["requeue"] = (claims, now) =>
    guard(sql.withTransaction(Effect.gen(function*() {
      for (const chunk of chunked(claims, CHUNK)) {
        const rows = yield* sql<{ queue: string }>`UPDATE ${tasks}
          SET state = CASE WHEN cancel_requested = ${yes} THEN 'interrupted' ELSE 'queued' END,
              attempts = CASE WHEN cancel_requested = ${yes} THEN attempts ELSE attempts - 1 END,
              finished_at = CASE WHEN cancel_requested = ${yes} THEN CAST(${now} AS BIGINT) ELSE NULL END,
              run_at = ${now}, owner = NULL, lease_expires_at = NULL
          WHERE state = 'running' AND ${sql.or(chunk.map((c) => sql`(id = ${c.id} AND owner = ${c.owner} AND claims = ${c.claim})`))}
          RETURNING queue`
        yield* notify(rows.map((row) => row.queue))
      }
    })))

  const beat: TaskStore.TaskStore["beat"] = (owner, now) =>
    guard(sql`INSERT INTO ${dialect.workers} (owner, beat_at, started_at) VALUES (${owner}, ${now}, ${now})
      ON CONFLICT (owner) DO UPDATE SET beat_at = excluded.beat_at`).pipe(Effect.asVoid)

  // The attempt that a lost worker was running stays counted; the row says how it ended.
  const lostError = sql.literal(`'{"kind":"lost","value":{"attempt":' || attempts || '}}'`)

  const reclaimExpired: TaskStore.TaskStore["reclaimExpired"] = ({ deadBefore, now, self }) =>
    guard(sql.withTransaction(Effect.gen(function*() {
      const dead = (yield* sql<{ owner: string }>`SELECT owner FROM ${dialect.workers}
        WHERE beat_at < ${deadBefore} AND owner <> ${self}`).map((row) => row.owner)
      let moved = 0
      const queues: Array<string> = []
      // Two ways to be taken: an owner that stopped beating, or a lease that ran out (an owner that
      // beats but no longer renews its rows, or one from before liveness rows existed).
      const takeover = (which: Fragment) =>
        Effect.gen(function*() {
          const cancelled = yield* sql<{ id: string }>`UPDATE ${tasks}
            SET state = 'interrupted', finished_at = ${now}, owner = NULL, lease_expires_at = NULL
            WHERE state = 'running' AND cancel_requested = ${yes} AND ${which} RETURNING id`
          // run_at stays: the task was due before those queued since, and goes first again
          const running = yield* sql<{ queue: string }>`UPDATE ${tasks}
            SET state = 'queued', owner = NULL, lease_expires_at = NULL, error = ${lostError}
            WHERE state = 'running' AND ${which} RETURNING queue`
          const held = yield* sql<{ queue: string }>`UPDATE ${tasks}
            SET state = 'queued', run_at = ${now} + delay_ms, owner = NULL, lease_expires_at = NULL
            WHERE state = 'held' AND ${which} RETURNING queue`
          moved += cancelled.length + running.length + held.length
          for (const row of [...running, ...held]) queues.push(row.queue)
        })
      for (const chunk of chunked(dead, CHUNK)) yield* takeover(sql.in("owner", chunk))
      yield* takeover(sql`lease_expires_at < ${now} AND owner <> ${self}`)
      if (dead.length > 0) {
        yield* sql`DELETE FROM ${dialect.workers} AS w WHERE beat_at < ${deadBefore} AND owner <> ${self}
          AND NOT EXISTS (SELECT 1 FROM ${tasks} AS t WHERE t.owner = w.owner)`
      }
      yield* notify(queues)
      return moved
    })))

  const status: TaskStore.TaskStore["status"] = (id) =>
    guard(sql<TaskRow>`SELECT ${sql.literal(taskColumns)} FROM ${tasks} WHERE id = ${id}`).pipe(
      Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toStoredTask))
    )

  const cancel: TaskStore.TaskStore["cancel"] = (id, now) =>
    guard(sql.withTransaction(Effect.gen(function*() {
      const rows = yield* sql<{ state: TaskStore.StoredState }>`SELECT state FROM ${tasks}
        WHERE id = ${id} ${dialect.lockRow}`
      const state = rows[0]?.state
      if (state === undefined) return "missing" as const
      if (state === "held" || state === "queued") {
        yield* sql`UPDATE ${tasks}
          SET state = 'interrupted', finished_at = ${now}, owner = NULL, lease_expires_at = NULL WHERE id = ${id}`
        return "cancelled" as const
      }
      if (state === "running") {
        yield* sql`UPDATE ${tasks} SET cancel_requested = ${yes} WHERE id = ${id}`
        return "requested" as const
      }
      return "finished" as const
    })))

  const markInterrupted: TaskStore.TaskStore["markInterrupted"] = ({ claim, id, owner }, now) =>
    guard(sql`UPDATE ${tasks}
      SET state = 'interrupted', finished_at = ${now}, owner = NULL, lease_expires_at = NULL
      WHERE id = ${id} AND owner = ${owner} AND claims = ${claim} AND state = 'running'`).pipe(Effect.asVoid)

  const list: TaskStore.TaskStore["list"] = ({ limit, queue, state }) =>
    guard(sql<TaskRow>`SELECT ${sql.literal(taskColumns)} FROM ${tasks}
      WHERE ${state === undefined ? sql`1 = 1` : sql`state = ${state}`}
        AND ${queue === undefined ? sql`1 = 1` : sql`queue = ${queue}`}
      ORDER BY created_at DESC, id
      LIMIT ${limit}`).pipe(Effect.map((rows) => rows.map(toStoredTask)))

  const counts: TaskStore.TaskStore["counts"] = (options) =>
    guard(sql<{ queue: string; state: TaskStore.StoredState; count: number | string }>`
      SELECT queue, state, count(*) AS count FROM ${tasks}
      WHERE ${options?.states === undefined ? sql`1 = 1` : sql.in("state", options.states)}
      GROUP BY queue, state ORDER BY queue, state`).pipe(
      Effect.map((rows) => rows.map((row) => ({ queue: row.queue, state: row.state, count: Number(row.count) })))
    )

  const retry: TaskStore.TaskStore["retry"] = (id, now) =>
    guard(sql.withTransaction(Effect.gen(function*() {
      const rows = yield* sql<{ state: TaskStore.StoredState; queue: string }>`
        SELECT state, queue FROM ${tasks} WHERE id = ${id} ${dialect.lockRow}`
      const row = rows[0]
      if (row === undefined) return "missing" as const
      if (row.state === "succeeded") return "succeeded" as const
      if (row.state !== "failed" && row.state !== "interrupted") return "not-finished" as const
      yield* sql`UPDATE ${tasks}
        SET state = 'queued', run_at = ${now}, attempts = 0, error = NULL, failed_since = NULL, finished_at = NULL,
            cancel_requested = ${dialect.no}, owner = NULL, lease_expires_at = NULL
        WHERE id = ${id}`
      yield* notify([row.queue])
      return "retried" as const
    })))

  return {
    location: dialect.location,
    sessionKey: dialect.sessionKey,
    transactional: dialect.transactional,
    notifications: dialect.notifications,
    insert,
    release,
    claim: dialect.claim,
    heartbeat,
    complete: dialect.complete,
    fail: dialect.fail,
    requeue,
    beat,
    reclaimExpired,
    status,
    cancel,
    markInterrupted,
    prune: dialect.prune,
    list,
    counts,
    retry
  }
}
