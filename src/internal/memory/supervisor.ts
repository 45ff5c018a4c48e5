import type { FiberId, Scope } from "effect"
import { Effect, FiberRef, FiberRefs, FiberSet, Runtime } from "effect"
import { refsOf } from "./attempt.js"
import type { SupervisorConfig } from "./config.js"
import { Supervisor } from "./engine.js"
import type { Entry } from "./entry.js"

export type { SupervisorConfig } from "./config.js"
export { Supervisor } from "./engine.js"

/**
 * The memory supervisor of a layer: its tasks' fibers live in a FiberSet of the layer's scope,
 * forked with the layer's context and runtime flags. Closing the scope drains (`drainTimeout`),
 * then interrupts them.
 *
 * A task's fiber starts with its submitter's fiber refs (`refsOf`), so the runtime it is forked
 * with has none of its own: `Runtime.runFork` copies and forks its runtime's refs for every fiber
 * before `updateRefs` replaces them (a copy of the layer's map per task, about 3 us of an HTTP
 * request's submit on this machine, for refs never used). The layer's `Supervisor`, the one ref a
 * task takes from the layer, is read here once.
 *
 * @internal
 */
export const makeSupervisor = (config: SupervisorConfig): Effect.Effect<Supervisor, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const fibers = yield* FiberSet.make<unknown, unknown>()
    const layer = yield* Effect.runtime<never>()
    const layerSupervisor = yield* FiberRef.get(FiberRef.currentSupervisor)
    const fork = Runtime.runFork(
      Runtime.make({ context: layer.context, runtimeFlags: layer.runtimeFlags, fiberRefs: FiberRefs.empty() })
    )
    // one options object for every fork: `updateRefs` reads the entry being forked
    let forking: Entry | undefined
    const updateRefs = (_: FiberRefs.FiberRefs, fiberId: FiberId.Runtime) => refsOf(forking!.refs!, layerSupervisor, fiberId)
    const startNow: Runtime.RunForkOptions = { immediate: true, updateRefs }
    const startLater: Runtime.RunForkOptions = { immediate: false, updateRefs }
    const supervisor = new Supervisor(config, clock, fibers, (entry, effect, immediate) => {
      forking = entry
      try {
        const fiber = fork(effect, immediate ? startNow : startLater)
        FiberSet.unsafeAdd(fibers, fiber)
        return fiber
      } finally {
        forking = undefined
      }
    })
    // added after the FiberSet's own finalizer, so it runs before it
    yield* Effect.addFinalizer(() => supervisor.shutdown())
    return supervisor
  })
