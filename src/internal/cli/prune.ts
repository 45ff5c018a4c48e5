/**
 * `effect-executor prune [--older-than DURATION]`: deletes the tasks that finished longer ago.
 *
 * @internal
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { TaskStore } from "../../TaskStore.js"
import { usageError } from "./failure.js"
import { formatTime, json, jsonText } from "./format.js"
import { runOnStore, storeOptions } from "./store.js"
import { textOption } from "./textOption.js"

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
const parseDuration = (text: string): number | undefined => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(text)
  if (match === null) return undefined
  const unit = units[match[2]!.toLowerCase()]
  if (unit === undefined) return undefined
  const millis = Number(match[1]) * unit
  return Number.isFinite(millis) ? Math.round(millis) : undefined
}

interface Age {
  readonly millis: number
  /** As given, for the answer. */
  readonly text: string
}

// a text rather than Options.duration: "7d" and "2 weeks" as well as Effect's "7 days"
const olderThan = textOption(
  "older-than",
  "DURATION",
  "Delete the tasks that finished longer ago than this, such as 90s, 30m, 1h, 7d (default 1h)."
).pipe(
  Options.withDefault("1h"),
  Options.mapEffect((text) => {
    const millis = parseDuration(text)
    return millis === undefined
      ? Effect.fail(usageError(`bad --older-than "${text.slice(0, 40)}" (expected a duration such as 90s, 30m, 1h, 7d)`))
      : Effect.succeed<Age>({ millis, text })
  })
)

const pruneTasks = (store: TaskStore, age: Age, asJson: boolean) =>
  Effect.gen(function*() {
    const before = (yield* Clock.currentTimeMillis) - age.millis
    const pruned = yield* store.prune(before)
    return asJson
      ? jsonText({ pruned, before })
      : `pruned ${pruned} finished task${pruned === 1 ? "" : "s"} (finished before ${formatTime(before)}, ` +
        `more than ${age.text} ago)`
  })

/** The `prune` command. */
export const prune = Command.make(
  "prune",
  { olderThan, store: storeOptions, json },
  ({ json, olderThan, store }) => runOnStore(store, (store) => pruneTasks(store, olderThan, json))
).pipe(Command.withDescription("Delete the tasks that finished longer ago than --older-than."))
