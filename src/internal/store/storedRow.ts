import type * as TaskStore from "../../TaskStore.js"

/** A row of the tasks table as both stores read it; PostgreSQL returns BIGINT as strings. @internal */
export interface TaskRow {
  readonly id: string
  readonly name: string
  readonly queue: string
  readonly state: TaskStore.StoredState
  readonly attempts: number | string
  readonly priority: number | string
  readonly run_at: number | string
  readonly result: string | null
  readonly error: string | null
  readonly created_at: number | string
  readonly started_at: number | string | null
  readonly finished_at: number | string | null
  readonly cancel_requested: number | boolean
  readonly session: string | null
}

/** A claimed row, with what orders a batch. @internal */
export interface ClaimedRow {
  readonly id: string
  readonly name: string
  readonly queue: string
  readonly payload: string
  readonly attempts: number | string
  readonly claims: number | string
  readonly trace_parent: string | null
  readonly priority: number | string
  readonly run_at: number | string
  readonly seq: number | string
  readonly failed_since: number | string | null
}

const optionalNumber = (value: number | string | null): number | undefined => value === null ? undefined : Number(value)

/** @internal */
export const toStoredTask = (row: TaskRow): TaskStore.StoredTask => ({
  id: row.id,
  name: row.name,
  queue: row.queue,
  state: row.state,
  attempts: Number(row.attempts),
  priority: Number(row.priority),
  runAt: Number(row.run_at),
  result: row.result ?? undefined,
  error: row.error ?? undefined,
  createdAt: Number(row.created_at),
  startedAt: optionalNumber(row.started_at),
  finishedAt: optionalNumber(row.finished_at),
  cancelRequested: row.cancel_requested === 1 || row.cancel_requested === true,
  session: row.session ?? undefined
})

/** The columns `status` and `list` read. @internal */
export const taskColumns = "id, name, queue, state, attempts, priority, run_at, result, error, created_at, " +
  "started_at, finished_at, cancel_requested, session"

/** RETURNING has no order: a claimed batch is handed over highest priority, then oldest, first. @internal */
export const toClaimedTasks = (rows: ReadonlyArray<ClaimedRow>): Array<TaskStore.ClaimedTask> =>
  [...rows]
    .sort((a, b) =>
      Number(b.priority) - Number(a.priority) || Number(a.run_at) - Number(b.run_at) || Number(a.seq) - Number(b.seq)
    )
    .map((row) => ({
      id: row.id,
      name: row.name,
      queue: row.queue,
      payload: row.payload,
      attempts: Number(row.attempts),
      claim: Number(row.claims),
      traceParent: row.trace_parent ?? undefined,
      runAt: Number(row.run_at),
      failedSince: optionalNumber(row.failed_since)
    }))

/** @internal */
export const chunked = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** The columns of a new row, shared by both stores' INSERT. @internal */
export const newRow = (task: TaskStore.NewTask) => ({
  id: task.id,
  name: task.name,
  queue: task.queue,
  payload: task.payload,
  state: task.state,
  priority: task.priority,
  run_at: task.runAt,
  delay_ms: task.delayMillis,
  idempotency_key: task.idempotencyKey ?? null,
  owner: task.owner ?? null,
  lease_expires_at: task.leaseExpiresAt ?? null,
  trace_parent: task.traceParent ?? null,
  session: task.session ?? null,
  created_at: task.createdAt
})

/** A stored JSON column read back: the value, or the text itself when it is not JSON. @internal */
export const parseStoredJson = (json: string | undefined): unknown => {
  if (json === undefined) return undefined
  try {
    return JSON.parse(json)
  } catch {
    return json
  }
}

/** The ids of `asked` that a fenced write did not touch (`taken` are the rows it updated). @internal */
export const refused = (
  asked: ReadonlyArray<{ readonly id: string }>,
  taken: ReadonlyArray<{ readonly id: string }>
): ReadonlyArray<string> => {
  if (taken.length === asked.length) return []
  const done = new Set(taken.map((row) => row.id))
  return asked.filter((item) => !done.has(item.id)).map((item) => item.id)
}
