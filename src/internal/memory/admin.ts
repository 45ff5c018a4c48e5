/**
 * The `ExecutorAdmin` of a memory supervisor: its retained entries as `TaskInfo`, counted, retried
 * and cancelled.
 *
 * @internal
 */
import { Effect } from "effect"
import type { ExecutorAdmin, TaskCount, TaskInfo } from "../../ExecutorAdmin.js"
import { NotRetryable } from "../../ExecutorAdmin.js"
import { TaskNotFound } from "../../ExecutorError.js"
import * as TaskHandle from "../../TaskHandle.js"
import { hashSession } from "../sessionHash.js"
import type { Supervisor } from "./engine.js"
import { countsOf, infoOf, type ListOptions, listOf } from "./info.js"

/** Retained tasks, newest first, filtered and cut to `options.limit`. @internal */
export const listRetained = (supervisor: Supervisor, options: ListOptions): Array<TaskInfo> =>
  listOf(supervisor.retainedAll(), supervisor.epoch, options)

/** How many retained tasks are in each (queue, state). @internal */
export const countRetained = (supervisor: Supervisor): Array<TaskCount> => countsOf(supervisor.retainedAll())

/** Runs a failed or interrupted task again, from its first attempt. */
const retry = (supervisor: Supervisor, id: string): Effect.Effect<void, TaskNotFound | NotRetryable> =>
  Effect.suspend((): Effect.Effect<void, TaskNotFound | NotRetryable> => {
    const entry = supervisor.retained(id)
    if (entry === undefined) return Effect.fail(new TaskNotFound({ id }))
    if ((entry.state !== "Failed" && entry.state !== "Interrupted") || entry.body === undefined) {
      return Effect.fail(new NotRetryable({ id, reason: `it is ${entry.state}` }))
    }
    if (supervisor.isClosed) return Effect.fail(new NotRetryable({ id, reason: "the executor is closed" }))
    supervisor.rerun(entry)
    return Effect.void
  })

/** @internal */
export const memoryAdmin = (supervisor: Supervisor): ExecutorAdmin => ({
  inspect: (id) =>
    Effect.suspend(() => {
      const entry = supervisor.retained(id)
      return entry === undefined ? Effect.fail(new TaskNotFound({ id })) : Effect.succeed(infoOf(entry, supervisor.epoch))
    }),
  list: (options) => Effect.sync(() => listRetained(supervisor, { ...options, limit: options?.limit ?? 50 })),
  counts: () => Effect.sync(() => countRetained(supervisor)),
  retry: (id) => retry(supervisor, id),
  cancel: (id) => supervisor.interrupt(TaskHandle.unsafeMake(id)),
  prune: () => Effect.sync(() => supervisor.prune()),
  hashSession: (session) => hashSession(supervisor.config.sessionKey, session)
})
