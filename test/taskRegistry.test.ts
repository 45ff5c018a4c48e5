import { describe, expect, it } from "@effect/vitest"
import { TaskRegistry } from "../src/internal/memory/registry.js"

interface Item {
  readonly id: string
  readonly idempotencyKey: string | undefined
  readonly seq: number
  finished: boolean
  finishedAt: number
  generation: unknown
  slot: number
}

let seq = 0
const item = (id: string, key?: string): Item => ({
  id,
  idempotencyKey: key,
  seq: seq++,
  finished: false,
  finishedAt: 0,
  generation: undefined,
  slot: -1
})

const finish = (registry: TaskRegistry<Item>, entry: Item, at: number) => {
  entry.finished = true
  entry.finishedAt = at
  registry.finished(entry)
}

/** Adds a new entry under `id` that finishes at once, at `at`. */
const addFinished = (registry: TaskRegistry<Item>, id: string, at: number): Item => {
  const entry = item(id)
  registry.add(entry)
  finish(registry, entry, at)
  return entry
}

describe("TaskRegistry", () => {
  it("keeps at most maxRetained finished entries, and at least the most recent half of them", () => {
    const registry = new TaskRegistry<Item>(10, 60_000)
    const items = Array.from({ length: 1_000 }, (_, i) => item(`t${i}`))
    for (const entry of items) {
      registry.add(entry)
      finish(registry, entry, 1)
      expect(registry.size).toBeLessThanOrEqual(10)
    }
    const kept = items.filter((entry) => registry.get(entry.id, 1) !== undefined).map((entry) => entry.id)
    expect(kept.length).toBeGreaterThanOrEqual(5)
    // the kept ones are the most recent
    expect(kept).toEqual(items.slice(-kept.length).map((entry) => entry.id))
  })

  it("never forgets an unfinished entry", () => {
    const registry = new TaskRegistry<Item>(2, 1_000)
    const running = item("running")
    registry.add(running)
    for (let i = 0; i < 100; i++) {
      addFinished(registry, `t${i}`, i * 1_000)
    }
    expect(registry.get("running", 1_000_000)).toBe(running)
    expect(registry.unfinished()).toEqual([running])
  })

  it("an entry that finishes after its generation became the older one is kept with the recent ones", () => {
    const registry = new TaskRegistry<Item>(4, 60_000)
    const slow = item("slow")
    registry.add(slow)
    // two quick ones fill the generation that also holds `slow`: it becomes the older one
    for (const id of ["q1", "q2"]) {
      addFinished(registry, id, 1)
    }
    finish(registry, slow, 2)
    // one more generation of two: the one of q1 and q2 is dropped, `slow` finished after them
    for (const id of ["q3", "q4"]) {
      addFinished(registry, id, 3)
    }
    expect(registry.has("q1")).toBe(false)
    expect(registry.get("slow", 3)).toBe(slow)
    expect(registry.size).toBeLessThanOrEqual(4)
  })

  it("an entry unfinished across many generations is found, then retained and dropped like the others", () => {
    const registry = new TaskRegistry<Item>(2, 60_000)
    const slow = item("slow")
    registry.add(slow)
    for (let i = 0; i < 50; i++) {
      addFinished(registry, `a${i}`, 1)
      expect(registry.size).toBeLessThanOrEqual(3)
    }
    expect(registry.get("slow", 1)).toBe(slow)
    finish(registry, slow, 2)
    expect(registry.get("slow", 2)).toBe(slow)
    for (let i = 0; i < 3; i++) {
      addFinished(registry, `b${i}`, 3)
    }
    expect(registry.has("slow")).toBe(false)
    expect(registry.size).toBeLessThanOrEqual(2)
  })

  it("hides a finished entry past its retention, and drops it with its generation", () => {
    const registry = new TaskRegistry<Item>(4, 1_000)
    const first = item("first")
    registry.add(first)
    finish(registry, first, 0)
    expect(registry.get("first", 999)).toBe(first)
    expect(registry.get("first", 1_000)).toBeUndefined()
    // the generation of two fills, becomes the older one, and is dropped once all of it expired
    const second = item("second")
    registry.add(second)
    finish(registry, second, 5_000)
    expect(registry.has("first")).toBe(true)
    const third = item("third")
    registry.add(third)
    finish(registry, third, 6_000)
    expect(registry.has("first")).toBe(false)
    expect(registry.has("second")).toBe(false)
    expect(registry.get("third", 6_000)).toBe(third)
  })

  it("forgets an idempotency key with its entry, but not while the entry is retried", () => {
    const registry = new TaskRegistry<Item>(2, 60_000)
    const keyed = item("keyed", "k")
    registry.add(keyed)
    finish(registry, keyed, 1)
    expect(registry.idOfKey("k", 1)).toBe("keyed")

    // a retry takes it back among the unfinished: later generations do not drop it or its key
    registry.reopen(keyed)
    keyed.finished = false
    for (let i = 0; i < 5; i++) {
      addFinished(registry, `a${i}`, 2)
    }
    expect(registry.idOfKey("k", 2)).toBe("keyed")

    finish(registry, keyed, 3)
    for (let i = 0; i < 5; i++) {
      addFinished(registry, `b${i}`, 4)
    }
    expect(registry.has("keyed")).toBe(false)
    expect(registry.idOfKey("k", 4)).toBeUndefined()
  })

  it("prune forgets every finished entry past its retention and says how many", () => {
    const registry = new TaskRegistry<Item>(100, 1_000)
    for (let i = 0; i < 10; i++) {
      addFinished(registry, `t${i}`, i < 4 ? 0 : 900)
    }
    expect(registry.prune(1_500)).toBe(4)
    expect(registry.size).toBe(6)
    expect(registry.values(1_500).map((entry) => entry.id)).toEqual(["t9", "t8", "t7", "t6", "t5", "t4"])
  })

  it("finds entries added after a lookup, and not an entry moved out of a generation already looked up", () => {
    const registry = new TaskRegistry<Item>(4, 60_000)
    const slow = item("slow")
    registry.add(slow)
    addFinished(registry, "q1", 1)
    // the lookup indexes the generation that holds slow and q1
    expect(registry.get("slow", 1)).toBe(slow)
    addFinished(registry, "q2", 1)
    expect(registry.get("q2", 1)).toBeDefined()
    // that generation is now the older one; slow finishes and moves to the recent one
    finish(registry, slow, 2)
    addFinished(registry, "q3", 3)
    expect(registry.get("slow", 3)).toBe(slow)
    // the older generation (q1, q2) is dropped: slow is found in the recent one only
    addFinished(registry, "q4", 4)
    expect(registry.has("q1")).toBe(false)
    expect(registry.get("slow", 4)).toBe(slow)
    expect(registry.size).toBe(3)
    expect(registry.values(4).map((entry) => entry.id)).toEqual(["q4", "q3", "slow"])
  })

  it("keeps the long-lived set small as its entries finish, and finds the ones left", () => {
    const registry = new TaskRegistry<Item>(2, 60_000)
    const slow = Array.from({ length: 300 }, (_, i) => item(`slow${i}`))
    for (const entry of slow) registry.add(entry)
    // two generations of quick ones: the slow ones move to the long-lived set
    for (let i = 0; i < 4; i++) addFinished(registry, `q${i}`, 1)
    expect(registry.get("slow7", 1)).toBe(slow[7])
    // all but every tenth finish, in an order unlike the one they came in (the set compacts)
    const finishing = slow.filter((_, i) => i % 10 !== 0).reverse()
    for (const entry of finishing) finish(registry, entry, 2)
    const left = slow.filter((_, i) => i % 10 === 0)
    expect(registry.unfinished()).toEqual(left)
    for (const entry of left) expect(registry.get(entry.id, 2)).toBe(entry)
    // at most 2 finished ones are kept, plus the 30 unfinished
    expect(registry.size).toBeLessThanOrEqual(32)
    for (const entry of left) finish(registry, entry, 3)
    expect(registry.unfinished()).toEqual([])
    expect(registry.size).toBeLessThanOrEqual(2)
  })
})
