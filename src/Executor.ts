/**
 * The `Executor` service: submit work from a handler, get a `TaskHandle` back at once, and poll,
 * await or interrupt it later. Every layer provides it; its `reliability` says which promise the
 * running layer keeps. There is no `shutdown`: the executor lives exactly as long as its layer.
 *
 * @example
 * ```ts
 * const signup = Effect.gen(function*() {
 *   const handle = yield* Executor.submit(Effect.log("warm the cache"))
 *   return yield* HttpServerResponse.json({ task: TaskHandle.encode(handle) })
 * })
 *
 * HttpRouter.empty.pipe(HttpRouter.post("/signup", signup), AfterResponse.middleware, HttpServer.serve(),
 *   Layer.provide(Executor.layerMemory({ concurrency: 16 })))
 * ```
 *
 * @since 0.1.0
 */
import type { SqlClient } from "@effect/sql"
import type { PgClient } from "@effect/sql-pg"
import type { Config, ConfigError, Context, Duration, Layer, Redacted } from "effect"
import { Effect } from "effect"
import type { DurableExecutor } from "./DurableExecutor.js"
import type { ExecutorAdmin } from "./ExecutorAdmin.js"
import type { AwaitError, InvalidOptions, LookupError, StoreUnavailable, SubmitError } from "./ExecutorError.js"
import * as internal from "./internal/executor.js"
import type * as PgStore from "./PgStore.js"
import type * as SqliteStore from "./SqliteStore.js"
import type * as Task from "./Task.js"
import type { TaskStore } from "./TaskStore.js"
import type * as TaskHandle from "./TaskHandle.js"
import type * as TaskStatus from "./TaskStatus.js"

/**
 * The promise a layer keeps: `"volatile"` (runs once unless the process dies) or `"durable"`
 * (runs to completion once `submit` has returned, across crashes).
 *
 * @since 0.1.0
 * @category models
 */
export type Reliability = "volatile" | "durable"

/**
 * Options of one `submit`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubmitOptions {
  /** A second submit with the same key, while the first task is retained, returns the first handle. */
  readonly idempotencyKey?: string | undefined
  /** Wait this long after release before queueing. */
  readonly delay?: Duration.DurationInput | undefined
  /** Queue no earlier than this instant (epoch milliseconds or a `Date`). Wins over `delay`. */
  readonly runAt?: Date | number | undefined
  /** An integer: higher runs first among queued tasks; ties run in submission order. Default 0. */
  readonly priority?: number | undefined
  /** A named lane with its own concurrency, declared in the layer's `queues`. */
  readonly queue?: string | undefined
  /**
   * `"after-response"` (the default) holds the task until the current request's response is
   * written; outside a request, or with `"now"`, the task is queued at once.
   */
  readonly when?: "after-response" | "now" | undefined
  /** Overrides the task's `onAbort`: what happens when the client goes away mid-response. */
  readonly onAbort?: Task.OnAbort | undefined
  /** A name for a plain effect, used in spans and logs. Task calls use the task's name. */
  readonly name?: string | undefined
  /**
   * The session the task belongs to: a user id or a session id, not the session cookie or token
   * itself. Only its keyed hash (HMAC) is kept; `StatusApi` answers a handle only to requests of
   * the same session.
   */
  readonly session?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Executor {
  /** The level this layer guarantees. */
  readonly reliability: Reliability
  /**
   * Submits a task call or any effect and returns its handle at once. The effect runs with the
   * submitter's context (services, logger, clock); `R` is what it needs from there.
   */
  readonly submit: {
    <T extends Task.Task.Any>(
      call: Task.TaskCall<T>,
      options?: SubmitOptions
    ): Effect.Effect<TaskHandle.TaskHandle<Task.Task.Success<T>, Task.Task.Failure<T>>, SubmitError, Task.Task.Context<T>>
    <A, E, R>(
      effect: Effect.Effect<A, E, R>,
      options?: SubmitOptions
    ): Effect.Effect<TaskHandle.TaskHandle<A, E>, SubmitError, R>
  }
  /** Where the task stands now. */
  readonly status: <A, E>(handle: TaskHandle.TaskHandle<A, E>) => Effect.Effect<TaskStatus.TaskStatus<A, E>, LookupError>
  /** Waits for the task to finish and returns its value, or fails with its error. */
  readonly await: <A, E>(
    handle: TaskHandle.TaskHandle<A, E>
  ) => Effect.Effect<A, E | AwaitError>
  /** Stops the task: a held or queued one never starts; a running one is interrupted (its finalizers run). */
  readonly interrupt: <A, E>(handle: TaskHandle.TaskHandle<A, E>) => Effect.Effect<void, LookupError>
}

/**
 * The `Executor` service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const Executor: Context.Tag<Executor, Executor> = internal.tag

/**
 * Submits with the `Executor` in context. See `Executor.submit`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const submit: {
  <T extends Task.Task.Any>(
    call: Task.TaskCall<T>,
    options?: SubmitOptions
  ): Effect.Effect<
    TaskHandle.TaskHandle<Task.Task.Success<T>, Task.Task.Failure<T>>,
    SubmitError,
    Executor | Task.Task.Context<T>
  >
  <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    options?: SubmitOptions
  ): Effect.Effect<TaskHandle.TaskHandle<A, E>, SubmitError, Executor | R>
} = internal.submit

/**
 * @since 0.1.0
 * @category accessors
 */
export const status = <A, E>(
  handle: TaskHandle.TaskHandle<A, E>
): Effect.Effect<TaskStatus.TaskStatus<A, E>, LookupError, Executor> =>
  Effect.flatMap(Executor, (executor) => executor.status(handle))

const await_ = <A, E>(
  handle: TaskHandle.TaskHandle<A, E>
): Effect.Effect<A, E | AwaitError, Executor> =>
  Effect.flatMap(Executor, (executor) => executor.await(handle))

export {
  /**
   * Waits for the task behind `handle` and returns its value.
   *
   * @since 0.1.0
   * @category accessors
   */
  await_ as await
}

/**
 * @since 0.1.0
 * @category accessors
 */
export const interrupt = <A, E>(handle: TaskHandle.TaskHandle<A, E>): Effect.Effect<void, LookupError, Executor> =>
  Effect.flatMap(Executor, (executor) => executor.interrupt(handle))

/**
 * Options of the in-memory executor.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryOptions {
  /** Tasks running at once, over all queues. Default 16. */
  readonly concurrency?: number | undefined
  /** Named lanes, each with its own concurrency limit (within the global one). */
  readonly queues?: Readonly<Record<string, { readonly concurrency: number }>> | undefined
  /** Held, delayed and queued tasks allowed before `submit` fails with `ExecutorBusy`. Default 10,000 (durable task calls: unbounded). */
  readonly maxBacklog?: number | undefined
  /** How long finished tasks stay visible to `status` and `await`. Default 1 hour. */
  readonly retention?: Duration.DurationInput | undefined
  /**
   * The most finished tasks kept for `status` and `await`, and at least the newest half of that;
   * the oldest go first. Default 10,000.
   */
  readonly maxRetained?: number | undefined
  /** When the layer closes: how long running and queued tasks may still finish. Default 30 seconds. */
  readonly drainTimeout?: Duration.DurationInput | undefined
  /**
   * The key sessions are hashed with (HMAC-SHA256) before they are kept. Memory layers default to
   * a random key per layer, durable layers to the key made once and kept in their store (so every
   * process on the store hashes alike; give a key to all of them or to none).
   */
  readonly sessionKey?: string | Redacted.Redacted<string> | undefined
}

/**
 * The volatile executor: tasks live in memory and run exactly once unless the process dies.
 * Accepts any effect and task calls.
 *
 * @example
 * ```ts
 * Layer.provide(server, Executor.layerMemory({ concurrency: 16, queues: { reports: { concurrency: 2 } } }))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: (options?: MemoryOptions) => Layer.Layer<Executor | ExecutorAdmin> = internal.layerMemory

/**
 * `layerMemory` with its options read from config when the layer is built. A missing or malformed
 * value, or one `layerMemory` would refuse (a `concurrency` of 0), fails the layer with a
 * `ConfigError`.
 *
 * @example
 * ```ts
 * Layer.provide(server, Executor.layerMemoryConfig({
 *   concurrency: Config.integer("EXECUTOR_CONCURRENCY").pipe(Config.withDefault(16)),
 *   drainTimeout: Config.duration("EXECUTOR_DRAIN_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30)))
 * }))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemoryConfig: (
  config: Config.Config.Wrap<MemoryOptions>
) => Layer.Layer<Executor | ExecutorAdmin, ConfigError.ConfigError> = internal.layerMemoryConfig

/**
 * Options of the durable executors (`layerSqlite`, `layerStore`).
 *
 * @since 0.1.0
 * @category models
 */
export interface DurableOptions<Tasks extends ReadonlyArray<Task.Task.Any>> extends MemoryOptions {
  /** The tasks this process can run. Stored tasks of other names fail with `UnknownTask`. */
  readonly tasks: Tasks
  /**
   * How long a claimed (or held) task stays reserved for this process without a heartbeat.
   * After it, another process (or this one after a restart) takes the task over. Default 30 seconds.
   */
  readonly leaseDuration?: Duration.DurationInput | undefined
  /**
   * How long a process may go without its liveness beat (written every quarter of this) before
   * the other processes on the store, or this one after a restart, take its running and held
   * tasks over. This, not `leaseDuration`, is how fast work recovers after `kill -9`. Default 2 seconds.
   */
  readonly takeoverAfter?: Duration.DurationInput | undefined
  /** How often idle workers look for due tasks written by other processes. Default 1 second. */
  readonly pollInterval?: Duration.DurationInput | undefined
  /** Write concurrent submits in one shared transaction (one fsync). Default `true`. */
  readonly groupCommit?: boolean | undefined
  /**
   * Whether this process runs stored tasks. `false` makes a process that only submits and polls
   * (a web tier in front of worker processes). Default `true`.
   */
  readonly runTasks?: boolean | undefined
  /**
   * Tasks each queue claims ahead of its free slots (graphile-worker's `localQueue`). Default 0.
   * What they trade (shown `Running`, taken over after a crash like running ones): README, layerSqlite.
   */
  readonly prefetch?: number | undefined
}

/**
 * A durable executor on the `TaskStore` in context. Task calls are written to the store before
 * `submit` returns; plain effects submitted through `Executor` run in memory (volatile) beside them.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStore: <const Tasks extends ReadonlyArray<Task.Task.Any>>(
  options: DurableOptions<Tasks>
) => Layer.Layer<Executor | DurableExecutor | ExecutorAdmin, InvalidOptions, TaskStore | Task.Task.Context<Tasks[number]>> =
  internal.layerStore

/**
 * The options of a durable layer that config can give: all of `DurableOptions` but `tasks`, which
 * are values (the `Task`s themselves) and are given beside the config.
 *
 * @since 0.1.0
 * @category models
 */
export type DurableConfig = Omit<DurableOptions<never>, "tasks">

/**
 * `layerStore` with its options read from config when the layer is built; the tasks are given
 * beside it. A missing or malformed value, or one `layerStore` would refuse, fails the layer with a
 * `ConfigError`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStoreConfig: <const Tasks extends ReadonlyArray<Task.Task.Any>>(
  tasks: Tasks,
  config: Config.Config.Wrap<DurableConfig>
) => Layer.Layer<
  Executor | DurableExecutor | ExecutorAdmin,
  ConfigError.ConfigError | InvalidOptions,
  TaskStore | Task.Task.Context<Tasks[number]>
> = internal.layerStoreConfig

/**
 * The durable executor on an embedded SQLite file: the default. Provides `Executor` and
 * `DurableExecutor`; runs its migrations at start; fails with `StoreUnavailable` (naming the
 * path) when the file cannot be opened or written.
 *
 * @example
 * ```ts
 * Layer.provide(server, Executor.layerSqlite({ filename: "data/tasks.db", tasks: [SendWelcome] }))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite: <const Tasks extends ReadonlyArray<Task.Task.Any>>(
  options: DurableOptions<Tasks> & SqliteStore.Options
) => Layer.Layer<
  Executor | DurableExecutor | ExecutorAdmin,
  StoreUnavailable | InvalidOptions,
  Task.Task.Context<Tasks[number]>
> = internal.layerSqlite

/**
 * `layerSqlite` with its options read from config when the layer is built; the tasks are given
 * beside it. A missing or malformed value, or one `layerSqlite` would refuse (a `concurrency` of
 * 0), fails the layer with a `ConfigError`.
 *
 * @example
 * ```ts
 * Layer.provide(server, Executor.layerSqliteConfig([SendWelcome], {
 *   filename: Config.string("TASKS_DB"),
 *   concurrency: Config.integer("TASKS_CONCURRENCY").pipe(Config.withDefault(16))
 * }))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqliteConfig: <const Tasks extends ReadonlyArray<Task.Task.Any>>(
  tasks: Tasks,
  config: Config.Config.Wrap<DurableConfig & SqliteStore.Options>
) => Layer.Layer<
  Executor | DurableExecutor | ExecutorAdmin,
  ConfigError.ConfigError | StoreUnavailable | InvalidOptions,
  Task.Task.Context<Tasks[number]>
> = internal.layerSqliteConfig

/**
 * The distributed durable executor on PostgreSQL: every process that points at the database
 * shares one queue. Uses the application's own `PgClient` (provide `PgClient.layer(...)`), so a
 * `DurableExecutor.submit` inside the application's `sql.withTransaction` commits or rolls back
 * with the application's rows. Tables live in their own schema (default `effect_executor`).
 *
 * @example
 * ```ts
 * server.pipe(
 *   Layer.provide(Executor.layerPg({ tasks: [SendWelcome] })),
 *   Layer.provide(PgClient.layer({ url: Redacted.make(process.env.DATABASE_URL!) }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPg: <const Tasks extends ReadonlyArray<Task.Task.Any>>(
  options: DurableOptions<Tasks> & PgStore.Options
) => Layer.Layer<
  Executor | DurableExecutor | ExecutorAdmin,
  StoreUnavailable | InvalidOptions,
  PgClient.PgClient | SqlClient.SqlClient | Task.Task.Context<Tasks[number]>
> = internal.layerPg

/**
 * `layerPg` with its options read from config when the layer is built; the tasks are given beside
 * it. A missing or malformed value, or one `layerPg` would refuse, fails the layer with a
 * `ConfigError`.
 *
 * @example
 * ```ts
 * server.pipe(
 *   Layer.provide(Executor.layerPgConfig([SendWelcome], { runTasks: Config.boolean("RUN_TASKS") })),
 *   Layer.provide(PgClient.layerConfig({ url: Config.redacted("DATABASE_URL") }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPgConfig: <const Tasks extends ReadonlyArray<Task.Task.Any>>(
  tasks: Tasks,
  config: Config.Config.Wrap<DurableConfig & PgStore.Options>
) => Layer.Layer<
  Executor | DurableExecutor | ExecutorAdmin,
  ConfigError.ConfigError | StoreUnavailable | InvalidOptions,
  PgClient.PgClient | SqlClient.SqlClient | Task.Task.Context<Tasks[number]>
> = internal.layerPgConfig
