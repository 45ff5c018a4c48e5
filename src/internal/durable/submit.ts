/**
 * A durable submit: the task call checked, its row written (in a group commit shared with
 * concurrent submits, or inside the caller's own transaction), held rows released when their
 * response is done, and the backlog measured against `maxBacklog`. `submitAll` writes many calls'
 * rows in one transaction.
 *
 * @internal
 */
import { SqlClient } from "@effect/sql"
import { Context, Effect, Either, Option, ParseResult, Runtime, type Scope, Schema, Tracer } from "effect"
import type { SubmitAllOptions } from "../../DurableExecutor.js"
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
import { openHoldOf, type RequestHold, type ResponseHolder, takeUnheldWarning } from "../requestHold.js"
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
  readonly submitAll: (
    calls: Iterable<Task.TaskCall.Any>,
    options: SubmitAllOptions<any> | undefined
  ) => Effect.Effect<ReadonlyArray<TaskHandle.TaskHandle<any, any>>, SubmitError>
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

    /** What every row of one submit (or one `submitAll`) shares: computed once, not once per row. */
    interface Shared {
      readonly held: boolean
      readonly at: number
      readonly traceParent: string | undefined
      readonly session: string | undefined
    }
    const sharedOf = (context: Context.Context<never>, options: { readonly session?: string | undefined } | undefined, held: boolean): Shared => {
      const span = Option.getOrUndefined(Context.getOption(context, Tracer.ParentSpan))
      return {
        held,
        at: now(),
        traceParent: span === undefined ? undefined : `${span.traceId}:${span.spanId}`,
        session: options?.session === undefined ? undefined : hashSession(config.sessionKey, options.session)
      }
    }

    /** A call's row, checked against the registered tasks and the lanes, or the refusal. */
    const rowOf = (
      call: Task.TaskCall.Any,
      options: Omit<SubmitOptions, "idempotencyKey"> | undefined,
      idempotencyKey: string | undefined,
      { at, held, session, traceParent }: Shared
    ): TaskStore.NewTask | SubmitError => {
      const task = call.task
      if (!tasks.has(task.name)) return new UnknownTask({ name: task.name })
      const placed = placementOf(options, task, lanes, at)
      if (!("lane" in placed)) return placed
      const { delayMillis, priority } = placed
      const encoded = Schema.encodeUnknownEither(task.payload as Schema.Schema<unknown, unknown>)(call.payload)
      if (Either.isLeft(encoded)) {
        return new InvalidPayload({ task: task.name, reason: ParseResult.TreeFormatter.formatErrorSync(encoded.left) })
      }
      return {
        id: randomTaskId(),
        name: task.name,
        queue: placed.lane.name,
        payload: JSON.stringify(encoded.right ?? null),
        priority,
        runAt: at + delayMillis,
        delayMillis,
        state: held ? "held" : "queued",
        idempotencyKey,
        owner: held ? owner : undefined,
        leaseExpiresAt: held ? at + state.leaseMillis : undefined,
        traceParent,
        session,
        createdAt: at
      }
    }

    /** After its row is committed (`id`: the row's, or an earlier one's with the same idempotency key). */
    const written = (
      row: TaskStore.NewTask,
      id: string,
      hold: RequestHold | undefined,
      onAbort: Task.OnAbort
    ): TaskHandle.TaskHandle<any, any> => {
      if (id === row.id) {
        writtenSinceCount++
        taskMetrics.of(row.name, row.queue).submitted.update(1)
        if (hold === undefined) wake(state)
        else {
          state.heldIds.add(id)
          // released at once if the client went away during the insert
          hold.hold(holder, { id, onAbort })
        }
      }
      return TaskHandle.unsafeMake(id, row.name)
    }

    /** `write` once the backlog allows `n` more rows (counted again at the limit before a refusal). */
    const withinBacklog = <A>(n: number, write: () => Effect.Effect<A, SubmitError>): Effect.Effect<A, SubmitError> =>
      !bounded || counted + writtenSinceCount + inFlight + n <= config.maxBacklog
        ? write()
        : Effect.flatMap(countBacklog, (waiting) =>
          waiting + inFlight + n > config.maxBacklog
            ? Effect.fail(new ExecutorBusy({ maxBacklog: config.maxBacklog }))
            : write())

    /** Counts `n` rows in flight while `effect` writes them (see countBacklog). */
    const inFlightWhile = <A, E>(n: number, effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.suspend(() => {
        inFlight += n
        return effect.pipe(
          // counted as written (in `written`) before they stop counting as in flight
          Effect.map((a) => {
            inFlight -= n
            return a
          }),
          Effect.onError(() => Effect.sync(() => inFlight -= n))
        )
      })

    const submit = (
      call: Task.TaskCall.Any,
      options: SubmitOptions | undefined
    ): Effect.Effect<TaskHandle.TaskHandle<any, any>, SubmitError> =>
      Effect.withFiberRuntime((fiber) => {
        if (state.closed) return Effect.fail(new ExecutorClosed())
        const context = fiber.currentContext
        const hold = options?.when === "now" ? undefined : openHoldOf(context)
        const row = rowOf(call, options, options?.idempotencyKey, sharedOf(context, options, hold !== undefined))
        if (!("id" in row)) return Effect.fail(row)
        if (inFlight >= MAX_IN_FLIGHT) {
          return Effect.fail(new ExecutorBusy({ maxBacklog: Math.min(MAX_IN_FLIGHT, config.maxBacklog) }))
        }
        // Inside the caller's own transaction on the store's database, the row joins it: it
        // commits or rolls back with the caller's rows (no group commit then).
        const joined = store.transactional && Context.getOption(context, SqlClient.TransactionConnection)._tag === "Some"
        const write = () =>
          inFlightWhile(1, joined ? Effect.map(store.insert([row]), (ids) => ids[0]!) : insert(row)).pipe(
            Effect.map((id) => written(row, id, hold, options?.onAbort ?? call.task.onAbort))
          )
        const checked = withinBacklog(1, write)
        const warning = hold !== undefined ? undefined : takeUnheldWarning()
        return warning === undefined ? checked : Effect.zipLeft(checked, warning)
      })

    const submitAll = (
      calls: Iterable<Task.TaskCall.Any>,
      options: SubmitAllOptions<any> | undefined
    ): Effect.Effect<ReadonlyArray<TaskHandle.TaskHandle<any, any>>, SubmitError> =>
      Effect.withFiberRuntime((fiber) => {
        if (state.closed) return Effect.fail(new ExecutorClosed())
        const list = Array.from(calls)
        if (list.length === 0) return Effect.succeed([])
        const context = fiber.currentContext
        const hold = options?.when === "now" ? undefined : openHoldOf(context)
        const shared = sharedOf(context, options, hold !== undefined)
        const keyOf = options?.idempotencyKey
        const rows: Array<TaskStore.NewTask> = []
        for (let i = 0; i < list.length; i++) {
          const call = list[i]!
          const row = rowOf(call, options, keyOf?.(call, i), shared)
          if (!("id" in row)) return Effect.fail(row)
          rows.push(row)
        }
        // one transaction, the caller's when there is one (then a savepoint in it)
        const write = () =>
          inFlightWhile(rows.length, store.insert(rows)).pipe(
            Effect.map((ids) =>
              rows.map((row, i) => written(row, ids[i]!, hold, options?.onAbort ?? list[i]!.task.onAbort))
            )
          )
        const checked = withinBacklog(rows.length, write)
        const warning = hold !== undefined ? undefined : takeUnheldWarning()
        return warning === undefined ? checked : Effect.zipLeft(checked, warning)
      })

    return { submit, submitAll, countBacklog, bounded }
  })
