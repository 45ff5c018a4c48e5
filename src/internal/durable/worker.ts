/**
 * The worker side of the durable engine: the claim loop, a fiber per claimed attempt (in the
 * layer's FiberSet), and the end of each attempt written with its claim's fence.
 *
 * @internal
 */
import type { Cause } from "effect"
import { Duration, Effect, Either, Exit, type Fiber, FiberSet, Queue, Schedule, type Scope, Schema, Stream, Tracer } from "effect"
import { type StoreUnavailable, TaskFailed, type TaskFailure, UnknownTask } from "../../ExecutorError.js"
import type * as TaskStore from "../../TaskStore.js"
import { onceABurst } from "../keepRunning.js"
import { annotateTask, logFailure, logRetry, outcomeOf, withAttempt } from "../run/attempt.js"
import { freeSlots } from "../run/lanes.js"
import { nextAttemptAt } from "../run/retryPolicy.js"
import { taskMetrics } from "../taskMetrics.js"
import { decodeJson, encodeExecutorError, encodeTaskError } from "../run/codec.js"
import { makeGroupCommit } from "./groupCommit.js"
import { checkIdle, type EngineState, type Lane, notifyFinished, type RunningTask, stopRunning, wake } from "./state.js"
import { MAX_BATCH } from "./submit.js"

type Outcome = "succeeded" | "failed" | "other"

/**
 * A task's end is written again until the store takes it: the database may be away for a while
 * (a restart, a terminated connection). Meanwhile the task stays in `running`, so the heartbeat
 * keeps its lease; if another process takes it over, the heartbeat stops this fiber and the fence
 * would refuse the write anyway.
 */
const endRetry = Schedule.exponential("20 millis").pipe(Schedule.either(Schedule.spaced("1 second")))
// the schedule's state is made only when a write has failed: most never do, and there is one per task
const persistEnd = <A>(write: Effect.Effect<A, StoreUnavailable>) =>
  Effect.catchAll(write, () => Effect.retry(Effect.delay(write, "20 millis"), endRetry))

/** Each item answers whether the store took it: `false` when its claim had been taken over. */
const accepted = (items: ReadonlyArray<{ readonly id: string }>) => (refused: ReadonlyArray<string>) => {
  if (refused.length === 0) return items.map(() => true)
  const out = new Set(refused)
  return items.map((item) => !out.has(item.id))
}

const spanLink = (traceParent: string | undefined): Tracer.ExternalSpan | undefined => {
  if (traceParent === undefined) return undefined
  const [traceId, spanId] = traceParent.split(":")
  return traceId && spanId ? Tracer.externalSpan({ traceId, spanId, sampled: true }) : undefined
}

/**
 * Starts the claim loop (and, on stores that have them, the wake-ups by notification). Every
 * claimed attempt is a fiber of its own in a FiberSet owned by the layer's scope: the engine's
 * finalizer (added later, so run first) drains and stops them; the set's close then interrupts
 * whatever is left.
 *
 * @internal
 */
export const startWorkers = (state: EngineState): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { config, lanes, leaseMillis, now, owner, store, tasks } = state
    const attempts = yield* FiberSet.make<void>()
    const runAttempt = yield* FiberSet.runtime(attempts)<never>()
    const completeBatch = yield* makeGroupCommit(
      (items: ReadonlyArray<TaskStore.ClaimRef & { readonly result: string }>) =>
        store.complete(items, now()).pipe(Effect.map(accepted(items))),
      MAX_BATCH
    )
    const failBatch = yield* makeGroupCommit(
      (items: ReadonlyArray<TaskStore.Failure>) => store.fail(items, now()).pipe(Effect.map(accepted(items))),
      MAX_BATCH
    )

    /**
     * After an interruption the write is uninterruptible: a cancellation's is tried until it lands
     * or the layer closes; a shutdown's for a lease at most. What is left then is taken over by
     * the next process (the closing layer beats 0).
     */
    const persistAfterStop = <A>(write: Effect.Effect<A, StoreUnavailable>, stop: RunningTask["stop"]) =>
      Effect.retry(
        write,
        (stop === "cancelled"
          ? endRetry.pipe(Schedule.check(() => !state.closed))
          : Schedule.exponential("20 millis").pipe(Schedule.upTo(config.leaseDuration))) as Schedule.Schedule<unknown>
      )

    const fenced = (claimed: TaskStore.ClaimedTask) => (taken: boolean) =>
      taken ? Effect.void : Effect.sync(() => {
        taskMetrics.fenced(claimed.name, claimed.queue)
      }).pipe(Effect.zipRight(Effect.logWarning(
        `task ${claimed.name}: the end of attempt ${claimed.attempts} was discarded, ` +
          "its claim had been taken over by another worker"
      ).pipe(annotateTask(claimed))))

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
      type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
      /** A failed, interrupted or dead attempt: the retry policy, the stop's reason, the log. */
      const notSucceeded = (cause: Cause.Cause<unknown>, restore: Restore) =>
        Effect.gen(function*() {
          const outcome = outcomeOf(cause)
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
            yield* retryAt === undefined ? logFailure(info, cause) : logRetry(info, cause, retryAt)
            yield* record(retryAt === undefined ? "failed" : "other")
            yield* restore(writeFailure(stored, retryAt, since))
            if (retryAt !== undefined) {
              yield* Effect.forkDaemon(Effect.sleep(Math.max(0, retryAt - now())).pipe(Effect.tap(() => wake(state))))
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
          yield* logFailure(info, cause)
          yield* restore(finalFailure(outcome.error))
        })
      // The attempt's outcome is taken uninterruptibly; writing it is interruptible again (the
      // write may wait out a database restart), except after a stop, which must be recorded.
      // The success path is a plain flatMap: it is every task's, and a generator per task showed.
      return Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(Effect.exit(restore(attempt)), (exit): Effect.Effect<void, StoreUnavailable> => {
          self.ending = true
          if (Exit.isFailure(exit)) return notSucceeded(exit.cause, restore)
          const result = Schema.encodeUnknownEither(task.success as Schema.Schema<unknown, unknown>)(exit.value)
          if (Either.isLeft(result)) {
            return restore(finalFailure(
              new TaskFailed({ reason: "defect", detail: "the result does not encode with the task's success Schema" })
            ))
          }
          ended("succeeded")
          return restore(
            persistEnd(completeBatch({ ...ref, result: JSON.stringify(result.right ?? null) })).pipe(
              Effect.flatMap(fenced(claimed))
            )
          )
        })
      ).pipe(
        // the executor's own lines name the task (as on the memory level): the task's run is not
        // wrapped in annotations of its own, which cost four copies of the fiber's refs per task
        Effect.catchAll((error: StoreUnavailable) =>
          Effect.logWarning("could not record a task's end", error).pipe(annotateTask(claimed))
        )
      )
    }

    const start = (claimed: TaskStore.ClaimedTask, lane: Lane) => {
      // Claimed again while an old run is still here: its lease had expired (a late heartbeat),
      // so the old run is lost; stop it rather than run two copies side by side.
      stopRunning(state, claimed.id, "lost")
      const hooks = taskMetrics.of(claimed.name, claimed.queue)
      const startedAt = now()
      taskMetrics.started(hooks, startedAt - claimed.runAt)
      if (claimed.attempts > 1) hooks.retried.update(1)
      state.totalRunning++
      lane.running++
      // The slot is given back as soon as the attempt has ended, while its end is being written:
      // the next claim does not wait for that round trip. The lease stays covered by the
      // heartbeat until the write is done (the task stays in `running`).
      let slotFree = false
      const freeSlot = () => {
        if (slotFree) return
        slotFree = true
        state.totalRunning--
        lane.running--
        wake(state)
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
      state.running.set(claimed.id, entry)
      entry.fiber.addObserver(() => {
        freeSlot()
        if (state.running.get(claimed.id) === entry) state.running.delete(claimed.id)
        checkIdle(state)
        notifyFinished(state, claimed.id)
      })
    }

    /** Starts a lane's tasks claimed ahead while it has free slots; answers how many slots are still free. */
    const startBuffered = (lane: Lane): number => {
      let free = freeSlots(lane, state.totalRunning, config.concurrency)
      while (free > 0 && lane.buffer.length > 0) {
        const task = lane.buffer.shift()!
        state.buffered.delete(task.id)
        start(task, lane)
        free--
      }
      return free
    }

    /**
     * Claims for every lane with free slots, and with `prefetch` ahead of them: a lane's buffer is
     * filled again once it is down to half, so that short tasks do not wait for a round trip per
     * batch of free slots. Answers whether a claim came back full (more may be waiting).
     */
    const claimRound = Effect.gen(function*() {
      let filled = false
      for (const lane of lanes.values()) {
        if (!state.claiming) return false
        const free = startBuffered(lane)
        const room = lane.buffer.length <= config.prefetch / 2 ? config.prefetch - lane.buffer.length : 0
        const limit = free + room
        if (limit <= 0) continue
        const claimed = yield* store.claim({ owner, queue: lane.name, limit, now: now(), leaseMillis })
        if (!state.claiming) {
          yield* store.requeue(claimed.map((task) => ({ id: task.id, owner, claim: task.claim })), now())
          return false
        }
        for (const task of claimed) {
          if (freeSlots(lane, state.totalRunning, config.concurrency) > 0) start(task, lane)
          else {
            lane.buffer.push(task)
            state.buffered.set(task.id, lane)
          }
        }
        if (claimed.length === limit) filled = true
      }
      return filled
    })

    if (store.notifications !== undefined) {
      yield* store.notifications.pipe(
        Stream.runForEach(() => Effect.sync(() => wake(state))),
        Effect.catchAllCause(onceABurst("listening for wake-ups")),
        Effect.repeat(Schedule.spaced("1 second")),
        Effect.forkScoped
      )
    }
    const pollMillis = Duration.toMillis(config.pollInterval)
    const claimFailed = onceABurst("claiming tasks")
    yield* Effect.gen(function*() {
      while (state.claiming) {
        const filled = yield* claimRound.pipe(
          Effect.tap(claimFailed.recovered),
          Effect.catchAllCause((cause) => Effect.as(claimFailed(cause), false))
        )
        // a full batch means more may be waiting; otherwise sleep until woken or the poll interval
        if (!filled || state.totalRunning >= config.concurrency) {
          yield* Queue.take(state.wakeups).pipe(Effect.timeoutOption(pollMillis))
        }
      }
    }).pipe(Effect.forkScoped)
  })
