/**
 * A `TaskHandle` is what `submit` gives back: an unguessable id (144 random bits, URL-safe) with
 * the task's success and failure types attached. It is a plain value: keep it in a cookie, a
 * session or a URL with `TaskHandle.schema`, and poll it later, from any process that shares the
 * executor's store.
 *
 * @since 0.1.0
 */
import { Effect, Equal, Hash, Inspectable, ParseResult, Pipeable, Predicate, Schema } from "effect"
import { TaskNotFound } from "./ExecutorError.js"
import { isWellFormedTaskId } from "./internal/handleId.js"
import type * as Task from "./Task.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("effect-executor/TaskHandle")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A reference to a submitted task whose result is an `A` or a typed failure `E`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskHandle<out A, out E> extends Equal.Equal, Pipeable.Pipeable, Inspectable.Inspectable {
  readonly [TypeId]: {
    readonly _A: (_: never) => A
    readonly _E: (_: never) => E
  }
  /** The unguessable id: 24 URL-safe characters. */
  readonly id: string
  /**
   * The task name this handle expects, when it is known (handles from `submit` of a task call or
   * from `schemaFor`). Not part of the encoding; an executor answers `TaskNotFound` when the id
   * belongs to a task of another name, so a handle's types cannot lie about its result.
   */
  readonly task: string | undefined
}

/**
 * @since 0.1.0
 */
export declare namespace TaskHandle {
  /** A handle of any types. */
  export type Any = TaskHandle<unknown, unknown>
  /** The success type of a handle. */
  export type Success<H> = H extends TaskHandle<infer A, infer _E> ? A : never
  /** The failure type of a handle. */
  export type Failure<H> = H extends TaskHandle<infer _A, infer E> ? E : never
}

const variance = { _A: (_: never) => _, _E: (_: never) => _ }

const Proto = {
  [TypeId]: variance,
  [Equal.symbol](this: TaskHandle<unknown, unknown>, that: unknown): boolean {
    return isTaskHandle(that) && that.id === this.id
  },
  [Hash.symbol](this: TaskHandle<unknown, unknown>): number {
    return Hash.cached(this, Hash.string(this.id))
  },
  pipe() {
    return Pipeable.pipeArguments(this, arguments)
  },
  toJSON(this: TaskHandle<unknown, unknown>) {
    return { _id: "TaskHandle", id: this.id }
  },
  toString(this: TaskHandle<unknown, unknown>) {
    return Inspectable.format(this.toJSON())
  },
  [Inspectable.NodeInspectSymbol](this: TaskHandle<unknown, unknown>) {
    return this.toJSON()
  }
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isTaskHandle = (u: unknown): u is TaskHandle<unknown, unknown> => Predicate.hasProperty(u, TypeId)

/**
 * Wraps an id without checking it. Executors make handles; use `decode` or `schema` for ids
 * that come from outside.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unsafeMake = <A = unknown, E = unknown>(id: string, task?: string): TaskHandle<A, E> => {
  const self = Object.create(Proto)
  self.id = id
  self.task = task
  return self
}

/**
 * The handle's id, for a URL, a cookie or a JSON body.
 *
 * @since 0.1.0
 * @category conversions
 */
export const encode = (self: TaskHandle<unknown, unknown>): string => self.id

/**
 * Reads a handle back from an id. A malformed id is a `TaskNotFound`: from the caller's side
 * there is no task under it.
 *
 * @example
 * ```ts
 * const handle = yield* TaskHandle.decode<Report, never>(params.id)
 * ```
 *
 * @since 0.1.0
 * @category conversions
 */
export const decode = <A = unknown, E = unknown>(id: string): Effect.Effect<TaskHandle<A, E>, TaskNotFound> =>
  isWellFormedTaskId(id) ? Effect.succeed(unsafeMake<A, E>(id)) : Effect.fail(new TaskNotFound({ id }))

const declared = <A, E>(): Schema.Schema<TaskHandle<A, E>> =>
  Schema.declare((u): u is TaskHandle<A, E> => isTaskHandle(u) && isWellFormedTaskId(u.id), {
    identifier: "TaskHandle",
    description: "a handle to a task submitted to an effect-executor Executor"
  })

const TaskId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_-]{24}$/, { message: () => "a task handle is 24 URL-safe base64 characters" })
)

const fromString = <A, E>(task?: string): Schema.Schema<TaskHandle<A, E>, string> =>
  Schema.transformOrFail(TaskId, declared<A, E>(), {
    strict: true,
    decode: (id) => ParseResult.succeed(unsafeMake<A, E>(id, task)),
    encode: (handle) => ParseResult.succeed(handle.id)
  })

/**
 * A Schema from the id string to a handle: put a handle in a cookie, a session or a URL and read
 * it back. Malformed strings fail to decode with a `ParseError`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const schema: Schema.Schema<TaskHandle<unknown, unknown>, string> = fromString()

/**
 * Like `schema`, with the types of one task's results attached. The decoded handle remembers the
 * task's name: an id of another task's handle is `TaskNotFound` for the executor.
 *
 * @example
 * ```ts
 * const ReportCookie = TaskHandle.schemaFor(BuildReport)
 * const handle = yield* Schema.decode(ReportCookie)(cookieValue)
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const schemaFor = <T extends Task.Task.Any>(
  task: T
): Schema.Schema<TaskHandle<Task.Task.Success<T>, Task.Task.Failure<T>>, string> => fromString(task.name)
