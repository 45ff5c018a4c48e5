/**
 * Opening the store named on the command line. Imported by `store.ts` only when a command runs,
 * since it loads the store modules, `@effect/sql` and (when the store is built) the database driver.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer, Redacted } from "effect"
import { existsSync, statSync } from "node:fs"
import { resolve } from "node:path"
import { StoreUnavailable } from "../../ExecutorError.js"
import * as PgStore from "../../PgStore.js"
import * as SqliteStore from "../../SqliteStore.js"
import { TaskStore } from "../../TaskStore.js"
import { loadStoreModule } from "../store/load.js"
import { CliFailure, failureOfCause, messageOf } from "./failure.js"
import type { Store } from "./store.js"

/** A URL without its password, for messages. */
const redact = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "the --pg URL"
  }
}

const toCliFailure = (error: StoreUnavailable | CliFailure): CliFailure =>
  error instanceof CliFailure ? error : new CliFailure({ message: error.message })

const sqliteLayer = (filename: string): Layer.Layer<TaskStore, CliFailure> => {
  const path = resolve(filename)
  const check = Effect.gen(function*() {
    if (!existsSync(path)) return yield* new CliFailure({ message: `cannot open ${path}: no such file` })
    if (!statSync(path).isFile()) return yield* new CliFailure({ message: `cannot open ${path}: not a file` })
  })
  const hasTable = Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'effect_executor_tasks'`).pipe(
      Effect.mapError((error) => new CliFailure({ message: `cannot read ${path}: ${messageOf(error.cause ?? error)}` })),
      Effect.filterOrFail(
        (rows) => rows.length > 0,
        () => new CliFailure({ message: `${path} is not an effect-executor store (it has no effect_executor_tasks table)` })
      )
    )
  const layer = Layer.effect(TaskStore, Effect.zipRight(hasTable, SqliteStore.make(path))).pipe(
    Layer.provide(SqliteStore.layerClient({ filename: path })),
    Layer.mapError(toCliFailure)
  )
  // the checks first: SqliteStore.layerClient would create a missing file
  return Layer.unwrapEffect(Effect.as(check, layer))
}

const pgLayer = (url: string, schema: string): Layer.Layer<TaskStore, CliFailure> => {
  const where = redact(url)
  const hasTable = Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ name: string | null }>`SELECT to_regclass(${`${schema}.tasks`})::text AS name`).pipe(
      Effect.mapError((error) => new CliFailure({ message: `cannot query ${where}: ${messageOf(error.cause ?? error)}` })),
      Effect.filterOrFail(
        (rows) => rows[0]?.name != null,
        () => new CliFailure({ message: `schema ${schema} of ${where} has no effect-executor tasks table (check --schema)` })
      )
    )
  const client = Layer.unwrapEffect(Effect.map(
    loadStoreModule(() => import("@effect/sql-pg"), where, "@effect/sql-pg").pipe(Effect.mapError(toCliFailure)),
    ({ PgClient }) =>
      PgClient.layer({
        url: Redacted.make(url),
        connectTimeout: "5 seconds",
        maxConnections: 2,
        applicationName: "effect-executor cli"
      }).pipe(
        Layer.mapError((error) =>
          new CliFailure({ message: `cannot connect to PostgreSQL at ${where}: ${messageOf(error.cause ?? error)}` })
        )
      )
  ))
  return Layer.effect(
    TaskStore,
    Effect.zipRight(hasTable, PgStore.make({ schema }).pipe(Effect.mapError(toCliFailure)))
  ).pipe(Layer.provide(client))
}

/**
 * Runs `use` on `store`. Refuses a missing file or a database without the tasks table rather than
 * creating one (a typo must not leave an empty store behind). Any failure or defect, of opening
 * the store or of `use`, comes back as one `CliFailure`.
 */
export const useStore = <A>(
  store: Store,
  use: (store: TaskStore) => Effect.Effect<A, CliFailure | StoreUnavailable>
): Effect.Effect<A, CliFailure> =>
  Effect.flatMap(TaskStore, use).pipe(
    Effect.provide(store._tag === "sqlite" ? sqliteLayer(store.filename) : pgLayer(store.url, store.schema)),
    Effect.catchAllCause((cause) => Effect.fail(failureOfCause(cause)))
  )
