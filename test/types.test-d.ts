import { describe, expectTypeOf, it } from "vitest"
import { Effect, Schema } from "effect"
import { DurableExecutor, Executor, ExecutorError, Task, TaskHandle, TaskStatus } from "../src/index.js"

const Charge = Task.make("Charge", {
  payload: Schema.Struct({ cents: Schema.Number }),
  success: Schema.String,
  failure: Schema.TaggedStruct("Declined", {}),
  run: ({ cents }) => Effect.succeed(`charged ${cents}`)
})

const chargeCard = DurableExecutor.submit(Charge.make({ cents: 100 }))

describe("types", () => {
  it("a program that needs DurableExecutor does not compile with only layerMemory", () => {
    const provided = chargeCard.pipe(Effect.provide(Executor.layerMemory()))
    expectTypeOf(provided).toEqualTypeOf<
      Effect.Effect<
        TaskHandle.TaskHandle<string, { readonly _tag: "Declined" }>,
        ExecutorError.SubmitError,
        DurableExecutor.DurableExecutor
      >
    >()
    // @ts-expect-error: DurableExecutor is still required, so the program cannot run
    Effect.runPromise(provided)
  })

  it("the Executor service offers no shutdown", () => {
    expectTypeOf<keyof Executor.Executor>().toEqualTypeOf<"reliability" | "submit" | "status" | "await" | "interrupt">()
    expectTypeOf<keyof DurableExecutor.DurableExecutor>().toEqualTypeOf<
      "reliability" | "submit" | "submitAll" | "status" | "await" | "interrupt"
    >()
    const useShutdown = (executor: Executor.Executor) =>
      // @ts-expect-error: there is no shutdown; the executor lives as long as its layer
      executor.shutdown()
    expectTypeOf(useShutdown).toBeFunction()
  })

  it("handles carry the task's types into status and await", () => {
    const program = Effect.gen(function*() {
      const handle = yield* Executor.submit(Charge.make({ cents: 1 }))
      expectTypeOf(handle).toEqualTypeOf<TaskHandle.TaskHandle<string, { readonly _tag: "Declined" }>>()
      const status = yield* Executor.status(handle)
      expectTypeOf(status).toEqualTypeOf<TaskStatus.TaskStatus<string, { readonly _tag: "Declined" }>>()
      return yield* Executor.await(handle)
    })
    expectTypeOf(program).toEqualTypeOf<
      Effect.Effect<
        string,
        | { readonly _tag: "Declined" }
        | ExecutorError.SubmitError
        | ExecutorError.LookupError
        | ExecutorError.AwaitError,
        Executor.Executor
      >
    >()
  })

  it("a plain effect keeps its own types and requirements", () => {
    const submitted = Executor.submit(Effect.succeed(1 as const))
    expectTypeOf(submitted).toEqualTypeOf<
      Effect.Effect<TaskHandle.TaskHandle<1, never>, ExecutorError.SubmitError, Executor.Executor>
    >()
  })

  it("a task call with a mistyped payload does not compile", () => {
    // @ts-expect-error: cents must be a number
    Charge.make({ cents: "100" })
  })
})
