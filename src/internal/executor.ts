import type { SqlClient } from "@effect/sql"
import type { PgClient } from "@effect/sql-pg"
import type { Scope } from "effect"
import { Config, ConfigError, Context, Duration, Effect, type Fiber, type FiberRefs, Layer, Redacted } from "effect"
import { DurableExecutor } from "../DurableExecutor.js"
import type * as Executor from "../Executor.js"
import { ExecutorAdmin } from "../ExecutorAdmin.js"
import { InvalidOptions, type StoreUnavailable, type SubmitError } from "../ExecutorError.js"
import * as PgStore from "../PgStore.js"
import * as SqliteStore from "../SqliteStore.js"
import * as Task from "../Task.js"
import { TaskStore } from "../TaskStore.js"
import * as TaskHandle from "../TaskHandle.js"
import { type DurableEngine, makeDurableEngine } from "./durable/engine.js"
import type { RequestHold } from "./requestHold.js"
import { randomSessionKey } from "./sessionHash.js"
import { countRetained, listRetained, memoryAdmin } from "./memory/admin.js"
import { isTracing } from "./run/span.js"
import { makeSupervisor, type Supervisor, type SupervisorConfig } from "./memory/supervisor.js"

/** @internal */
export const tag = Context.GenericTag<Executor.Executor>("effect-executor/Executor")

/** How a layer's executor submits: from the submitting fiber, whose context and fiber refs the task gets. */
type SubmitIn = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  task: any,
  options: Executor.SubmitOptions | undefined
) => Effect.Effect<TaskHandle.TaskHandle<any, any>, SubmitError>

/** Where the layers' executors keep their `SubmitIn`, for the `Executor.submit` accessor. */
const submitInKey: unique symbol = Symbol.for("effect-executor/Executor/submitIn")

/**
 * An executor's `submit`, run on the submitting fiber (`Effect.withFiberRuntime`), and the same
 * under `submitInKey` for the accessor.
 */
const submitting = (submitIn: SubmitIn, submitFrom: SubmitFrom): Pick<Executor.Executor, "submit"> => ({
  submit: ((task: any, options?: Executor.SubmitOptions) =>
    Effect.withFiberRuntime<TaskHandle.TaskHandle<any, any>, SubmitError>((fiber) =>
      submitIn(fiber, task, options)
    )) as Executor.Executor["submit"],
  [submitInKey]: submitIn,
  [submitFromKey]: submitFrom
} as Pick<Executor.Executor, "submit">)

/**
 * A submit without a submitting fiber, for the Promise API: with a runtime's context and fiber
 * refs, held by `hold` (its request's) when there is one. It answers at once (an `Exit`, or an
 * effect to run when there is a warning to log), or `undefined` when the submit needs a fiber (a
 * durable task call).
 *
 * @internal
 */
export type SubmitFrom = (
  context: Context.Context<never>,
  refs: FiberRefs.FiberRefs,
  traced: boolean,
  task: any,
  options: Executor.SubmitOptions | undefined,
  hold: RequestHold | undefined
) => Effect.Effect<TaskHandle.TaskHandle<any, any>, SubmitError> | undefined

const submitFromKey: unique symbol = Symbol.for("effect-executor/Executor/submitFrom")

/** The `SubmitFrom` of a layer's executor, if it has one (an executor built by the app has none). @internal */
export const submitFromOf = (executor: Executor.Executor): SubmitFrom | undefined =>
  (executor as Executor.Executor & { readonly [submitFromKey]?: SubmitFrom })[submitFromKey]

const fromFiber = (supervisor: Supervisor): SubmitIn => (fiber, task, options) =>
  supervisor.submitFrom(fiber.currentContext, fiber.getFiberRefs(), isTracing(fiber), task, options, undefined)

/**
 * `Executor.submit`: one step on the submitting fiber, which finds the executor in its own
 * context; an executor an application built itself is asked through its `submit`.
 *
 * @internal
 */
export const submit = (task: any, options?: Executor.SubmitOptions): Effect.Effect<TaskHandle.TaskHandle<any, any>, SubmitError, Executor.Executor> =>
  Effect.withFiberRuntime((fiber) => {
    const executor = Context.unsafeGet(fiber.currentContext, tag) as Executor.Executor & { readonly [submitInKey]?: SubmitIn }
    const submitIn = executor[submitInKey]
    return submitIn === undefined ? executor.submit(task, options) as Effect.Effect<TaskHandle.TaskHandle<any, any>, SubmitError> : submitIn(fiber, task, options)
  })

const positiveInteger = (name: string, value: number): number => {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`Executor: "${name}" must be a positive integer, got ${value}`)
  }
  return value
}

const nonNegativeInteger = (name: string, value: number): number => {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`Executor: "${name}" must be a non-negative integer, got ${value}`)
  }
  return value
}

const durationOf = (name: string, value: Duration.DurationInput): Duration.Duration => {
  const duration = Duration.decodeUnknown(value)
  if (duration._tag === "None") throw new RangeError(`Executor: "${name}" must be a duration, got ${String(value)}`)
  return duration.value
}

/** The supervisor's settings from the options; a bad option throws a `RangeError`. */
const supervisorConfig = (options: Executor.MemoryOptions, defaultKey: () => string): SupervisorConfig => {
  const queues: Record<string, { concurrency: number }> = {}
  for (const [name, lane] of Object.entries(options.queues ?? {})) {
    queues[name] = { concurrency: positiveInteger(`queues.${name}.concurrency`, lane.concurrency) }
  }
  return {
    concurrency: positiveInteger("concurrency", options.concurrency ?? 16),
    queues,
    maxBacklog: positiveInteger("maxBacklog", options.maxBacklog ?? 10_000),
    retention: durationOf("retention", options.retention ?? "1 hour"),
    maxRetained: positiveInteger("maxRetained", options.maxRetained ?? 10_000),
    drainTimeout: durationOf("drainTimeout", options.drainTimeout ?? "30 seconds"),
    sessionKey: sessionKeyOf(options.sessionKey, defaultKey)
  }
}

const sessionKeyOf = (option: Executor.MemoryOptions["sessionKey"], defaultKey: () => string): string => {
  if (option === undefined) return defaultKey()
  const key = Redacted.isRedacted(option) ? Redacted.value(option) : option
  if (typeof key !== "string" || key.length === 0) {
    throw new RangeError(`Executor: "sessionKey" must be a non-empty string`)
  }
  return key
}

/** The durable layers' own timings from the options; a bad duration throws. */
const durableTimings = (options: Executor.DurableConfig) => ({
  leaseDuration: durationOf("leaseDuration", options.leaseDuration ?? "30 seconds"),
  pollInterval: durationOf("pollInterval", options.pollInterval ?? "1 second"),
  takeoverAfter: durationOf("takeoverAfter", options.takeoverAfter ?? "2 seconds")
})


/**
 * The in-memory supervisor of a layer, on the options (a `RangeError` defect for a bad one).
 *
 * @internal
 */
export const makeMemory = (options: Executor.MemoryOptions = {}): Effect.Effect<Supervisor, never, Scope.Scope> =>
  Effect.suspend(() => makeSupervisor(supervisorConfig(options, randomSessionKey)))

/**
 * The `Executor` of a memory supervisor.
 *
 * @internal
 */
export const fromSupervisor = (supervisor: Supervisor): Executor.Executor => ({
  reliability: "volatile",
  ...submitting(fromFiber(supervisor), (context, refs, traced, task, options, hold) =>
    supervisor.submitFrom(context, refs, traced, task, options, hold)),
  status: (handle) => supervisor.status(handle),
  await: (handle) => supervisor.await(handle) as Effect.Effect<any, any>,
  interrupt: (handle) => supervisor.interrupt(handle)
})

/** @internal */
export const layerMemory = (options?: Executor.MemoryOptions): Layer.Layer<Executor.Executor | ExecutorAdmin> =>
  Layer.scopedContext(
    Effect.map(
      makeMemory(options),
      (supervisor) => Context.make(tag, fromSupervisor(supervisor)).pipe(Context.add(ExecutorAdmin, memoryAdmin(supervisor)))
    )
  )

/**
 * The executor of a durable layer: task calls go to the store, plain effects to the memory
 * supervisor beside it; a handle is routed to the level that knows its id.
 */
const routing = (memory: Supervisor, engine: DurableEngine): Executor.Executor => {
  const inMemory = (handle: TaskHandle.TaskHandle<unknown, unknown>) => memory.has(handle?.id)
  return {
    reliability: "durable",
    ...submitting(
      (fiber, task, submitOptions) =>
        Task.isTaskCall(task) ? engine.submit(task, submitOptions) : fromFiber(memory)(fiber, task, submitOptions),
      (context, refs, traced, task, submitOptions, hold) =>
        Task.isTaskCall(task) ? undefined : memory.submitFrom(context, refs, traced, task, submitOptions, hold)
    ),
    status: (handle) => inMemory(handle) ? memory.status(handle) : engine.status(handle),
    await: (handle) => (inMemory(handle) ? memory.await(handle) : engine.await(handle)) as Effect.Effect<any, any>,
    interrupt: (handle) => inMemory(handle) ? memory.interrupt(handle) : engine.interrupt(handle)
  }
}

/** The admin of a durable layer: both levels', lists and counts merged, ids routed like handles. */
const mergedAdmin = (memory: Supervisor, engine: DurableEngine): ExecutorAdmin => {
  const volatile = memoryAdmin(memory)
  return {
    inspect: (id) => memory.has(id) ? volatile.inspect(id) : engine.admin.inspect(id),
    list: (listOptions) =>
      Effect.map(engine.admin.list({ ...listOptions, limit: listOptions?.limit ?? 50 }), (stored) =>
        [...listRetained(memory, { ...listOptions, limit: listOptions?.limit ?? 50 }), ...stored]
          .sort((a, b) => b.createdAt - a.createdAt)
          .slice(0, listOptions?.limit ?? 50)),
    counts: () =>
      Effect.map(engine.admin.counts(), (stored) => {
        const merged = new Map(stored.map((c) => [`${c.queue}\u0000${c.state}`, c]))
        for (const c of countRetained(memory)) {
          const key = `${c.queue}\u0000${c.state}`
          merged.set(key, { ...c, count: c.count + (merged.get(key)?.count ?? 0) })
        }
        return Array.from(merged.values())
      }),
    retry: (id) => memory.has(id) ? volatile.retry(id) : engine.admin.retry(id),
    cancel: (id) => memory.has(id) ? volatile.cancel(id) : engine.admin.cancel(id),
    prune: () => Effect.map(engine.admin.prune(), (n) => n + memory.prune()),
    hashSession: volatile.hashSession
  }
}

/** @internal */
export const layerStore = <const Tasks extends ReadonlyArray<Task.Task.Any>>(
  options: Executor.DurableOptions<Tasks>
): Layer.Layer<
  Executor.Executor | DurableExecutor | ExecutorAdmin,
  InvalidOptions,
  TaskStore | Task.Task.Context<Tasks[number]>
> =>
  Layer.scopedContext(Effect.gen(function*() {
    const names = new Set<string>()
    for (const task of options.tasks) {
      if (names.has(task.name)) {
        return yield* new InvalidOptions({ reason: `two tasks are named "${task.name}": a stored row names its task` })
      }
      names.add(task.name)
    }
    const store = yield* TaskStore
    // one key for the layer's memory and store tasks: the given one, or the store's (every process
    // on the store then hashes alike; processes given a key must all be given the same)
    const memory = yield* makeMemory({ ...options, sessionKey: options.sessionKey ?? store.sessionKey })
    const engine = yield* makeDurableEngine(store, {
      tasks: options.tasks,
      concurrency: memory.config.concurrency,
      queues: memory.config.queues,
      // a durable queue is bounded by its table unless asked: by default only memory tasks count
      maxBacklog: options.maxBacklog === undefined ? Infinity : memory.config.maxBacklog,
      retention: memory.config.retention,
      drainTimeout: memory.config.drainTimeout,
      ...durableTimings(options),
      groupCommit: options.groupCommit ?? true,
      runTasks: options.runTasks ?? true,
      prefetch: nonNegativeInteger("prefetch", options.prefetch ?? 0),
      sessionKey: memory.config.sessionKey
    })
    const durable: DurableExecutor = {
      reliability: "durable",
      submit: (call, submitOptions) => engine.submit(call, submitOptions),
      submitAll: (calls, submitOptions) => engine.submitAll(calls, submitOptions),
      status: (handle) => engine.status(handle),
      await: (handle) => engine.await(handle) as Effect.Effect<any, any>,
      interrupt: (handle) => engine.interrupt(handle)
    }
    return Context.make(tag, routing(memory, engine)).pipe(
      Context.add(DurableExecutor, durable),
      Context.add(ExecutorAdmin, mergedAdmin(memory, engine))
    )
  }))

/** @internal */
export const layerSqlite = <const Tasks extends ReadonlyArray<Task.Task.Any>>(
  options: Executor.DurableOptions<Tasks> & SqliteStore.Options
): Layer.Layer<
  Executor.Executor | DurableExecutor | ExecutorAdmin,
  StoreUnavailable | InvalidOptions,
  Task.Task.Context<Tasks[number]>
> => layerStore(options).pipe(Layer.provide(SqliteStore.layer(options)))

/** @internal */
export const layerPg = <const Tasks extends ReadonlyArray<Task.Task.Any>>(
  options: Executor.DurableOptions<Tasks> & PgStore.Options
): Layer.Layer<
  Executor.Executor | DurableExecutor | ExecutorAdmin,
  StoreUnavailable | InvalidOptions,
  PgClient.PgClient | SqlClient.SqlClient | Task.Task.Context<Tasks[number]>
> => layerStore(options).pipe(Layer.provide(PgStore.layer(options)))

/**
 * The options a config describes, checked as the layer checks them: a value the layer would refuse
 * (a concurrency of 0, a duration that does not parse) is a `ConfigError` here, not a defect.
 */
const loadOptions = <A>(
  config: Config.Config.Wrap<A>,
  check: (options: A) => unknown
): Effect.Effect<A, ConfigError.ConfigError> =>
  Effect.flatMap(Config.unwrap(config), (options) =>
    Effect.try({
      try: () => {
        check(options)
        return options
      },
      catch: (error) => ConfigError.InvalidData([], error instanceof Error ? error.message : String(error))
    }))

const checkMemory = (options: Executor.MemoryOptions) => supervisorConfig(options, () => "")

const checkDurable = (options: Executor.DurableConfig) => [checkMemory(options), durableTimings(options)]

/** A layer made from options read (and checked) from config when it is built. */
const fromConfig = <A, ROut, E, RIn>(
  config: Config.Config.Wrap<A>,
  check: (options: A) => unknown,
  make: (options: A) => Layer.Layer<ROut, E, RIn>
): Layer.Layer<ROut, E | ConfigError.ConfigError, RIn> => Layer.unwrapEffect(Effect.map(loadOptions(config, check), make))

/** @internal */
export const layerMemoryConfig = (config: Config.Config.Wrap<Executor.MemoryOptions>) =>
  fromConfig(config, checkMemory, layerMemory)

/** @internal */
export const layerStoreConfig = <const Tasks extends ReadonlyArray<Task.Task.Any>>(
  tasks: Tasks,
  config: Config.Config.Wrap<Executor.DurableConfig>
) => fromConfig(config, checkDurable, (options) => layerStore({ ...options, tasks }))

/** @internal */
export const layerSqliteConfig = <const Tasks extends ReadonlyArray<Task.Task.Any>>(
  tasks: Tasks,
  config: Config.Config.Wrap<Executor.DurableConfig & SqliteStore.Options>
) => fromConfig(config, checkDurable, (options) => layerSqlite({ ...options, tasks }))

/** @internal */
export const layerPgConfig = <const Tasks extends ReadonlyArray<Task.Task.Any>>(
  tasks: Tasks,
  config: Config.Config.Wrap<Executor.DurableConfig & PgStore.Options>
) => fromConfig(config, checkDurable, (options) => layerPg({ ...options, tasks }))
