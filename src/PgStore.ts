/**
 * The distributed durable store: PostgreSQL through `@effect/sql-pg`. Any number of processes on
 * any number of machines share one queue: claims with `FOR UPDATE SKIP LOCKED`, wake-ups with
 * `LISTEN/NOTIFY`, leases with heartbeats. The tables live in a schema of their own (default
 * `effect_executor`) with versioned migrations, beside the application's tables, and `insert` runs
 * inside the caller's `sql.withTransaction` when there is one.
 *
 * `@effect/sql-pg` is an optional peer dependency: install it to use this store (the app provides
 * its `PgClient` anyway). It is loaded when `make` or `layer` is built, not when the package is
 * imported.
 *
 * @since 0.1.0
 */
import type { SqlClient } from "@effect/sql"
import type { PgClient } from "@effect/sql-pg"
import type { ConfigError } from "effect"
import { Config, Effect, Layer } from "effect"
import type { StoreUnavailable } from "./ExecutorError.js"
import { loadStoreModule } from "./internal/store/load.js"
import * as TaskStore from "./TaskStore.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The schema the tables live in. Default `effect_executor`. Lower-case letters, digits and `_`. */
  readonly schema?: string | undefined
}

/**
 * A `TaskStore` on the PostgreSQL `SqlClient` in context. Creates its schema and runs its
 * migrations first (under an advisory lock, so processes starting together do not race).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<TaskStore.TaskStore, StoreUnavailable, SqlClient.SqlClient | PgClient.PgClient> =>
  Effect.flatMap(
    loadStoreModule(
      () => import("./internal/store/pg.js"),
      `postgresql schema ${options.schema ?? "effect_executor"}`,
      "@effect/sql-pg"
    ),
    (pg) => pg.make(options)
  )

/**
 * A `TaskStore` on the PostgreSQL client in context.
 *
 * @example
 * ```ts
 * const store = PgStore.layer({ schema: "jobs" }).pipe(
 *   Layer.provide(PgClient.layer({ url: Redacted.make("postgres://localhost/app") }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<TaskStore.TaskStore, StoreUnavailable, SqlClient.SqlClient | PgClient.PgClient> =>
  Layer.effect(TaskStore.TaskStore, make(options))

/**
 * A `TaskStore` on the PostgreSQL client in context, its options read from config when the layer
 * is built. A missing or malformed value fails the layer with a `ConfigError`.
 *
 * @example
 * ```ts
 * const store = PgStore.layerConfig({ schema: Config.string("TASKS_SCHEMA") }).pipe(
 *   Layer.provide(PgClient.layerConfig({ url: Config.redacted("DATABASE_URL") }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<TaskStore.TaskStore, StoreUnavailable | ConfigError.ConfigError, SqlClient.SqlClient | PgClient.PgClient> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
