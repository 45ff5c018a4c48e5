/**
 * The command line's output: text tables, or JSON with `--json`. The texts end without a newline
 * (the console adds one).
 *
 * @internal
 */
import * as Options from "@effect/cli/Options"
import type { StoredTask } from "../../TaskStore.js"
import { parseStoredJson } from "../store/storedRow.js"

/** `2025-01-02T13:04:05Z`, or `-` when absent. */
export const formatTime = (millis: number | undefined): string =>
  millis === undefined || !Number.isFinite(millis) ? "-" : new Date(millis).toISOString().replace(/\.\d{3}Z$/, "Z")

/** A stored result or error decoded from its JSON; JSON output has no `undefined`, so `null` when absent. */
export const parseJson = (text: string | undefined): unknown => parseStoredJson(text) ?? null

/**
 * A task as `--json` prints it: times in epoch milliseconds, `null` when absent, result and error
 * decoded from their JSON. The submitting session (kept as a keyed hash) is never printed.
 */
export const taskJson = (task: StoredTask) => ({
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

/** `--json`: print JSON instead of tables. */
export const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of tables."))

/** `value` as indented JSON. */
export const jsonText = (value: unknown): string => JSON.stringify(value, null, 2)

/** A left-aligned text table; columns listed in `right` are right-aligned. */
export const table = (
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
  return [line(header), ...rows.map(line)].join("\n")
}

/** Control characters (from names, queues or errors) would garble a terminal. */
export const printable = (text: string): string => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?")

/** A decoded result or error, its lines after the first indented by `indent`. */
export const indentJson = (value: unknown, indent: string): string =>
  (typeof value === "string" ? value : JSON.stringify(value, null, 2)).split("\n").map(printable).join(`\n${indent}`)
