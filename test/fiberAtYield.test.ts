import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option } from "effect"
import { yieldWrapGet } from "effect/Utils"
import { Executor, ExecutorError } from "../src/index.js"
import { withFiberAtYield } from "../src/internal/fiberAtYield.js"
import { stepsOf } from "./support.js"

const memory = Effect.provide(Executor.layerMemory())

describe("Executor.submit yielded in Effect.gen", () => {
  it.effect("submits at each yield* and hands back the handle (outside a request: with its steps)", () =>
    Effect.gen(function*() {
      const submitOne = Executor.submit(Effect.succeed(1), { when: "now" })
      const first = yield* submitOne
      const second = yield* submitOne
      expect(first.id).not.toBe(second.id)
      expect(yield* Executor.await(first)).toBe(1)
      expect(yield* Executor.await(second)).toBe(1)
    }).pipe(memory))

  it.effect("fails the generator with the submit's typed error, past any try/catch in it", () =>
    Effect.gen(function*() {
      let caught: unknown = undefined
      const error = yield* Effect.flip(Effect.gen(function*() {
        try {
          yield* Executor.submit(Effect.void, { queue: "nowhere" })
        } catch (thrown) {
          caught = thrown
        }
        return "went on"
      }))
      expect(error).toBeInstanceOf(ExecutorError.UnknownQueue)
      expect(caught).toBeUndefined()
    }).pipe(memory))
})

describe("withFiberAtYield", () => {
  it.effect("runs its body on the fiber that runs the generator, once per yield*", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const effect = withFiberAtYield((fiber) => {
        seen.push(fiber.id().toString())
        return Effect.succeed(seen.length)
      }, () => true)
      const self = yield* Effect.withFiberRuntime((fiber) => Effect.succeed(fiber.id().toString()))
      expect(yield* effect).toBe(1)
      expect(yield* effect).toBe(2)
      expect(seen).toEqual([self, self])
      // run any other way, it is the plain withFiberRuntime
      expect(yield* Effect.map(effect, (n) => n * 10)).toBe(30)
    }))

  it.effect("costs the generator no step when its body answers an Exit, two fewer than withFiberRuntime", () =>
    Effect.gen(function*() {
      const atYield = yield* stepsOf(withFiberAtYield(() => Effect.succeed(1), () => true))
      const plain = yield* stepsOf(Effect.withFiberRuntime(() => Effect.succeed(1)))
      const none = yield* stepsOf(Effect.void)
      expect(plain - atYield).toBe(2)
      // Effect.void is an Exit itself: yielding it costs no step either
      expect(atYield).toBe(none)
    }))

  it.effect("takes its steps, where the fiber may yield to others, when atYield says no", () =>
    Effect.gen(function*() {
      let asked = 0
      const declined = withFiberAtYield(() => Effect.succeed(1), () => {
        asked++
        return false
      })
      const plain = yield* stepsOf(Effect.withFiberRuntime(() => Effect.succeed(1)))
      expect(yield* stepsOf(declined)).toBe(plain)
      expect(asked).toBe(1)
    }))

  it.effect("fails the generator with a failure its body answers, past any try/catch in it", () =>
    Effect.gen(function*() {
      let caught: unknown = undefined
      const error = yield* Effect.flip(Effect.gen(function*() {
        try {
          yield* withFiberAtYield(() => Effect.fail("refused"), () => true)
        } catch (thrown) {
          caught = thrown
        }
        return "went on"
      }))
      expect(error).toBe("refused")
      expect(caught).toBeUndefined()
    }))

  it.effect("turns a throw of its body into a defect of the fiber", () =>
    Effect.gen(function*() {
      const boom = new Error("boom")
      const exit = yield* Effect.exit(Effect.gen(function*() {
        try {
          yield* withFiberAtYield<void, never, never>(() => {
            throw boom
          }, () => true)
        } catch {
          return "caught"
        }
        return "went on"
      }))
      expect(Exit.isFailure(exit) && Cause.dieOption(exit.cause)).toStrictEqual(Option.some(boom))
    }))

  it("yields the effect itself when no fiber is running", () => {
    expect(Option.isNone(Fiber.getCurrentFiber())).toBe(true)
    let ran = false
    const effect = withFiberAtYield(() => {
      ran = true
      return Effect.void
    }, () => true)
    const step = (effect as unknown as Iterable<unknown>)[Symbol.iterator]().next()
    expect(yieldWrapGet(step.value as never)).toBe(effect)
    expect(ran).toBe(false)
  })
})
