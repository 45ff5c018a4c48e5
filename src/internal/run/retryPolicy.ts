/**
 * The retry policy, one function for both levels: when a task whose attempt failed runs again.
 *
 * @internal
 */
import { Effect, type Schedule, ScheduleDecision, ScheduleIntervals } from "effect"

/** A failed attempt, as the retry policy needs to know it. @internal */
export interface FailedAttempt {
  /** The attempt that failed: 1 for the first. */
  readonly attempt: number
  /** When the first failed attempt of this run of retries ended (epoch milliseconds). */
  readonly since: number
  /** Now (epoch milliseconds). */
  readonly now: number
  readonly error: unknown
}

/**
 * The time of the next attempt after `failed`, or `undefined` when the task's Schedule is done
 * (the failure is final).
 *
 * The Schedule is stepped once per failed attempt from its initial state, as `Effect.retry` steps
 * it: the first step at `since`, the last at `now`. A schedule's state is not stored (it may hold
 * anything), so a durable task replays it at each failure; a volatile task does the same, so that
 * both levels decide alike. Replayed steps see the current error and, but for the first and the
 * last, the time `since`: schedules that count (`recurs`), space (`spaced`, `exponential`,
 * `fibonacci`, `jittered`) or look at the time since the first failure (`upTo`, `during`,
 * `windowed`) decide as `Effect.retry` would, and so do predicates over the current error
 * (`whileInput`). A schedule that folds over every earlier error sees the current one each time.
 *
 * @internal
 */
export const nextAttemptAt = (
  schedule: Schedule.Schedule<unknown, any>,
  failed: FailedAttempt
): Effect.Effect<number | undefined> =>
  Effect.gen(function*() {
    let state = schedule.initial
    let decision: ScheduleDecision.ScheduleDecision | undefined
    for (let step = 1; step <= failed.attempt; step++) {
      const at = step === failed.attempt ? failed.now : failed.since
      const [next, , stepped] = yield* schedule.step(at, failed.error, state)
      if (ScheduleDecision.isDone(stepped)) return undefined
      state = next
      decision = stepped
    }
    return decision !== undefined && ScheduleDecision.isContinue(decision)
      ? Math.max(failed.now, ScheduleIntervals.start(decision.intervals))
      : failed.now
  })
