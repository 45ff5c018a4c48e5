/**
 * The status codec of both levels: how a task's state is stored and read back (payloads, results
 * and errors as JSON encoded with the task's Schemas; a stored row as a typed `TaskStatus` or an
 * operator's `TaskInfo`), and a status's encoded form, from `TaskStatus.schema`.
 *
 * @internal
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import type { EncodedStatus, TaskInfo } from "../../ExecutorAdmin.js"
import { TaskFailed, TaskFailure, TaskInterrupted, UnknownTask } from "../../ExecutorError.js"
import type * as Task from "../../Task.js"
import * as TaskStatus from "../../TaskStatus.js"
import type * as TaskStore from "../../TaskStore.js"
import { parseStoredJson } from "../store/storedRow.js"

/** The stored form of an error: the task's own (encoded with its failure Schema) or the executor's. */
type StoredError =
  | { readonly kind: "task"; readonly value: unknown }
  | { readonly kind: "executor"; readonly value: unknown }
  /** Written by a takeover: the process running attempt `attempt` stopped (killed, lost). */
  | { readonly kind: "lost"; readonly value: { readonly attempt: number } }

/** @internal */
export const encodeExecutorError = (error: TaskFailure): string =>
  JSON.stringify({ kind: "executor", value: Schema.encodeSync(TaskFailure)(error) } satisfies StoredError)

/** @internal */
export const decodeJson = (schema: Schema.Schema.All, json: string): Either.Either<unknown, string> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    return Either.left("the stored JSON does not parse")
  }
  const decode = Schema.decodeUnknownEither(schema as Schema.Schema<unknown, unknown>)
  // JSON has no `undefined`: it is stored as null
  const decoded = parsed === null ? Either.orElse(decode(null), () => decode(undefined)) : decode(parsed)
  return Either.mapLeft(decoded, (error) => ParseResult.TreeFormatter.formatErrorSync(error))
}

/** @internal */
export const encodeTaskError = (task: Task.Task.Any, error: unknown): string => {
  const encoded = Schema.encodeUnknownEither(task.failure as Schema.Schema<unknown, unknown>)(error)
  return Either.isRight(encoded)
    ? JSON.stringify({ kind: "task", value: encoded.right } satisfies StoredError)
    : encodeExecutorError(new TaskFailed({ reason: "defect", detail: "the error does not encode with the task's failure Schema" }))
}

const decodeStoredError = (task: Task.Task.Any | undefined, json: string | undefined): unknown => {
  let stored: StoredError
  try {
    stored = JSON.parse(json ?? "null")
  } catch {
    return new TaskFailed({ reason: "undecodable", detail: "the stored error does not parse" })
  }
  if (stored?.kind === "executor") {
    return Either.getOrElse(
      Schema.decodeUnknownEither(TaskFailure)(stored.value),
      () => new TaskFailed({ reason: "undecodable", detail: "the stored error does not decode" })
    )
  }
  if (task === undefined) return new UnknownTask({ name: "unknown" })
  return Either.getOrElse(
    Schema.decodeUnknownEither(task.failure as Schema.Schema<unknown, unknown>)(stored?.value),
    () => new TaskFailed({ reason: "undecodable", detail: "the stored error does not decode with the task's failure Schema" })
  )
}

/** @internal */
export const statusOf = (
  row: TaskStore.StoredTask,
  task: Task.Task.Any | undefined,
  now: number
): TaskStatus.TaskStatus<unknown, unknown> => {
  switch (row.state) {
    case "held":
      return TaskStatus.Held()
    case "queued": {
      const waiting = queuedOf(row, now)
      return TaskStatus.Queued({
        ...(waiting.runAt === undefined ? {} : { runAt: new Date(waiting.runAt) }),
        ...(waiting.attempts === undefined ? {} : { attempts: waiting.attempts })
      })
    }
    case "running":
      return TaskStatus.Running({ attempt: row.attempts })
    case "succeeded": {
      if (task === undefined) return TaskStatus.Failed({ error: new UnknownTask({ name: row.name }), attempts: row.attempts })
      const value = decodeJson(task.success, row.result ?? "null")
      return Either.isRight(value)
        ? TaskStatus.Succeeded({ value: value.right, attempts: row.attempts })
        : TaskStatus.Failed({ error: new TaskFailed({ reason: "undecodable", detail: value.left }), attempts: row.attempts })
    }
    case "failed":
      return TaskStatus.Failed({ error: decodeStoredError(task, row.error), attempts: row.attempts })
    case "interrupted":
      return TaskStatus.Interrupted()
  }
}

/** @internal */
export const infoOf = (row: TaskStore.StoredTask, now: number): TaskInfo => {
  let status: EncodedStatus
  let error: string | undefined
  switch (row.state) {
    case "held":
      status = { _tag: "Held" }
      break
    case "queued":
      status = { _tag: "Queued", ...queuedOf(row, now) }
      error = previousAttempt(row.error)
      break
    case "running":
      status = { _tag: "Running", attempt: row.attempts }
      error = previousAttempt(row.error)
      break
    case "succeeded":
      status = { _tag: "Succeeded", value: parseStoredJson(row.result), attempts: row.attempts }
      break
    case "failed": {
      const stored = parseStoredJson(row.error) as StoredError | undefined
      status = { _tag: "Failed", error: stored?.value, attempts: row.attempts }
      error = describeStoredError(stored?.value)
      break
    }
    case "interrupted":
      status = { _tag: "Interrupted" }
  }
  return {
    id: row.id,
    name: row.name,
    queue: row.queue,
    state: row.state,
    durable: true,
    attempts: row.attempts,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    sessionHash: row.session,
    status,
    error
  }
}

/** A queued row's time, if it waits for one (a delay, a retry's backoff), and its attempts so far. */
const queuedOf = (row: TaskStore.StoredTask, now: number): { runAt?: number; attempts?: number } => ({
  ...(row.runAt > now ? { runAt: row.runAt } : {}),
  ...(row.attempts > 0 ? { attempts: row.attempts } : {})
})

/** How the previous attempt of a queued or running task ended, when one did. */
const previousAttempt = (json: string | undefined): string | undefined => {
  const stored = parseStoredJson(json) as StoredError | undefined
  if (stored?.kind === "lost") {
    return `attempt ${stored.value.attempt} ended: worker lost (its process stopped or lost its claim)`
  }
  const described = describeStoredError(stored?.value)
  return described === undefined ? undefined : `the previous attempt failed: ${described}`
}

const describeStoredError = (value: unknown): string | undefined => {
  if (value === undefined || value === null) return undefined
  if (typeof value === "object") {
    const { _tag, detail, message, name } = value as Record<string, unknown>
    const text = [_tag, name, detail ?? message].filter((part) => typeof part === "string").join(": ")
    if (text.length > 0) return text
  }
  return typeof value === "string" ? value : JSON.stringify(value)
}

/**
 * A status in its encoded (JSON) form, as `ExecutorAdmin` shows it: a task call's with its task's
 * Schemas (`TaskStatus.schema`); a plain effect's value as it is, and its error as
 * `{ name, message }` when it is an `Error`.
 *
 * @internal
 */
export const encodeStatus = (
  task: Task.Task.Any | undefined,
  status: TaskStatus.TaskStatus<unknown, unknown>
): EncodedStatus => {
  if (task !== undefined) {
    const encoded = Schema.encodeEither(
      TaskStatus.schema(task.success as Schema.Schema<unknown, unknown>, task.failure as Schema.Schema<unknown, unknown>)
    )(status)
    if (Either.isRight(encoded)) return encoded.right
  }
  const plain = status._tag === "Failed" ? { ...status, error: plainError(status.error) } : status
  return Schema.encodeSync(TaskStatus.schema(Schema.Unknown, Schema.Unknown))(plain as TaskStatus.TaskStatus<unknown, unknown>)
}

const plainError = (error: unknown): unknown => {
  if (Schema.is(TaskFailure)(error)) return Schema.encodeSync(TaskFailure)(error)
  return error instanceof Error ? { name: error.name, message: error.message } : error
}

/**
 * What `await` answers for a task's status: its value, its error, or `TaskInterrupted` once it
 * has finished; `undefined` while it has not.
 *
 * @internal
 */
export const awaitedOf = (
  status: TaskStatus.TaskStatus<unknown, unknown>,
  id: string
): Effect.Effect<unknown, unknown> | undefined => {
  switch (status._tag) {
    case "Succeeded":
      return Effect.succeed(status.value)
    case "Failed":
      return Effect.fail(status.error)
    case "Interrupted":
      return Effect.fail(new TaskInterrupted({ id }))
    default:
      return undefined
  }
}
