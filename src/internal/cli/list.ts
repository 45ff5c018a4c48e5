/**
 * `effect-executor list [--state S] [--queue Q] [--limit N]`: the recent tasks, newest first, and
 * the counts by queue and state.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { StoredState, TaskStore } from "../../TaskStore.js"
import { usageError } from "./failure.js"
import { formatTime, json, jsonText, printable, table, taskJson } from "./format.js"
import { runOnStore, storeOptions } from "./store.js"
import { textOption } from "./textOption.js"

/** Every state, in the order of the counts table. */
const states: ReadonlyArray<StoredState> = ["held", "queued", "running", "succeeded", "failed", "interrupted"]

const DEFAULT_LIMIT = 20
const MAX_LIMIT = 10_000

const isState = (text: string): text is StoredState => (states as ReadonlyArray<string>).includes(text)

const state = textOption("state", "S", `Only the tasks in state S: ${states.join(", ")}.`).pipe(
  Options.optional,
  Options.mapEffect(Option.match({
    onNone: () => Effect.succeed(undefined),
    onSome: (text) =>
      isState(text)
        ? Effect.succeed(text)
        : Effect.fail(usageError(`bad --state "${text.slice(0, 40)}" (expected ${states.join(", ")})`))
  }))
)

const queue = textOption("queue", "Q", "Only the tasks of queue Q.").pipe(
  Options.optional,
  Options.map(Option.getOrUndefined)
)

// text rather than Options.integer, for one message that gives the range
const limit = textOption("limit", "N", `At most N tasks, 1 to ${MAX_LIMIT} (default ${DEFAULT_LIMIT}).`).pipe(
  Options.withDefault(String(DEFAULT_LIMIT)),
  Options.mapEffect((text) => {
    const value = Number(text)
    return /^\d+$/.test(text) && Number.isSafeInteger(value) && value >= 1 && value <= MAX_LIMIT
      ? Effect.succeed(value)
      : Effect.fail(usageError(`bad --limit "${text.slice(0, 40)}" (expected an integer from 1 to ${MAX_LIMIT})`))
  })
)

interface Filter {
  readonly state: StoredState | undefined
  readonly queue: string | undefined
  readonly limit: number
}

const countsTable = (counts: ReadonlyArray<{ readonly queue: string; readonly state: StoredState; readonly count: number }>) => {
  const queues = Array.from(new Set(counts.map((row) => row.queue)))
  const countOf = (queue: string | undefined, state: StoredState) =>
    counts.filter((row) => (queue === undefined || row.queue === queue) && row.state === state)
      .reduce((sum, row) => sum + row.count, 0)
  const row = (label: string, queue: string | undefined) => {
    const cells = states.map((state) => countOf(queue, state))
    return [label, ...cells.map(String), String(cells.reduce((a, b) => a + b, 0))]
  }
  const rows = queues.map((queue) => row(printable(queue), queue))
  if (queues.length > 1) rows.push(row("(all)", undefined))
  return table(
    ["QUEUE", ...states.map((state) => state.toUpperCase()), "TOTAL"],
    rows,
    new Set(states.map((_, i) => i + 1).concat(states.length + 1))
  )
}

const listTasks = (store: TaskStore, filter: Filter, asJson: boolean) =>
  Effect.gen(function*() {
    const tasks = yield* store.list(filter)
    const counts = (yield* store.counts()).filter((row) => filter.queue === undefined || row.queue === filter.queue)
    if (asJson) return jsonText({ tasks: tasks.map(taskJson), counts })

    const what = [filter.state, "tasks"].filter((word) => word !== undefined).join(" ") +
      (filter.queue === undefined ? "" : ` in queue ${printable(filter.queue)}`)
    const matching = counts.filter((row) => filter.state === undefined || row.state === filter.state)
      .reduce((sum, row) => sum + row.count, 0)
    const plural = (count: number) => count === 1 ? what.replace(/tasks/, "task") : what
    const listed = tasks.length === 0
      ? `no ${what}`
      : table(
        ["ID", "NAME", "QUEUE", "STATE", "ATTEMPTS", "CREATED", "FINISHED"],
        tasks.map((task) => [
          task.id,
          printable(task.name),
          printable(task.queue),
          task.state,
          String(task.attempts),
          formatTime(task.createdAt),
          formatTime(task.finishedAt)
        ]),
        new Set([4])
      ) + `\n${tasks.length} of ${matching} ${plural(matching)}, newest first${tasks.length < matching ? " (--limit for more)" : ""}`
    return counts.length === 0 ? listed : `${listed}\n\n${countsTable(counts)}`
  })

/** The `list` command. */
export const list = Command.make(
  "list",
  { state, queue, limit, store: storeOptions, json },
  ({ json, store, ...filter }) => runOnStore(store, (store) => listTasks(store, filter, json))
).pipe(Command.withDescription("Recent tasks, newest first, and the counts by queue and state."))
