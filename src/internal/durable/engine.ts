/**
 * The durable engine: submits are written to the store (grouped into shared transactions),
 * workers claim batches with a lease, heartbeat them, and write their ends back in batches. Its
 * parts: `submit.ts`, `worker.ts`, `maintenance.ts`, `query.ts`, over the state they share
 * (`state.ts`).
 *
 * @internal
 */
import { Effect, Fiber } from "effect"
import type * as TaskStore from "../../TaskStore.js"
import { logDrain, logDrainTimedOut } from "../run/attempt.js"
import { startMaintenance } from "./maintenance.js"
import { makeQuery } from "./query.js"
import { checkIdle, type DurableConfig, makeState, stopRunning, takeAllBuffered, wake } from "./state.js"
import { makeSubmitter } from "./submit.js"
import { startWorkers } from "./worker.js"

export type { DurableConfig } from "./state.js"

/** @internal */
export const makeDurableEngine = (store: TaskStore.TaskStore, config: DurableConfig) =>
  Effect.gen(function*() {
    const state = yield* makeState(store, config)
    const submitter = yield* makeSubmitter(state)
    yield* startMaintenance(state, submitter)
    yield* startWorkers(state)

    // Added after the workers' FiberSet, so run before its close: stops intake and claiming, lets
    // running and held tasks finish for `drainTimeout`, then stops what is left.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const { heldIds, running } = state
        state.closed = true
        state.claiming = false
        wake(state)
        // claimed ahead, never started: back to the queue at once, for the next process
        const buffered = takeAllBuffered(state)
        if (buffered.length > 0) {
          yield* store.requeue(buffered.map((task) => ({ id: task.id, owner: state.owner, claim: task.claim })), state.now())
            .pipe(Effect.ignoreLogged)
        }
        if (running.size > 0 || heldIds.size > 0) {
          yield* logDrain({ running: running.size, held: heldIds.size }, config.drainTimeout)
          // Finalizers run uninterruptibly; the wait must be interruptible for the timeout to end it.
          yield* Effect.async<void>((resume) => {
            state.onIdle = () => resume(Effect.void)
            checkIdle(state)
          }).pipe(Effect.interruptible, Effect.timeoutOption(config.drainTimeout))
          state.onIdle = undefined
          if (running.size > 0) yield* logDrainTimedOut(running.size, config.drainTimeout)
        }
        // responses still open: their tasks stay durable, released now rather than by recovery
        if (heldIds.size > 0) {
          yield* store.release(Array.from(heldIds), { now: state.now() }).pipe(Effect.ignoreLogged)
          heldIds.clear()
        }
        const fibers = Array.from(running.values(), (entry) => entry.fiber)
        for (const id of running.keys()) stopRunning(state, id, "shutdown")
        yield* Fiber.awaitAll(fibers)
        // whatever is still ours (an end that could not be written) is taken over at once
        yield* store.beat(state.owner, 0).pipe(Effect.ignoreLogged)
      })
    )

    return { submit: submitter.submit, submitAll: submitter.submitAll, ...makeQuery(state) }
  })

/** @internal */
export type DurableEngine = Effect.Effect.Success<ReturnType<typeof makeDurableEngine>>
