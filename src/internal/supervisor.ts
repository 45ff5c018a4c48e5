import type { Clock, MetricHook, Scope } from "effect"
import {
  Cause,
  Duration,
  Effect,
  Either,
  Fiber,
  FiberId,
  FiberRef,
  FiberRefs,
  ParseResult,
  Runtime,
  Scheduler,
  Schema,
  Tracer
} from "effect"
import type { SubmitOptions } from "../Executor.js"
import {
  ExecutorBusy,
  ExecutorClosed,
  InvalidOptions,
  InvalidPayload,
  type SubmitError,
  TaskFailed,
  TaskInterrupted,
  TaskFailure,
  TaskNotFound,
  UnknownQueue,
  UnknownTask
} from "../ExecutorError.js"
import * as ExecutorAdmin from "../ExecutorAdmin.js"
import type { StoredState } from "../TaskStore.js"
import * as Task from "../Task.js"
import * as TaskHandle from "../TaskHandle.js"
import * as TaskStatus from "../TaskStatus.js"
import { isWellFormedTaskId, randomTaskId } from "./handleId.js"
import { openHoldOf, type ResponseHolder } from "./requestHold.js"
import { hashSession } from "./sessionHash.js"
import { type Hooks, taskMetrics } from "./taskMetrics.js"
import { defectMessage, delayOf } from "./taskOutcome.js"
import { isTracing, taskSpan } from "./taskSpan.js"
import { TaskHeap } from "./taskHeap.js"
import { TaskRegistry } from "./taskRegistry.js"

/** @internal */
export interface SupervisorConfig {
  readonly concurrency: number
  readonly queues: Readonly<Record<string, { readonly concurrency: number }>>
  readonly maxBacklog: number
  readonly retention: Duration.Duration
  readonly maxRetained: number
  readonly drainTimeout: Duration.Duration
  /** The key a submit's `session` is hashed with; only the hash is kept. */
  readonly sessionKey: string
}

type State = "Held" | "Delayed" | "Queued" | "Running" | "Succeeded" | "Failed" | "Interrupted"

interface Lane {
  readonly name: string
  readonly concurrency: number
  running: number
  pending: number
  readonly heap: TaskHeap<Entry>
  /** Metric hooks per task name, so a submit does not build a key to find them. */
  readonly hooks: Map<string, Hooks>
  readonly backlog: MetricHook.MetricHook<number, unknown>
}

const makeLane = (name: string, concurrency: number): Lane => ({
  name,
  concurrency,
  running: 0,
  pending: 0,
  heap: new TaskHeap(),
  hooks: new Map(),
  backlog: taskMetrics.backlogOf(name)
})

const hooksOf = (lane: Lane, task: string): Hooks => {
  let hooks = lane.hooks.get(task)
  if (hooks === undefined) {
    hooks = taskMetrics.of(task, lane.name)
    lane.hooks.set(task, hooks)
  }
  return hooks
}

/**
 * A long-lived fiber that runs tasks one after another. `current` is the task it runs; `resume`
 * hands it its next task while it is idle.
 */
interface Worker {
  fiber: Fiber.RuntimeFiber<void> | undefined
  current: Entry | undefined
  resume: ((effect: Effect.Effect<void>) => void) | undefined
  /** The worker's fiber as the runtime sees it, to swap in a submitter's fiber refs. */
  runtimeFiber: RuntimeFiberInternals | undefined
  /** The task's effect with the worker's outcome handlers, for a task handed to it while idle. */
  runTask: ((entry: Entry) => Effect.Effect<void>) | undefined
  readonly scheduler: HandOverScheduler
}

/**
 * The members of Effect's FiberRuntime that a worker uses to run a task with its submitter's refs,
 * and to put the continuation its tasks end in on its stack.
 */
interface RuntimeFiberInternals {
  setFiberRefs(refs: FiberRefs.FiberRefs): void
  currentScheduler: Scheduler.Scheduler
  pushStack?: (frame: unknown) => void
}

/**
 * What a worker does once a task ends, as a continuation frame built once per worker, and how a
 * task is started under it. Effect's `matchCauseEffect` instruction pushes itself on the fiber's
 * stack and goes on with its effect: pushing the same instruction here, then going on with the
 * task, does what that step does, without the step (about 1,000-2,000 instructions of the run
 * loop) and without a new instruction object per task. Falls back to `matchCauseEffect` should
 * Effect's instruction or its stack change shape.
 *
 * @internal
 */
export const continuationOf = (
  fiber: RuntimeFiberInternals,
  outcome: {
    readonly onSuccess: (value: unknown) => Effect.Effect<void>
    readonly onFailure: (cause: Cause.Cause<unknown>) => Effect.Effect<void>
  }
): (task: Effect.Effect<unknown, unknown>) => Effect.Effect<void> => {
  const frame = Effect.matchCauseEffect(Effect.void, outcome) as unknown as {
    readonly _op?: unknown
    readonly effect_instruction_i1?: unknown
    readonly effect_instruction_i2?: unknown
  }
  if (
    typeof fiber.pushStack !== "function" || frame._op !== "OnSuccessAndFailure" ||
    frame.effect_instruction_i1 !== outcome.onFailure || frame.effect_instruction_i2 !== outcome.onSuccess
  ) {
    return (task) => Effect.matchCauseEffect(task, outcome)
  }
  return (task) => {
    fiber.pushStack!(frame)
    return task as Effect.Effect<void>
  }
}

/**
 * A fiber's refs as they are, without the copy `getFiberRefs()` makes to record the runtime flags
 * (a task gets the flags of its worker, not of its submitter). The field is FiberRuntime's own.
 */
const refsOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): FiberRefs.FiberRefs =>
  (fiber as unknown as { readonly _fiberRefs?: FiberRefs.FiberRefs })._fiberRefs ?? fiber.getFiberRefs()

/** What a worker's scheduler tells the supervisor about a hand-over it schedules. */
interface HandOvers {
  /** A hand-over was scheduled: its worker has not run yet. */
  readonly scheduled: () => void
  /** A scheduled hand-over's worker is about to run. */
  readonly starting: () => void
}

/**
 * A worker's scheduler while it runs a task: the task's own (its submitter's), with two exceptions
 * for the resumption that hands an idle worker its task.
 * - From a response's `close` callback it runs at once, in that callback, instead of a microtask
 *   later: that saves the scheduler's bookkeeping and a promise per task (about 1.3 KB allocated
 *   per request).
 * - Otherwise the supervisor is told when it is scheduled and when it starts, so that a burst of
 *   submits hands over one task at a time: the worker that starts takes the next ones itself
 *   while they finish quickly, and hands them on while it waits (see `dispatch`).
 */
class HandOverScheduler implements Scheduler.Scheduler {
  runNextInPlace = false
  handingOver = false
  /** The running task's own scheduler, set by `enter` before the fiber is given this one. */
  delegate: Scheduler.Scheduler = Scheduler.defaultScheduler

  constructor(private readonly handOvers: HandOvers) {}

  scheduleTask(task: Scheduler.Task, priority: number): void {
    if (this.runNextInPlace) {
      this.runNextInPlace = false
      task()
    } else if (this.handingOver) {
      this.handingOver = false
      const handOvers = this.handOvers
      handOvers.scheduled()
      this.delegate.scheduleTask(() => {
        handOvers.starting()
        task()
      }, priority)
    } else {
      this.delegate.scheduleTask(task, priority)
    }
  }

  shouldYield(fiber: Fiber.RuntimeFiber<unknown, unknown>): number | false {
    return this.delegate.shouldYield(fiber)
  }
}

/**
 * An effect that suspends its fiber until `register`'s callback is called, and can be run any
 * number of times: Effect's own async instruction, built once. `Effect.async` builds a new one, and
 * its closures, each time it runs, one step more per idle period of a worker (measured with
 * bench/instructions.ts). Falls back to `Effect.async` should Effect's instruction change shape.
 */
const reusableAsync = (register: (resume: (effect: Effect.Effect<void>) => void) => void): Effect.Effect<void> => {
  // a register of one parameter and no canceler: Effect.async answers its bare instruction
  const made = Effect.async<void>((_resume) => {})
  const instruction = (made as unknown as { commit?: () => { _op?: unknown; effect_instruction_i0?: unknown } })
    .commit?.()
  if (instruction?._op !== "Async" || typeof instruction.effect_instruction_i0 !== "function") {
    return Effect.async<void>(register)
  }
  instruction.effect_instruction_i0 = register
  return instruction as unknown as Effect.Effect<void>
}

/** One submitted task, from submit until its retention ends. */
class Entry {
  state: State = "Held"
  attempt = 0
  heapIndex = -1
  /** The worker running it, while it runs. */
  worker: Worker | undefined = undefined
  timer: Fiber.RuntimeFiber<void> | undefined = undefined
  value: unknown = undefined
  error: unknown = undefined
  waiters: Array<() => void> | undefined = undefined
  /** The registry's: the generation that holds it, and its place there. */
  generation: unknown = undefined
  slot = -1
  /** Times in milliseconds since the supervisor's `epoch`: small integers, stored unboxed. */
  finishedAt = 0
  startedAt = -1
  releasedAt = 0
  constructor(
    readonly id: string,
    readonly name: string,
    readonly lane: Lane,
    readonly metrics: Hooks,
    readonly priority: number,
    readonly seq: number,
    /** The task's effect and its submitter's fiber refs: dropped once it succeeds. */
    public body: Effect.Effect<unknown, unknown> | undefined,
    public refs: FiberRefs.FiberRefs | undefined,
    readonly onAbort: Task.OnAbort,
    readonly delayMillis: number,
    readonly idempotencyKey: string | undefined,
    readonly task: Task.Task.Any | undefined,
    readonly sessionHash: string | undefined,
    readonly createdAt: number
  ) {}

  get finished(): boolean {
    return this.state === "Succeeded" || this.state === "Failed" || this.state === "Interrupted"
  }
}

/**
 * The in-memory supervisor: a registry of entries, one heap per queue, and counters. All of its
 * bookkeeping is synchronous, so a Node `close` callback can release a request's held tasks in one
 * step; the only fibers are the ones running tasks (and one timer per delayed task).
 *
 * @internal
 */
export class Supervisor implements ResponseHolder<Entry> {
  private readonly registry: TaskRegistry<Entry>
  /**
   * When the supervisor was made: entries keep their times relative to it, as small integers that
   * V8 stores in the entry itself rather than as one boxed number per field (for 12 days of uptime).
   */
  private readonly epoch: number
  /** Entries held, delayed, queued or running. */
  private unfinished = 0
  private readonly lanes = new Map<string, Lane>()
  private readonly defaultLane: Lane
  private readonly singleLane: boolean
  private readonly workers = new Set<Worker>()
  private readonly idle: Array<Worker> = []
  /** Workers started that have not looked for a task yet. */
  private starting = 0
  private pending = 0
  private running = 0
  private seq = 0
  private closed = false
  private stopped = false
  private onDrained: (() => void) | undefined = undefined
  /** Set while a worker starts in place (see `spawnWorker`). */
  private startingInPlace = false
  /** Set while `dispatch` runs in a response's `close` callback: the first hand-over runs in place. */
  private inCallback = false
  /** Hand-overs scheduled whose worker has not run yet: while there is one, `dispatch` waits. */
  private scheduledHandOvers = 0
  private readonly handOvers: HandOvers = {
    scheduled: () => {
      this.scheduledHandOvers++
    },
    starting: () => {
      this.scheduledHandOvers--
      // the worker about to run takes its own task; the next ready one goes to another worker
      this.dispatch()
    }
  }

  constructor(
    readonly config: SupervisorConfig,
    private readonly clock: Clock.Clock,
    private readonly workerRuntime: Runtime.Runtime<never>
  ) {
    this.epoch = clock.unsafeCurrentTimeMillis()
    this.defaultLane = makeLane("default", config.concurrency)
    this.lanes.set("default", this.defaultLane)
    for (const [name, lane] of Object.entries(config.queues)) {
      if (name !== "default") this.lanes.set(name, makeLane(name, lane.concurrency))
    }
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
   * Submits on the submitter's fiber, so that `Executor.submit` costs one step of that fiber
   * (measured with bench/instructions.ts).
   */
  submitIn(
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    task: Effect.Effect<unknown, unknown, unknown> | Task.TaskCall.Any,
    options: SubmitOptions | undefined
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

    let name: string
    let body: Effect.Effect<unknown, unknown>
    let def: Task.Task.Any | undefined
    if (Task.isTaskCall(task)) {
      def = task.task
      const valid = Schema.validateEither(def.payload as Schema.Schema<unknown, unknown, never>)(task.payload)
      if (Either.isLeft(valid)) {
        return Effect.fail(
          new InvalidPayload({ task: def.name, reason: ParseResult.TreeFormatter.formatErrorSync(valid.left) })
        )
      }
      name = def.name
      body = def.run(valid.right) as Effect.Effect<unknown, unknown>
    } else {
      name = options?.name ?? "effect"
      body = task as Effect.Effect<unknown, unknown>
    }

    const queue = options?.queue ?? def?.queue
    const lane = queue === undefined ? this.defaultLane : this.lanes.get(queue)
    if (lane === undefined) return Effect.fail(new UnknownQueue({ queue: queue! }))
    const priority = options?.priority ?? def?.priority ?? 0
    if (!Number.isFinite(priority)) return Effect.fail(new InvalidOptions({ reason: "priority must be finite" }))
    const now = this.now()
    const delayMillis = delayOf(options, now + this.epoch)
    if (delayMillis === undefined) {
      return Effect.fail(new InvalidOptions({ reason: "delay must be a non-negative duration and runAt a valid date" }))
    }

    const entry = new Entry(
      randomTaskId(),
      name,
      lane,
      hooksOf(lane, name),
      priority,
      this.seq++,
      body,
      refsOf(fiber),
      options?.onAbort ?? def?.onAbort ?? "run",
      delayMillis,
      key,
      def,
      options?.session === undefined ? undefined : hashSession(this.config.sessionKey, options.session),
      now
    )
    this.registry.add(entry)
    this.unfinished++
    this.addPending(entry.lane, 1)
    entry.metrics.submitted.update(1)

    // A task runs with its submitter's context, request included; what it submits is not held
    // because its request's response is done by then.
    const hold = options?.when === "now" ? undefined : openHoldOf(fiber.currentContext)
    if (hold !== undefined) hold.hold(this, entry)
    else this.release(entry, true, now)
    return Effect.succeed(TaskHandle.unsafeMake(entry.id, def?.name))
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
      if (entry.finished) return resultOf(entry)
      return Effect.async<unknown, unknown>((resume) => {
        const waiter = () => resume(resultOf(entry))
        ;(entry.waiters ??= []).push(waiter)
        return Effect.sync(() => {
          const i = entry.waiters?.indexOf(waiter) ?? -1
          if (i >= 0) entry.waiters!.splice(i, 1)
        })
      })
    })
  }

  interrupt(handle: TaskHandle.TaskHandle<unknown, unknown>): Effect.Effect<void, TaskNotFound> {
    return Effect.suspend(() => {
      const entry = this.lookup(handle)
      if (entry === undefined) return Effect.fail(new TaskNotFound({ id: String(handle?.id) }))
      if (entry.state === "Running") {
        const worker = entry.worker
        // the worker records the task as interrupted, then ends; a new worker takes its place
        return worker?.current === entry && worker.fiber !== undefined
          ? Fiber.interrupt(worker.fiber).pipe(Effect.asVoid)
          : Effect.void
      }
      if (!entry.finished) this.cancelPending(entry)
      return Effect.void
    })
  }

  /**
   * Stops intake, lets held, queued and running tasks finish for `drainTimeout`, then interrupts
   * whatever is left and waits for those fibers to end.
   */
  shutdown(): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      this.closed = true
      if (this.unfinished > 0) {
        // Finalizers run uninterruptibly; the wait must be interruptible for the timeout to end it.
        yield* Effect.async<void>((resume) => {
          this.onDrained = () => resume(Effect.void)
          if (this.unfinished === 0) resume(Effect.void)
        }).pipe(Effect.interruptible, Effect.timeoutOption(this.config.drainTimeout))
        this.onDrained = undefined
      }
      this.stopped = true
      for (const entry of this.registry.unfinished()) {
        if (entry.state !== "Running") this.cancelPending(entry)
      }
      yield* Fiber.interruptAll(Array.from(this.workers, (worker) => worker.fiber!))
    })
  }

  /** The entry under an id, if it is retained. */
  entryInfo(id: string): ExecutorAdmin.TaskInfo | undefined {
    const entry = isWellFormedTaskId(id) ? this.registry.get(id, this.now()) : undefined
    return entry === undefined ? undefined : infoOf(entry, this.epoch)
  }

  /** Retained tasks, newest first. */
  list(options: { readonly state?: string | undefined; readonly queue?: string | undefined; readonly limit: number }) {
    const out: Array<ExecutorAdmin.TaskInfo> = []
    const entries = this.registry.values(this.now())
    for (let i = 0; i < entries.length && out.length < options.limit; i++) {
      const info = infoOf(entries[i]!, this.epoch)
      if (options.state !== undefined && info.state !== options.state) continue
      if (options.queue !== undefined && info.queue !== options.queue) continue
      out.push(info)
    }
    return out
  }

  counts(): Array<ExecutorAdmin.TaskCount> {
    const counts = new Map<string, ExecutorAdmin.TaskCount>()
    for (const entry of this.registry.values(this.now())) {
      const state = storedStateOf(entry.state)
      const key = `${entry.lane.name}\u0000${state}`
      const current = counts.get(key)
      counts.set(key, { queue: entry.lane.name, state, count: (current?.count ?? 0) + 1 })
    }
    return Array.from(counts.values())
  }

  /** Runs a failed or interrupted task again, from its first attempt. */
  retry(id: string): Effect.Effect<void, TaskNotFound | ExecutorAdmin.NotRetryable> {
    return Effect.suspend((): Effect.Effect<void, TaskNotFound | ExecutorAdmin.NotRetryable> => {
      const entry = isWellFormedTaskId(id) ? this.registry.get(id, this.now()) : undefined
      if (entry === undefined) return Effect.fail(new TaskNotFound({ id }))
      if ((entry.state !== "Failed" && entry.state !== "Interrupted") || entry.body === undefined) {
        return Effect.fail(new ExecutorAdmin.NotRetryable({ id, reason: `it is ${entry.state}` }))
      }
      if (this.closed) return Effect.fail(new ExecutorAdmin.NotRetryable({ id, reason: "the executor is closed" }))
      entry.attempt = 0
      entry.error = undefined
      entry.finishedAt = 0
      entry.startedAt = -1
      this.registry.reopen(entry)
      this.unfinished++
      this.addPending(entry.lane, 1)
      this.enqueue(entry, true, this.now())
      return Effect.void
    })
  }

  /** Forgets finished tasks past their retention; answers how many. */
  prune(): number {
    return this.registry.prune(this.now())
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

  /**
   * Hands a finished request's held tasks to the queues in one step. From the response's `close`
   * callback, the worker it wakes starts in that callback rather than a scheduler tick later.
   */
  releaseHeld(group: ReadonlyArray<Entry>, aborted: boolean, inCallback: boolean): void {
    const now = this.now()
    for (const entry of group) {
      if (entry.state !== "Held") continue
      if (aborted && entry.onAbort === "drop") this.cancelPending(entry)
      else this.release(entry, false, now)
    }
    this.inCallback = inCallback
    try {
      this.dispatch()
    } finally {
      this.inCallback = false
    }
  }

  private release(entry: Entry, dispatch: boolean, now: number): void {
    if (this.stopped) return this.cancelPending(entry)
    if (entry.delayMillis > 0) {
      entry.state = "Delayed"
      // the delay runs on the submitter's clock (a TestClock in tests)
      const runtime = Runtime.make({
        context: FiberRefs.getOrDefault(entry.refs!, FiberRef.currentContext),
        fiberRefs: entry.refs!,
        runtimeFlags: Runtime.defaultRuntimeFlags
      })
      entry.timer = Runtime.runFork(
        runtime,
        Effect.sleep(entry.delayMillis).pipe(Effect.zipRight(Effect.sync(() => {
          entry.timer = undefined
          // unless it was cancelled while the timer's interruption was on its way
          if (entry.state === "Delayed") this.enqueue(entry, true, this.now())
        })))
      )
      return
    }
    this.enqueue(entry, dispatch, now)
  }

  private enqueue(entry: Entry, dispatch: boolean, now: number): void {
    entry.state = "Queued"
    entry.releasedAt = now
    entry.lane.heap.push(entry)
    if (dispatch) this.dispatch()
  }

  /**
   * Hands ready tasks to idle workers, and starts a worker when tasks are left over and the
   * concurrency allows one more. Both happen one at a time outside a `close` callback: a worker
   * that starts (or is about to run a task handed to it) dispatches again, and one that takes a
   * task from the queue dispatches too, so a burst of quick tasks wakes few workers and a burst of
   * slow ones still spreads over all of them. A task is marked running when it is handed over.
   */
  private dispatch(): void {
    while (this.idle.length > 0 && this.scheduledHandOvers === 0) {
      const entry = this.takeNext(this.now())
      if (entry === undefined) return
      this.handOver(this.idle.pop()!, entry)
    }
    if (this.starting === 0 && this.workers.size < this.config.concurrency && this.hasReady()) this.spawnWorker()
  }

  private hasReady(): boolean {
    return this.nextLane() !== undefined
  }

  /** The lane whose head runs next, if a slot is free for it. */
  private nextLane(): Lane | undefined {
    if (this.stopped || this.running >= this.config.concurrency) return undefined
    return this.singleLane ? this.readyDefaultLane() : this.readyLane()
  }

  /**
   * Resumes an idle worker with its task. From a response's `close` callback, the first one runs
   * in that callback (see HandOverScheduler).
   */
  private handOver(worker: Worker, entry: Entry): void {
    const resume = worker.resume!
    worker.resume = undefined
    this.enter(worker, entry)
    const effect = worker.runTask!(entry)
    const scheduler = worker.scheduler
    if (this.inCallback) {
      this.inCallback = false
      scheduler.runNextInPlace = true
    } else {
      scheduler.handingOver = true
    }
    try {
      resume(effect)
    } finally {
      scheduler.runNextInPlace = false
      scheduler.handingOver = false
    }
  }

  /** Gives a worker's fiber the task's submitter's refs (services, logger, clock, tracer, scheduler). */
  private enter(worker: Worker, entry: Entry): void {
    worker.current = entry
    entry.worker = worker
    const fiber = worker.runtimeFiber!
    fiber.setFiberRefs(entry.refs!)
    worker.scheduler.delegate = fiber.currentScheduler
    fiber.currentScheduler = worker.scheduler
  }

  /** The next task to run, marked running, if one is ready and a slot is free. */
  private takeNext(now: number): Entry | undefined {
    const lane = this.nextLane()
    if (lane === undefined) return undefined
    const entry = lane.heap.pop()!
    this.start(entry, now)
    return entry
  }

  private spawnWorker(): void {
    const worker: Worker = {
      fiber: undefined,
      current: undefined,
      resume: undefined,
      runtimeFiber: undefined,
      runTask: undefined,
      scheduler: new HandOverScheduler(this.handOvers)
    }
    this.workers.add(worker)
    this.starting++
    // A worker starts in place (its task is Running when `submit` returns), unless it is started
    // by a worker starting in place: each one that starts dispatches again while more tasks are
    // ready, so a burst of ~1,000 would nest one call per worker and overflow the stack.
    const inPlace = !this.startingInPlace
    this.startingInPlace = true
    try {
      worker.fiber = Runtime.runFork(this.workerRuntime, this.workLoop(worker), { immediate: inPlace })
    } finally {
      if (inPlace) this.startingInPlace = false
    }
    worker.fiber.addObserver(() => {
      this.workers.delete(worker)
      if (worker.runTask === undefined) this.starting--
      const i = this.idle.indexOf(worker)
      if (i >= 0) this.idle.splice(i, 1)
      // interrupted while running its task
      const orphan = worker.current
      if (orphan !== undefined && orphan.state === "Running") this.failed(orphan, Cause.interrupt(FiberId.none))
      this.dispatch()
    })
  }

  /**
   * A worker runs tasks one after another in its own fiber, each with the fiber refs (services,
   * logger, clock, tracer) of the fiber that submitted it: no fiber is created per task. Between
   * tasks it takes the next ready one itself; when there is none it suspends until `dispatch`
   * hands it one. An interrupt aimed at its task ends the worker; its observer records the task as
   * interrupted. Everything but the task is allocated once per worker.
   */
  private workLoop(worker: Worker): Effect.Effect<void> {
    return Effect.withFiberRuntime<void>((fiber) => {
      const own = fiber.getFiberRefs()
      // FiberRuntime's own members: the worker swaps in the submitter's fiber refs per task
      const runtimeFiber = fiber as unknown as RuntimeFiberInternals
      const waitForTask = reusableAsync((resume) => {
        if (this.stopped) return resume(Effect.void)
        worker.resume = resume
        this.idle.push(worker)
      })
      const next = (now: number): Effect.Effect<void> => {
        const following = this.takeNext(now)
        if (following === undefined) {
          // an idle worker keeps no request's context alive
          runtimeFiber.setFiberRefs(own)
          return waitForTask
        }
        this.enter(worker, following)
        // more are ready: idle workers get them while this one runs its task
        this.dispatch()
        return run(following)
      }
      const leave = (): Entry => {
        const entry = worker.current!
        worker.current = undefined
        entry.worker = undefined
        return entry
      }
      const outcome = {
        onSuccess: (value: unknown): Effect.Effect<void> => next(this.succeeded(leave(), value)),
        onFailure: (cause: Cause.Cause<unknown>): Effect.Effect<void> => {
          const entry = worker.current!
          const failed = (): Effect.Effect<void> => next(this.failed(leave(), cause))
          if (Cause.isInterruptedOnly(cause)) return failed()
          // logged with the submitter's logger, before the next task's refs come in
          return Effect.logWarning(`task ${entry.name} failed`, cause).pipe(
            Effect.annotateLogs({ "executor.task.id": entry.id, "executor.task.name": entry.name }),
            Effect.zipRight(Effect.suspend(failed))
          )
        }
      }
      const underOutcome = continuationOf(runtimeFiber, outcome)
      // the frame goes on the stack when the task starts: in the run loop (`next`), or on the
      // suspended fiber just before `dispatch` resumes it with the task
      const run = (entry: Entry): Effect.Effect<void> => underOutcome(this.attempts(entry, fiber))
      worker.runtimeFiber = runtimeFiber
      worker.runTask = run
      this.starting--
      return this.stopped ? Effect.void : next(this.now())
    })
  }

  private readyDefaultLane(): Lane | undefined {
    const lane = this.defaultLane
    return lane.heap.size > 0 && lane.running < lane.concurrency ? lane : undefined
  }

  /** The lane whose head should run next: the highest priority, then the oldest. */
  private readyLane(): Lane | undefined {
    let best: Lane | undefined
    let bestHead: Entry | undefined
    for (const lane of this.lanes.values()) {
      if (lane.running >= lane.concurrency) continue
      const head = lane.heap.peek()
      if (head === undefined) continue
      if (
        bestHead === undefined || head.priority > bestHead.priority ||
        (head.priority === bestHead.priority && head.seq < bestHead.seq)
      ) {
        best = lane
        bestHead = head
      }
    }
    return best
  }

  private start(entry: Entry, now: number): void {
    entry.state = "Running"
    this.addPending(entry.lane, -1)
    this.running++
    entry.lane.running++
    entry.startedAt = now
    taskMetrics.started(entry.metrics, entry.startedAt - entry.releasedAt)
  }

  /** The task's body with its timeout, retry schedule and span; `fiber` has the submitter's refs. */
  private attempts(entry: Entry, fiber: Fiber.RuntimeFiber<void>): Effect.Effect<unknown, unknown> {
    const body = entry.body!
    const traced = isTracing(fiber)
    const retry = entry.task?.retry
    const timeout = entry.task?.timeout
    if (retry === undefined && timeout === undefined && !traced) {
      // the common case, kept to the task's own effect: the worker counts the attempt
      entry.attempt = 1
      return body
    }
    let attempt: Effect.Effect<unknown, unknown> = Effect.suspend(() => {
      if (++entry.attempt > 1) entry.metrics.retried.update(1)
      return body
    })
    if (timeout !== undefined) {
      attempt = Effect.timeoutFail(attempt, {
        duration: timeout,
        onTimeout: () => new TaskFailed({ reason: "timeout", detail: `an attempt took longer than ${Duration.format(timeout)}` })
      })
    }
    const retried = retry === undefined ? attempt : Effect.retry(attempt, retry)
    if (!traced) return retried
    const parentSpan = fiber.currentContext.unsafeMap.get(Tracer.ParentSpan.key) as Tracer.AnySpan | undefined
    return taskSpan(retried, entry.name, parentSpan, {
      "executor.task.id": entry.id,
      "executor.task.name": entry.name,
      "executor.queue": entry.lane.name
    })
  }

  /** Records a task's success; answers the time it ended. */
  private succeeded(entry: Entry, value: unknown): number {
    const now = this.stopRunning(entry, "succeeded")
    entry.value = value
    this.finish(entry, "Succeeded", now)
    return now
  }

  /** Records a task's failure or interruption; answers the time it ended. */
  private failed(entry: Entry, cause: Cause.Cause<unknown>): number {
    const interrupted = Cause.isInterruptedOnly(cause)
    const now = this.stopRunning(entry, interrupted ? "other" : "failed")
    const failure = Cause.failureOption(cause)
    if (failure._tag === "Some") {
      entry.error = failure.value
      this.finish(entry, "Failed", now)
    } else if (interrupted) {
      this.finish(entry, "Interrupted", now)
    } else {
      entry.error = new TaskFailed({ reason: "defect", detail: defectMessage(cause) })
      this.finish(entry, "Failed", now)
    }
    return now
  }

  private stopRunning(entry: Entry, outcome: "succeeded" | "failed" | "other"): number {
    const now = this.now()
    this.running--
    entry.lane.running--
    taskMetrics.ended(entry.metrics, outcome, now - entry.startedAt)
    return now
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

const statusOf = (entry: Entry): TaskStatus.TaskStatus<unknown, unknown> => {
  switch (entry.state) {
    case "Held":
      return TaskStatus.Held()
    case "Delayed":
    case "Queued":
      return TaskStatus.Queued()
    case "Running":
      return TaskStatus.Running({ attempt: Math.max(1, entry.attempt) })
    case "Succeeded":
      return TaskStatus.Succeeded({ value: entry.value, attempts: entry.attempt })
    case "Failed":
      return TaskStatus.Failed({ error: entry.error, attempts: entry.attempt })
    case "Interrupted":
      return TaskStatus.Interrupted()
  }
}

const resultOf = (entry: Entry): Effect.Effect<unknown, unknown> => {
  switch (entry.state) {
    case "Succeeded":
      return Effect.succeed(entry.value)
    case "Failed":
      return Effect.fail(entry.error)
    default:
      return Effect.fail(new TaskInterrupted({ id: entry.id }))
  }
}


/** @internal */
export const makeSupervisor = (config: SupervisorConfig): Effect.Effect<Supervisor, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const supervisor = new Supervisor(config, clock, yield* Effect.runtime<never>())
    yield* Effect.addFinalizer(() => supervisor.shutdown())
    return supervisor
  })

const storedStateOf = (state: State): StoredState =>
  state === "Held" ? "held" : state === "Delayed" || state === "Queued" ? "queued" : state === "Running" ? "running" :
  state === "Succeeded" ? "succeeded" : state === "Failed" ? "failed" : "interrupted"

const encodeWith = (schema: Schema.Schema.All | undefined, value: unknown): unknown => {
  if (schema === undefined) return value
  const encoded = Schema.encodeUnknownEither(schema as Schema.Schema<unknown, unknown>)(value)
  return Either.isRight(encoded) ? encoded.right : String(value)
}

const encodeError = (entry: Entry): unknown => {
  const error = entry.error
  if (error instanceof TaskFailed || error instanceof UnknownTask) return Schema.encodeSync(TaskFailure)(error)
  if (entry.task !== undefined) return encodeWith(entry.task.failure, error)
  return error instanceof Error ? { name: error.name, message: error.message } : error
}

const describeError = (error: unknown): string | undefined => {
  if (error === undefined) return undefined
  if (error instanceof Error) return error.message
  return typeof error === "string" ? error : JSON.stringify(error)
}

const infoOf = (entry: Entry, epoch: number): ExecutorAdmin.TaskInfo => {
  const status = statusOf(entry)
  let encoded: ExecutorAdmin.EncodedStatus
  switch (status._tag) {
    case "Succeeded":
      encoded = { _tag: "Succeeded", value: encodeWith(entry.task?.success, status.value), attempts: status.attempts }
      break
    case "Failed":
      encoded = { _tag: "Failed", error: encodeError(entry), attempts: status.attempts }
      break
    default:
      encoded = status
  }
  return {
    id: entry.id,
    name: entry.name,
    queue: entry.lane.name,
    state: storedStateOf(entry.state),
    durable: false,
    attempts: entry.attempt,
    createdAt: epoch + entry.createdAt,
    startedAt: entry.startedAt < 0 ? undefined : epoch + entry.startedAt,
    finishedAt: entry.finished ? epoch + entry.finishedAt : undefined,
    sessionHash: entry.sessionHash,
    status: encoded,
    error: entry.state === "Failed" ? describeError(entry.error) : undefined
  }
}
