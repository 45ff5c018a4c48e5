/**
 * A durable submit: the task call checked, its row written (in a group commit shared with
 * concurrent submits, or inside the caller's own transaction), held rows released when their
 * response is done, and the backlog measured against `maxBacklog`.
 *
 * @internal
 */
import { SqlClient } from "@effect/sql"
import { Context, Effect, Either, Option, ParseResult, Runtime, type Scope, Schema, Tracer } from "effect"
import type { SubmitOptions } from "../../Executor.js"
import {
  ExecutorBusy,
  ExecutorClosed,
  InvalidPayload,
  type StoreUnavailable,
  type SubmitError,
  UnknownTask
} from "../../ExecutorError.js"
import type * as Task from "../../Task.js"
import * as TaskHandle from "../../TaskHandle.js"
import type * as TaskStore from "../../TaskStore.js"
import { randomTaskId } from "../handleId.js"
import { onceABurst } from "../keepRunning.js"
import { openHoldOf, type ResponseHolder, takeUnheldWarning } from "../requestHold.js"
import { hashSession } from "../sessionHash.js"
import { placementOf } from "../submission.js"
import { taskMetrics } from "../taskMetrics.js"
import { makeGroupCommit } from "./groupCommit.js"
import { checkIdle, type EngineState, notifyFinished, wake } from "./state.js"

/** Rows per group commit. @internal */
export const MAX_BATCH = 500
/** Submits waiting for their write, at most, whatever `maxBacklog` is: they are held in memory. */
const MAX_IN_FLIGHT = 10_000

/** @internal */
export interface Submitter {
  readonly submit: (
    call: Task.TaskCall.Any,
    options: SubmitOptions | undefined
  ) => Effect.Effect<TaskHandle.TaskHandle<any, any>, SubmitError>
  /** Counts the backlog in the store (per queue for the gauge, and in all for `maxBacklog`). */
  readonly countBacklog: Effect.Effect<number, StoreUnavailable>
  /** Whether `maxBacklog` is finite, so that the backlog is counted often. */
  readonly bounded: boolean
}

/** @internal */
export const makeSubmitter = (state: EngineState): Effect.Effect<Submitter, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { config, lanes, now, owner, store, tasks } = state
    const runtime = yield* Effect.runtime<never>()
    const insert = yield* makeGroupCommit(store.insert, config.groupCommit ? MAX_BATCH : 1)
    const releaseBatch = yield* makeGroupCommit(
      (items: ReadonlyArray<{ readonly id: string; readonly drop: boolean }>) =>
        store.release(items.map((item) => item.id), {
          now: now(),
          drop: items.filter((item) => item.drop).map((item) => item.id)
        }).pipe(Effect.as(items)),
      MAX_BATCH
    )

    let inFlight = 0
    // With a finite maxBacklog: held and queued rows (delayed ones included) in the store, of every
    // process, at the last count, and this process's submits written since that count began. Their
    // sum is at least the backlog, but for other processes' submits since the count: below the limit
    // a submit is taken on it; at the limit the store is counted again before one is refused.
    const bounded = Number.isFinite(config.maxBacklog)
    let counted = 0
    let writtenSinceCount = 0
    const countBacklog = Effect.gen(function*() {
      const before = writtenSinceCount
      const counts = yield* store.counts({ states: ["held", "queued"] })
      const byQueue = new Map<string, number>()
      for (const lane of lanes.keys()) byQueue.set(lane, 0)
      let total = 0
      for (const c of counts) {
        if (c.state === "held" || c.state === "queued") {
          byQueue.set(c.queue, (byQueue.get(c.queue) ?? 0) + c.count)
          total += c.count
        }
      }
      for (const [queue, size] of byQueue) taskMetrics.backlog(queue, size)
      counted = total
      writtenSinceCount -= before
      return total
    })

    const releaseFailed = onceABurst("releasing held tasks")
    const holder: ResponseHolder<{ readonly id: string; readonly onAbort: Task.OnAbort }> = {
      releaseHeld: (items, aborted) => void Runtime.runFork(
        runtime,
        Effect.forEach(items, (item) => {
          state.heldIds.delete(item.id)
          checkIdle(state)
          return releaseBatch({ id: item.id, drop: aborted && item.onAbort === "drop" }).pipe(
            Effect.tap(() => item.onAbort === "drop" && aborted ? notifyFinished(state, item.id) : undefined)
          )
        }, { concurrency: "unbounded", discard: true }).pipe(
          Effect.tap(() => wake(state)),
          // if the store is down the rows stay held; recovery releases them when their lease ends
          Effect.catchAllCause(releaseFailed)
        )
      )
    }

    const submit = (
      call: Task.TaskCall.Any,
      options: SubmitOptions | undefined
    ): Effect.Effect<TaskHandle.TaskHandle<any, any>, SubmitError> =>
      Effect.withFiberRuntime((fiber) => {
        if (state.closed) return Effect.fail(new ExecutorClosed())
        const task = call.task
        if (!tasks.has(task.name)) return Effect.fail(new UnknownTask({ name: task.name }))
        const at = now()
        const placed = placementOf(options, task, lanes, at)
        if (!("lane" in placed)) return Effect.fail(placed)
        const { delayMillis, priority } = placed
        const queue = placed.lane.name
        const encoded = Schema.encodeUnknownEither(task.payload as Schema.Schema<unknown, unknown>)(call.payload)
        if (Either.isLeft(encoded)) {
          return Effect.fail(
            new InvalidPayload({ task: task.name, reason: ParseResult.TreeFormatter.formatErrorSync(encoded.left) })
          )
        }
        if (inFlight >= MAX_IN_FLIGHT) {
          return Effect.fail(new ExecutorBusy({ maxBacklog: Math.min(MAX_IN_FLIGHT, config.maxBacklog) }))
        }

        const context = fiber.currentContext
        const hold = options?.when === "now" ? undefined : openHoldOf(context)
        const held = hold !== undefined
        const span = Option.getOrUndefined(Context.getOption(context, Tracer.ParentSpan))
        const row: TaskStore.NewTask = {
          id: randomTaskId(),
          name: task.name,
          queue,
          payload: JSON.stringify(encoded.right ?? null),
          priority,
          runAt: at + delayMillis,
          delayMillis,
          state: held ? "held" : "queued",
          idempotencyKey: options?.idempotencyKey,
          owner: held ? owner : undefined,
          leaseExpiresAt: held ? at + state.leaseMillis : undefined,
          traceParent: span === undefined ? undefined : `${span.traceId}:${span.spanId}`,
          session: options?.session === undefined ? undefined : hashSession(config.sessionKey, options.session),
          createdAt: at
        }
        const write = (): Effect.Effect<TaskHandle.TaskHandle<any, any>, SubmitError> => {
          inFlight++
          // Inside the caller's own transaction on the store's database, the row joins it: it
          // commits or rolls back with the caller's rows (no group commit then).
          const joined = store.transactional && Context.getOption(context, SqlClient.TransactionConnection)._tag === "Some"
          return (joined ? Effect.map(store.insert([row]), (ids) => ids[0]!) : insert(row)).pipe(
            Effect.map((id) => {
              // counted as written before it stops counting as in flight (see countBacklog)
              inFlight--
              if (id === row.id) {
                writtenSinceCount++
                taskMetrics.of(task.name, queue).submitted.update(1)
                if (!held) wake(state)
                else {
                  state.heldIds.add(id)
                  // released at once if the client went away during the insert
                  hold.hold(holder, { id, onAbort: options?.onAbort ?? task.onAbort })
                }
              }
              return TaskHandle.unsafeMake(id, task.name)
            }),
            Effect.onError(() => Effect.sync(() => inFlight--))
          )
        }
        const checked = !bounded || counted + writtenSinceCount + inFlight < config.maxBacklog
          ? write()
          : Effect.flatMap(countBacklog, (waiting) =>
            waiting + inFlight >= config.maxBacklog
              ? Effect.fail(new ExecutorBusy({ maxBacklog: config.maxBacklog }))
              : write())
        const warning = held ? undefined : takeUnheldWarning()
        return warning === undefined ? checked : Effect.zipLeft(checked, warning)
      })

    return { submit, countBacklog, bounded }
  })
