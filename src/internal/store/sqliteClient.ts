/**
 * The `SqliteClient` of a store file, on `@effect/sql-sqlite-node` (better-sqlite3). The only
 * module that imports the driver: `SqliteStore.layerClient` (and `layer`, `Executor.layerSqlite`)
 * load it when they are built, so an app that never opens a SQLite file never loads it.
 *
 * @internal
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Cause, Context, Effect, Layer } from "effect"
import { mkdirSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { StoreUnavailable } from "../../ExecutorError.js"
import type * as SqliteStore from "../../SqliteStore.js"

/** See `SqliteStore.layerClient`. */
export const layerClient = (options: SqliteStore.Options): Layer.Layer<
  SqliteClient.SqliteClient | SqlClient.SqlClient,
  StoreUnavailable
> => {
  const path = resolve(options.filename)
  const fail = (reason: unknown) =>
    new StoreUnavailable({ path, reason: reason instanceof Error ? reason.message : String(reason) })
  return Layer.unwrapEffect(Effect.gen(function*() {
    yield* Effect.try({ try: () => mkdirSync(dirname(path), { recursive: true }), catch: fail })
    return SqliteClient.layer({ filename: path }).pipe(
      Layer.tap((context) => {
        const sql = Context.get(context, SqlClient.SqlClient)
        return Effect.all([
          sql.unsafe(`PRAGMA synchronous = ${options.synchronous ?? "FULL"}`),
          sql.unsafe("PRAGMA busy_timeout = 5000"),
          // a write proves the file is writable before the layer is handed out
          sql.unsafe("BEGIN IMMEDIATE"),
          sql.unsafe("COMMIT")
        ], { discard: true }).pipe(Effect.mapError(fail))
      }),
      // better-sqlite3 throws when the file cannot be opened: a defect of SqliteClient, typed here
      Layer.catchAllCause((cause) => Layer.fail(fail(Cause.squash(cause))))
    )
  }))
}
