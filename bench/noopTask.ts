/**
 * The benchmarks' no-op task. It counts its runs so that a benchmark running the tasks in its own
 * process can stop the clock when the last one has run (`counter.target`, `counter.done`); in
 * worker processes nothing waits on the count.
 */
import { Deferred, Effect, Schema } from "effect"
import { DurableExecutor, Task } from "effect-executor"

export const counter = { ran: 0, target: 0, done: undefined as Deferred.Deferred<void> | undefined }

export const Noop = Task.make("Noop", {
  payload: Schema.Struct({ i: Schema.Number }),
  run: () =>
    Effect.sync(() => {
      if (++counter.ran === counter.target && counter.done !== undefined) Deferred.unsafeDone(counter.done, Effect.void)
    })
})

/** `n` no-op calls written with `submitAll` in batches of 1,000, one after the other. */
export const submitNoopsInBatches = (n: number) =>
  Effect.gen(function*() {
    for (let b = 0; b * 1_000 < n; b++) {
      yield* DurableExecutor.submitAll(
        Array.from({ length: Math.min(1_000, n - b * 1_000) }, (_, k) => Noop.make({ i: b * 1_000 + k }))
      )
    }
  })
