import { Effect, Fiber, Option } from "effect"
import { SingleShotGen, YieldWrap } from "effect/Utils"

/**
 * `Effect.withFiberRuntime(body)`, which inside `Effect.gen` (and `Effect.fn`) runs `body` at the
 * `yield*` itself, in the fiber running the generator, and hands the generator its result, when
 * `atYield` says so for that fiber.
 *
 * `yield*` asks the effect for an iterator; Effect's own effects answer one that yields the effect,
 * which the fiber then runs as one or more steps of its run loop. Here the iterator runs `body` on
 * the fiber running the generator (`Fiber.getCurrentFiber`) and yields what `body` returns. When
 * that is an `Exit`, as a memory submit's handle or typed failure is, Effect passes it straight back
 * to the generator without a step: `Executor.submit` costs no step at all instead of two (about
 * 1,000-2,000 instructions each). Anything else is run as before.
 *
 * A step is also where a fiber yields to others, so a loop of such `yield*`s never does: `atYield`
 * keeps this to the calls where nothing else is kept waiting (a submit held until the response is
 * written, which no worker could start anyway). Otherwise, and without a running fiber (a generator
 * stepped by hand), the iterator yields the effect itself.
 *
 * The effect is still lazy: each `yield*` runs `body` again, and run any other way (`pipe`,
 * `flatMap`, `Effect.runPromise`) it is the plain `withFiberRuntime`. A throw from `body` becomes a
 * defect, as in `withFiberRuntime`, not an exception the generator could catch.
 *
 * @internal
 */
export const withFiberAtYield = <A, E, R>(
  body: (fiber: Fiber.RuntimeFiber<unknown, unknown>) => Effect.Effect<A, E, R>,
  atYield: (fiber: Fiber.RuntimeFiber<unknown, unknown>) => boolean
): Effect.Effect<A, E, R> => {
  const effect = Effect.withFiberRuntime<A, E, R>(body)
  ;(effect as { [Symbol.iterator]: () => unknown })[Symbol.iterator] = () => {
    const fiber = Fiber.getCurrentFiber()
    if (Option.isNone(fiber) || !atYield(fiber.value)) return new SingleShotGen(new YieldWrap(effect))
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
