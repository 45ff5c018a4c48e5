/**
 * The command line (`effect-executor list|status|retry|cancel|prune`): works directly on a
 * `TaskStore` (SQLite file or PostgreSQL schema), with no executor running. `bin/effect-executor.mjs`
 * imports this module from `dist/` and calls `main` (it answers `--help` from `cliHelp.ts` alone,
 * without loading Effect); the database drivers load only when a command opens its store.
 *
 * Exit codes: 0 done, 1 the store failed or refused, 2 bad usage. Errors are one line on stderr.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Cause, Clock, Data, Effect, Exit, Layer, Logger, Option, Redacted } from "effect"
import { existsSync, statSync } from "node:fs"
import { resolve } from "node:path"
import { StoreUnavailable } from "../ExecutorError.js"
import * as PgStore from "../PgStore.js"
import * as SqliteStore from "../SqliteStore.js"
import { type StoredState, type StoredTask, TaskStore } from "../TaskStore.js"
import { asksForHelp, usage } from "./cliHelp.js"
import { isWellFormedTaskId } from "./handleId.js"
import { loadStoreModule } from "./store/load.js"
import { parseStoredJson } from "./storedRow.js"

export { usage }

/** Bad command line: exit code 2. */
class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** The store failed or refused (unknown task, not retryable, cannot connect): exit code 1. */
class CliFailure extends Data.TaggedError("CliFailure")<{ readonly message: string }> {}

const states: ReadonlyArray<StoredState> = ["held", "queued", "running", "succeeded", "failed", "interrupted"]
const commands = ["list", "status", "retry", "cancel", "prune"] as const
type Command = typeof commands[number]

type Store =
  | { readonly _tag: "sqlite"; readonly filename: string }
  | { readonly _tag: "pg"; readonly url: string; readonly schema: string }

type Action =
  | { readonly _tag: "list"; readonly state: StoredState | undefined; readonly queue: string | undefined; readonly limit: number }
  | { readonly _tag: "status" | "retry" | "cancel"; readonly id: string }
  | { readonly _tag: "prune"; readonly olderThan: number; readonly olderThanText: string }

interface Invocation {
  readonly action: Action
  readonly store: Store
  readonly json: boolean
}

// ---------------------------------------------------------------------------------------------
// arguments

const valueOptions = ["sqlite", "pg", "schema", "state", "queue", "limit", "older-than"] as const
type ValueOption = typeof valueOptions[number]

/** The options each command accepts besides the store options and `--json`. */
const commandOptions: Record<Command, ReadonlyArray<ValueOption>> = {
  list: ["state", "queue", "limit"],
  status: [],
  retry: [],
  cancel: [],
  prune: ["older-than"]
}

const DEFAULT_LIMIT = 20
const MAX_LIMIT = 10_000
const DEFAULT_OLDER_THAN = "1h"

const units: Record<string, number> = {
  ms: 1,
  millis: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1_000,
  sec: 1_000,
  second: 1_000,
  seconds: 1_000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
  weeks: 604_800_000
}

/** `90s`, `30m`, `1h`, `7d`, `2 weeks`, `500ms` → milliseconds. */
export const parseDuration = (text: string): number | undefined => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(text)
  if (match === null) return undefined
  const unit = units[match[2]!.toLowerCase()]
  if (unit === undefined) return undefined
  const millis = Number(match[1]) * unit
  return Number.isFinite(millis) ? Math.round(millis) : undefined
}

const usageError = (message: string) => new UsageError({ message })

/** `isWellFormedTaskId` without narrowing (its `false` branch would make a string `never`). */
const looksLikeTaskId = (text: string): boolean => isWellFormedTaskId(text)

/** Parses the command line; `"help"` when help was asked for. */
export const parseArguments = (argv: ReadonlyArray<string>): Effect.Effect<Invocation | "help", UsageError> =>
  Effect.gen(function*() {
    if (asksForHelp(argv)) return "help" as const
    const endOfOptions = argv.indexOf("--")

    const values = new Map<ValueOption, string>()
    const positionals: Array<string> = []
    let json = false
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!
      if (i === endOfOptions) {
        positionals.push(...argv.slice(i + 1))
        break
      }
      // task ids are base64url: one may start with "-" (or "--")
      if (!arg.startsWith("-") || arg === "-" || looksLikeTaskId(arg)) {
        positionals.push(arg)
        continue
      }
      if (!arg.startsWith("--")) return yield* usageError(`unknown option ${arg}`)
      const equals = arg.indexOf("=")
      const name = equals === -1 ? arg.slice(2) : arg.slice(2, equals)
      if (name === "json") {
        if (equals !== -1) return yield* usageError("--json takes no value")
        json = true
        continue
      }
      if (!(valueOptions as ReadonlyArray<string>).includes(name)) {
        return yield* usageError(`unknown option --${name.slice(0, 40)}`)
      }
      const option = name as ValueOption
      let value: string | undefined
      if (equals !== -1) {
        value = arg.slice(equals + 1)
      } else {
        value = argv[i + 1]
        if (value === undefined || i + 1 === endOfOptions || value.startsWith("--")) {
          return yield* usageError(`--${option} needs a value`)
        }
        i++
      }
      if (value === "") return yield* usageError(`--${option} needs a value`)
      if (values.has(option)) return yield* usageError(`--${option} is given twice`)
      values.set(option, value)
    }

    const [commandName, ...args] = positionals
    if (commandName === undefined) {
      return yield* usageError(`missing command (${commands.join(", ")}); see --help`)
    }
    if (!(commands as ReadonlyArray<string>).includes(commandName)) {
      return yield* usageError(`unknown command "${commandName.slice(0, 40)}" (expected ${commands.join(", ")})`)
    }
    const command = commandName as Command
    for (const option of ["state", "queue", "limit", "older-than"] as const) {
      if (values.has(option) && !commandOptions[command].includes(option)) {
        return yield* usageError(`--${option} does not apply to ${command}`)
      }
    }

    const action = yield* parseAction(command, args, values)
    return { action, store: yield* parseStore(values), json }
  })

const parseAction = (
  command: Command,
  args: ReadonlyArray<string>,
  values: ReadonlyMap<ValueOption, string>
): Effect.Effect<Action, UsageError> =>
  Effect.gen(function*() {
    switch (command) {
      case "list": {
        const stateText = values.get("state")
        if (stateText !== undefined && !(states as ReadonlyArray<string>).includes(stateText)) {
          return yield* usageError(`bad --state "${stateText.slice(0, 40)}" (expected ${states.join(", ")})`)
        }
        const limitText = values.get("limit")
        const limit = limitText === undefined ? DEFAULT_LIMIT : Number(limitText)
        if (!/^\d+$/.test(limitText ?? "1") || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
          return yield* usageError(`bad --limit "${String(limitText).slice(0, 40)}" (expected an integer from 1 to ${MAX_LIMIT})`)
        }
        if (args.length > 0) return yield* usageError(`unexpected argument "${args[0]!.slice(0, 40)}" for list`)
        return { _tag: "list", state: stateText as StoredState | undefined, queue: values.get("queue"), limit } as const
      }
      case "prune": {
        const olderThanText = values.get("older-than") ?? DEFAULT_OLDER_THAN
        const olderThan = parseDuration(olderThanText)
        if (olderThan === undefined) {
          return yield* usageError(`bad --older-than "${olderThanText.slice(0, 40)}" (expected a duration such as 90s, 30m, 1h, 7d)`)
        }
        if (args.length > 0) return yield* usageError(`unexpected argument "${args[0]!.slice(0, 40)}" for prune`)
        return { _tag: "prune", olderThan, olderThanText } as const
      }
      default: {
        const id = args[0]
        if (id === undefined) return yield* usageError(`${command} needs a task ID`)
        if (args.length > 1) return yield* usageError(`unexpected argument "${args[1]!.slice(0, 40)}" for ${command}`)
        if (!looksLikeTaskId(id)) {
          return yield* usageError(`malformed task ID "${id.slice(0, 40)}" (expected 24 characters of A-Z, a-z, 0-9, _ and -)`)
        }
        return { _tag: command, id } as const
      }
    }
  })

const parseStore = (values: ReadonlyMap<ValueOption, string>): Effect.Effect<Store, UsageError> => {
  const filename = values.get("sqlite")
  const url = values.get("pg")
  const schema = values.get("schema")
  if (filename !== undefined && url !== undefined) return Effect.fail(usageError("give either --sqlite or --pg, not both"))
  if (filename === undefined && url === undefined) {
    return Effect.fail(usageError("say which store: --sqlite FILE or --pg URL"))
  }
  if (filename !== undefined) {
    if (schema !== undefined) return Effect.fail(usageError("--schema applies to --pg only"))
    return Effect.succeed({ _tag: "sqlite", filename })
  }
  let protocol: string | undefined
  try {
    protocol = new URL(url!).protocol
  } catch {
    protocol = undefined
  }
  if (protocol !== "postgres:" && protocol !== "postgresql:") {
    return Effect.fail(usageError("--pg needs a URL such as postgres://user@localhost:5432/app"))
  }
  const name = schema ?? "effect_executor"
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(name)) {
    return Effect.fail(usageError(`bad --schema "${name.slice(0, 40)}" (lower-case letters, digits and _, starting with a letter or _)`))
  }
  return Effect.succeed({ _tag: "pg", url: url!, schema: name })
}

// ---------------------------------------------------------------------------------------------
// stores

/** A URL without its password, for messages. */
const redact = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "the --pg URL"
  }
}

const messageOf = (cause: unknown): string => {
  if (!(cause instanceof Error)) return typeof cause === "string" ? cause : String(cause)
  // connection errors of several addresses (IPv6 and IPv4) come as an AggregateError without a message
  if (cause.message === "" && cause instanceof AggregateError && cause.errors.length > 0) {
    return Array.from(new Set(cause.errors.map(messageOf))).join("; ")
  }
  return cause.message === "" ? cause.name : cause.message
}

/**
 * The store named on the command line. Refuses a missing file or a database without the tasks
 * table rather than creating one (a typo must not leave an empty store behind).
 */
const storeLayer = (store: Store): Layer.Layer<TaskStore, CliFailure | UsageError> => {
  if (store._tag === "sqlite") {
    const path = resolve(store.filename)
    const check = Effect.gen(function*() {
      if (!existsSync(path)) return yield* new CliFailure({ message: `cannot open ${path}: no such file` })
      if (!statSync(path).isFile()) return yield* new CliFailure({ message: `cannot open ${path}: not a file` })
    })
    const hasTable = Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'effect_executor_tasks'`).pipe(
        Effect.mapError((error) => new CliFailure({ message: `cannot read ${path}: ${messageOf(error.cause ?? error)}` })),
        Effect.filterOrFail(
          (rows) => rows.length > 0,
          () => new CliFailure({ message: `${path} is not an effect-executor store (it has no effect_executor_tasks table)` })
        )
      )
    const layer = Layer.effect(TaskStore, Effect.zipRight(hasTable, SqliteStore.make(path))).pipe(
      Layer.provide(SqliteStore.layerClient({ filename: path })),
      Layer.mapError(toCliFailure)
    )
    // the checks first: SqliteStore.layerClient would create a missing file
    return Layer.unwrapEffect(Effect.as(check, layer)).pipe(
      Layer.catchAllCause((cause) => Layer.fail(failureOfCause(cause)))
    )
  }
  const where = redact(store.url)
  const hasTable = Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ name: string | null }>`SELECT to_regclass(${`${store.schema}.tasks`})::text AS name`).pipe(
      Effect.mapError((error) => new CliFailure({ message: `cannot query ${where}: ${messageOf(error.cause ?? error)}` })),
      Effect.filterOrFail(
        (rows) => rows[0]?.name != null,
        () =>
          new CliFailure({ message: `schema ${store.schema} of ${where} has no effect-executor tasks table (check --schema)` })
      )
    )
  const client = Layer.unwrapEffect(Effect.map(
    loadStoreModule(() => import("@effect/sql-pg"), where, "@effect/sql-pg").pipe(Effect.mapError(toCliFailure)),
    ({ PgClient }) =>
      PgClient.layer({
        url: Redacted.make(store.url),
        connectTimeout: "5 seconds",
        maxConnections: 2,
        applicationName: "effect-executor cli"
      }).pipe(
        Layer.mapError((error) =>
          new CliFailure({ message: `cannot connect to PostgreSQL at ${where}: ${messageOf(error.cause ?? error)}` })
        )
      )
  ))
  return Layer.effect(
    TaskStore,
    Effect.zipRight(hasTable, PgStore.make({ schema: store.schema }).pipe(Effect.mapError(toCliFailure)))
  ).pipe(
    Layer.provide(client),
    Layer.catchAllCause((cause) => Layer.fail(failureOfCause(cause)))
  )
}

const toCliFailure = (error: StoreUnavailable | CliFailure): CliFailure =>
  error instanceof CliFailure ? error : new CliFailure({ message: error.message })

/** Any cause as a `CliFailure`, so that nothing reaches the user as a stack trace. */
const failureOfCause = (cause: Cause.Cause<unknown>): CliFailure | UsageError => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (error instanceof CliFailure || error instanceof UsageError) return error
    if (error instanceof StoreUnavailable) return new CliFailure({ message: error.message })
    return new CliFailure({ message: messageOf(error) })
  }
  if (Cause.isInterruptedOnly(cause)) return new CliFailure({ message: "interrupted" })
  return new CliFailure({ message: `unexpected error: ${messageOf(Cause.squash(cause))}` })
}

// ---------------------------------------------------------------------------------------------
// output

/** `2025-01-02T13:04:05Z` */
const formatTime = (millis: number | undefined): string =>
  millis === undefined || !Number.isFinite(millis) ? "-" : new Date(millis).toISOString().replace(/\.\d{3}Z$/, "Z")

/** JSON output has no `undefined`: a missing column is `null`. */
const parseJson = (text: string | undefined): unknown => parseStoredJson(text) ?? null

/**
 * A task as `--json` prints it: times in epoch milliseconds, `null` when absent, result and error
 * decoded from their JSON. The submitting session (kept as a keyed hash) is never printed.
 */
const taskJson = (task: StoredTask) => ({
  id: task.id,
  name: task.name,
  queue: task.queue,
  state: task.state,
  attempts: task.attempts,
  priority: task.priority,
  runAt: task.runAt,
  createdAt: task.createdAt,
  startedAt: task.startedAt ?? null,
  finishedAt: task.finishedAt ?? null,
  cancelRequested: task.cancelRequested,
  result: parseJson(task.result),
  error: parseJson(task.error)
})

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`

/** A left-aligned text table; columns listed in `right` are right-aligned. */
const table = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  right: ReadonlySet<number> = new Set()
): string => {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, column) =>
      column === cells.length - 1 && !right.has(column)
        ? cell
        : right.has(column)
        ? cell.padStart(widths[column]!)
        : cell.padEnd(widths[column]!)
    ).join("  ").trimEnd()
  return [line(header), ...rows.map(line)].join("\n") + "\n"
}

/** Control characters (from names, queues or errors) would garble a terminal. */
const printable = (text: string): string => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?")

const indentJson = (value: unknown, indent: string): string =>
  (typeof value === "string" ? value : JSON.stringify(value, null, 2)).split("\n").map(printable).join(`\n${indent}`)

// ---------------------------------------------------------------------------------------------
// commands

const notFound = (id: string) => new CliFailure({ message: `no task ${id} in this store` })

const findTask = (store: TaskStore, id: string) =>
  Effect.flatMap(store.status(id), Option.match({ onNone: () => Effect.fail(notFound(id)), onSome: Effect.succeed }))

const list = (store: TaskStore, action: Extract<Action, { _tag: "list" }>, asJson: boolean) =>
  Effect.gen(function*() {
    const tasks = yield* store.list({ state: action.state, queue: action.queue, limit: action.limit })
    const counts = (yield* store.counts()).filter((row) => action.queue === undefined || row.queue === action.queue)
    if (asJson) return json({ tasks: tasks.map(taskJson), counts })

    const what = [action.state, "tasks"].filter((word) => word !== undefined).join(" ") +
      (action.queue === undefined ? "" : ` in queue ${printable(action.queue)}`)
    const matching = counts.filter((row) => action.state === undefined || row.state === action.state)
      .reduce((sum, row) => sum + row.count, 0)
    const plural = (count: number) => count === 1 ? what.replace(/tasks/, "task") : what
    let out = tasks.length === 0
      ? `no ${what}\n`
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
      ) + `${tasks.length} of ${matching} ${plural(matching)}, newest first${tasks.length < matching ? " (--limit for more)" : ""}\n`

    if (counts.length > 0) {
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
      out += "\n" + table(
        ["QUEUE", ...states.map((state) => state.toUpperCase()), "TOTAL"],
        rows,
        new Set(states.map((_, i) => i + 1).concat(states.length + 1))
      )
    }
    return out
  })

const status = (store: TaskStore, id: string, asJson: boolean) =>
  Effect.gen(function*() {
    const task = yield* findTask(store, id)
    if (asJson) return json(taskJson(task))
    const lines: Array<[string, string]> = [
      ["id", task.id],
      ["name", printable(task.name)],
      ["queue", printable(task.queue)],
      ["state", task.state + (task.cancelRequested && task.state === "running" ? " (cancellation requested)" : "")],
      ["attempts", String(task.attempts)],
      ["priority", String(task.priority)],
      ["created", formatTime(task.createdAt)],
      ["run at", formatTime(task.runAt)],
      ["started", formatTime(task.startedAt)],
      ["finished", formatTime(task.finishedAt)]
    ]
    const indent = " ".repeat(12)
    if (task.result !== undefined) lines.push(["result", indentJson(parseJson(task.result), indent)])
    if (task.error !== undefined) {
      lines.push([task.state === "failed" ? "error" : "last error", indentJson(parseJson(task.error), indent)])
    }
    return lines.map(([label, value]) => `${label.padEnd(12)}${value}`).join("\n") + "\n"
  })

const retry = (store: TaskStore, id: string, asJson: boolean) =>
  Effect.gen(function*() {
    const before = yield* findTask(store, id)
    const outcome = yield* store.retry(id, yield* Clock.currentTimeMillis)
    switch (outcome) {
      case "missing":
        return yield* notFound(id)
      case "succeeded":
      case "not-finished": {
        const state = outcome === "succeeded" ? "has succeeded" : `is ${before.state}`
        return yield* new CliFailure({ message: `task ${id} ${state}: only failed or interrupted tasks can be retried` })
      }
      case "retried":
        return asJson
          ? json({ id, outcome, previousState: before.state })
          : `task ${id} is queued again (it was ${before.state}; its attempts start over)\n`
    }
  })

const cancel = (store: TaskStore, id: string, asJson: boolean) =>
  Effect.gen(function*() {
    const before = yield* findTask(store, id)
    const outcome = yield* store.cancel(id, yield* Clock.currentTimeMillis)
    switch (outcome) {
      case "missing":
        return yield* notFound(id)
      case "finished": {
        const now = yield* store.status(id)
        const state = Option.match(now, { onNone: () => before.state, onSome: (task) => task.state })
        return yield* new CliFailure({ message: `task ${id} has already finished (${state}): nothing to cancel` })
      }
      case "cancelled":
        return asJson
          ? json({ id, outcome, previousState: before.state })
          : `task ${id} cancelled: it was ${before.state} and is now interrupted\n`
      case "requested":
        return asJson
          ? json({ id, outcome, previousState: "running" })
          : `task ${id} is running: cancellation requested; its worker interrupts it at its next heartbeat ` +
            `(or it becomes interrupted when its lease expires)\n`
    }
  })

const prune = (store: TaskStore, action: Extract<Action, { _tag: "prune" }>, asJson: boolean) =>
  Effect.gen(function*() {
    const before = (yield* Clock.currentTimeMillis) - action.olderThan
    const pruned = yield* store.prune(before)
    return asJson
      ? json({ pruned, before })
      : `pruned ${pruned} finished task${pruned === 1 ? "" : "s"} (finished before ${formatTime(before)}, ` +
        `more than ${action.olderThanText} ago)\n`
  })

const execute = (invocation: Invocation): Effect.Effect<string, CliFailure | StoreUnavailable, TaskStore> =>
  Effect.flatMap(TaskStore, (store) => {
    const { action, json: asJson } = invocation
    switch (action._tag) {
      case "list":
        return list(store, action, asJson)
      case "status":
        return status(store, action.id, asJson)
      case "retry":
        return retry(store, action.id, asJson)
      case "cancel":
        return cancel(store, action.id, asJson)
      case "prune":
        return prune(store, action, asJson)
    }
  })

/** What a run prints and its exit code. */
export interface Outcome {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: 0 | 1 | 2
}

const oneLine = (message: string): string => message.replace(/\s*[\r\n]+\s*/g, " ").trim()

/** Runs the command line `argv` (without `node` and the script) and answers what to print. */
export const run = (argv: ReadonlyArray<string>): Promise<Outcome> =>
  Effect.runPromiseExit(
    Effect.flatMap(parseArguments(argv), (invocation) =>
      invocation === "help"
        ? Effect.succeed(usage)
        : execute(invocation).pipe(Effect.provide(storeLayer(invocation.store)))).pipe(
        Effect.provide(Logger.remove(Logger.defaultLogger))
      )
  ).then((exit): Outcome => {
    if (Exit.isSuccess(exit)) return { stdout: exit.value, stderr: "", exitCode: 0 }
    const error = failureOfCause(exit.cause)
    return {
      stdout: "",
      stderr: `effect-executor: ${oneLine(error.message)}\n`,
      exitCode: error instanceof UsageError ? 2 : 1
    }
  })

/** Runs the command line on the process: prints, and answers the exit code. */
export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const outcome = await run(argv)
  if (outcome.stdout !== "") process.stdout.write(outcome.stdout)
  if (outcome.stderr !== "") process.stderr.write(outcome.stderr)
  return outcome.exitCode
}
