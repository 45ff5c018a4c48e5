import type { FiberId, Supervisor } from "effect"
import { Cause, Clock, Effect, FiberRef, FiberRefs } from "effect"
import { logFailure, logRetry, outcomeOf, withAttempt } from "../run/attempt.js"
import { nextAttemptAt } from "../run/retryPolicy.js"
import type { Entry } from "./entry.js"

/**
 * What a task's fiber answers when its attempt failed and the retry policy wants another one:
 * the engine frees the slot and queues the task again at `at`.
 *
 * @internal
 */
export class RetryAt {
  constructor(readonly at: number) {}
}

/**
 * What a running task's own fiber runs: one attempt (timeout, span), and on a typed failure the
 * retry policy's decision. A final failure is logged with the submitter's logger; the outcome is
 * recorded by the fiber's observer (an interrupted fiber runs no handler of its own).
 *
 * @internal
 */
export const taskEffect = (entry: Entry): Effect.Effect<unknown, unknown> => {
  const body = entry.body!
  const retry = entry.task?.retry
  const timeout = entry.task?.timeout
  if (retry === undefined && timeout === undefined && !entry.traced) {
    // the common case, kept to the task's own effect
    entry.attempt = 1
    return Effect.tapErrorCause(body, (cause) => logEnd(entry, cause))
  }
  return Effect.suspend(() => {
    if (++entry.attempt > 1) entry.metrics.retried.update(1)
    const info = {
      id: entry.id,
      name: entry.name,
      queue: entry.lane.name,
      attempt: entry.attempt,
      timeout,
      link: entry.link,
      traced: entry.traced
    }
    const attempt = withAttempt(body, info)
    if (retry === undefined) return Effect.tapErrorCause(attempt, (cause) => logEnd(entry, cause))
    return Effect.catchAllCause(attempt, (cause) => {
      const outcome = outcomeOf(cause)
      if (outcome._tag !== "Failed") return Effect.zipRight(logEnd(entry, cause), Effect.failCause(cause))
      return Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const since = entry.failedSince < 0 ? now : entry.failedSince
        return Effect.flatMap(nextAttemptAt(retry, { attempt: entry.attempt, since, now, error: outcome.error }), (at) => {
          if (at === undefined) return Effect.zipRight(logEnd(entry, cause), Effect.failCause(cause))
          entry.failedSince = since
          return Effect.as(logRetry(info, cause, at), new RetryAt(at))
        })
      })
    })
  })
}

const logEnd = (entry: Entry, cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Cause.isInterruptedOnly(cause) ? Effect.void : logFailure({ id: entry.id, name: entry.name, attempt: entry.attempt }, cause)

/**
 * The fiber refs a task's own fiber starts with (`Runtime.RunForkOptions.updateRefs`): its
 * submitter's, read on the submitting fiber at submit (services, logger, clock, tracer, ...), forked
 * for the new fiber as `Effect.fork` forks a parent's refs for its child; but the layer's
 * `Supervisor`, so that a supervisor of the layer observes its tasks. This is the public form of
 * `Effect.setFiberRefs` run first in that fiber, at one copy of the refs instead of one per ref
 * (measured: 7 us a task against 0.6 on this machine; an HTTP request's fiber has many refs).
 * When the submitter has the layer's supervisor already (usually: none), the fork is the only copy.
 *
 * @internal
 */
export const refsOf = (
  refs: FiberRefs.FiberRefs,
  layerSupervisor: Supervisor.Supervisor<unknown>,
  fiberId: FiberId.Runtime
): FiberRefs.FiberRefs => {
  const forked = FiberRefs.forkAs(refs, fiberId)
  return FiberRefs.getOrDefault(forked, FiberRef.currentSupervisor) === layerSupervisor
    ? forked
    : FiberRefs.updateAs(forked, { fiberId, fiberRef: FiberRef.currentSupervisor, value: layerSupervisor })
}

/**
 * A waiting task's timer, run with `refsOf` (on its submitter's clock, a TestClock in tests):
 * sleeps out a delay of `wait` milliseconds, or until a retry's time, then calls `due`.
 *
 * @internal
 */
export const timerEffect = (wait: number | RetryAt, due: () => void): Effect.Effect<void> =>
  (typeof wait === "number"
    ? Effect.sleep(wait)
    : Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sleep(Math.max(0, wait.at - now)))).pipe(
      Effect.zipRight(Effect.sync(due))
    )
