import { Effect, Either, ParseResult, Schema } from "effect"
import type { SubmitOptions } from "../../Executor.js"
import { InvalidPayload, type SubmitError } from "../../ExecutorError.js"
import * as Task from "../../Task.js"
import { placementOf } from "../submission.js"
import type { Lane } from "./entry.js"

/** A submit's task and options, checked: what an entry is made of. @internal */
export interface Submission {
  readonly name: string
  readonly body: Effect.Effect<unknown, unknown>
  readonly task: Task.Task.Any | undefined
  readonly lane: Lane
  readonly priority: number
  readonly delayMillis: number
}

/**
 * Checks a submit's payload against its task's Schema and its options against the lanes; answers
 * the submission, or the typed refusal as a failed effect. `nowMillis` is epoch milliseconds.
 *
 * @internal
 */
export const resolveSubmission = (
  task: Effect.Effect<unknown, unknown, unknown> | Task.TaskCall.Any,
  options: SubmitOptions | undefined,
  lanes: ReadonlyMap<string, Lane>,
  nowMillis: number
): Submission | Effect.Effect<never, SubmitError> => {
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
  const placed = placementOf(options, def, lanes, nowMillis)
  if (!("lane" in placed)) return Effect.fail(placed)
  const { delayMillis, lane, priority } = placed
  return { name, body, task: def, lane, priority, delayMillis }
}
