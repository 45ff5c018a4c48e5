/**
 * What both levels check of a submit before they take it.
 *
 * @internal
 */
import { Duration, Option } from "effect"
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
