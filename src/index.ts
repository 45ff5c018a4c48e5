/**
 * effect-executor: run work after the response has been sent, volatile in memory or durable on
 * SQLite or PostgreSQL, typed end to end.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as AfterResponse from "./AfterResponse.js"
/** @since 0.1.0 */
export * as Dashboard from "./Dashboard.js"
/** @since 0.1.0 */
export * as DurableExecutor from "./DurableExecutor.js"
/** @since 0.1.0 */
export * as Executor from "./Executor.js"
/** @since 0.1.0 */
export * as ExecutorAdmin from "./ExecutorAdmin.js"
/** @since 0.1.0 */
export * as ExecutorError from "./ExecutorError.js"
/** @since 0.1.0 */
export * as ExecutorMetrics from "./ExecutorMetrics.js"
/** @since 0.1.0 */
export * as PromiseExecutor from "./PromiseExecutor.js"
/** @since 0.1.0 */
export * as Task from "./Task.js"
/** @since 0.1.0 */
export * as TaskHandle from "./TaskHandle.js"
/** @since 0.1.0 */
export * as TaskStatus from "./TaskStatus.js"
/** @since 0.1.0 */
export * as PgStore from "./PgStore.js"
/** @since 0.1.0 */
export * as SqliteStore from "./SqliteStore.js"
/** @since 0.1.0 */
export * as StatusApi from "./StatusApi.js"
/** @since 0.1.0 */
export * as TaskStore from "./TaskStore.js"
