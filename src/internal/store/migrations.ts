import { Effect } from "effect"
import type { StoreUnavailable } from "../../ExecutorError.js"
import { storeGuard } from "./sql.js"

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
): Effect.Effect<void, StoreUnavailable, R> =>
  storeGuard(location, `migration failed (is the table ${table} another application's, or half-made?)`)(migrate).pipe(
    Effect.zipRight(storeGuard(location, `the table ${table} is not effect-executor's, or is half-made`)(probe)),
    Effect.asVoid
  )
