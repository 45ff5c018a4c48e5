import { Cause, Duration, Option } from "effect"
import type { SubmitOptions } from "../Executor.js"

/**
 * How long after release a submit wants its task to wait: from `runAt` (wins) or `delay`.
 * `undefined` when the options are not usable (a negative delay, an invalid date).
 *
 * @internal
 */
export const delayOf = (options: SubmitOptions | undefined, now: number): number | undefined => {
  if (options?.runAt !== undefined) {
    const at = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt
    return Number.isFinite(at) ? Math.max(0, at - now) : undefined
  }
  if (options?.delay !== undefined) {
    if (typeof options.delay === "number" && !(options.delay >= 0)) return undefined
    const decoded = Duration.decodeUnknown(options.delay)
    if (Option.isNone(decoded)) return undefined
    const millis = Duration.toMillis(decoded.value)
    return Number.isFinite(millis) && millis >= 0 ? millis : undefined
  }
  return 0
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
