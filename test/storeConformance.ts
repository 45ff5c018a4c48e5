/**
 * The TaskStore conformance suite: every store runs it by passing a layer that gives a fresh,
 * empty store for each test.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Effect, Option } from "effect"
import { TaskStore } from "../src/TaskStore.js"
import type * as Store from "../src/TaskStore.js"
import { newTask } from "./support.js"

let counter = 0
const newId = () => `conformance-${String(++counter).padStart(12, "0")}`.slice(-24).padStart(24, "x")

const task = (overrides: Partial<Store.NewTask> = {}): Store.NewTask =>
  newTask({ id: newId(), runAt: 1_000, createdAt: 1_000, ...overrides })

const stateOf = (store: Store.TaskStore, id: string) =>
  Effect.map(store.status(id), (row) => Option.getOrUndefined(row)?.state)

export const storeConformance = (
  name: string,
  makeLayer: () => Layer.Layer<TaskStore, unknown>
) =>
  describe(`TaskStore conformance: ${name}`, () => {
    const run = <A, E>(body: (store: Store.TaskStore) => Effect.Effect<A, E>) =>
      Effect.flatMap(TaskStore, body).pipe(Effect.provide(makeLayer()))

    it.effect("insert stores tasks and answers their ids", () =>
      run((store) =>
        Effect.gen(function*() {
          const a = task()
          const b = task({ state: "held", owner: "me", leaseExpiresAt: 5_000 })
          expect(yield* store.insert([a, b])).toEqual([a.id, b.id])
          expect(yield* stateOf(store, a.id)).toBe("queued")
          expect(yield* stateOf(store, b.id)).toBe("held")
          const row = Option.getOrThrow(yield* store.status(a.id))
          expect(row).toMatchObject({ name: "Work", queue: "default", attempts: 0, cancelRequested: false })
          expect(Option.isNone(yield* store.status("missing-id-000000000000"))).toBe(true)
        })
      ))

    it.effect("insert is idempotent on the key, across calls and within one batch", () =>
      run((store) =>
        Effect.gen(function*() {
          const first = task({ idempotencyKey: "k1" })
          expect(yield* store.insert([first])).toEqual([first.id])
          const again = task({ idempotencyKey: "k1" })
          const twin = task({ idempotencyKey: "k2" })
          const twinAgain = task({ idempotencyKey: "k2" })
          expect(yield* store.insert([again, twin, twinAgain])).toEqual([first.id, twin.id, twin.id])
          expect(Option.isNone(yield* store.status(again.id))).toBe(true)
          expect(Option.isNone(yield* store.status(twinAgain.id))).toBe(true)
        })
      ))

    it.effect("release queues held tasks after their delay, or drops them", () =>
      run((store) =>
        Effect.gen(function*() {
          const kept = task({ state: "held", owner: "me", leaseExpiresAt: 9_000, delayMillis: 500 })
          const dropped = task({ state: "held", owner: "me", leaseExpiresAt: 9_000 })
          const queued = task()
          yield* store.insert([kept, dropped, queued])
          yield* store.release([kept.id, dropped.id, queued.id], { now: 2_000, drop: [dropped.id] })
          expect(Option.getOrThrow(yield* store.status(kept.id))).toMatchObject({ state: "queued", runAt: 2_500 })
          expect(Option.getOrThrow(yield* store.status(dropped.id))).toMatchObject({ state: "interrupted", finishedAt: 2_000 })
          expect(Option.getOrThrow(yield* store.status(queued.id))).toMatchObject({ state: "queued", runAt: 1_000 })
          // held tasks are never claimed
          const held = task({ state: "held", owner: "me", leaseExpiresAt: 9_000 })
          yield* store.insert([held])
          const claimed = yield* store.claim({ owner: "w", queue: "default", limit: 10, now: 2_400, leaseMillis: 1_000 })
          expect(claimed.map((c) => c.id)).toEqual([queued.id])
        })
      ))

    it.effect("claim takes due tasks of its queue, by priority then age, with a lease, once", () =>
      run((store) =>
        Effect.gen(function*() {
          const old = task({ runAt: 1_000 })
          const urgent = task({ runAt: 1_500, priority: 5 })
          const young = task({ runAt: 1_200 })
          const later = task({ runAt: 50_000 })
          const other = task({ queue: "reports" })
          yield* store.insert([young, old, urgent, later, other])
          const first = yield* store.claim({ owner: "w1", queue: "default", limit: 2, now: 2_000, leaseMillis: 1_000 })
          expect(first.map((c) => c.id)).toEqual([urgent.id, old.id])
          expect(first[0]).toMatchObject({ name: "Work", payload: "{}", attempts: 1 })
          const second = yield* store.claim({ owner: "w2", queue: "default", limit: 10, now: 2_000, leaseMillis: 1_000 })
          expect(second.map((c) => c.id)).toEqual([young.id])
          expect(Option.getOrThrow(yield* store.status(urgent.id))).toMatchObject({ state: "running", attempts: 1, startedAt: 2_000 })
          expect(yield* stateOf(store, later.id)).toBe("queued")
          const reports = yield* store.claim({ owner: "w3", queue: "reports", limit: 10, now: 2_000, leaseMillis: 1_000 })
          expect(reports.map((c) => c.id)).toEqual([other.id])
        })
      ))

    it.effect("heartbeat extends the owner's leases and reports lost and cancelled tasks", () =>
      run((store) =>
        Effect.gen(function*() {
          const a = task()
          const b = task()
          yield* store.insert([a, b])
          yield* store.claim({ owner: "w1", queue: "default", limit: 2, now: 1_000, leaseMillis: 1_000 })
          expect(yield* store.cancel(b.id, 1_100)).toBe("requested")
          const beat = yield* store.heartbeat({ owner: "w1", ids: [a.id, b.id, "gone-000000000000000000"], now: 1_500, leaseMillis: 1_000 })
          expect(beat.lost).toEqual(["gone-000000000000000000"])
          expect(beat.cancelled).toEqual([b.id])
          // the lease now runs to 2,500: not expired at 2,200
          expect(yield* store.reclaimExpired({ self: "w9", now: 2_200, deadBefore: 0 })).toBe(0)
          expect(yield* stateOf(store, a.id)).toBe("running")
          const stranger = yield* store.heartbeat({ owner: "w2", ids: [a.id], now: 1_600, leaseMillis: 1_000 })
          expect(stranger.lost).toEqual([a.id])
        })
      ))

    it.effect("complete records the result, only for the owner", () =>
      run((store) =>
        Effect.gen(function*() {
          const a = task()
          yield* store.insert([a])
          const [claimed] = yield* store.claim({ owner: "w1", queue: "default", limit: 1, now: 1_000, leaseMillis: 1_000 })
          expect(yield* store.complete([{ id: a.id, owner: "intruder", claim: claimed!.claim, result: "1" }], 1_100)).toEqual([a.id])
          expect(yield* store.complete([{ id: a.id, owner: "w1", claim: claimed!.claim + 1, result: "1" }], 1_100)).toEqual([a.id])
          expect(yield* stateOf(store, a.id)).toBe("running")
          expect(yield* store.complete([{ id: a.id, owner: "w1", claim: claimed!.claim, result: "{\"n\":1}" }], 1_200)).toEqual([])
          expect(Option.getOrThrow(yield* store.status(a.id))).toMatchObject({
            state: "succeeded",
            result: "{\"n\":1}",
            finishedAt: 1_200,
            attempts: 1
          })
        })
      ))

    it.effect("fail schedules the next attempt keeping the count, or fails for good", () =>
      run((store) =>
        Effect.gen(function*() {
          const a = task()
          yield* store.insert([a])
          const [first] = yield* store.claim({ owner: "w1", queue: "default", limit: 1, now: 1_000, leaseMillis: 1_000 })
          expect(first!.failedSince).toBeUndefined()
          expect(
            yield* store.fail([{ id: a.id, owner: "w1", claim: first!.claim, error: "\"e1\"", retryAt: 3_000, failedSince: 1_100 }], 1_100)
          ).toEqual([])
          expect(Option.getOrThrow(yield* store.status(a.id))).toMatchObject({ state: "queued", runAt: 3_000, attempts: 1, error: "\"e1\"" })
          expect(yield* store.claim({ owner: "w1", queue: "default", limit: 1, now: 2_000, leaseMillis: 1_000 })).toEqual([])
          const again = yield* store.claim({ owner: "w1", queue: "default", limit: 1, now: 3_000, leaseMillis: 1_000 })
          expect(again.map((c) => c.attempts)).toEqual([2])
          // the retry policy measures time-based schedules from the first failure
          expect(again.map((c) => c.failedSince)).toEqual([1_100])
          // the first claim's fence no longer holds
          expect(yield* store.fail([{ id: a.id, owner: "w1", claim: first!.claim, error: "\"x\"", retryAt: undefined }], 3_050))
            .toEqual([a.id])
          yield* store.fail([{ id: a.id, owner: "w1", claim: again[0]!.claim, error: "\"e2\"", retryAt: undefined }], 3_100)
          expect(Option.getOrThrow(yield* store.status(a.id))).toMatchObject({ state: "failed", attempts: 2, error: "\"e2\"", finishedAt: 3_100 })
          // retried by an operator, it starts a new run of retries
          expect(yield* store.retry(a.id, 4_000)).toBe("retried")
          const fresh = yield* store.claim({ owner: "w1", queue: "default", limit: 1, now: 4_000, leaseMillis: 1_000 })
          expect(fresh.map((c) => [c.attempts, c.failedSince])).toEqual([[1, undefined]])
        })
      ))

    it.effect("reclaimExpired takes back expired running and held tasks", () =>
      run((store) =>
        Effect.gen(function*() {
          const running = task()
          const cancelled = task()
          const held = task({ state: "held", owner: "dead", leaseExpiresAt: 1_500, delayMillis: 100 })
          const freshHeld = task({ state: "held", owner: "alive", leaseExpiresAt: 10_000 })
          yield* store.insert([running, cancelled, held, freshHeld])
          yield* store.claim({ owner: "dead", queue: "default", limit: 2, now: 1_000, leaseMillis: 1_000 })
          yield* store.cancel(cancelled.id, 1_000)
          expect(yield* store.reclaimExpired({ self: "w2", now: 1_900, deadBefore: 0 })).toBe(1)
          expect(yield* store.reclaimExpired({ self: "w2", now: 2_100, deadBefore: 0 })).toBe(2)
          expect(Option.getOrThrow(yield* store.status(running.id))).toMatchObject({ state: "queued", attempts: 1 })
          expect(yield* stateOf(store, cancelled.id)).toBe("interrupted")
          expect(Option.getOrThrow(yield* store.status(held.id))).toMatchObject({ state: "queued", runAt: 2_000 })
          expect(yield* stateOf(store, freshHeld.id)).toBe("held")
          const again = yield* store.claim({ owner: "w2", queue: "default", limit: 5, now: 2_100, leaseMillis: 1_000 })
          expect(again.map((c) => c.id).sort()).toEqual([held.id, running.id].sort())
          expect(again.find((c) => c.id === running.id)?.attempts).toBe(2)
        })
      ))

    it.effect("cancel ends held and queued tasks, asks for running ones, leaves finished ones", () =>
      run((store) =>
        Effect.gen(function*() {
          const queued = task()
          const held = task({ state: "held", owner: "me", leaseExpiresAt: 9_000 })
          const runningTask = task()
          yield* store.insert([runningTask])
          const [claimed] = yield* store.claim({ owner: "w1", queue: "default", limit: 1, now: 1_000, leaseMillis: 1_000 })
          yield* store.insert([queued, held])
          expect(yield* store.cancel(queued.id, 1_100)).toBe("cancelled")
          expect(yield* store.cancel(held.id, 1_100)).toBe("cancelled")
          expect(yield* store.cancel(runningTask.id, 1_100)).toBe("requested")
          expect(yield* store.cancel(queued.id, 1_200)).toBe("finished")
          expect(yield* store.cancel("missing-id-000000000000", 1_200)).toBe("missing")
          expect(Option.getOrThrow(yield* store.status(runningTask.id))).toMatchObject({ state: "running", cancelRequested: true })
          yield* store.markInterrupted({ id: runningTask.id, owner: "w1", claim: claimed!.claim }, 1_300)
          expect(Option.getOrThrow(yield* store.status(runningTask.id))).toMatchObject({ state: "interrupted", finishedAt: 1_300 })
          expect(yield* stateOf(store, held.id)).toBe("interrupted")
        })
      ))

    it.effect("requeue gives a stopping worker's tasks back without counting the attempt", () =>
      run((store) =>
        Effect.gen(function*() {
          const a = task()
          const b = task()
          yield* store.insert([a, b])
          const claimed = yield* store.claim({ owner: "w1", queue: "default", limit: 2, now: 1_000, leaseMillis: 1_000 })
          yield* store.cancel(b.id, 1_050)
          yield* store.requeue(claimed.map((c) => ({ id: c.id, owner: "w1", claim: c.claim })), 1_100)
          expect(Option.getOrThrow(yield* store.status(a.id))).toMatchObject({ state: "queued", attempts: 0 })
          expect(yield* stateOf(store, b.id)).toBe("interrupted")
        })
      ))

    it.effect("a claim taken over is fenced: the first worker's late end is refused, the second's wins", () =>
      run((store) =>
        Effect.gen(function*() {
          const a = task()
          yield* store.insert([a])
          const [first] = yield* store.claim({ owner: "w1", queue: "default", limit: 1, now: 1_000, leaseMillis: 1_000 })
          // w1's lease runs out; w2 takes the task back and claims it
          expect(yield* store.reclaimExpired({ self: "w2", now: 2_500, deadBefore: 0 })).toBe(1)
          const [second] = yield* store.claim({ owner: "w2", queue: "default", limit: 1, now: 2_500, leaseMillis: 1_000 })
          expect(second!.claim).toBeGreaterThan(first!.claim)
          expect(yield* store.complete([{ id: a.id, owner: "w1", claim: first!.claim, result: "\"late\"" }], 2_600))
            .toEqual([a.id])
          expect(yield* store.heartbeat({ owner: "w1", ids: [a.id], now: 2_600, leaseMillis: 1_000 }))
            .toMatchObject({ lost: [a.id] })
          expect(yield* store.complete([{ id: a.id, owner: "w2", claim: second!.claim, result: "\"won\"" }], 2_700))
            .toEqual([])
          expect(Option.getOrThrow(yield* store.status(a.id))).toMatchObject({ state: "succeeded", result: "\"won\"", attempts: 2 })
        })
      ))

    it.effect("reclaimExpired takes over the tasks of a process that stopped beating, records the lost attempt, never its own", () =>
      run((store) =>
        Effect.gen(function*() {
          const deadRunning = task()
          const aliveRunning = task()
          const deadHeld = task({ state: "held", owner: "dead", leaseExpiresAt: 99_000, delayMillis: 50 })
          yield* store.insert([deadRunning])
          yield* store.claim({ owner: "dead", queue: "default", limit: 1, now: 1_000, leaseMillis: 99_000 })
          yield* store.insert([aliveRunning, deadHeld])
          yield* store.claim({ owner: "alive", queue: "default", limit: 1, now: 1_000, leaseMillis: 1_000 })
          yield* store.beat("dead", 1_000)
          yield* store.beat("alive", 1_000)
          yield* store.beat("alive", 4_500)
          // alive's lease ran out at 2,000, but the caller is alive itself: its own rows stay
          expect(yield* store.reclaimExpired({ self: "alive", now: 5_000, deadBefore: 3_000 })).toBe(2)
          const row = Option.getOrThrow(yield* store.status(deadRunning.id))
          expect(row).toMatchObject({ state: "queued", attempts: 1, runAt: 1_000 })
          expect(JSON.parse(row.error!)).toEqual({ kind: "lost", value: { attempt: 1 } })
          expect(Option.getOrThrow(yield* store.status(deadHeld.id))).toMatchObject({ state: "queued", runAt: 5_050 })
          expect(yield* stateOf(store, aliveRunning.id)).toBe("running")
          // a process that says it stopped (beat at 0) is taken over at once
          yield* store.beat("alive", 0)
          expect(yield* store.reclaimExpired({ self: "other", now: 5_001, deadBefore: 5_001 - 2_000 })).toBe(1)
          expect(yield* stateOf(store, aliveRunning.id)).toBe("queued")
        })
      ))

    it.effect("prune deletes in batches and counts them all", () =>
      run((store) =>
        Effect.gen(function*() {
          const many = Array.from({ length: 2_345 }, () => task())
          yield* store.insert(many)
          const claimed = yield* store.claim({ owner: "w1", queue: "default", limit: 5_000, now: 1_000, leaseMillis: 1_000 })
          yield* store.complete(claimed.map((c) => ({ id: c.id, owner: "w1", claim: c.claim, result: "1" })), 1_100)
          expect(yield* store.prune(2_000)).toBe(2_345)
          expect(yield* store.counts()).toEqual([])
        })
      ))

    it.effect("has a session key of its own", () =>
      run((store) => Effect.sync(() => expect(store.sessionKey.length).toBeGreaterThanOrEqual(32))))

    it.effect("prune deletes tasks finished before the cutoff, and nothing else", () =>
      run((store) =>
        Effect.gen(function*() {
          const old = task()
          const recent = task()
          const waiting = task()
          yield* store.insert([old, recent])
          const claimed = yield* store.claim({ owner: "w1", queue: "default", limit: 2, now: 1_000, leaseMillis: 1_000 })
          const fence = (id: string) => claimed.find((c) => c.id === id)!.claim
          yield* store.complete([{ id: old.id, owner: "w1", claim: fence(old.id), result: "1" }], 1_100)
          yield* store.complete([{ id: recent.id, owner: "w1", claim: fence(recent.id), result: "1" }], 5_000)
          yield* store.insert([waiting])
          expect(yield* store.prune(2_000)).toBe(1)
          expect(Option.isNone(yield* store.status(old.id))).toBe(true)
          expect(yield* stateOf(store, recent.id)).toBe("succeeded")
          expect(yield* stateOf(store, waiting.id)).toBe("queued")
        })
      ))
    it.effect("list answers the newest tasks first, by state and queue; counts groups them", () =>
      run((store) =>
        Effect.gen(function*() {
          const a = task({ createdAt: 1_000 })
          const b = task({ createdAt: 2_000, queue: "reports", session: "s-1" })
          const c = task({ createdAt: 3_000 })
          yield* store.insert([a, b, c])
          yield* store.claim({ owner: "w1", queue: "default", limit: 1, now: 5_000, leaseMillis: 1_000 })
          expect((yield* store.list({ limit: 10 })).map((t) => t.id)).toEqual([c.id, b.id, a.id])
          expect((yield* store.list({ limit: 2 })).map((t) => t.id)).toEqual([c.id, b.id])
          expect((yield* store.list({ limit: 10, queue: "reports" })).map((t) => t.id)).toEqual([b.id])
          expect((yield* store.list({ limit: 10, state: "running" })).map((t) => t.id)).toEqual([a.id])
          expect(Option.getOrThrow(yield* store.status(b.id)).session).toBe("s-1")
          expect(yield* store.counts()).toEqual([
            { queue: "default", state: "queued", count: 1 },
            { queue: "default", state: "running", count: 1 },
            { queue: "reports", state: "queued", count: 1 }
          ])
          expect(yield* store.counts({ states: ["running"] })).toEqual([{ queue: "default", state: "running", count: 1 }])
        })
      ))

    it.effect("retry runs a failed or interrupted task again, from its first attempt", () =>
      run((store) =>
        Effect.gen(function*() {
          const failed = task()
          const cancelled = task()
          const waiting = task({ runAt: 90_000 })
          yield* store.insert([failed, cancelled, waiting])
          const claimed = yield* store.claim({ owner: "w1", queue: "default", limit: 2, now: 1_000, leaseMillis: 1_000 })
          const fence = (id: string) => claimed.find((c) => c.id === id)!.claim
          yield* store.fail([{ id: failed.id, owner: "w1", claim: fence(failed.id), error: "\"e\"", retryAt: undefined }], 1_100)
          yield* store.cancel(cancelled.id, 1_100)
          yield* store.markInterrupted({ id: cancelled.id, owner: "w1", claim: fence(cancelled.id) }, 1_200)
          expect(yield* store.retry(failed.id, 2_000)).toBe("retried")
          expect(yield* store.retry(cancelled.id, 2_000)).toBe("retried")
          expect(yield* store.retry(waiting.id, 2_000)).toBe("not-finished")
          expect(yield* store.retry("missing-id-000000000000", 2_000)).toBe("missing")
          expect(Option.getOrThrow(yield* store.status(failed.id))).toMatchObject({
            state: "queued",
            attempts: 0,
            runAt: 2_000,
            error: undefined,
            finishedAt: undefined
          })
          const again = yield* store.claim({ owner: "w2", queue: "default", limit: 5, now: 2_000, leaseMillis: 1_000 })
          expect(again.map((c) => c.attempts)).toEqual([1, 1])
          yield* store.complete(again.map((c) => ({ id: c.id, owner: "w2", claim: c.claim, result: "1" })), 2_100)
          expect(yield* store.retry(failed.id, 3_000)).toBe("succeeded")
        })
      ))
  })
