import { Effect, Fiber, Option } from "effect"
import { SingleShotGen, YieldWrap } from "effect/Utils"

/**
 * `Effect.withFiberRuntime(body)`, which inside `Effect.gen` (and `Effect.fn`) runs `body` at the
 * `yield*` itself, in the fiber running the generator, and hands the generator its result.
 *
 * `yield*` asks the effect for an iterator; Effect's own effects answer one that yields the effect,
 * which the fiber then runs as one or more steps of its run loop. Here the iterator runs `body` on
 * the fiber running the generator (`Fiber.getCurrentFiber`) and yields what `body` returns. When
 * that is an `Exit`, as a memory submit's handle or typed failure is, Effect passes it straight back
 * to the generator without a step: `Executor.submit` costs no step at all instead of two (about
 * 1,000-2,000 instructions each). Anything else is run as before.
 *
 * The effect is still lazy: each `yield*` runs `body` again, and run any other way (`pipe`,
 * `flatMap`, `Effect.runPromise`) it is the plain `withFiberRuntime`. Without a running fiber
 * (a generator stepped by hand) the iterator yields the effect itself. A throw from `body` becomes a
 * defect, as in `withFiberRuntime`, not an exception the generator could catch.
 *
 * @internal
 */
export const withFiberAtYield = <A, E, R>(
  body: (fiber: Fiber.RuntimeFiber<unknown, unknown>) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const effect = Effect.withFiberRuntime<A, E, R>(body)
  ;(effect as { [Symbol.iterator]: () => unknown })[Symbol.iterator] = () => {
    const fiber = Fiber.getCurrentFiber()
    if (Option.isNone(fiber)) return new SingleShotGen(new YieldWrap(effect))
    let now: Effect.Effect<A, E, R>
    try {
      now = body(fiber.value)
    } catch (defect) {
      now = Effect.die(defect)
    }
    return new SingleShotGen(new YieldWrap(now))
  }
  return effect
}
