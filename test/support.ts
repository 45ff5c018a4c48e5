import { Effect, RuntimeFlags, RuntimeFlagsPatch, Supervisor, TestClock, Tracer } from "effect"
import { randomTaskId } from "../src/internal/handleId.js"
import type { NewTask } from "../src/TaskStore.js"

/**
 * Waits until at least `count` fibers sleep on the TestClock, so that `TestClock.adjust` finds the
 * sleeps it is meant to wake. Spins on `yieldNow`: no wall-clock time is involved.
 */
export const awaitSleepers = (count: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000; i++) {
      const sleeps = yield* TestClock.sleeps()
      if (sleeps.length >= count) return
      yield* Effect.yieldNow()
    }
    return yield* Effect.dieMessage(`expected ${count} sleeping fibers on the TestClock`)
  })

/** A tracer that records every span it starts, on top of the current tracer. */
export const recordingTracer = Effect.map(Effect.tracer, (base) => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span(name, parent, context, links, startTime, kind, options) {
      const span = base.span(name, parent, context, links, startTime, kind, options)
      spans.push(span)
      return span
    },
    context: (f, fiber) => base.context(f, fiber)
  })
  return { tracer, spans }
})

/**
 * A task row as a submit writes it: queued, due when created, without key, owner, lease or trace.
 * Tests override what they are about.
 */
export const newTask = (overrides: Partial<NewTask> = {}): NewTask => {
  const createdAt = overrides.createdAt ?? 1_000
  return {
    id: randomTaskId(),
    name: "Work",
    queue: "default",
    payload: "{}",
    priority: 0,
    runAt: createdAt,
    delayMillis: 0,
    state: "queued",
    idempotencyKey: undefined,
    owner: undefined,
    leaseExpiresAt: undefined,
    traceParent: undefined,
    createdAt,
    ...overrides
  }
}

/** Counts the run-loop steps of the fibers it supervises (Effect calls `onEffect` once per step). */
class StepCounter extends Supervisor.AbstractSupervisor<void> {
  steps = 0
  get value() {
    return Effect.void
  }
  override onEffect() {
    this.steps++
  }
}

/** The run-loop steps a generator takes to `yield*` this effect once. */
export const stepsOf = <A, E, R>(yielded: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const counter = new StepCounter()
    return Effect.gen(function*() {
      yield* yielded
    }).pipe(
      Effect.supervised(counter),
      Effect.withRuntimeFlagsPatch(RuntimeFlagsPatch.enable(RuntimeFlags.OpSupervision)),
      Effect.as(counter)
    )
  }).pipe(Effect.map((counter) => counter.steps))
