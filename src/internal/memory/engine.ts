import type { Clock, Context, Exit, FiberRefs } from "effect"
import { Duration, Effect, Fiber, FiberSet } from "effect"
import type { SubmitOptions } from "../../Executor.js"
import {
  ExecutorBusy,
  ExecutorClosed,
  type SubmitError,
  TaskFailed,
  type TaskInterrupted,
  TaskNotFound
} from "../../ExecutorError.js"
import * as Task from "../../Task.js"
import * as TaskHandle from "../../TaskHandle.js"
import type * as TaskStatus from "../../TaskStatus.js"
import { isWellFormedTaskId } from "../handleId.js"
import { openHoldOf, type RequestHold, type ResponseHolder, takeUnheldWarning } from "../requestHold.js"
import { taskMetrics } from "../taskMetrics.js"
import { logDrain, logDrainTimedOut, outcomeOf } from "../run/attempt.js"
import { makeLanes } from "../run/lanes.js"
import { RetryAt, taskEffect, timerEffect } from "./attempt.js"
import { type Entry, entryOf, type Lane, makeLane, readyDefaultLane, readyLane } from "./entry.js"
import { awaitEntry, statusOf } from "./info.js"
import { TaskRegistry } from "./registry.js"
import type { ForkOf, SupervisorConfig } from "./config.js"
import { resolveSubmission } from "./submission.js"

/**
 * The in-memory supervisor: a registry of entries, one heap per queue, and counters. All of its
 * bookkeeping is synchronous, so a Node `close` callback can release a request's held tasks in one
 * step. A task that starts gets a fiber of its own, forked into the layer's `FiberSet` with the
 * layer's runtime, its refs its submitter's (services, logger, clock, tracer: see `refsOf`). Held, delayed and queued tasks have no fiber
 * (a delayed one has a fiber sleeping out its delay).
 *
 * @internal
 */
export class Supervisor implements ResponseHolder<Entry> {
  private readonly registry: TaskRegistry<Entry>
  /**
   * When the supervisor was made: entries keep their times relative to it, as small integers that
   * V8 stores in the entry itself rather than as one boxed number per field.
   */
  readonly epoch: number
  /** Entries held, delayed, queued or running. */
  private unfinished = 0
  private readonly lanes: Map<string, Lane>
  private readonly defaultLane: Lane
  private readonly singleLane: boolean
  private pending = 0
  private running = 0
  private seq = 0
  private closed = false
  private stopped = false
  private onDrained: (() => void) | undefined = undefined
  /** Set while a task's fiber starts in place (see `launch`). */
  private startingInPlace = false

  constructor(
    readonly config: SupervisorConfig,
    private readonly clock: Clock.Clock,
    private readonly fibers: FiberSet.FiberSet<unknown, unknown>,
    private readonly fork: ForkOf
  ) {
    this.epoch = clock.unsafeCurrentTimeMillis()
    this.lanes = makeLanes(config.concurrency, config.queues, makeLane)
    this.defaultLane = this.lanes.get("default")!
    this.singleLane = this.lanes.size === 1
    this.registry = new TaskRegistry(config.maxRetained, Duration.toMillis(config.retention))
  }

  /** Whether this supervisor issued the task id and still retains it. */
  has(id: string | undefined): boolean {
    return id !== undefined && this.registry.has(id)
  }

  /** Number of entries in the registry, finished or not. */
  get size(): number {
    return this.registry.size
  }

  /**
   * Submits with the submitter's context and fiber refs (a submitting fiber's, or a runtime's for
   * the Promise API), synchronously: the answer is an `Exit` unless a warning is to be logged.
   * `given`: the hold of the request, kept by the Promise API's submitter; otherwise the hold is
   * found through the context (`openHoldOf`).
   */
  submitFrom(
    context: Context.Context<never>,
    refs: FiberRefs.FiberRefs,
    traced: boolean,
    task: Effect.Effect<unknown, unknown, unknown> | Task.TaskCall.Any,
    options: SubmitOptions | undefined,
    given: RequestHold | undefined
  ): Effect.Effect<TaskHandle.TaskHandle<any, any>, SubmitError> {
    if (this.closed) return Effect.fail(new ExecutorClosed())
    const key = options?.idempotencyKey
    if (key !== undefined) {
      const existing = this.registry.idOfKey(key, this.now())
      if (existing !== undefined) {
        return Effect.succeed(TaskHandle.unsafeMake(existing, Task.isTaskCall(task) ? task.task.name : undefined))
      }
    }
    if (this.pending >= this.config.maxBacklog) {
      return Effect.fail(new ExecutorBusy({ maxBacklog: this.config.maxBacklog }))
    }
    const now = this.now()
    const submission = resolveSubmission(task, options, this.lanes, now + this.epoch)
    if (Effect.isEffect(submission)) return submission
    const entry = entryOf(context, refs, traced, submission, options, this.seq++, this.config.sessionKey, now)
    this.registry.add(entry)
    this.unfinished++
    this.addPending(entry.lane, 1)
    entry.metrics.submitted.update(1)

    // A task runs with its submitter's context, request included; what it submits is not held
    // because its request's response is done by then.
    const hold = options?.when === "now" ? undefined : given ?? openHoldOf(context)
    const handle = TaskHandle.unsafeMake(entry.id, submission.task?.name)
    if (hold !== undefined) {
      hold.hold(this, entry)
      return Effect.succeed(handle)
    }
    this.release(entry, true, now)
    const warning = takeUnheldWarning()
    return warning === undefined ? Effect.succeed(handle) : Effect.as(warning, handle)
  }

  status(handle: TaskHandle.TaskHandle<unknown, unknown>): Effect.Effect<TaskStatus.TaskStatus<any, any>, TaskNotFound> {
    return Effect.suspend(() => {
      const entry = this.lookup(handle)
      if (entry === undefined) return Effect.fail(new TaskNotFound({ id: String(handle?.id) }))
      return Effect.succeed(statusOf(entry))
    })
  }

  await(
    handle: TaskHandle.TaskHandle<unknown, unknown>
  ): Effect.Effect<any, TaskFailed | TaskInterrupted | TaskNotFound | unknown> {
    return Effect.suspend(() => {
      const entry = this.lookup(handle)
      if (entry === undefined) return Effect.fail(new TaskNotFound({ id: String(handle?.id) }))
      return awaitEntry(entry)
    })
  }

  /** A running task: its own fiber is interrupted (its finalizers run); any other one never starts. */
  interrupt(handle: TaskHandle.TaskHandle<unknown, unknown>): Effect.Effect<void, TaskNotFound> {
    return Effect.suspend(() => {
      const entry = this.lookup(handle)
      if (entry === undefined) return Effect.fail(new TaskNotFound({ id: String(handle?.id) }))
      if (entry.state === "Running") {
        // its fiber's observer records it as interrupted
        return entry.fiber === undefined ? Effect.void : Fiber.interrupt(entry.fiber).pipe(Effect.asVoid)
      }
      if (!entry.finished) this.cancelPending(entry)
      return Effect.void
    })
  }

  /**
   * Stops intake, lets held, queued and running tasks finish for `drainTimeout`, then interrupts
   * the fibers of whatever is left (the layer's FiberSet) and waits for them to end.
   */
  shutdown(): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      this.closed = true
      if (this.unfinished > 0) {
        yield* logDrain({ running: this.running, waiting: this.pending }, this.config.drainTimeout)
        // Finalizers run uninterruptibly; the wait must be interruptible for the timeout to end it.
        yield* Effect.async<void>((resume) => {
          this.onDrained = () => resume(Effect.void)
          if (this.unfinished === 0) resume(Effect.void)
        }).pipe(Effect.interruptible, Effect.timeoutOption(this.config.drainTimeout))
        this.onDrained = undefined
        if (this.unfinished > 0) yield* logDrainTimedOut(this.unfinished, this.config.drainTimeout)
      }
      this.stopped = true
      for (const entry of this.registry.unfinished()) {
        if (entry.state !== "Running") this.cancelPending(entry)
      }
      yield* FiberSet.clear(this.fibers)
    })
  }

  /** The entry under an id, if it is retained. */
  retained(id: string): Entry | undefined {
    return isWellFormedTaskId(id) ? this.registry.get(id, this.now()) : undefined
  }

  /** Retained entries, newest first. */
  retainedAll(): ReadonlyArray<Entry> {
    return this.registry.values(this.now())
  }

  /** Runs a failed or interrupted task again, from its first attempt (see `memory/admin.ts`). */
  rerun(entry: Entry): void {
    entry.attempt = 0
    entry.failedSince = -1
    entry.error = undefined
    entry.finishedAt = 0
    entry.startedAt = -1
    this.registry.reopen(entry)
    this.unfinished++
    this.addPending(entry.lane, 1)
    this.enqueue(entry, true, this.now())
  }

  /** Whether intake has stopped (the layer is closing). */
  get isClosed(): boolean {
    return this.closed
  }

  /** Forgets finished tasks past their retention; answers how many. */
  prune(): number {
    return this.registry.prune(this.now())
  }

  /**
   * Hands a finished request's held tasks to the queues in one step. From the response's `close`
   * callback, the first task that starts runs in that callback rather than a scheduler tick later.
   */
  releaseHeld(group: ReadonlyArray<Entry>, aborted: boolean, _inCallback: boolean): void {
    const now = this.now()
    for (const entry of group) {
      if (entry.state !== "Held") continue
      if (aborted && entry.onAbort === "drop") this.cancelPending(entry)
      else this.release(entry, false, now)
    }
    this.dispatch()
  }

  /** Milliseconds since `epoch`. */
  private now(): number {
    return this.clock.unsafeCurrentTimeMillis() - this.epoch
  }

  private addPending(lane: Lane, delta: number): void {
    this.pending += delta
    lane.pending += delta
    lane.backlog.update(lane.pending)
  }

  private lookup(handle: TaskHandle.TaskHandle<unknown, unknown>): Entry | undefined {
    const id = handle?.id
    if (!isWellFormedTaskId(id)) return undefined
    const entry = this.registry.get(id, this.now())
    return entry === undefined || (handle.task !== undefined && handle.task !== entry.name) ? undefined : entry
  }

  private release(entry: Entry, dispatch: boolean, now: number): void {
    if (this.stopped) return this.cancelPending(entry)
    if (entry.delayMillis > 0) {
      entry.waitUntil = this.epoch + now + entry.delayMillis
      return this.wait(entry, entry.delayMillis)
    }
    this.enqueue(entry, dispatch, now)
  }

  /** Waits out a delay or a retry's backoff with no slot taken, in a timer fiber on the submitter's clock. */
  private wait(entry: Entry, wait: number | RetryAt): void {
    entry.state = "Delayed"
    const due = () => {
      entry.timer = undefined
      entry.waitUntil = -1
      // unless it was cancelled while the timer's interruption was on its way
      if (entry.state === "Delayed") this.enqueue(entry, true, this.now())
    }
    entry.timer = this.fork(entry, timerEffect(wait, due), true)
  }

  private enqueue(entry: Entry, dispatch: boolean, now: number): void {
    entry.state = "Queued"
    entry.releasedAt = now
    entry.lane.heap.push(entry)
    if (dispatch) this.dispatch()
  }

  /** Starts ready tasks, each in its own fiber, while the global and their queue's limits allow. */
  private dispatch(): void {
    for (;;) {
      const lane = this.nextLane()
      if (lane === undefined) return
      const entry = lane.heap.pop()!
      this.start(entry, this.now())
      this.launch(entry)
    }
  }

  /** The lane whose head runs next, if a slot is free for it. */
  private nextLane(): Lane | undefined {
    if (this.stopped || this.running >= this.config.concurrency) return undefined
    return this.singleLane ? readyDefaultLane(this.defaultLane) : readyLane(this.lanes.values())
  }

  private start(entry: Entry, now: number): void {
    entry.state = "Running"
    this.addPending(entry.lane, -1)
    this.running++
    entry.lane.running++
    entry.startedAt = now
    taskMetrics.started(entry.metrics, entry.startedAt - entry.releasedAt)
  }

  /**
   * Forks a running task's own fiber. It starts in place (it runs until it first suspends before
   * `submit`, or the response's `close` callback, returns), unless it is started by a task starting
   * in place: a queue drained by tasks that end at once would otherwise nest one call per task.
   * Its observer records the outcome, however the fiber ends, and starts what is ready next.
   */
  private launch(entry: Entry): void {
    const inPlace = !this.startingInPlace
    this.startingInPlace = true
    let fiber: Fiber.RuntimeFiber<unknown, unknown>
    try {
      fiber = this.fork(entry, taskEffect(entry), inPlace)
    } finally {
      if (inPlace) this.startingInPlace = false
    }
    // a fiber that ended in place calls its observer at once
    entry.fiber = fiber
    fiber.addObserver((exit) => this.ended(entry, fiber, exit))
  }

  /** A task's fiber has ended: records its outcome, then starts what is ready. */
  private ended(entry: Entry, fiber: Fiber.RuntimeFiber<unknown, unknown>, exit: Exit.Exit<unknown, unknown>): void {
    if (entry.fiber === fiber) entry.fiber = undefined
    if (entry.state !== "Running") return
    const now = this.now()
    this.running--
    entry.lane.running--
    if (exit._tag === "Success" && exit.value instanceof RetryAt) {
      // the attempt failed and the retry policy wants another: the slot is free meanwhile
      taskMetrics.ended(entry.metrics, "other", now - entry.startedAt)
      this.addPending(entry.lane, 1)
      entry.waitUntil = exit.value.at
      if (this.stopped) this.cancelPending(entry)
      else this.wait(entry, exit.value)
    } else if (exit._tag === "Success") {
      taskMetrics.ended(entry.metrics, "succeeded", now - entry.startedAt)
      entry.value = exit.value
      this.finish(entry, "Succeeded", now)
    } else {
      const outcome = outcomeOf(exit.cause)
      taskMetrics.ended(entry.metrics, outcome._tag === "Interrupted" ? "other" : "failed", now - entry.startedAt)
      entry.error = outcome._tag === "Interrupted" ? undefined : outcome.error
      this.finish(entry, outcome._tag === "Interrupted" ? "Interrupted" : "Failed", now)
    }
    this.dispatch()
  }

  /** Ends an entry that is not running (held, delayed or queued) as `Interrupted`. */
  private cancelPending(entry: Entry): void {
    if (entry.state === "Queued") entry.lane.heap.remove(entry)
    if (entry.timer !== undefined) {
      entry.timer.unsafeInterruptAsFork(entry.timer.id())
      entry.timer = undefined
    }
    this.addPending(entry.lane, -1)
    this.finish(entry, "Interrupted", this.now())
  }

  private finish(entry: Entry, state: "Succeeded" | "Failed" | "Interrupted", now: number): void {
    entry.state = state
    entry.finishedAt = now
    if (state === "Succeeded") {
      // kept for a retry of failed and interrupted tasks only; bounded by maxRetained
      entry.body = undefined
      entry.refs = undefined
    }
    this.unfinished--
    this.registry.finished(entry)
    const waiters = entry.waiters
    if (waiters !== undefined) {
      entry.waiters = undefined
      for (const waiter of waiters) waiter()
    }
    if (this.closed && this.unfinished === 0 && this.onDrained !== undefined) {
      const drained = this.onDrained
      this.onDrained = undefined
      drained()
    }
  }
}
