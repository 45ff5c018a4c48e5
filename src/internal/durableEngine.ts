import { SqlClient } from "@effect/sql"
import {
  Context,
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  FiberId,
  FiberSet,
  Option,
  ParseResult,
  Queue,
  Runtime,
  Schedule,
  Schema,
  Stream,
  Tracer
} from "effect"
import type { SubmitOptions } from "../Executor.js"
import {
  ExecutorBusy,
  ExecutorClosed,
  InvalidOptions,
  InvalidPayload,
  type StoreUnavailable,
  type SubmitError,
  TaskFailed,
  TaskFailure,
  TaskInterrupted,
  TaskNotFound,
  UnknownQueue,
  UnknownTask
} from "../ExecutorError.js"
import { NotRetryable } from "../ExecutorAdmin.js"
import type * as Task from "../Task.js"
import * as TaskHandle from "../TaskHandle.js"
import * as TaskStatus from "../TaskStatus.js"
import type * as TaskStore from "../TaskStore.js"
import { makeGroupCommit } from "./groupCommit.js"
import { isWellFormedTaskId, randomTaskId } from "./handleId.js"
import { openHoldOf, type ResponseHolder } from "./requestHold.js"
import { taskMetrics } from "./taskMetrics.js"
import { delayOf } from "./submission.js"
import { keepRunning, onceABurst } from "./keepRunning.js"
import { hashSession } from "./sessionHash.js"
import { logDrain, logDrainTimedOut, logFailure, logRetry, outcomeOf, withAttempt } from "./run/attempt.js"
import { nextAttemptAt } from "./run/retryPolicy.js"
import { decodeJson, encodeExecutorError, encodeTaskError, infoOf, statusOf } from "./durable/codec.js"

/** @internal */
export interface DurableConfig {
  readonly tasks: ReadonlyArray<Task.Task.Any>
  readonly concurrency: number
  readonly queues: Readonly<Record<string, { readonly concurrency: number }>>
  /** Held and queued rows in the store allowed before `submit` fails; `Infinity`: the table is the bound. */
  readonly maxBacklog: number
  readonly leaseDuration: Duration.Duration
  readonly pollInterval: Duration.Duration
  readonly drainTimeout: Duration.Duration
  readonly retention: Duration.Duration
  readonly groupCommit: boolean
  readonly runTasks: boolean
  /** How long a process may go without a liveness beat before others take its tasks over. */
  readonly takeoverAfter: Duration.Duration
  /** The key submits' sessions are hashed with before they are stored. */
  readonly sessionKey: string
}

interface Lane {
  readonly name: string
  readonly concurrency: number
  running: number
}

type Outcome = "succeeded" | "failed" | "other"

interface RunningTask {
  fiber: Fiber.RuntimeFiber<void>
  /** Why the fiber was interrupted, if it was: decides what the store is told. */
  stop: "cancelled" | "lost" | "shutdown" | undefined
  /** The attempt is over and its end is being written: a cancellation comes too late to stop it. */
  ending: boolean
}

const MAX_BATCH = 500
/** Submits waiting for their write, at most, whatever `maxBacklog` is: they are held in memory. */
const MAX_IN_FLIGHT = 10_000

/**
 * The durable engine: submits are written to the store (grouped into shared transactions),
 * workers claim batches with a lease, heartbeat them, and write results back in batches. All
 * state that matters is in the store; what is kept here (running fibers, held ids, local
 * waiters) is bounded by the concurrency and by the requests in flight.
 *
 * @internal
 */
export const makeDurableEngine = (store: TaskStore.TaskStore, config: DurableConfig) =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    // Every claimed attempt is a fiber of its own in this set, owned by the layer's scope: the
    // engine's finalizer (added later, so run first) drains and stops them; the set's close then
    // interrupts whatever is left.
    const attempts = yield* FiberSet.make<void>()
    const runAttempt = yield* FiberSet.runtime(attempts)<never>()
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    const owner = randomTaskId()
    const leaseMillis = Duration.toMillis(config.leaseDuration)
    const tasks = new Map(config.tasks.map((task) => [task.name, task] as const))
    const lanes = new Map<string, Lane>([["default", { name: "default", concurrency: config.concurrency, running: 0 }]])
    for (const [name, lane] of Object.entries(config.queues)) {
      if (name !== "default") lanes.set(name, { name, concurrency: lane.concurrency, running: 0 })
    }
    const running = new Map<string, RunningTask>()
    const heldIds = new Set<string>()
    /** Set while shutting down: called once nothing runs and nothing is held any more. */
    let onIdle: (() => void) | undefined
    const checkIdle = () => {
      if (onIdle !== undefined && running.size === 0 && heldIds.size === 0) {
        const idle = onIdle
        onIdle = undefined
        idle()
      }
    }
    const localWaiters = new Map<string, Deferred.Deferred<void>>()
    let totalRunning = 0
    let inFlight = 0
    // With a finite maxBacklog: held and queued rows (delayed ones included) in the store, of every
    // process, at the last count, and this process's submits written since that count began. Their
    // sum is at least the backlog, but for other processes' submits since the count: below the limit
    // a submit is taken on it; at the limit the store is counted again before one is refused.
    const bounded = Number.isFinite(config.maxBacklog)
    let counted = 0
    let writtenSinceCount = 0
    let closed = false
    let claiming = config.runTasks
    const wakeups = yield* Queue.sliding<void>(1)
    const wake = () => wakeups.unsafeOffer(undefined)

    const insert = yield* makeGroupCommit(store.insert, config.groupCommit ? MAX_BATCH : 1)

    /** Counts the backlog in the store: per queue for the gauge, and in all for `maxBacklog`. */
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
    const releaseBatch = yield* makeGroupCommit(
      (items: ReadonlyArray<{ readonly id: string; readonly drop: boolean }>) =>
        store.release(items.map((item) => item.id), {
          now: now(),
          drop: items.filter((item) => item.drop).map((item) => item.id)
        }).pipe(Effect.as(items)),
      MAX_BATCH
    )
    // Each item answers whether the store took it: `false` when its claim had been taken over.
    const accepted = (items: ReadonlyArray<{ readonly id: string }>) => (refused: ReadonlyArray<string>) => {
      if (refused.length === 0) return items.map(() => true)
      const out = new Set(refused)
      return items.map((item) => !out.has(item.id))
    }
    const completeBatch = yield* makeGroupCommit(
      (items: ReadonlyArray<TaskStore.ClaimRef & { readonly result: string }>) =>
        store.complete(items, now()).pipe(Effect.map(accepted(items))),
      MAX_BATCH
    )
    const failBatch = yield* makeGroupCommit(
      (items: ReadonlyArray<TaskStore.Failure>) => store.fail(items, now()).pipe(Effect.map(accepted(items))),
      MAX_BATCH
    )

    const notifyFinished = (id: string) => {
      const waiter = localWaiters.get(id)
      if (waiter !== undefined) {
        localWaiters.delete(id)
        Deferred.unsafeDone(waiter, Exit.void)
      }
    }

    const releaseFailed = onceABurst("releasing held tasks")
    const holder: ResponseHolder<{ readonly id: string; readonly onAbort: Task.OnAbort }> = {
      releaseHeld: (items, aborted) => void Runtime.runFork(
        runtime,
        Effect.forEach(items, (item) => {
          heldIds.delete(item.id)
          checkIdle()
          return releaseBatch({ id: item.id, drop: aborted && item.onAbort === "drop" }).pipe(
            Effect.tap(() => item.onAbort === "drop" && aborted ? notifyFinished(item.id) : undefined)
          )
        }, { concurrency: "unbounded", discard: true }).pipe(
          Effect.tap(wake),
          // if the store is down the rows stay held; recovery releases them when their lease ends
          Effect.catchAllCause(releaseFailed)
        )
      )
    }

    // ---- submit ---------------------------------------------------------------------------

    const submit = (
      call: Task.TaskCall.Any,
      options: SubmitOptions | undefined
    ): Effect.Effect<TaskHandle.TaskHandle<any, any>, SubmitError> =>
      Effect.withFiberRuntime((fiber) => {
        if (closed) return Effect.fail(new ExecutorClosed())
        const task = call.task
        if (!tasks.has(task.name)) return Effect.fail(new UnknownTask({ name: task.name }))
        const queue = options?.queue ?? task.queue ?? "default"
        if (!lanes.has(queue)) return Effect.fail(new UnknownQueue({ queue }))
        const priority = options?.priority ?? task.priority
        if (!Number.isInteger(priority)) {
          return Effect.fail(new InvalidOptions({ reason: "priority must be an integer for durable tasks" }))
        }
        const at = now()
        const delayMillis = delayOf(options, at)
        if (delayMillis === undefined) {
          return Effect.fail(new InvalidOptions({ reason: "delay must be a non-negative duration and runAt a valid date" }))
        }
        const encoded = Schema.encodeUnknownEither(task.payload as Schema.Schema<unknown, unknown>)(call.payload)
        if (Either.isLeft(encoded)) {
          return Effect.fail(
            new InvalidPayload({ task: task.name, reason: ParseResult.TreeFormatter.formatErrorSync(encoded.left) })
          )
        }
        if (inFlight >= MAX_IN_FLIGHT) return Effect.fail(new ExecutorBusy({ maxBacklog: Math.min(MAX_IN_FLIGHT, config.maxBacklog) }))

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
          leaseExpiresAt: held ? at + leaseMillis : undefined,
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
                if (!held) wake()
                else {
                  heldIds.add(id)
                  // released at once if the client went away during the insert
                  hold.hold(holder, { id, onAbort: options?.onAbort ?? task.onAbort })
                }
              }
              return TaskHandle.unsafeMake(id, task.name)
            }),
            Effect.onError(() => Effect.sync(() => inFlight--))
          )
        }
        if (!bounded || counted + writtenSinceCount + inFlight < config.maxBacklog) return write()
        return Effect.flatMap(countBacklog, (waiting) =>
          waiting + inFlight >= config.maxBacklog
            ? Effect.fail(new ExecutorBusy({ maxBacklog: config.maxBacklog }))
            : write())
      })

    // ---- workers --------------------------------------------------------------------------

    /**
     * A task's end is written again until the store takes it: the database may be away for a
     * while (a restart, a terminated connection). Meanwhile the task stays in `running`, so the
     * heartbeat keeps its lease; if another process takes it over, the heartbeat stops this
     * fiber and the fence would refuse the write anyway.
     */
    const persistEnd = <A>(write: Effect.Effect<A, StoreUnavailable>) => Effect.retry(write, endRetry)
    const endRetry = Schedule.exponential("20 millis").pipe(Schedule.either(Schedule.spaced("1 second")))
    /**
     * After an interruption the write is uninterruptible: a cancellation's is tried until it lands
     * or the layer closes; a shutdown's for a lease at most. What is left then is taken over by
     * the next process (the closing layer beats 0).
     */
    const persistAfterStop = <A>(write: Effect.Effect<A, StoreUnavailable>, stop: RunningTask["stop"]) =>
      Effect.retry(
        write,
        (stop === "cancelled"
          ? endRetry.pipe(Schedule.check(() => !closed))
          : Schedule.exponential("20 millis").pipe(Schedule.upTo(config.leaseDuration))) as Schedule.Schedule<unknown>
      )

    const fenced = (claimed: TaskStore.ClaimedTask) => (taken: boolean) =>
      taken ? Effect.void : Effect.sync(() => {
        taskMetrics.fenced(claimed.name, claimed.queue)
      }).pipe(Effect.zipRight(Effect.logWarning(
        `task ${claimed.name}: the end of attempt ${claimed.attempts} was discarded, ` +
          "its claim had been taken over by another worker"
      )))

    /** Runs one claimed attempt and writes its end; `ended` records the metrics just before. */
    const runClaimed = (
      claimed: TaskStore.ClaimedTask,
      self: RunningTask,
      ended: (outcome: Outcome) => void
    ): Effect.Effect<void> => {
      const task = tasks.get(claimed.name)
      const ref: TaskStore.ClaimRef = { id: claimed.id, owner, claim: claimed.claim }
      const record = (outcome: Outcome) => Effect.sync(() => ended(outcome))
      const writeFailure = (error: string, retryAt: number | undefined, failedSince: number | undefined) =>
        persistEnd(failBatch({ ...ref, error, retryAt, failedSince })).pipe(Effect.flatMap(fenced(claimed)))
      const finalFailure = (error: TaskFailure) =>
        Effect.zipRight(record("failed"), writeFailure(encodeExecutorError(error), undefined, undefined))
      if (task === undefined) return finalFailure(new UnknownTask({ name: claimed.name })).pipe(Effect.ignoreLogged)
      const payload = decodeJson(task.payload, claimed.payload)
      if (Either.isLeft(payload)) {
        return finalFailure(new TaskFailed({ reason: "undecodable", detail: payload.left })).pipe(Effect.ignoreLogged)
      }
      const info = {
        id: claimed.id,
        name: claimed.name,
        queue: claimed.queue,
        attempt: claimed.attempts,
        timeout: task.timeout,
        link: spanLink(claimed.traceParent),
        traced: "ask" as const
      }
      const attempt = withAttempt(task.run(payload.right) as Effect.Effect<unknown, unknown>, info)
      // The attempt's outcome is taken uninterruptibly; writing it is interruptible again (the
      // write may wait out a database restart), except after a stop, which must be recorded.
      return Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const exit = yield* Effect.exit(restore(attempt))
          self.ending = true
          if (Exit.isSuccess(exit)) {
            const result = Schema.encodeUnknownEither(task.success as Schema.Schema<unknown, unknown>)(exit.value)
            if (Either.isLeft(result)) {
              return yield* restore(finalFailure(
                new TaskFailed({ reason: "defect", detail: "the result does not encode with the task's success Schema" })
              ))
            }
            yield* record("succeeded")
            return yield* restore(
              persistEnd(completeBatch({ ...ref, result: JSON.stringify(result.right ?? null) })).pipe(
                Effect.flatMap(fenced(claimed))
              )
            )
          }
          const outcome = outcomeOf(exit.cause)
          if (outcome._tag === "Failed") {
            const error = outcome.error
            const stored = error instanceof TaskFailed
              ? encodeExecutorError(error)
              : encodeTaskError(task, error)
            const at = now()
            const since = claimed.failedSince ?? at
            const retryAt = task.retry === undefined
              ? undefined
              : yield* nextAttemptAt(task.retry, { attempt: claimed.attempts, since, now: at, error })
            yield* retryAt === undefined ? logFailure(info, exit.cause) : logRetry(info, exit.cause, retryAt)
            yield* record(retryAt === undefined ? "failed" : "other")
            yield* restore(writeFailure(stored, retryAt, since))
            if (retryAt !== undefined) {
              yield* Effect.forkDaemon(Effect.sleep(Math.max(0, retryAt - now())).pipe(Effect.tap(wake)))
            }
            return
          }
          if (outcome._tag === "Interrupted") {
            const stop = self.stop
            yield* record("other")
            if (stop === "cancelled") yield* persistAfterStop(store.markInterrupted(ref, now()), stop)
            else if (stop !== "lost") yield* persistAfterStop(store.requeue([ref], now()), stop)
            return
          }
          yield* logFailure(info, exit.cause)
          yield* restore(finalFailure(outcome.error))
        })
      ).pipe(
        Effect.annotateLogs({ "executor.task.id": claimed.id, "executor.task.name": claimed.name }),
        Effect.catchAll((error: StoreUnavailable) => Effect.logWarning("could not record a task's end", error))
      )
    }

    const start = (claimed: TaskStore.ClaimedTask, lane: Lane) => {
      // Claimed again while an old run is still here: its lease had expired (a late heartbeat),
      // so the old run is lost; stop it rather than run two copies side by side.
      stopRunning(claimed.id, "lost")
      const hooks = taskMetrics.of(claimed.name, claimed.queue)
      const startedAt = now()
      taskMetrics.started(hooks, startedAt - claimed.runAt)
      if (claimed.attempts > 1) hooks.retried.update(1)
      totalRunning++
      lane.running++
      // The slot is given back as soon as the attempt has ended, while its end is being written:
      // the next claim does not wait for that round trip. The lease stays covered by the
      // heartbeat until the write is done (the task stays in `running`).
      let slotFree = false
      const freeSlot = () => {
        if (slotFree) return
        slotFree = true
        totalRunning--
        lane.running--
        wake()
      }
      const entry: RunningTask = {
        fiber: undefined as unknown as Fiber.RuntimeFiber<void>,
        stop: undefined,
        ending: false
      }
      entry.fiber = runAttempt(
        runClaimed(claimed, entry, (outcome) => {
          taskMetrics.ended(hooks, outcome, now() - startedAt)
          freeSlot()
        })
      )
      running.set(claimed.id, entry)
      entry.fiber.addObserver(() => {
        freeSlot()
        if (running.get(claimed.id) === entry) running.delete(claimed.id)
        checkIdle()
        notifyFinished(claimed.id)
      })
    }

    /** Claims for every lane with free slots; answers whether a lane was filled (more may wait). */
    const claimRound = Effect.gen(function*() {
      let filled = false
      for (const lane of lanes.values()) {
        const free = Math.min(config.concurrency - totalRunning, lane.concurrency - lane.running)
        if (!claiming || free <= 0) continue
        const claimed = yield* store.claim({ owner, queue: lane.name, limit: free, now: now(), leaseMillis })
        if (!claiming) {
          yield* store.requeue(claimed.map((task) => ({ id: task.id, owner, claim: task.claim })), now())
          return false
        }
        for (const task of claimed) start(task, lane)
        if (claimed.length === free) filled = true
      }
      return filled
    })

    const pollMillis = Duration.toMillis(config.pollInterval)
    const takeoverMillis = Duration.toMillis(config.takeoverAfter)
    const beatMillis = Math.max(10, Math.floor(takeoverMillis / 4))

    // This process is alive from its first beat on (should the store be down now, the loop beats later).
    yield* store.beat(owner, now()).pipe(Effect.ignoreLogged)

    if (store.notifications !== undefined) {
      yield* store.notifications.pipe(
        Stream.runForEach(() => Effect.sync(wake)),
        Effect.catchAllCause(onceABurst("listening for wake-ups")),
        Effect.repeat(Schedule.spaced("1 second")),
        Effect.forkScoped
      )
    }
    const claimFailed = onceABurst("claiming tasks")
    yield* Effect.gen(function*() {
      while (claiming) {
        const filled = yield* claimRound.pipe(
          Effect.tap(claimFailed.recovered),
          Effect.catchAllCause((cause) => Effect.as(claimFailed(cause), false))
        )
        // a full batch means more may be waiting; otherwise sleep until woken or the poll interval
        if (!filled || totalRunning >= config.concurrency) {
          yield* Queue.take(wakeups).pipe(Effect.timeoutOption(pollMillis))
        }
      }
    }).pipe(Effect.forkScoped)

    yield* keepRunning(
      "renewing leases",
      Effect.gen(function*() {
        const ids = [...running.keys(), ...heldIds]
        if (ids.length === 0) return
        const { cancelled, lost } = yield* store.heartbeat({ owner, ids, now: now(), leaseMillis })
        for (const id of lost) {
          if (running.has(id)) {
            yield* Effect.logWarning(`task ${id}: its claim was taken over by another worker; this attempt stops`)
          }
          stopRunning(id, "lost")
        }
        for (const id of cancelled) stopRunning(id, "cancelled")
      }),
      Schedule.spaced(Math.max(10, Math.floor(leaseMillis / 3)))
    ).pipe(Effect.forkScoped)

    // The backlog gauge of durable queues comes from the store: every process sees the same
    // queues. With a finite maxBacklog the count is also what submits are measured against:
    // taken at start, then every second.
    if (bounded) yield* countBacklog.pipe(Effect.ignoreLogged)
    yield* keepRunning("counting the backlog", countBacklog, Schedule.spaced(bounded ? "1 second" : "15 seconds"))
      .pipe(Effect.forkScoped)

    // Liveness: a process that stops beating for `takeoverAfter` has its tasks taken over by the
    // others (or by itself after a restart), without waiting out the leases.
    yield* keepRunning("the liveness beat", Effect.suspend(() => store.beat(owner, now())), Schedule.spaced(beatMillis))
      .pipe(Effect.forkScoped)
    yield* keepRunning(
      "taking over the tasks of stopped processes",
      Effect.gen(function*() {
        const at = now()
        const moved = yield* store.reclaimExpired({ self: owner, now: at, deadBefore: at - takeoverMillis })
        if (moved > 0) {
          taskMetrics.takenOver(moved)
          wake()
        }
      }),
      Schedule.spaced(beatMillis)
    ).pipe(Effect.forkScoped)
    const retentionMillis = Duration.toMillis(config.retention)
    yield* keepRunning(
      "pruning finished tasks",
      Effect.suspend(() => store.prune(now() - retentionMillis)),
      Schedule.spaced(Math.max(1_000, Math.min(30_000, Math.floor(retentionMillis / 2))))
    ).pipe(Effect.forkScoped)

    const stopRunning = (id: string, why: "cancelled" | "lost" | "shutdown") => {
      const entry = running.get(id)
      if (entry === undefined || entry.stop !== undefined || (why === "cancelled" && entry.ending)) return
      entry.stop = why
      entry.fiber.unsafeInterruptAsFork(entry.fiber.id())
    }

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closed = true
        claiming = false
        wake()
        if (running.size > 0 || heldIds.size > 0) {
          yield* logDrain({ running: running.size, held: heldIds.size }, config.drainTimeout)
          // Finalizers run uninterruptibly; the wait must be interruptible for the timeout to end it.
          yield* Effect.async<void>((resume) => {
            onIdle = () => resume(Effect.void)
            checkIdle()
          }).pipe(Effect.interruptible, Effect.timeoutOption(config.drainTimeout))
          onIdle = undefined
          if (running.size > 0) yield* logDrainTimedOut(running.size, config.drainTimeout)
        }
        // responses still open: their tasks stay durable, released now rather than by recovery
        if (heldIds.size > 0) {
          yield* store.release(Array.from(heldIds), { now: now() }).pipe(Effect.ignoreLogged)
          heldIds.clear()
        }
        const fibers = Array.from(running.values(), (entry) => entry.fiber)
        for (const id of running.keys()) stopRunning(id, "shutdown")
        yield* Fiber.awaitAll(fibers)
        // whatever is still ours (an end that could not be written) is taken over at once
        yield* store.beat(owner, 0).pipe(Effect.ignoreLogged)
      })
    )

    // ---- status, await, interrupt ---------------------------------------------------------

    /** Store calls made on the caller's fiber must not run on a transaction the caller has open. */
    const outsideCallerTransaction = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.mapInputContext(
        effect,
        (context: Context.Context<never>) => Context.omit(SqlClient.TransactionConnection)(context) as Context.Context<never>
      )

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
          const current = yield* status(handle)
          switch (current._tag) {
            case "Succeeded":
              return current.value
            case "Failed":
              return yield* Effect.fail(current.error)
            case "Interrupted":
              return yield* new TaskInterrupted({ id: handle.id })
          }
          // woken at once when this process finishes the task; polls for other processes
          let waiter = localWaiters.get(handle.id)
          if (waiter === undefined) {
            waiter = Deferred.unsafeMake<void>(FiberId.none)
            localWaiters.set(handle.id, waiter)
          }
          yield* Deferred.await(waiter).pipe(Effect.timeoutOption(waitMillis))
          waitMillis = Math.min(waitMillis * 2, Math.max(pollMillis, 5))
        }
      }).pipe(Effect.ensuring(Effect.sync(() => localWaiters.delete(handle.id))))

    const interrupt = (handle: TaskHandle.TaskHandle<unknown, unknown>): Effect.Effect<void, TaskNotFound | StoreUnavailable> =>
      Effect.gen(function*() {
        const row = yield* lookup(handle)
        const outcome = yield* outsideCallerTransaction(store.cancel(row.id, now()))
        if (outcome === "missing") return yield* new TaskNotFound({ id: row.id })
        if (outcome === "cancelled") notifyFinished(row.id)
        if (outcome === "requested") {
          const local = running.get(row.id)
          if (local !== undefined) {
            stopRunning(row.id, "cancelled")
            yield* Fiber.await(local.fiber)
          }
        }
      })

    const inspect = (id: string) =>
      Effect.flatMap(lookup(TaskHandle.unsafeMake(id)), (row) => Effect.succeed(infoOf(row, now())))

    const admin = {
      inspect,
      list: (options: { readonly state?: TaskStore.StoredState | undefined; readonly queue?: string | undefined; readonly limit: number }) =>
        Effect.map(outsideCallerTransaction(store.list(options)), (rows) => rows.map((row) => infoOf(row, now()))),
      counts: () => outsideCallerTransaction(store.counts()),
      retry: (id: string): Effect.Effect<void, TaskNotFound | NotRetryable | StoreUnavailable> =>
        Effect.gen(function*() {
          const outcome = yield* outsideCallerTransaction(store.retry(id, now()))
          if (outcome === "missing") return yield* new TaskNotFound({ id })
          if (outcome !== "retried") {
            return yield* new NotRetryable({ id, reason: outcome === "succeeded" ? "it succeeded" : "it has not finished" })
          }
          wake()
        }),
      cancel: (id: string) => interrupt(TaskHandle.unsafeMake(id)),
      prune: () => outsideCallerTransaction(store.prune(now() - Duration.toMillis(config.retention)))
    }

    return { submit, status, await: await_, interrupt, admin }
  })


const spanLink = (traceParent: string | undefined): Tracer.ExternalSpan | undefined => {
  if (traceParent === undefined) return undefined
  const [traceId, spanId] = traceParent.split(":")
  return traceId && spanId ? Tracer.externalSpan({ traceId, spanId, sampled: true }) : undefined
}


/** @internal */
export type DurableEngine = Effect.Effect.Success<ReturnType<typeof makeDurableEngine>>
