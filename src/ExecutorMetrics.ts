/**
 * The executor's metrics, as Effect metrics labelled by `task` (its name) and `queue`. Every
 * layer records them; read them with `Metric.value`, or export them (and the `executor.task`
 * spans) with `@effect/opentelemetry` (see `docs/observability.md`).
 *
 * | metric | kind | what |
 * |---|---|---|
 * | `effect_executor_tasks_submitted` | counter | tasks accepted by `submit` |
 * | `effect_executor_tasks_running` | gauge | tasks running now (in this process) |
 * | `effect_executor_tasks_succeeded` | counter | tasks that finished with a value |
 * | `effect_executor_tasks_failed` | counter | tasks that failed for good (after their last attempt) |
 * | `effect_executor_tasks_retried` | counter | attempts after the first |
 * | `effect_executor_backlog` | gauge | tasks held, delayed or queued, by queue (label `task` is `*`) |
 * | `effect_executor_task_start_latency_ms` | histogram | from release (or due time) to start |
 * | `effect_executor_task_duration_ms` | histogram | from start to end of the last attempt |
 * | `effect_executor_fenced_writes` | counter | ends of attempts the store refused: the task had been taken over |
 * | `effect_executor_unheld_submits` | counter | submits in an `@effect/platform` request without `AfterResponse.middleware` (run at once) |
 * | `effect_executor_tasks_taken_over` | counter | tasks taken back from stopped processes or expired leases (no labels) |
 *
 * @example
 * ```ts
 * const failed = yield* Metric.value(ExecutorMetrics.tasksFailed.pipe(Metric.tagged("task", "SendWelcome"), Metric.tagged("queue", "default")))
 * ```
 *
 * @since 0.1.0
 */
import { Metric, MetricBoundaries, MetricKey } from "effect"

const millis = MetricBoundaries.exponential({ start: 1, factor: 2, count: 18 })

/**
 * The metrics' keys: the executor updates their hooks directly, users read the metrics below,
 * and both meet in the global metric registry.
 *
 * @since 0.1.0
 * @category keys
 */
export const keys = {
  submitted: MetricKey.counter("effect_executor_tasks_submitted", {
    description: "tasks accepted by submit",
    incremental: true
  }),
  running: MetricKey.gauge("effect_executor_tasks_running", { description: "tasks running now" }),
  succeeded: MetricKey.counter("effect_executor_tasks_succeeded", {
    description: "tasks that finished with a value",
    incremental: true
  }),
  failed: MetricKey.counter("effect_executor_tasks_failed", {
    description: "tasks that failed after their last attempt",
    incremental: true
  }),
  retried: MetricKey.counter("effect_executor_tasks_retried", { description: "attempts after the first", incremental: true }),
  backlog: MetricKey.gauge("effect_executor_backlog", { description: "tasks held, delayed or queued" }),
  startLatency: MetricKey.histogram(
    "effect_executor_task_start_latency_ms",
    millis,
    "milliseconds from release (or due time) to start"
  ),
  duration: MetricKey.histogram(
    "effect_executor_task_duration_ms",
    millis,
    "milliseconds from start to the end of the last attempt"
  ),
  fencedWrites: MetricKey.counter("effect_executor_fenced_writes", {
    description: "ends of attempts refused by the store because the task had been taken over",
    incremental: true
  }),
  takenOver: MetricKey.counter("effect_executor_tasks_taken_over", {
    description: "tasks taken back from stopped processes or expired leases",
    incremental: true
  }),
  unheldSubmits: MetricKey.counter("effect_executor_unheld_submits", {
    description: "submits inside an @effect/platform request not marked by AfterResponse.middleware: run at once",
    incremental: true
  })
} as const

/** @since 0.1.0 @category metrics */
export const tasksSubmitted = Metric.fromMetricKey(keys.submitted)
/** @since 0.1.0 @category metrics */
export const tasksRunning = Metric.fromMetricKey(keys.running)
/** @since 0.1.0 @category metrics */
export const tasksSucceeded = Metric.fromMetricKey(keys.succeeded)
/** @since 0.1.0 @category metrics */
export const tasksFailed = Metric.fromMetricKey(keys.failed)
/** @since 0.1.0 @category metrics */
export const tasksRetried = Metric.fromMetricKey(keys.retried)
/** @since 0.1.0 @category metrics */
export const backlog = Metric.fromMetricKey(keys.backlog)
/** @since 0.1.0 @category metrics */
export const startLatency = Metric.fromMetricKey(keys.startLatency)
/** @since 0.1.0 @category metrics */
export const duration = Metric.fromMetricKey(keys.duration)
/** @since 0.1.0 @category metrics */
export const fencedWrites = Metric.fromMetricKey(keys.fencedWrites)
/** @since 0.1.0 @category metrics */
export const tasksTakenOver = Metric.fromMetricKey(keys.takenOver)
/**
 * Submits made while an `@effect/platform` request was handled without `AfterResponse.middleware`:
 * they were not held, and ran at once (the first one of a process is also logged).
 *
 * @since 0.1.0
 * @category metrics
 */
export const unheldSubmits = Metric.fromMetricKey(keys.unheldSubmits)
