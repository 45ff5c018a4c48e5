/**
 * `effect-executor status ID`: one task's state, attempts, times, and result or error.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import type { TaskStore } from "../../TaskStore.js"
import { formatTime, indentJson, json, jsonText, parseJson, printable, taskJson } from "./format.js"
import { runOnStore, storeOptions } from "./store.js"
import { findTask, taskId } from "./task.js"

const LABEL_WIDTH = 12

const describeTask = (store: TaskStore, id: string, asJson: boolean) =>
  Effect.gen(function*() {
    const task = yield* findTask(store, id)
    if (asJson) return jsonText(taskJson(task))
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
    const indent = " ".repeat(LABEL_WIDTH)
    if (task.result !== undefined) lines.push(["result", indentJson(parseJson(task.result), indent)])
    if (task.error !== undefined) {
      lines.push([task.state === "failed" ? "error" : "last error", indentJson(parseJson(task.error), indent)])
    }
    return lines.map(([label, value]) => `${label.padEnd(LABEL_WIDTH)}${value}`).join("\n")
  })

/** The `status` command. */
export const status = Command.make(
  "status",
  { id: taskId, store: storeOptions, json },
  ({ id, json, store }) => runOnStore(store, (store) => describeTask(store, id, json))
).pipe(Command.withDescription("One task: state, attempts, times, result or error."))
