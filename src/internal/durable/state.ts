/**
 * What the parts of the durable engine share: its settings, the lanes, the attempts running in
 * this process, the held rows of its open responses, local waiters, and the claim loop's wake-up.
 * Everything that matters is in the store; this is bounded by the concurrency and by the requests
 * in flight.
 *
 * @internal
 */
import { Deferred, Duration, Effect, Exit, type Fiber, Queue } from "effect"
import type { StoreUnavailable } from "../../ExecutorError.js"
import type * as Task from "../../Task.js"
import type * as TaskStore from "../../TaskStore.js"
import { randomTaskId } from "../handleId.js"
import { makeLanes, type Slots } from "../run/lanes.js"

/** @internal */
export interface DurableConfig {
  readonly tasks: ReadonlyArray<Task.Task.Any>
  readonly concurrency: number
  readonly queues: Readonly<Record<string, { readonly concurrency: number }>>
  /** Held and queued rows in the store allowed before `submit` fails; `Infinity`: the table is the bound. */
  readonly maxBacklog: number
  readonly leaseDuration: Duration.Duration
  readonly pollInterval: Duration.Duration
  readonly drainTimeout: Duration.Duration
  readonly retention: Duration.Duration
  readonly groupCommit: boolean
  readonly runTasks: boolean
  /** Tasks claimed ahead of free slots, per queue, kept here until a slot frees (see `claimRound`). */
  readonly prefetch: number
  /** How long a process may go without a liveness beat before others take its tasks over. */
  readonly takeoverAfter: Duration.Duration
  /** The key submits' sessions are hashed with before they are stored. */
  readonly sessionKey: string
}

/**
 * A queue's slots in this process, and its tasks claimed ahead (`prefetch`): they are the store's
 * `running` rows of this process, under its lease, that have not started yet.
 *
 * @internal
 */
export interface Lane extends Slots {
  readonly buffer: Array<TaskStore.ClaimedTask>
}

/** An attempt running in this process. @internal */
export interface RunningTask {
  fiber: Fiber.RuntimeFiber<void>
  /** Why the fiber was interrupted, if it was: decides what the store is told. */
  stop: "cancelled" | "lost" | "shutdown" | undefined
  /** The attempt is over and its end is being written: a cancellation comes too late to stop it. */
  ending: boolean
}

/** @internal */
export interface EngineState {
  readonly store: TaskStore.TaskStore
  readonly config: DurableConfig
  /** This process, as the store knows it (claims, leases, liveness). */
  readonly owner: string
  readonly now: () => number
  readonly leaseMillis: number
  readonly tasks: ReadonlyMap<string, Task.Task.Any>
  readonly lanes: ReadonlyMap<string, Lane>
  readonly running: Map<string, RunningTask>
  /** Claimed ahead and not started, by id: their lanes hold them in order. */
  readonly buffered: Map<string, Lane>
  /** Rows this process holds for its open responses. */
  readonly heldIds: Set<string>
  readonly localWaiters: Map<string, Deferred.Deferred<void>>
  readonly wakeups: Queue.Queue<void>
  totalRunning: number
  /** Intake has stopped. */
  closed: boolean
  /** The claim loop claims. */
  claiming: boolean
  /** Set while shutting down: called once nothing runs and nothing is held any more. */
  onIdle: (() => void) | undefined
}

/** @internal */
export const makeState = (store: TaskStore.TaskStore, config: DurableConfig): Effect.Effect<EngineState> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const lanes = makeLanes(
      config.concurrency,
      config.queues,
      (name, concurrency): Lane => ({ name, concurrency, running: 0, buffer: [] })
    )
    return {
      store,
      config,
      owner: randomTaskId(),
      now: () => clock.unsafeCurrentTimeMillis(),
      leaseMillis: Duration.toMillis(config.leaseDuration),
      tasks: new Map(config.tasks.map((task) => [task.name, task] as const)),
      lanes,
      running: new Map(),
      buffered: new Map(),
      heldIds: new Set(),
      localWaiters: new Map(),
      wakeups: yield* Queue.sliding<void>(1),
      totalRunning: 0,
      closed: false,
      claiming: config.runTasks,
      onIdle: undefined
    }
  })

/** Wakes the claim loop: a task may be ready, or a slot free. @internal */
export const wake = (state: EngineState): void => {
  state.wakeups.unsafeOffer(undefined)
}

/** Calls `onIdle` once nothing runs and nothing is held. @internal */
export const checkIdle = (state: EngineState): void => {
  if (state.onIdle !== undefined && state.running.size === 0 && state.heldIds.size === 0) {
    const idle = state.onIdle
    state.onIdle = undefined
    idle()
  }
}

/** Wakes the local `await` of a task that has ended here. @internal */
export const notifyFinished = (state: EngineState, id: string): void => {
  const waiter = state.localWaiters.get(id)
  if (waiter !== undefined) {
    state.localWaiters.delete(id)
    Deferred.unsafeDone(waiter, Exit.void)
  }
}

/** Interrupts a running attempt, saying why (which decides what the store is told). @internal */
export const stopRunning = (state: EngineState, id: string, why: "cancelled" | "lost" | "shutdown"): void => {
  const entry = state.running.get(id)
  if (entry === undefined || entry.stop !== undefined || (why === "cancelled" && entry.ending)) return
  entry.stop = why
  entry.fiber.unsafeInterruptAsFork(entry.fiber.id())
}

/** Takes a task claimed ahead out of its lane's buffer (it is cancelled, lost or given back). @internal */
export const unbuffer = (state: EngineState, id: string): TaskStore.ClaimedTask | undefined => {
  const lane = state.buffered.get(id)
  if (lane === undefined) return undefined
  state.buffered.delete(id)
  const at = lane.buffer.findIndex((task) => task.id === id)
  return at < 0 ? undefined : lane.buffer.splice(at, 1)[0]
}

/** Empties every lane's buffer: the tasks claimed ahead, to give back to the store. @internal */
export const takeAllBuffered = (state: EngineState): ReadonlyArray<TaskStore.ClaimedTask> => {
  const all: Array<TaskStore.ClaimedTask> = []
  for (const lane of state.lanes.values()) all.push(...lane.buffer.splice(0))
  state.buffered.clear()
  return all
}

/**
 * A task claimed ahead and cancelled before it started: it ends `Interrupted` at once (its claim
 * is this process's, so the store takes the write). @internal
 */
export const cancelBuffered = (state: EngineState, claimed: TaskStore.ClaimedTask): Effect.Effect<void, StoreUnavailable> =>
  Effect.map(
    state.store.markInterrupted({ id: claimed.id, owner: state.owner, claim: claimed.claim }, state.now()),
    () => notifyFinished(state, claimed.id)
  )
