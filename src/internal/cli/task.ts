/**
 * The task that `status`, `retry` and `cancel` are about: the `ID` argument and its lookup.
 *
 * @internal
 */
import * as Args from "@effect/cli/Args"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { StoreUnavailable } from "../../ExecutorError.js"
import type { StoredTask, TaskStore } from "../../TaskStore.js"
import { isWellFormedTaskId } from "../handleId.js"
import { CliFailure } from "./failure.js"

/** `isWellFormedTaskId` without narrowing (its `false` branch would make a string `never`). */
const looksLikeTaskId = (text: string): boolean => isWellFormedTaskId(text)

/** The `ID` argument. */
export const taskId = Args.text({ name: "ID" }).pipe(
  Args.withDescription("The task's ID: 24 characters of A-Z, a-z, 0-9, _ and -."),
  Args.mapEffect((id) =>
    looksLikeTaskId(id)
      ? Effect.succeed(id)
      : Effect.fail(
        HelpDoc.p(`malformed task ID "${id.slice(0, 40)}" (expected 24 characters of A-Z, a-z, 0-9, _ and -)`)
      )
  )
)

/**
 * `argv` with the task IDs that start with `-` moved after `--`. IDs are base64url, so one may
 * start with `-` (or `--`): @effect/cli would take it for an option, but after `--` it is an argument.
 */
export const taskIdsAsArguments = (argv: ReadonlyArray<string>): ReadonlyArray<string> => {
  const end = argv.indexOf("--")
  const options = end === -1 ? argv : argv.slice(0, end)
  const dashed = options.filter((arg) => arg.startsWith("-") && looksLikeTaskId(arg))
  if (dashed.length === 0) return argv
  const rest = end === -1 ? [] : argv.slice(end + 1)
  return [...options.filter((arg) => !dashed.includes(arg)), "--", ...dashed, ...rest]
}

/** The failure of a command on a task the store does not have. */
export const notFound = (id: string): CliFailure => new CliFailure({ message: `no task ${id} in this store` })

/** The task `id` of `store`, or `notFound`. */
export const findTask = (store: TaskStore, id: string): Effect.Effect<StoredTask, CliFailure | StoreUnavailable> =>
  Effect.flatMap(store.status(id), Option.match({ onNone: () => Effect.fail(notFound(id)), onSome: Effect.succeed }))
