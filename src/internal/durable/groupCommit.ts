import type { Scope } from "effect"
import { Effect, Exit } from "effect"

/**
 * Group commit: callers hand in one item each and wait; one writer fiber takes everything that
 * queued up while the previous write ran and writes it in one call (one transaction, one fsync).
 * Under load batches grow by themselves; alone, an item is written at once.
 *
 * A waiting caller is a callback in the batch, not a `Deferred` of its own: there is one per task
 * end and per submit, and a Deferred per item was the largest allocation of the write path.
 *
 * @internal
 */
export const makeGroupCommit = <A, B, E>(
  write: (items: ReadonlyArray<A>) => Effect.Effect<ReadonlyArray<B>, E>,
  maxBatch: number
): Effect.Effect<(item: A) => Effect.Effect<B, E>, never, Scope.Scope> =>
  Effect.gen(function*() {
    let items: Array<A> = []
    let waiters: Array<(exit: Exit.Exit<B, E>) => void> = []
    let wakeWriter: (() => void) | undefined
    const nextBatch = Effect.async<void>((resume) => {
      if (items.length > 0) resume(Effect.void)
      else wakeWriter = () => resume(Effect.void)
    })
    yield* Effect.gen(function*() {
      yield* nextBatch
      const batch = items.length <= maxBatch ? items : items.slice(0, maxBatch)
      const done = waiters.length <= maxBatch ? waiters : waiters.slice(0, maxBatch)
      if (batch === items) {
        items = []
        waiters = []
      } else {
        items = items.slice(maxBatch)
        waiters = waiters.slice(maxBatch)
      }
      const exit = yield* Effect.exit(write(batch))
      if (Exit.isSuccess(exit)) {
        for (let i = 0; i < done.length; i++) done[i]!(Exit.succeed(exit.value[i]!))
      } else {
        const failed = Exit.failCause(exit.cause)
        for (const resume of done) resume(failed)
      }
    }).pipe(Effect.forever, Effect.forkScoped)
    return (item: A) =>
      Effect.async<B, E>((resume) => {
        items.push(item)
        waiters.push(resume)
        if (wakeWriter !== undefined) {
          const wake = wakeWriter
          wakeWriter = undefined
          wake()
        }
      })
  })
