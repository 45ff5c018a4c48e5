/**
 * The memory supervisor's settings, and how it forks its entries' fibers (given by
 * `makeSupervisor`, which owns the layer's FiberSet and runtime).
 *
 * @internal
 */
import type { Duration, Effect, Fiber } from "effect"
import type { Entry } from "./entry.js"

/** @internal */
export interface SupervisorConfig {
  readonly concurrency: number
  readonly queues: Readonly<Record<string, { readonly concurrency: number }>>
  readonly maxBacklog: number
  readonly retention: Duration.Duration
  readonly maxRetained: number
  readonly drainTimeout: Duration.Duration
  /** The key a submit's `session` is hashed with; only the hash is kept. */
  readonly sessionKey: string
}

/**
 * Forks a fiber of an entry (its task, its timer) into the layer's FiberSet, with the submitter's
 * refs; `immediate`: it starts in place (see `makeSupervisor`).
 */
export type ForkOf = (
  entry: Entry,
  effect: Effect.Effect<unknown, unknown>,
  immediate: boolean
) => Fiber.RuntimeFiber<unknown, unknown>
