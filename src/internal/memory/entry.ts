import type { Effect, Fiber, FiberRefs, MetricHook } from "effect"
import { Context, Tracer } from "effect"
import type { SubmitOptions } from "../../Executor.js"
import type * as Task from "../../Task.js"
import { randomTaskId } from "../handleId.js"
import { hashSession } from "../sessionHash.js"
import { type Hooks, taskMetrics } from "../taskMetrics.js"
import type { Slots } from "../run/lanes.js"
import { TaskHeap } from "./heap.js"
import type { Submission } from "./submission.js"

/** Where a memory task stands. @internal */
export type State = "Held" | "Delayed" | "Queued" | "Running" | "Succeeded" | "Failed" | "Interrupted"

/** A queue: its concurrency, its running and pending counts, and its heap of queued entries. @internal */
export interface Lane extends Slots {
  pending: number
  readonly heap: TaskHeap<Entry>
  /** Metric hooks per task name, so a submit does not build a key to find them. */
  readonly hooks: Map<string, Hooks>
  readonly backlog: MetricHook.MetricHook<number, unknown>
}

/** @internal */
export const makeLane = (name: string, concurrency: number): Lane => ({
  name,
  concurrency,
  running: 0,
  pending: 0,
  heap: new TaskHeap(),
  hooks: new Map(),
  backlog: taskMetrics.backlogOf(name)
})

/** @internal */
export const hooksOf = (lane: Lane, task: string): Hooks => {
  let hooks = lane.hooks.get(task)
  if (hooks === undefined) {
    hooks = taskMetrics.of(task, lane.name)
    lane.hooks.set(task, hooks)
  }
  return hooks
}

/**
 * One submitted task, from submit until its retention ends.
 *
 * @internal
 */
export class Entry {
  state: State = "Held"
  attempt = 0
  heapIndex = -1
  /** The task's own fiber, while it runs. */
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined
  /** The fiber sleeping out its delay, while it is delayed. */
  timer: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined
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
  /** While delayed or waiting for a retry: when it is due, in epoch milliseconds (its timer's clock). */
  waitUntil = -1
  /** When the first failed attempt of its current run of retries ended (epoch milliseconds), or -1. */
  failedSince = -1
  constructor(
    readonly id: string,
    readonly name: string,
    readonly lane: Lane,
    readonly metrics: Hooks,
    readonly priority: number,
    readonly seq: number,
    /**
     * The task's effect and its submitter's fiber refs (its context, logger, clock, tracer, ...),
     * read on the submitting fiber: dropped once it succeeds.
     */
    public body: Effect.Effect<unknown, unknown> | undefined,
    public refs: FiberRefs.FiberRefs | undefined,
    /** Whether the submitter had a tracer that records spans, and its span: the task's span links to it. */
    readonly traced: boolean,
    readonly link: Tracer.AnySpan | undefined,
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

/** @internal */
export const readyDefaultLane = (lane: Lane): Lane | undefined =>
  lane.heap.size > 0 && lane.running < lane.concurrency ? lane : undefined

/** The lane whose head should run next, if a slot is free for it: the highest priority, then the oldest. @internal */
export const readyLane = (lanes: Iterable<Lane>): Lane | undefined => {
  let best: Lane | undefined
  let bestHead: Entry | undefined
  for (const lane of lanes) {
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

/**
 * A new entry for a checked submission, with its submitter's context and fiber refs (services,
 * logger, clock, tracer) and, when it traces, its span.
 *
 * @internal
 */
export const entryOf = (
  context: Context.Context<never>,
  refs: FiberRefs.FiberRefs,
  traced: boolean,
  submission: Submission,
  options: SubmitOptions | undefined,
  seq: number,
  sessionKey: string,
  now: number
): Entry =>
  new Entry(
    randomTaskId(),
    submission.name,
    submission.lane,
    hooksOf(submission.lane, submission.name),
    submission.priority,
    seq,
    submission.body,
    refs,
    traced,
    traced ? Context.getOrElse(context, Tracer.ParentSpan, () => undefined) : undefined,
    options?.onAbort ?? submission.task?.onAbort ?? "run",
    submission.delayMillis,
    options?.idempotencyKey,
    submission.task,
    options?.session === undefined ? undefined : hashSession(sessionKey, options.session),
    now
  )
