/**
 * The durable engine's background loops, each kept running through store faults (`keepRunning`):
 * the heartbeat of this process's leases, its liveness beat, the takeover of stopped processes'
 * tasks, the prune of finished ones, and the backlog count.
 *
 * @internal
 */
import { Duration, Effect, Schedule, type Scope } from "effect"
import type { StoreUnavailable } from "../../ExecutorError.js"
import { keepRunning } from "../keepRunning.js"
import { taskMetrics } from "../taskMetrics.js"
import { cancelBuffered, type EngineState, stopRunning, unbuffer, wake } from "./state.js"

/** @internal */
export const startMaintenance = (
  state: EngineState,
  backlog: { readonly countBacklog: Effect.Effect<number, StoreUnavailable>; readonly bounded: boolean }
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { config, leaseMillis, now, owner, running, store } = state
    const takeoverMillis = Duration.toMillis(config.takeoverAfter)
    const beatMillis = Math.max(10, Math.floor(takeoverMillis / 4))

    // This process is alive from its first beat on (should the store be down now, the loop beats later).
    yield* store.beat(owner, now()).pipe(Effect.ignoreLogged)

    yield* keepRunning(
      "renewing leases",
      Effect.gen(function*() {
        const ids = [...running.keys(), ...state.buffered.keys(), ...state.heldIds]
        if (ids.length === 0) return
        const { cancelled, lost } = yield* store.heartbeat({ owner, ids, now: now(), leaseMillis })
        for (const id of lost) {
          if (running.has(id)) {
            yield* Effect.logWarning(`task ${id}: its claim was taken over by another worker; this attempt stops`)
          }
          unbuffer(state, id)
          stopRunning(state, id, "lost")
        }
        for (const id of cancelled) {
          const claimed = unbuffer(state, id)
          if (claimed !== undefined) yield* cancelBuffered(state, claimed)
          else stopRunning(state, id, "cancelled")
        }
      }),
      Schedule.spaced(Math.max(10, Math.floor(leaseMillis / 3)))
    ).pipe(Effect.forkScoped)

    // The backlog gauge of durable queues comes from the store: every process sees the same
    // queues. With a finite maxBacklog the count is also what submits are measured against:
    // taken at start, then every second.
    if (backlog.bounded) yield* backlog.countBacklog.pipe(Effect.ignoreLogged)
    yield* keepRunning(
      "counting the backlog",
      backlog.countBacklog,
      Schedule.spaced(backlog.bounded ? "1 second" : "15 seconds")
    ).pipe(Effect.forkScoped)

    // Liveness: a process that stops beating for `takeoverAfter` has its tasks taken over by the
    // others (or by itself after a restart), without waiting out the leases.
    yield* keepRunning("the liveness beat", Effect.suspend(() => store.beat(owner, now())), Schedule.spaced(beatMillis))
      .pipe(Effect.forkScoped)
    yield* keepRunning(
      "taking over the tasks of stopped processes",
      Effect.gen(function*() {
        const at = now()
        const moved = yield* store.reclaimExpired({ self: owner, now: at, deadBefore: at - takeoverMillis })
        if (moved > 0) {
          taskMetrics.takenOver(moved)
          wake(state)
        }
      }),
      Schedule.spaced(beatMillis)
    ).pipe(Effect.forkScoped)

    const retentionMillis = Duration.toMillis(config.retention)
    yield* keepRunning(
      "pruning finished tasks",
      Effect.suspend(() => store.prune(now() - retentionMillis)),
      Schedule.spaced(Math.max(1_000, Math.min(30_000, Math.floor(retentionMillis / 2))))
    ).pipe(Effect.forkScoped)
  })
