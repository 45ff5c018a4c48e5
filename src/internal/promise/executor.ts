/**
 * The Promise API over any executor layer: a `ManagedRuntime` of the layer, and each call run
 * on it with its typed failure as the rejection.
 *
 * @internal
 */
import { Cause, Context, Effect, Exit, type FiberRefs, identity, type Layer, ManagedRuntime, Runtime } from "effect"
import type { ServerResponse } from "node:http"
import * as Executor from "../../Executor.js"
import type { ExecutorAdmin } from "../../ExecutorAdmin.js"
import { ExecutorClosed } from "../../ExecutorError.js"
import type * as PromiseExecutor from "../../PromiseExecutor.js"
import * as Task from "../../Task.js"
import { type SubmitFrom, submitFromOf } from "../executor.js"
import { holdOfResponse, type RequestHold, ResponseLifecycle } from "../requestHold.js"
import { isTracing } from "../run/span.js"
import { answerFor } from "../statusApi.js"

/** What an Effect-free caller submits: a task call, an effect, or a function giving a Promise. */
type Submittable = Task.TaskCall.Any | Effect.Effect<unknown, unknown> | ((signal: AbortSignal) => PromiseLike<unknown>)

/**
 * A function as the task's effect. Its `AbortSignal` (aborted when the task is interrupted) is made
 * only when the function declares it: Effect makes one for a function of one parameter, and in
 * Node an `AbortController` costs more than the rest of a small task (measured, bench/fastify.ts).
 */
const toEffect = (task: Submittable): Task.TaskCall.Any | Effect.Effect<unknown, unknown> =>
  typeof task === "function" ? Effect.tryPromise({ try: task, catch: identity }) : task

/** The failure of an exit as the rejection: the typed error itself, or the defect. */
const rejectionOf = (cause: Cause.Cause<unknown>): unknown => {
  const failure = Cause.failureOption(cause)
  return failure._tag === "Some" ? failure.value : Cause.squash(cause)
}

/** What a submit without a fiber needs: the executor's `SubmitFrom` and the runtime's context and refs. */
interface Fast {
  readonly from: SubmitFrom
  readonly context: Context.Context<never>
  readonly refs: FiberRefs.FiberRefs
  readonly traced: boolean
}

/** @internal */
export const make = <E, Extra = never>(
  layer: Layer.Layer<Executor.Executor | ExecutorAdmin | Extra, E, never>
): PromiseExecutor.PromiseExecutor<E, Extra> => {
  const runtime = ManagedRuntime.make(layer)
  let closed = false
  // Once the layer is built, a submit that needs no fiber (any memory submit) is answered at once,
  // with the runtime's context and refs: no fiber, no scheduler turn (a fiber per call cost more
  // than the submit, measured with bench/fastify.ts).
  let fast: Fast | undefined
  let learning = false
  const learn = () => {
    if (learning) return
    learning = true
    void runtime.runtime().then((rt) => {
      const from = submitFromOf(Context.get(rt.context, Executor.Executor))
      if (from === undefined) return
      const traced = Runtime.runSync(rt)(Effect.withFiberRuntime<boolean>((fiber) => Effect.succeed(isTracing(fiber))))
      fast = { from, context: rt.context as Context.Context<never>, refs: rt.fiberRefs, traced }
    }, () => {})
  }
  const run = <A>(effect: Effect.Effect<A, unknown, Executor.Executor | ExecutorAdmin | Extra>): Promise<A> =>
    closed
      ? Promise.reject(new ExecutorClosed())
      : runtime.runPromiseExit(effect).then((exit) => {
        learn()
        return Exit.isSuccess(exit) ? exit.value : Promise.reject(rejectionOf(exit.cause))
      })
  const submitTo = (response: ServerResponse | undefined) => {
    // the request's hold, kept here: made by the first submit that is held
    let hold: RequestHold | undefined
    return (task: Submittable, options?: Executor.SubmitOptions) => {
      const call = toEffect(task) as Effect.Effect<unknown, unknown>
      if (fast !== undefined && !closed) {
        const held = response === undefined ? undefined : (hold ??= holdOfResponse(response))
        const answer = fast.from(fast.context, fast.refs, fast.traced, call, options, held)
        if (answer !== undefined) {
          if (!Exit.isExit(answer)) return run(answer)
          return Exit.isSuccess(answer) ? Promise.resolve(answer.value) : Promise.reject(rejectionOf(answer.cause))
        }
      }
      const submitted = Executor.submit(call, options)
      return run(response === undefined ? submitted : Effect.provideService(submitted, ResponseLifecycle, response))
    }
  }
  const submit = submitTo(undefined)
  return {
    runtime,
    submit: submit as PromiseExecutor.PromiseExecutor<E>["submit"],
    status: (handle) => run(Executor.status(handle)),
    await: (handle) => run(Executor.await(handle)),
    interrupt: (handle) => run(Executor.interrupt(handle)),
    forResponse: (response: ServerResponse) => ({ submit: submitTo(response) as PromiseExecutor.Submit }),
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
