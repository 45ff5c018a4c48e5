import type { Scope } from "effect"
import { Effect, FiberSet } from "effect"
import { Supervisor, type SupervisorConfig } from "./engine.js"

export { Supervisor, type SupervisorConfig } from "./engine.js"

/**
 * The memory supervisor of a layer: its tasks' fibers live in a FiberSet of the layer's scope,
 * forked with the layer's runtime. Closing the scope drains (`drainTimeout`), then interrupts them.
 *
 * @internal
 */
export const makeSupervisor = (config: SupervisorConfig): Effect.Effect<Supervisor, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const fibers = yield* FiberSet.make<unknown, unknown>()
    const runFork = yield* FiberSet.runtime(fibers)<never>()
    const supervisor = new Supervisor(config, clock, fibers, runFork)
    // added after the FiberSet's own finalizer, so it runs before it
    yield* Effect.addFinalizer(() => supervisor.shutdown())
    return supervisor
  })
