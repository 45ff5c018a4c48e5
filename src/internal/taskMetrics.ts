import { Metric, MetricKey, MetricLabel } from "effect"
import { globalValue } from "effect/GlobalValue"
import type { MetricHook } from "effect"
import { keys } from "../ExecutorMetrics.js"

/** The metric hooks of one (task, queue) pair, looked up once: updating them is a plain call. */
export interface Hooks {
  readonly submitted: MetricHook.MetricHook<number, unknown>
  readonly running: MetricHook.MetricHook<number, unknown>
  readonly succeeded: MetricHook.MetricHook<number, unknown>
  readonly failed: MetricHook.MetricHook<number, unknown>
  readonly retried: MetricHook.MetricHook<number, unknown>
  readonly startLatency: MetricHook.MetricHook<number, unknown>
  readonly duration: MetricHook.MetricHook<number, unknown>
  runningNow: number
}

type AnyKey = MetricKey.MetricKey<any>

const hookOf = (key: AnyKey, labels: ReadonlyArray<MetricLabel.MetricLabel>) =>
  Metric.globalMetricRegistry.get(MetricKey.taggedWithLabels(key, labels)) as unknown as MetricHook.MetricHook<
    number,
    unknown
  >

/**
 * Records the executor's metrics. Hooks are cached per (task, queue); task names are the
 * registered tasks and the names given to plain effects, so the cache stays small.
 *
 * @internal
 */
export class TaskMetrics {
  private readonly hooks = new Map<string, Hooks>()
  private readonly backlogHooks = new Map<string, MetricHook.MetricHook<number, unknown>>()

  of(task: string, queue: string): Hooks {
    const key = `${task}\u0000${queue}`
    let hooks = this.hooks.get(key)
    if (hooks === undefined) {
      const labels = [MetricLabel.make("task", task), MetricLabel.make("queue", queue)]
      hooks = {
        submitted: hookOf(keys.submitted, labels),
        running: hookOf(keys.running, labels),
        succeeded: hookOf(keys.succeeded, labels),
        failed: hookOf(keys.failed, labels),
        retried: hookOf(keys.retried, labels),
        startLatency: hookOf(keys.startLatency, labels),
        duration: hookOf(keys.duration, labels),
        runningNow: 0
      }
      this.hooks.set(key, hooks)
    }
    return hooks
  }

  started(hooks: Hooks, latencyMillis: number): void {
    hooks.running.update(++hooks.runningNow)
    hooks.startLatency.update(Math.max(0, latencyMillis))
  }

  ended(hooks: Hooks, outcome: "succeeded" | "failed" | "other", durationMillis: number): void {
    hooks.running.update(--hooks.runningNow)
    hooks.duration.update(Math.max(0, durationMillis))
    if (outcome === "succeeded") hooks.succeeded.update(1)
    else if (outcome === "failed") hooks.failed.update(1)
  }

  /** A task's end that the store refused: its claim had been taken over. */
  fenced(task: string, queue: string): void {
    hookOf(keys.fencedWrites, [MetricLabel.make("task", task), MetricLabel.make("queue", queue)]).update(1)
  }

  /** Tasks of stopped processes (or expired leases) taken back by this process. */
  takenOver(count: number): void {
    this.takenOverHook.update(count)
  }

  private readonly takenOverHook = hookOf(keys.takenOver, [])

  /** A submit in an `@effect/platform` request that `AfterResponse.middleware` did not mark. */
  unheld(): void {
    this.unheldHook.update(1)
  }

  private readonly unheldHook = hookOf(keys.unheldSubmits, [])

  backlog(queue: string, size: number): void {
    this.backlogOf(queue).update(size)
  }

  /** The backlog gauge of a queue, for callers that keep it at hand. */
  backlogOf(queue: string): MetricHook.MetricHook<number, unknown> {
    let hook = this.backlogHooks.get(queue)
    if (hook === undefined) {
      hook = hookOf(keys.backlog, [MetricLabel.make("task", "*"), MetricLabel.make("queue", queue)])
      this.backlogHooks.set(queue, hook)
    }
    return hook
  }
}


/** One per process, so that every layer's tasks add up in the same gauges. @internal */
export const taskMetrics: TaskMetrics = globalValue(Symbol.for("effect-executor/TaskMetrics"), () => new TaskMetrics())
