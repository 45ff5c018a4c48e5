/**
 * The embedded durable store: one SQLite file (WAL, `synchronous=FULL` unless you choose otherwise),
 * through `@effect/sql-sqlite-node`. It is the default a newcomer gets with `Executor.layerSqlite`.
 *
 * `@effect/sql-sqlite-node` is an optional peer dependency: install it to use this store. It is
 * loaded when one of these layers is built, not when the package is imported.
 *
 * @since 0.1.0
 */
import type { SqlClient } from "@effect/sql"
import type { SqliteClient } from "@effect/sql-sqlite-node"
import type { ConfigError } from "effect"
import { Config, Effect, Layer } from "effect"
import { resolve } from "node:path"
import type { StoreUnavailable } from "./ExecutorError.js"
import { loadStoreModule } from "./internal/store/load.js"
import * as TaskStore from "./TaskStore.js"

/**
 * `synchronous` pragma of the SQLite file. `"FULL"` (the default) syncs the WAL on every commit, so
 * an acknowledged submit survives a power loss; `"NORMAL"` survives a process crash but may lose
 * the last commits on power loss, and is faster.
 *
 * @since 0.1.0
 * @category models
 */
export type Synchronous = "FULL" | "NORMAL" | "OFF"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The database file; its directory is created when missing. */
  readonly filename: string
  readonly synchronous?: Synchronous | undefined
}

/**
 * A `TaskStore` on the `SqlClient` in context (a SQLite database). Runs the migrations first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (location: string): Effect.Effect<TaskStore.TaskStore, StoreUnavailable, SqlClient.SqlClient> =>
  Effect.flatMap(
    loadStoreModule(() => import("./internal/store/sqlite.js"), location, "@effect/sql"),
    (sqlite) => sqlite.make(location)
  )

/**
 * The `SqliteClient` for a store file: creates its directory, opens it (a typed
 * `StoreUnavailable` naming the path when it cannot be opened or written), WAL, `synchronous`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (
  options: Options
): Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient, StoreUnavailable> =>
  Layer.unwrapEffect(Effect.map(
    loadStoreModule(
      () => import("./internal/store/sqliteClient.js"),
      resolve(options.filename),
      "@effect/sql-sqlite-node"
    ),
    (client) => client.layerClient(options)
  ))

/**
 * A `TaskStore` on a SQLite file.
 *
 * @example
 * ```ts
 * const store = SqliteStore.layer({ filename: "data/tasks.db" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<TaskStore.TaskStore, StoreUnavailable> =>
  Layer.effect(TaskStore.TaskStore, make(resolve(options.filename))).pipe(Layer.provide(layerClient(options)))

/**
 * A `TaskStore` on a SQLite file, its options read from config when the layer is built. A missing
 * or malformed value fails the layer with a `ConfigError`.
 *
 * @example
 * ```ts
 * const store = SqliteStore.layerConfig({
 *   filename: Config.string("TASKS_DB"),
 *   synchronous: Config.literal("FULL", "NORMAL", "OFF")("TASKS_SYNCHRONOUS").pipe(Config.withDefault("FULL"))
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<TaskStore.TaskStore, StoreUnavailable | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
