import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { continuationOf } from "../src/internal/supervisor.js"

type Fiber = Parameters<typeof continuationOf>[0]

/** Runs `task` under the continuation, as a worker does, and answers what the outcome saw. */
const runUnder = (task: Effect.Effect<unknown, unknown>, withoutPushStack: boolean) =>
  Effect.withFiberRuntime<string>((fiber) => {
    const internals = fiber as unknown as Fiber
    const target: Fiber = withoutPushStack
      ? { setFiberRefs: (refs) => internals.setFiberRefs(refs), currentScheduler: internals.currentScheduler }
      : internals
    const underOutcome = continuationOf(target, {
      onSuccess: (value) => Effect.succeed(`succeeded with ${String(value)}`) as Effect.Effect<never>,
      onFailure: (cause) => Effect.succeed(`failed with ${Cause.squash(cause)}`) as Effect.Effect<never>
    })
    return underOutcome(task) as unknown as Effect.Effect<string>
  })

describe("a worker's continuation", () => {
  for (const withoutPushStack of [false, true]) {
    const how = withoutPushStack ? "matchCauseEffect (fallback)" : "the frame pushed on the fiber's stack"
    it.effect(`hands a task's value and its failure to the outcome, through ${how}`, () =>
      Effect.gen(function*() {
        expect(yield* runUnder(Effect.succeed(42), withoutPushStack)).toBe("succeeded with 42")
        expect(yield* runUnder(Effect.fail("boom"), withoutPushStack)).toBe("failed with boom")
        // the next step after the outcome is the fiber's own: nothing is left on its stack
        const after = yield* Effect.exit(runUnder(Effect.void, withoutPushStack).pipe(Effect.zipRight(Effect.fail("after"))))
        expect(after).toStrictEqual(Exit.fail("after"))
      }))
  }
})
