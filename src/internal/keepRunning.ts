import { Cause, Effect, type Schedule } from "effect"

/**
 * A failure handler for a background loop that logs a failure once per burst: the first failure
 * is logged with its cause, the next ones are quiet until `recovered` runs after a success (which
 * logs that the loop works again). Any cause is handled, defects included: a loop must not end
 * because the database went away.
 *
 * @internal
 */
export interface OnceABurst {
  (cause: Cause.Cause<unknown>): Effect.Effect<void>
  readonly recovered: Effect.Effect<void>
}

/** @internal */
export const onceABurst = (what: string): OnceABurst => {
  let failing = false
  const handle = (cause: Cause.Cause<unknown>) => {
    if (failing) return Effect.void
    failing = true
    return Cause.isInterruptedOnly(cause)
      ? Effect.logWarning(`${what} was interrupted; it goes on (logged once until it works again)`)
      : Effect.logWarning(`${what} failed; it goes on (logged once until it works again)`, cause)
  }
  return Object.assign(handle, {
    recovered: Effect.suspend(() => {
      if (!failing) return Effect.void
      failing = false
      return Effect.logInfo(`${what} works again`)
    })
  })
}

/**
 * Repeats `body` on `schedule` for as long as the fiber lives, whatever `body` fails or dies with.
 *
 * @internal
 */
export const keepRunning = <R>(
  what: string,
  body: Effect.Effect<unknown, unknown, R>,
  schedule: Schedule.Schedule<unknown, unknown, never>
): Effect.Effect<unknown, never, R> => {
  const failed = onceABurst(what)
  return body.pipe(
    Effect.zipRight(failed.recovered),
    Effect.catchAllCause(failed),
    Effect.repeat(schedule)
  )
}
