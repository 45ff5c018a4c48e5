/**
 * The contract between durable executors and the databases they keep tasks in. Every store
 * (SQLite, PostgreSQL) implements it and passes the same conformance suite (`test/storeConformance.ts`).
 *
 * Rows move through `held` → `queued` → `running` → `succeeded` | `failed` | `interrupted`.
 * Payloads, results and errors are stored as JSON text, already encoded with the task's Schemas.
 * Times are epoch milliseconds supplied by the caller, so tests can drive them.
 *
 * @since 0.1.0
 */
import type { Effect, Option, Stream } from "effect"
import { Context } from "effect"
import type { StoreUnavailable } from "./ExecutorError.js"

/**
 * @since 0.1.0
 * @category models
 */
export type StoredState = "held" | "queued" | "running" | "succeeded" | "failed" | "interrupted"

/**
 * A task to insert.
 *
 * @since 0.1.0
 * @category models
 */
export interface NewTask {
  readonly id: string
  readonly name: string
  readonly queue: string
  /** JSON of the payload encoded with the task's payload Schema. */
  readonly payload: string
  readonly priority: number
  /** Not before this time (queued tasks). */
  readonly runAt: number
  /** For held tasks: how long after their release they become due. */
  readonly delayMillis: number
  /** `"held"` inside a request (released when the response is done), otherwise `"queued"`. */
  readonly state: "held" | "queued"
  readonly idempotencyKey: string | undefined
  /** The instance that holds a held task; its lease ends at `leaseExpiresAt`. */
  readonly owner: string | undefined
  readonly leaseExpiresAt: number | undefined
  /** The span that submitted it, as `traceId:spanId`, to link the task's span to. */
  readonly traceParent: string | undefined
  /** The keyed hash of the session that submitted it (never the session), for `StatusApi`. */
  readonly session?: string | undefined
  readonly createdAt: number
}

/**
 * A task handed to a worker by `claim`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClaimedTask {
  readonly id: string
  readonly name: string
  readonly queue: string
  readonly payload: string
  /** The attempt this claim starts (1 for the first). */
  readonly attempts: number
  /**
   * The fence of this claim: every claim of a row gets a new, larger number. A worker's end-writes
   * (`complete`, `fail`, `requeue`, `markInterrupted`) name it, and the store accepts them only
   * while the row is still under this claim, so a run whose task was taken over cannot overwrite
   * the run that took it.
   */
  readonly claim: number
  readonly traceParent: string | undefined
  /** When it became due: the start latency is measured from here. */
  readonly runAt: number
  /**
   * When the first failed attempt of its current run of retries ended, if an earlier attempt
   * failed: time-based retry schedules (`Schedule.upTo`, `during`) measure from here.
   */
  readonly failedSince: number | undefined
}

/**
 * A task as stored, for `status`.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredTask {
  readonly id: string
  readonly name: string
  readonly queue: string
  readonly state: StoredState
  readonly attempts: number
  readonly priority: number
  readonly runAt: number
  /** JSON of the encoded success value, once `succeeded`. */
  readonly result: string | undefined
  /** JSON of the encoded error, once `failed` (or between attempts: the last error). */
  readonly error: string | undefined
  readonly createdAt: number
  readonly startedAt: number | undefined
  readonly finishedAt: number | undefined
  readonly cancelRequested: boolean
  /** The keyed hash of the session that submitted it, for `StatusApi`'s ownership check. */
  readonly session: string | undefined
}

/**
 * The claim a worker's end-write names: the row, the process, and the claim's fence.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClaimRef {
  readonly id: string
  readonly owner: string
  readonly claim: number
}

/**
 * The end of one attempt that did not succeed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Failure extends ClaimRef {
  /** JSON of the encoded error. */
  readonly error: string
  /** Run again at this time (the attempt count is kept), or `undefined` for the final failure. */
  readonly retryAt: number | undefined
  /** With `retryAt`: when the first failed attempt of this run of retries ended, kept for the next claim. */
  readonly failedSince?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface TaskStore {
  /** Where the store lives, for messages: a file path or a database URL without credentials. */
  readonly location: string
  /**
   * The key sessions are hashed with (HMAC) before they are stored: generated when the store is
   * made and kept in it, so every process on the store hashes alike.
   */
  readonly sessionKey: string
  /**
   * Whether `insert` may run inside the caller's own SQL transaction (the store uses the caller's
   * `SqlClient`), so a submit commits or rolls back with the caller's rows.
   */
  readonly transactional: boolean
  /**
   * Wake-ups from other processes (a queue name each time tasks become due there), when the
   * database can push them; `undefined` when workers must poll.
   */
  readonly notifications: Stream.Stream<string> | undefined
  /**
   * Inserts tasks in one transaction and returns, for each, the id it is stored under: its own,
   * or the id of the task that already has its idempotency key (then nothing new is stored).
   */
  readonly insert: (tasks: ReadonlyArray<NewTask>) => Effect.Effect<ReadonlyArray<string>, StoreUnavailable>
  /**
   * Releases held tasks whose response is done: `queued` from `now` on (plus their delay), or
   * `interrupted` for the ids in `drop`.
   */
  readonly release: (
    ids: ReadonlyArray<string>,
    options: { readonly now: number; readonly drop?: ReadonlyArray<string> | undefined }
  ) => Effect.Effect<void, StoreUnavailable>
  /**
   * Takes up to `limit` queued tasks of `queue` that are due, highest priority then oldest first,
   * marks them `running` with a lease for `owner` and counts the attempt.
   */
  readonly claim: (options: {
    readonly owner: string
    readonly queue: string
    readonly limit: number
    readonly now: number
    readonly leaseMillis: number
  }) => Effect.Effect<ReadonlyArray<ClaimedTask>, StoreUnavailable>
  /**
   * Extends the leases of `owner`'s running and held tasks among `ids` (only those: a row the
   * owner no longer works on must be left to expire). Answers the ids it no longer holds (their
   * lease expired and another worker took them) and the ids whose cancellation was requested.
   */
  readonly heartbeat: (options: {
    readonly owner: string
    readonly ids: ReadonlyArray<string>
    readonly now: number
    readonly leaseMillis: number
  }) => Effect.Effect<{ readonly lost: ReadonlyArray<string>; readonly cancelled: ReadonlyArray<string> }, StoreUnavailable>
  /**
   * Marks claimed tasks `succeeded` with their encoded results, in one transaction. Answers the
   * ids it refused because the claim was no longer theirs (taken over): their results are dropped.
   */
  readonly complete: (
    results: ReadonlyArray<ClaimRef & { readonly result: string }>,
    now: number
  ) => Effect.Effect<ReadonlyArray<string>, StoreUnavailable>
  /**
   * Ends failed attempts: back to `queued` at `retryAt`, or `failed` for good. Answers the ids
   * refused because the claim was no longer theirs.
   */
  readonly fail: (failures: ReadonlyArray<Failure>, now: number) => Effect.Effect<ReadonlyArray<string>, StoreUnavailable>
  /**
   * Gives claimed tasks back (the process is shutting down): `queued` again, the unfinished
   * attempt not counted. Tasks whose cancellation was requested become `interrupted`.
   */
  readonly requeue: (claims: ReadonlyArray<ClaimRef>, now: number) => Effect.Effect<void, StoreUnavailable>
  /**
   * Records that process `owner` is alive at `now` (its liveness row). `now: 0` says it has
   * stopped: other processes take its tasks over at once.
   */
  readonly beat: (owner: string, now: number) => Effect.Effect<void, StoreUnavailable>
  /**
   * Takes back tasks of other processes that died: those whose owner's last beat is before
   * `deadBefore`, or whose lease expired. Running ones become `queued` at once, in their old
   * place (their due time is kept; their attempt stays counted and `error` records it as ended by
   * a lost worker: `{"kind":"lost","value":{"attempt":n}}`); held ones are released as if
   * their response had finished. `self`'s own rows are never taken: it knows what it runs.
   * Forgets dead processes that own nothing any more. Answers how many rows moved.
   */
  readonly reclaimExpired: (options: {
    readonly self: string
    readonly now: number
    readonly deadBefore: number
  }) => Effect.Effect<number, StoreUnavailable>
  readonly status: (id: string) => Effect.Effect<Option.Option<StoredTask>, StoreUnavailable>
  /**
   * Cancels a task: held and queued ones become `interrupted` at once (`"cancelled"`); for a
   * running one the cancellation is recorded for its worker (`"requested"`).
   */
  readonly cancel: (
    id: string,
    now: number
  ) => Effect.Effect<"cancelled" | "requested" | "finished" | "missing", StoreUnavailable>
  /** Marks a claimed task `interrupted` (its worker stopped it after a cancellation). */
  readonly markInterrupted: (claim: ClaimRef, now: number) => Effect.Effect<void, StoreUnavailable>
  /**
   * Deletes finished tasks that finished before `before`, in bounded batches that let the event
   * loop run between them; answers how many.
   */
  readonly prune: (before: number) => Effect.Effect<number, StoreUnavailable>
  /** The most recently created tasks, newest first, optionally of one state and one queue. */
  readonly list: (options: {
    readonly state?: StoredState | undefined
    readonly queue?: string | undefined
    readonly limit: number
  }) => Effect.Effect<ReadonlyArray<StoredTask>, StoreUnavailable>
  /** How many tasks are in each queue and state (only of `states`, when given). */
  readonly counts: (options?: { readonly states?: ReadonlyArray<StoredState> | undefined }) => Effect.Effect<
    ReadonlyArray<{ readonly queue: string; readonly state: StoredState; readonly count: number }>,
    StoreUnavailable
  >
  /**
   * Runs a `failed` or `interrupted` task again: `queued` from `now`, its attempts starting over.
   * Answers `"finished"`-like outcomes for tasks in other states.
   */
  readonly retry: (
    id: string,
    now: number
  ) => Effect.Effect<"retried" | "not-finished" | "succeeded" | "missing", StoreUnavailable>
}

/**
 * The `TaskStore` service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const TaskStore: Context.Tag<TaskStore, TaskStore> = Context.GenericTag<TaskStore>("effect-executor/TaskStore")
