/**
 * The Promise API over any executor layer: a `ManagedRuntime` of the layer, and each call run
 * on it with its typed failure as the rejection.
 *
 * @internal
 */
import { Cause, Effect, Exit, type Layer, ManagedRuntime } from "effect"
import type { ServerResponse } from "node:http"
import * as Executor from "../../Executor.js"
import type { ExecutorAdmin } from "../../ExecutorAdmin.js"
import { ExecutorClosed } from "../../ExecutorError.js"
import type * as PromiseExecutor from "../../PromiseExecutor.js"
import * as Task from "../../Task.js"
import { ResponseLifecycle } from "../requestHold.js"
import { answerFor } from "../statusApi.js"

/** What an Effect-free caller submits: a task call, an effect, or a function giving a Promise. */
type Submittable = Task.TaskCall.Any | Effect.Effect<unknown, unknown> | ((signal: AbortSignal) => PromiseLike<unknown>)

const toEffect = (task: Submittable): Task.TaskCall.Any | Effect.Effect<unknown, unknown> =>
  typeof task === "function"
    ? Effect.tryPromise({ try: (signal) => task(signal), catch: (error) => error })
    : task

/** The failure of an exit as the rejection: the typed error itself, or the defect. */
const rejectionOf = (cause: Cause.Cause<unknown>): unknown => {
  const failure = Cause.failureOption(cause)
  return failure._tag === "Some" ? failure.value : Cause.squash(cause)
}

/** @internal */
export const make = <E>(
  layer: Layer.Layer<Executor.Executor | ExecutorAdmin, E, never>
): PromiseExecutor.PromiseExecutor<E> => {
  const runtime = ManagedRuntime.make(layer)
  let closed = false
  const run = <A>(effect: Effect.Effect<A, unknown, Executor.Executor | ExecutorAdmin>): Promise<A> =>
    closed
      ? Promise.reject(new ExecutorClosed())
      : runtime.runPromiseExit(effect).then((exit) =>
        Exit.isSuccess(exit) ? exit.value : Promise.reject(rejectionOf(exit.cause))
      )
  const submit = (task: Submittable, options?: Executor.SubmitOptions) =>
    run(Executor.submit(toEffect(task) as Effect.Effect<unknown, unknown>, options))
  return {
    runtime,
    submit: submit as PromiseExecutor.PromiseExecutor<E>["submit"],
    status: (handle) => run(Executor.status(handle)),
    await: (handle) => run(Executor.await(handle)),
    interrupt: (handle) => run(Executor.interrupt(handle)),
    forResponse: (response: ServerResponse) => ({
      submit: ((task: Submittable, options?: Executor.SubmitOptions) =>
        run(
          Effect.provideService(
            Executor.submit(toEffect(task) as Effect.Effect<unknown, unknown>, options),
            ResponseLifecycle,
            response
          )
        )) as PromiseExecutor.Submit
    }),
    run: (effect) => run(effect),
    start: () => run(Effect.void),
    statusAnswer: (id, session) =>
      closed
        ? Promise.resolve({ status: 503, body: { error: "the executor is closed" } })
        : runtime.runPromise(answerFor(id, session)).catch(() => ({
          status: 503,
          body: { error: "the executor is unavailable" }
        })),
    close: () => {
      closed = true
      return runtime.dispose()
    }
  }
}
