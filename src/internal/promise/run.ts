/**
 * A task's `run` from a function that gives a Promise.
 *
 * @internal
 */
import { Effect } from "effect"

/**
 * What a function that declares no `signal` parameter is called with: Effect makes an
 * `AbortController` per run only for a function that takes the signal (one costs more than a small
 * task), so `fromPromise` asks for one only when `f` declares it. Never aborted.
 */
const unusedSignal: AbortSignal = new AbortController().signal

/** @internal */
export const fromPromise = <P, A>(
  f: (payload: P, signal: AbortSignal) => PromiseLike<A>
): (payload: P) => Effect.Effect<A> =>
  f.length < 2
    ? (payload) => Effect.promise(() => f(payload, unusedSignal))
    : (payload) => Effect.promise((signal) => f(payload, signal))

/** @internal */
export const fromPromiseOr = <P, A, E>(
  f: (payload: P, signal: AbortSignal) => PromiseLike<A>,
  onRejection: (error: unknown) => E
): (payload: P) => Effect.Effect<A, E> =>
  f.length < 2
    ? (payload) => Effect.tryPromise({ try: () => f(payload, unusedSignal), catch: onRejection })
    : (payload) => Effect.tryPromise({ try: (signal) => f(payload, signal), catch: onRejection })

