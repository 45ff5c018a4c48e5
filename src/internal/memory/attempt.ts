import type { FiberId } from "effect"
import { Cause, Duration, Effect, FiberRef, FiberRefs } from "effect"
import { TaskFailed } from "../../ExecutorError.js"
import { defectMessage } from "../taskOutcome.js"
import { taskSpan } from "../taskSpan.js"
import type { Entry } from "./entry.js"

/**
 * What a running task's own fiber runs: its attempts, a failure logged with the submitter's logger.
 * The outcome is recorded by the fiber's observer (an interrupted fiber runs no handler of its own).
 *
 * @internal
 */
export const taskEffect = (entry: Entry): Effect.Effect<unknown, unknown> =>
  attemptsOf(entry).pipe(
    Effect.tapErrorCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logWarning(`task ${entry.name} failed`, cause).pipe(
        Effect.annotateLogs({ "executor.task.id": entry.id, "executor.task.name": entry.name })
      )
    )
  )

/**
 * The fiber refs a task's own fiber starts with (`Runtime.RunForkOptions.updateRefs`): its
 * submitter's, read on the submitting fiber at submit (services, logger, clock, tracer, ...), forked
 * for the new fiber as `Effect.fork` forks a parent's refs for its child; but the layer's
 * `Supervisor`, so that a supervisor of the layer observes its tasks. This is the public form of
 * `Effect.setFiberRefs` run first in that fiber, at one copy of the refs instead of one per ref
 * (measured: 7 us a task against 0.6 on this machine; an HTTP request's fiber has many refs).
 *
 * @internal
 */
export const refsOf = (entry: Entry) => (layer: FiberRefs.FiberRefs, fiberId: FiberId.Runtime): FiberRefs.FiberRefs =>
  FiberRefs.updateAs(FiberRefs.forkAs(entry.refs!, fiberId), {
    fiberId,
    fiberRef: FiberRef.currentSupervisor,
    value: FiberRefs.getOrDefault(layer, FiberRef.currentSupervisor)
  })

/** The task's body with its timeout, retry schedule and span (when its submitter traces). */
const attemptsOf = (entry: Entry): Effect.Effect<unknown, unknown> => {
  const body = entry.body!
  const retry = entry.task?.retry
  const timeout = entry.task?.timeout
  if (retry === undefined && timeout === undefined && !entry.traced) {
    // the common case, kept to the task's own effect
    entry.attempt = 1
    return body
  }
  let attempt: Effect.Effect<unknown, unknown> = Effect.suspend(() => {
    if (++entry.attempt > 1) entry.metrics.retried.update(1)
    return body
  })
  if (timeout !== undefined) {
    attempt = Effect.timeoutFail(attempt, {
      duration: timeout,
      onTimeout: () => new TaskFailed({ reason: "timeout", detail: `an attempt took longer than ${Duration.format(timeout)}` })
    })
  }
  const retried = retry === undefined ? attempt : Effect.retry(attempt, retry)
  if (!entry.traced) return retried
  return taskSpan(retried, entry.name, entry.link, {
    "executor.task.id": entry.id,
    "executor.task.name": entry.name,
    "executor.queue": entry.lane.name
  })
}

/** How a task whose fiber failed ends: its typed error, `TaskFailed` for a defect, or interrupted. @internal */
export const outcomeOf = (cause: Cause.Cause<unknown>): { readonly state: "Failed" | "Interrupted"; readonly error: unknown } => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some") return { state: "Failed", error: failure.value }
  if (Cause.isInterruptedOnly(cause)) return { state: "Interrupted", error: undefined }
  return { state: "Failed", error: new TaskFailed({ reason: "defect", detail: defectMessage(cause) }) }
}

/** A delayed task's timer, run with `refsOf`: sleeps out the delay on its submitter's clock (a TestClock in tests). @internal */
export const delayEffect = (entry: Entry, due: () => void): Effect.Effect<void> =>
  Effect.sleep(entry.delayMillis).pipe(Effect.zipRight(Effect.sync(due)))
