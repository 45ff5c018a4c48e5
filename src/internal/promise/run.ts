/**
 * A task's `run` from a function that gives a Promise.
 *
 * @internal
 */
import { Effect } from "effect"

/** @internal */
export const fromPromise = <P, A>(
  f: (payload: P, signal: AbortSignal) => PromiseLike<A>
): (payload: P) => Effect.Effect<A> =>
(payload) => Effect.promise((signal) => f(payload, signal))

/** @internal */
export const fromPromiseOr = <P, A, E>(
  f: (payload: P, signal: AbortSignal) => PromiseLike<A>,
  onRejection: (error: unknown) => E
): (payload: P) => Effect.Effect<A, E> =>
(payload) => Effect.tryPromise({ try: (signal) => f(payload, signal), catch: onRejection })

