/**
 * The test layer's recorder: a wrapper of an executor's `submit` that keeps each handle it gives
 * (with the request it was submitted in) and watches it to its end with the executor's own
 * `await`, so that its final status stays here, whatever the executor's retention, until a test
 * takes it. Built over public pieces only: the `Executor` and `DurableExecutor` interfaces.
 *
 * @internal
 */
import { HttpServerRequest } from "@effect/platform"
import { Cause, Context, Data, Deferred, Duration, Effect, Exit, FiberId, FiberSet, Layer, Option } from "effect"
import { ResponseLifecycle } from "../../AfterResponse.js"
import { DurableExecutor, type SubmitAllOptions } from "../../DurableExecutor.js"
import * as Executor from "../../Executor.js"
import { TaskInterrupted, type TaskNotFound } from "../../ExecutorError.js"
import type * as ExecutorTest from "../../ExecutorTest.js"
import * as Task from "../../Task.js"
import type * as TaskHandle from "../../TaskHandle.js"
import * as TaskStatus from "../../TaskStatus.js"
import { awaitedOf } from "../run/codec.js"

/** @internal */
export const tag = Context.GenericTag<ExecutorTest.ExecutorTest>("effect-executor/ExecutorTest")

/** @internal */
export class Unfinished extends Data.TaggedError("Unfinished")<{
  readonly timeout: Duration.Duration
  readonly pending: ReadonlyArray<ExecutorTest.Pending>
}> {
  override get message(): string {
    const lines = this.pending.map((p) =>
      `${p.handle.id} ${p.name} ${p.state}${p.request === undefined ? "" : ` (from ${p.request.method} ${p.request.url})`}`
    )
    return `${this.pending.length} submitted task(s) did not finish within ${Duration.format(this.timeout)}: ${lines.join("; ")}`
  }
}

interface Entry {
  readonly handle: TaskHandle.TaskHandle<unknown, unknown>
  readonly name: string
  readonly request: ExecutorTest.Request | undefined
  status: TaskStatus.TaskStatus<unknown, unknown> | undefined
  readonly done: Deferred.Deferred<void>
}

const submissionOf = (entry: Entry): ExecutorTest.Submission => ({
  handle: entry.handle,
  name: entry.name,
  request: entry.request,
  status: entry.status
})

/** The status a finished task's `await` answered, when the executor no longer knows it. */
const statusFromExit = (exit: Exit.Exit<unknown, unknown>): TaskStatus.TaskStatus<unknown, unknown> => {
  if (Exit.isSuccess(exit)) return TaskStatus.Succeeded({ value: exit.value, attempts: 0 })
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure) || failure.value instanceof TaskInterrupted) return TaskStatus.Interrupted()
  return TaskStatus.Failed({ error: failure.value, attempts: 0 })
}

/** Waits `millis` of real time, whatever clock the fiber has (a `TestClock` never moves by itself). */
const realSleep = (millis: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(timer))
  })

/** @internal */
export const wrap = <ROut, E, RIn>(
  layer: Layer.Layer<ROut | Executor.Executor, E, RIn>,
  options: ExecutorTest.Options = {}
): Layer.Layer<ROut | Executor.Executor | ExecutorTest.ExecutorTest, E, RIn> =>
  Layer.scopedContext(Effect.gen(function*() {
    const context = (yield* Layer.build(layer)) as Context.Context<ROut | Executor.Executor>
    const inner = Context.get(context, Executor.Executor)
    const fibers = yield* FiberSet.make<unknown, unknown>()
    const recorder = makeRecorder(inner, fibers, options)
    let out = Context.add(context, Executor.Executor, recorder.executor)
    const durable = Context.getOption(context as Context.Context<unknown>, DurableExecutor)
    if (Option.isSome(durable)) {
      out = Context.add(out, DurableExecutor, recorder.durable(durable.value)) as typeof out
    }
    return Context.add(out, tag, recorder.service)
  })) as Layer.Layer<ROut | Executor.Executor | ExecutorTest.ExecutorTest, E, RIn>

const makeRecorder = (
  inner: Executor.Executor,
  fibers: FiberSet.FiberSet<unknown, unknown>,
  options: ExecutorTest.Options
) => {
  const header = (options.requestIdHeader ?? "x-request-id").toLowerCase()
  const defaultTimeout = Duration.decode(options.timeout ?? "5 seconds")
  /** Recorded and not yet taken, in submission order. */
  const entries = new Map<string, Entry>()
  /** One `Request` per request, so that its submissions share it. */
  const requests = new WeakMap<object, ExecutorTest.Request>()

  const requestOf = (source: object, method: string, url: string, id: string | undefined): ExecutorTest.Request => {
    let request = requests.get(source)
    if (request === undefined) {
      request = { method, url, id }
      requests.set(source, request)
    }
    return request
  }

  const currentRequest: Effect.Effect<ExecutorTest.Request | undefined> = Effect.map(
    Effect.context<never>(),
    (context) => {
      const response = Context.getOption(context, ResponseLifecycle)
      if (Option.isSome(response) && response.value.req !== undefined) {
        const req = response.value.req
        const id = req.headers[header]
        return requestOf(response.value, req.method ?? "GET", req.url ?? "/", typeof id === "string" ? id : undefined)
      }
      const request = Context.getOption(context, HttpServerRequest.HttpServerRequest)
      if (Option.isNone(request)) return undefined
      const id = request.value.headers[header]
      return requestOf(request.value, request.value.method, request.value.url, id)
    }
  )

  /** Watches an entry to its end; its status is kept here from then on. */
  const watch = (entry: Entry): Effect.Effect<void> =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(inner.await(entry.handle))
      const status = yield* Effect.either(inner.status(entry.handle))
      entry.status = status._tag === "Right" && TaskStatus.isFinished(status.right) ? status.right : statusFromExit(exit)
      yield* Deferred.succeed(entry.done, undefined)
    })

  const record = (
    handle: TaskHandle.TaskHandle<unknown, unknown>,
    name: string,
    request: ExecutorTest.Request | undefined
  ): Effect.Effect<Entry> =>
    Effect.suspend(() => {
      const known = entries.get(handle.id)
      if (known !== undefined) return Effect.succeed(known)
      const entry: Entry = { handle, name, request, status: undefined, done: Deferred.unsafeMake(FiberId.none) }
      entries.set(handle.id, entry)
      return Effect.as(FiberSet.run(fibers, watch(entry)), entry)
    })

  const submitted = <S>(submit: (task: any, options?: Executor.SubmitOptions) => Effect.Effect<S, any, any>) =>
  (task: any, submitOptions?: Executor.SubmitOptions) =>
    Effect.flatMap(currentRequest, (request) =>
      Effect.tap(submit(task, submitOptions), (handle: any) =>
        record(handle, Task.isTaskCall(task) ? task.task.name : submitOptions?.name ?? "effect", request)))

  /** `status` and `await` answer from the record once the executor has forgotten a task. */
  const kept = (handle: TaskHandle.TaskHandle<unknown, unknown>) => entries.get(handle?.id)?.status

  const status = <A, E>(inner: Executor.Executor["status"]) => (handle: TaskHandle.TaskHandle<A, E>) =>
    Effect.catchTag(inner(handle), "TaskNotFound", (error: TaskNotFound) => {
      const status = kept(handle)
      return status === undefined ? Effect.fail(error) : Effect.succeed(status as TaskStatus.TaskStatus<A, E>)
    })

  const await_ = (inner: Executor.Executor["await"]) => (handle: TaskHandle.TaskHandle<any, any>) =>
    Effect.catchIf(
      inner(handle),
      (error: any) => error?._tag === "TaskNotFound" && kept(handle) !== undefined,
      // a kept status is a final one
      () => awaitedOf(kept(handle)!, handle.id)!
    )

  const executor: Executor.Executor = {
    reliability: inner.reliability,
    submit: submitted(inner.submit) as Executor.Executor["submit"],
    status: status(inner.status) as Executor.Executor["status"],
    await: await_(inner.await) as Executor.Executor["await"],
    interrupt: inner.interrupt
  }

  const durable = (durable: DurableExecutor): DurableExecutor => ({
    reliability: "durable",
    submit: submitted(durable.submit) as unknown as DurableExecutor["submit"],
    submitAll: ((calls: Iterable<Task.TaskCall.Any>, options?: SubmitAllOptions<any>) =>
      Effect.flatMap(currentRequest, (request) =>
        Effect.tap(
          durable.submitAll(calls, options),
          (handles) => Effect.forEach(handles, (handle) => record(handle, handle.task ?? "unknown", request))
        ))) as DurableExecutor["submitAll"],
    status: status(durable.status as Executor.Executor["status"]) as DurableExecutor["status"],
    await: await_(durable.await) as DurableExecutor["await"],
    interrupt: durable.interrupt
  })

  const matches = (selector: ExecutorTest.Selector | undefined): Effect.Effect<ReadonlyArray<Entry>> =>
    Effect.suspend(() => {
      const all = Array.from(entries.values())
      if (selector === undefined) return Effect.succeed(all)
      if (typeof selector === "function") return Effect.succeed(all.filter((entry) => selector(submissionOf(entry))))
      if ("requestId" in selector) {
        return Effect.succeed(all.filter((entry) => entry.request?.id === selector.requestId))
      }
      // handles: the ones recorded, and the others watched from now on
      return Effect.forEach(
        Array.from(selector as Iterable<TaskHandle.TaskHandle<unknown, unknown>>),
        (handle) => record(handle, handle.task ?? "unknown", undefined)
      )
    })

  const pendingOf = (open: ReadonlyArray<Entry>): Effect.Effect<ReadonlyArray<ExecutorTest.Pending>> =>
    Effect.forEach(open, (entry) =>
      Effect.map(Effect.either(inner.status(entry.handle)), (status): ExecutorTest.Pending => {
        const current = status._tag === "Right" ? status.right : undefined
        const state = current === undefined
          ? "unknown"
          : current._tag === "Running"
          ? `running (attempt ${current.attempt})`
          : current._tag === "Queued" && current.runAt !== undefined
          ? `queued (until ${current.runAt.toISOString()}${current.attempts === undefined ? "" : `, ${current.attempts} attempt(s) made`})`
          : current._tag.toLowerCase()
        return { handle: entry.handle, name: entry.name, request: entry.request, state, status: current }
      }))

  const finishedOf = (entry: Entry): ExecutorTest.Finished => ({ ...submissionOf(entry), status: entry.status! })

  const take = (taken: ReadonlyArray<Entry>): ReadonlyArray<ExecutorTest.Finished> => {
    for (const entry of taken) entries.delete(entry.handle.id)
    return taken.map(finishedOf)
  }

  /** Runs `wait` within `timeout` of real time, or fails with what is still open. */
  const within = (
    wait: Effect.Effect<ReadonlyArray<Entry>>,
    open: () => ReadonlyArray<Entry>,
    timeout: Duration.DurationInput | undefined
  ): Effect.Effect<ReadonlyArray<ExecutorTest.Finished>, ExecutorTest.Unfinished> => {
    const limit = timeout === undefined ? defaultTimeout : Duration.decode(timeout)
    return Effect.raceFirst(
      Effect.map(wait, Option.some),
      Effect.as(realSleep(Duration.toMillis(limit)), Option.none<ReadonlyArray<Entry>>())
    ).pipe(
      Effect.flatMap(Option.match({
        onSome: (done) => Effect.succeed(take(done)),
        onNone: () =>
          Effect.flatMap(
            pendingOf(open().filter((entry) => entry.status === undefined)),
            (pending) => Effect.fail(new Unfinished({ timeout: limit, pending }))
          )
      }))
    )
  }

  const awaitAll = (selected: ReadonlyArray<Entry>) =>
    Effect.as(Effect.forEach(selected, (entry) => Deferred.await(entry.done), { discard: true }), selected)

  const service: ExecutorTest.ExecutorTest = {
    submitted: (selector) => Effect.map(matches(selector), (selected) => selected.map(submissionOf)),
    awaitSubmitted: (selector, awaitOptions) =>
      Effect.flatMap(matches(selector), (selected) => within(awaitAll(selected), () => selected, awaitOptions?.timeout)),
    drain: (drainOptions) => {
      // until nothing recorded is open: what the tasks themselves submit meanwhile is waited for too
      const loop: Effect.Effect<ReadonlyArray<Entry>> = Effect.suspend(() => {
        const open = Array.from(entries.values()).filter((entry) => entry.status === undefined)
        return open.length === 0 ? Effect.sync(() => Array.from(entries.values())) : Effect.zipRight(awaitAll(open), loop)
      })
      return within(loop, () => Array.from(entries.values()), drainOptions?.timeout)
    }
  }

  return { executor, durable, service }
}
