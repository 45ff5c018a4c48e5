/**
 * Lanes, the same on both levels: the `default` queue with the layer's concurrency and each named
 * queue with its own, all within the layer's global limit. The place for rate limits.
 *
 * @internal
 */

/** A lane's slots. @internal */
export interface Slots {
  readonly name: string
  readonly concurrency: number
  running: number
}

/**
 * The lanes a layer's options declare, `default` first: `make` builds each one (a level adds what
 * it keeps per lane).
 *
 * @internal
 */
export const makeLanes = <L extends Slots>(
  concurrency: number,
  queues: Readonly<Record<string, { readonly concurrency: number }>>,
  make: (name: string, concurrency: number) => L
): Map<string, L> => {
  const lanes = new Map<string, L>([["default", make("default", concurrency)]])
  for (const [name, lane] of Object.entries(queues)) {
    if (name !== "default") lanes.set(name, make(name, lane.concurrency))
  }
  return lanes
}

/** How many more tasks `lane` may start now, given the tasks running in all lanes and the global limit. @internal */
export const freeSlots = (lane: Slots, runningInAll: number, limit: number): number =>
  Math.max(0, Math.min(limit - runningInAll, lane.concurrency - lane.running))
