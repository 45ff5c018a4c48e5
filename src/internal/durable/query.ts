/**
 * What callers ask of durable tasks, answered from the store: status, await (woken at once for
 * tasks that end in this process, polling for others), interrupt, and the operator's admin.
 *
 * @internal
 */
import { SqlClient } from "@effect/sql"
import { Context, Deferred, Duration, Effect, Fiber, FiberId, Option } from "effect"
import { NotRetryable } from "../../ExecutorAdmin.js"
import { type StoreUnavailable, TaskNotFound } from "../../ExecutorError.js"
import * as TaskHandle from "../../TaskHandle.js"
import type * as TaskStatus from "../../TaskStatus.js"
import type * as TaskStore from "../../TaskStore.js"
import { isWellFormedTaskId } from "../handleId.js"
import { awaitedOf, infoOf, statusOf } from "../run/codec.js"
import { cancelBuffered, type EngineState, notifyFinished, stopRunning, unbuffer, wake } from "./state.js"

/** Store calls made on the caller's fiber must not run on a transaction the caller has open. */
const outsideCallerTransaction = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.mapInputContext(
    effect,
    (context: Context.Context<never>) => Context.omit(SqlClient.TransactionConnection)(context) as Context.Context<never>
  )

/** @internal */
export const makeQuery = (state: EngineState) => {
  const { config, now, store, tasks } = state
  const pollMillis = Duration.toMillis(config.pollInterval)

  const lookup = (handle: TaskHandle.TaskHandle<unknown, unknown>) =>
    Effect.gen(function*() {
      const id = handle?.id
      if (!isWellFormedTaskId(id)) return yield* new TaskNotFound({ id: String(id) })
      const row = yield* outsideCallerTransaction(store.status(id))
      if (Option.isNone(row) || (handle.task !== undefined && handle.task !== row.value.name)) {
        return yield* new TaskNotFound({ id })
      }
      return row.value
    })

  const status = (
    handle: TaskHandle.TaskHandle<unknown, unknown>
  ): Effect.Effect<TaskStatus.TaskStatus<any, any>, TaskNotFound | StoreUnavailable> =>
    Effect.map(lookup(handle), (row) => statusOf(row, tasks.get(row.name), now()))

  const await_ = (handle: TaskHandle.TaskHandle<unknown, unknown>): Effect.Effect<any, unknown> =>
    Effect.gen(function*() {
      let waitMillis = 5
      for (;;) {
        const answer = awaitedOf(yield* status(handle), handle.id)
        if (answer !== undefined) return yield* answer
        // woken at once when this process finishes the task; polls for other processes
        let waiter = state.localWaiters.get(handle.id)
        if (waiter === undefined) {
          waiter = Deferred.unsafeMake<void>(FiberId.none)
          state.localWaiters.set(handle.id, waiter)
        }
        yield* Deferred.await(waiter).pipe(Effect.timeoutOption(waitMillis))
        waitMillis = Math.min(waitMillis * 2, Math.max(pollMillis, 5))
      }
    }).pipe(Effect.ensuring(Effect.sync(() => state.localWaiters.delete(handle.id))))

  const interrupt = (handle: TaskHandle.TaskHandle<unknown, unknown>): Effect.Effect<void, TaskNotFound | StoreUnavailable> =>
    Effect.gen(function*() {
      const row = yield* lookup(handle)
      const outcome = yield* outsideCallerTransaction(store.cancel(row.id, now()))
      if (outcome === "missing") return yield* new TaskNotFound({ id: row.id })
      if (outcome === "cancelled") notifyFinished(state, row.id)
      if (outcome === "requested") {
        const buffered = unbuffer(state, row.id)
        if (buffered !== undefined) return yield* outsideCallerTransaction(cancelBuffered(state, buffered))
        const local = state.running.get(row.id)
        if (local !== undefined) {
          stopRunning(state, row.id, "cancelled")
          yield* Fiber.await(local.fiber)
        }
      }
    })

  const admin = {
    inspect: (id: string) => Effect.map(lookup(TaskHandle.unsafeMake(id)), (row) => infoOf(row, now())),
    list: (
      options: { readonly state?: TaskStore.StoredState | undefined; readonly queue?: string | undefined; readonly limit: number }
    ) => Effect.map(outsideCallerTransaction(store.list(options)), (rows) => rows.map((row) => infoOf(row, now()))),
    counts: () => outsideCallerTransaction(store.counts()),
    retry: (id: string): Effect.Effect<void, TaskNotFound | NotRetryable | StoreUnavailable> =>
      Effect.gen(function*() {
        const outcome = yield* outsideCallerTransaction(store.retry(id, now()))
        if (outcome === "missing") return yield* new TaskNotFound({ id })
        if (outcome !== "retried") {
          return yield* new NotRetryable({ id, reason: outcome === "succeeded" ? "it succeeded" : "it has not finished" })
        }
        wake(state)
      }),
    cancel: (id: string) => interrupt(TaskHandle.unsafeMake(id)),
    prune: () => outsideCallerTransaction(store.prune(now() - Duration.toMillis(config.retention)))
  }

  return { status, await: await_, interrupt, admin }
}
