/**
 * `effect-executor retry ID`: a failed or interrupted task runs again from its first attempt.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { TaskStore } from "../../TaskStore.js"
import { CliFailure } from "./failure.js"
import { json, jsonText } from "./format.js"
import { runOnStore, storeOptions } from "./store.js"
import { findTask, notFound, taskId } from "./task.js"

const retryTask = (store: TaskStore, id: string, asJson: boolean) =>
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
          ? jsonText({ id, outcome, previousState: before.state })
          : `task ${id} is queued again (it was ${before.state}; its attempts start over)`
    }
  })

/** The `retry` command. */
export const retry = Command.make(
  "retry",
  { id: taskId, store: storeOptions, json },
  ({ id, json, store }) => runOnStore(store, (store) => retryTask(store, id, json))
).pipe(Command.withDescription("Run a failed or interrupted task again from its first attempt."))
