/**
 * One attempt of a task, the same on both levels: its timeout, its span, how it ended, and what
 * is logged about it.
 *
 * @internal
 */
import { Cause, Duration, Effect, type Tracer } from "effect"
import { TaskFailed } from "../../ExecutorError.js"
import { taskSpan, withTaskSpan } from "./span.js"

/** What an attempt is, for its span and its log lines. @internal */
export interface AttemptInfo {
  readonly id: string
  readonly name: string
  readonly queue: string
  readonly attempt: number
  readonly timeout: Duration.Duration | undefined
  /** The submitter's span, which the attempt's span links to. */
  readonly link: Tracer.AnySpan | undefined
  /**
   * Whether a tracer records spans: known at submit (volatile tasks, from the submitter's fiber)
   * or `"ask"`: the running fiber's tracer decides.
   */
  readonly traced: boolean | "ask"
}

/**
 * The attempt's effect with its timeout (a `TaskFailed` of reason `"timeout"` past it) and its
 * span `executor.task <name>`, a root span linked to the submitter's.
 *
 * @internal
 */
export const withAttempt = <A, E, R>(body: Effect.Effect<A, E, R>, info: AttemptInfo): Effect.Effect<A, E | TaskFailed, R> => {
  const timeout = info.timeout
  const timed: Effect.Effect<A, E | TaskFailed, R> = timeout === undefined ? body : Effect.timeoutFail(body, {
    duration: timeout,
    onTimeout: () => new TaskFailed({ reason: "timeout", detail: `an attempt took longer than ${Duration.format(timeout)}` })
  })
  if (info.traced === false) return timed
  const attributes = {
    "executor.task.id": info.id,
    "executor.task.name": info.name,
    "executor.queue": info.queue,
    "executor.attempt": info.attempt
  }
  return info.traced === true
    ? taskSpan(timed, info.name, info.link, attributes)
    : withTaskSpan(timed, info.name, info.link, attributes)
}

/** How an attempt that did not succeed ended. @internal */
export type Outcome =
  /** A typed failure (the task's error, or `TaskFailed` for a timeout): the retry policy decides. */
  | { readonly _tag: "Failed"; readonly error: unknown }
  /** A defect: final, never retried. */
  | { readonly _tag: "Died"; readonly error: TaskFailed }
  | { readonly _tag: "Interrupted" }

/** @internal */
export const outcomeOf = (cause: Cause.Cause<unknown>): Outcome => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some") return { _tag: "Failed", error: failure.value }
  if (Cause.isInterruptedOnly(cause)) return { _tag: "Interrupted" }
  return { _tag: "Died", error: new TaskFailed({ reason: "defect", detail: defectMessage(cause) }) }
}

/**
 * One line that says what a defect was, without a stack trace: it may be shown in a status.
 *
 * @internal
 */
export const defectMessage = (cause: Cause.Cause<unknown>): string => {
  const defect = Cause.squash(cause)
  const message = defect instanceof Error ? `${defect.name}: ${defect.message}` : String(defect)
  return message.length > 500 ? `${message.slice(0, 500)}…` : message
}

/** The executor's own log lines about a task carry its id and name. @internal */
export const annotateTask = (info: Pick<AttemptInfo, "id" | "name">) =>
  Effect.annotateLogs({ "executor.task.id": info.id, "executor.task.name": info.name })

/**
 * Logs a failed attempt that will be retried, at WARN, with its cause and the next attempt's time.
 *
 * @internal
 */
export const logRetry = (
  info: Pick<AttemptInfo, "id" | "name" | "attempt">,
  cause: Cause.Cause<unknown>,
  nextAt: number
): Effect.Effect<void> =>
  Effect.logWarning(
    `task ${info.name}: attempt ${info.attempt} failed; attempt ${info.attempt + 1} at ${new Date(nextAt).toISOString()}`,
    cause
  ).pipe(annotateTask(info))

/**
 * Logs a task's final failure, at ERROR, with its cause.
 *
 * @internal
 */
export const logFailure = (
  info: Pick<AttemptInfo, "id" | "name" | "attempt">,
  cause: Cause.Cause<unknown>
): Effect.Effect<void> =>
  Effect.logError(
    `task ${info.name} failed after ${info.attempt} attempt${info.attempt === 1 ? "" : "s"}`,
    cause
  ).pipe(annotateTask(info))

/**
 * Logs a drain on shutdown, at INFO: what it waits for and for how long at most.
 *
 * @internal
 */
export const logDrain = (waitingFor: Readonly<Record<string, number>>, timeout: Duration.Duration): Effect.Effect<void> => {
  const parts = Object.entries(waitingFor).filter(([, n]) => n > 0).map(([what, n]) => `${n} ${what}`)
  return Effect.logInfo(`shutting down: waiting up to ${Duration.format(timeout)} for ${parts.join(", ")} task(s) to finish`)
}

/**
 * Logs, at WARN, that a drain ran out of time with `left` tasks unfinished, which are stopped now.
 *
 * @internal
 */
export const logDrainTimedOut = (left: number, timeout: Duration.Duration): Effect.Effect<void> =>
  Effect.logWarning(`shutting down: ${left} task(s) still unfinished after ${Duration.format(timeout)}; stopping them`)
