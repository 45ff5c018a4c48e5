import { Cause, Effect, Option } from "effect"
import { StoreUnavailable } from "../ExecutorError.js"

const describe = (cause: Cause.Cause<unknown>): string => {
  const error = Option.getOrElse(Cause.failureOption(cause), () => Cause.squash(cause)) as {
    readonly message?: unknown
    readonly cause?: unknown
  }
  const inner = error?.cause instanceof Error ? `: ${error.cause.message}` : ""
  return `${typeof error?.message === "string" ? error.message : String(error)}${inner}`
}

/**
 * Runs a store's migrations, then reads every column the store uses from `table`. A table of the
 * same name made by another application, or one left half-made, makes the Migrator die (it turns
 * a failed migration into a defect) or the probe fail: either is a `StoreUnavailable` naming the
 * store and the table, never a defect.
 *
 * @internal
 */
export const checkTables = <E1, E2, R>(
  location: string,
  migrate: Effect.Effect<unknown, E1, R>,
  probe: Effect.Effect<unknown, E2, R>,
  table: string
): Effect.Effect<void, StoreUnavailable, R> => {
  const typed = (why: string) => <E>(effect: Effect.Effect<unknown, E, R>) =>
    Effect.catchAllCause(effect, (cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.failCause(cause as Cause.Cause<never>)
        : Effect.fail(new StoreUnavailable({ path: location, reason: `${why}: ${describe(cause)}` })))
  return typed(`migration failed (is the table ${table} another application's, or half-made?)`)(migrate).pipe(
    Effect.zipRight(typed(`the table ${table} is not effect-executor's, or is half-made`)(probe)),
    Effect.asVoid
  )
}
