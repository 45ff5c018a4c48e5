/**
 * `effect-executor cancel ID`: a held or queued task is interrupted at once; a running one is
 * asked to stop.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { TaskStore } from "../../TaskStore.js"
import { CliFailure } from "./failure.js"
import { json, jsonText } from "./format.js"
import { runOnStore, storeOptions } from "./store.js"
import { findTask, notFound, taskId } from "./task.js"

const cancelTask = (store: TaskStore, id: string, asJson: boolean) =>
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
          ? jsonText({ id, outcome, previousState: before.state })
          : `task ${id} cancelled: it was ${before.state} and is now interrupted`
      case "requested":
        return asJson
          ? jsonText({ id, outcome, previousState: "running" })
          : `task ${id} is running: cancellation requested; its worker interrupts it at its next heartbeat ` +
            `(or it becomes interrupted when its lease expires)`
    }
  })

/** The `cancel` command. */
export const cancel = Command.make(
  "cancel",
  { id: taskId, store: storeOptions, json },
  ({ id, json, store }) => runOnStore(store, (store) => cancelTask(store, id, json))
).pipe(Command.withDescription("Interrupt a held or queued task now; ask a running one to stop."))
