import type { Scope } from "effect"
import { Chunk, Deferred, Effect, Exit, Queue } from "effect"

/**
 * Group commit: callers hand in one item each and wait; one writer fiber takes everything that
 * queued up while the previous write ran and writes it in one call (one transaction, one fsync).
 * Under load batches grow by themselves; alone, an item is written at once.
 *
 * @internal
 */
export const makeGroupCommit = <A, B, E>(
  write: (items: ReadonlyArray<A>) => Effect.Effect<ReadonlyArray<B>, E>,
  maxBatch: number
): Effect.Effect<(item: A) => Effect.Effect<B, E>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const pending = yield* Queue.unbounded<readonly [A, Deferred.Deferred<B, E>]>()
    yield* Effect.gen(function*() {
      const batch = Chunk.toReadonlyArray(yield* Queue.takeBetween(pending, 1, maxBatch))
      const exit = yield* Effect.exit(write(batch.map(([item]) => item)))
      if (Exit.isSuccess(exit)) {
        batch.forEach(([, done], i) => Deferred.unsafeDone(done, Exit.succeed(exit.value[i]!)))
      } else {
        const failed = Exit.failCause(exit.cause)
        for (const [, done] of batch) Deferred.unsafeDone(done, failed)
      }
    }).pipe(Effect.forever, Effect.forkScoped)
    return (item: A) =>
      Effect.flatMap(Deferred.make<B, E>(), (done) =>
        Effect.zipRight(Queue.offer(pending, [item, done] as const), Deferred.await(done)))
  })
