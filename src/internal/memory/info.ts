import { Effect } from "effect"
import { TaskInterrupted } from "../../ExecutorError.js"
import type * as ExecutorAdmin from "../../ExecutorAdmin.js"
import type { StoredState } from "../../TaskStore.js"
import * as TaskStatus from "../../TaskStatus.js"
import { encodeStatus } from "../run/codec.js"
import type { Entry, State } from "./entry.js"

/** An entry's status as `Executor.status` answers it. @internal */
export const statusOf = (entry: Entry): TaskStatus.TaskStatus<unknown, unknown> => {
  switch (entry.state) {
    case "Held":
      return TaskStatus.Held()
    case "Delayed":
      return TaskStatus.Queued(
        entry.attempt > 0 ? { runAt: new Date(entry.waitUntil), attempts: entry.attempt } : { runAt: new Date(entry.waitUntil) }
      )
    case "Queued":
      return entry.attempt > 0 ? TaskStatus.Queued({ attempts: entry.attempt }) : TaskStatus.Queued()
    case "Running":
      return TaskStatus.Running({ attempt: Math.max(1, entry.attempt) })
    case "Succeeded":
      return TaskStatus.Succeeded({ value: entry.value, attempts: entry.attempt })
    case "Failed":
      return TaskStatus.Failed({ error: entry.error, attempts: entry.attempt })
    case "Interrupted":
      return TaskStatus.Interrupted()
  }
}

/** A finished entry's outcome as `Executor.await` answers it. @internal */
export const resultOf = (entry: Entry): Effect.Effect<unknown, unknown> => {
  switch (entry.state) {
    case "Succeeded":
      return Effect.succeed(entry.value)
    case "Failed":
      return Effect.fail(entry.error)
    default:
      return Effect.fail(new TaskInterrupted({ id: entry.id }))
  }
}

/** Waits for an entry to finish (unless it has), then answers its outcome. @internal */
export const awaitEntry = (entry: Entry): Effect.Effect<unknown, unknown> => {
  if (entry.finished) return resultOf(entry)
  return Effect.async<unknown, unknown>((resume) => {
    const waiter = () => resume(resultOf(entry))
    ;(entry.waiters ??= []).push(waiter)
    return Effect.sync(() => {
      const i = entry.waiters?.indexOf(waiter) ?? -1
      if (i >= 0) entry.waiters!.splice(i, 1)
    })
  })
}

/** @internal */
export const storedStateOf = (state: State): StoredState =>
  state === "Held" ? "held" : state === "Delayed" || state === "Queued" ? "queued" : state === "Running" ? "running" :
  state === "Succeeded" ? "succeeded" : state === "Failed" ? "failed" : "interrupted"

const describeError = (error: unknown): string | undefined => {
  if (error === undefined) return undefined
  if (error instanceof Error) return error.message
  return typeof error === "string" ? error : JSON.stringify(error)
}

/** An entry as the admin shows it; `epoch` turns its relative times into epoch milliseconds. @internal */
export const infoOf = (entry: Entry, epoch: number): ExecutorAdmin.TaskInfo => {
  const encoded = encodeStatus(entry.task, statusOf(entry))
  return {
    id: entry.id,
    name: entry.name,
    queue: entry.lane.name,
    state: storedStateOf(entry.state),
    durable: false,
    attempts: entry.attempt,
    createdAt: epoch + entry.createdAt,
    startedAt: entry.startedAt < 0 ? undefined : epoch + entry.startedAt,
    finishedAt: entry.finished ? epoch + entry.finishedAt : undefined,
    sessionHash: entry.sessionHash,
    status: encoded,
    error: entry.state === "Failed" ? describeError(entry.error) : undefined
  }
}

/** @internal */
export interface ListOptions {
  readonly state?: string | undefined
  readonly queue?: string | undefined
  readonly limit: number
}

/** The admin's list of `entries` (newest first), filtered and cut to `limit`. @internal */
export const listOf = (entries: ReadonlyArray<Entry>, epoch: number, options: ListOptions) => {
  const out: Array<ExecutorAdmin.TaskInfo> = []
  for (let i = 0; i < entries.length && out.length < options.limit; i++) {
    const info = infoOf(entries[i]!, epoch)
    if (options.state !== undefined && info.state !== options.state) continue
    if (options.queue !== undefined && info.queue !== options.queue) continue
    out.push(info)
  }
  return out
}

/** How many of `entries` are in each (queue, state). @internal */
export const countsOf = (entries: ReadonlyArray<Entry>): Array<ExecutorAdmin.TaskCount> => {
  const counts = new Map<string, ExecutorAdmin.TaskCount>()
  for (const entry of entries) {
    const state = storedStateOf(entry.state)
    const key = `${entry.lane.name}\u0000${state}`
    const current = counts.get(key)
    counts.set(key, { queue: entry.lane.name, state, count: (current?.count ?? 0) + 1 })
  }
  return Array.from(counts.values())
}
