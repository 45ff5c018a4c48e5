/**
 * What both levels check of a submit before they take it.
 *
 * @internal
 */
import { Duration, Option } from "effect"
import type { SubmitOptions } from "../Executor.js"
import { InvalidOptions, UnknownQueue } from "../ExecutorError.js"
import type * as Task from "../Task.js"

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

/** A submit's options, checked: where and when its task runs. @internal */
export interface Placement<L> {
  readonly lane: L
  readonly priority: number
  readonly delayMillis: number
}

/**
 * Checks a submit's queue, priority and time against the layer's lanes, the same on both levels:
 * an unknown queue is `UnknownQueue`; a priority that is not a safe integer, a negative delay or an
 * invalid `runAt` is `InvalidOptions`. `now` is epoch milliseconds.
 *
 * @internal
 */
export const placementOf = <L>(
  options: SubmitOptions | undefined,
  task: Task.Task.Any | undefined,
  lanes: ReadonlyMap<string, L>,
  now: number
): Placement<L> | UnknownQueue | InvalidOptions => {
  const queue = options?.queue ?? task?.queue ?? "default"
  const lane = lanes.get(queue)
  if (lane === undefined) return new UnknownQueue({ queue })
  const priority = options?.priority ?? task?.priority ?? 0
  if (!Number.isSafeInteger(priority)) return new InvalidOptions({ reason: "priority must be an integer" })
  const delayMillis = delayOf(options, now)
  if (delayMillis === undefined) {
    return new InvalidOptions({ reason: "delay must be a non-negative duration and runAt a valid date" })
  }
  return { lane, priority, delayMillis }
}
