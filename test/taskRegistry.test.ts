import { describe, expect, it } from "@effect/vitest"
import { TaskRegistry } from "../src/internal/taskRegistry.js"

interface Item {
  readonly id: string
  readonly idempotencyKey: string | undefined
  readonly seq: number
  finishedAt: number
}

let seq = 0
const item = (id: string, key?: string): Item => ({ id, idempotencyKey: key, seq: seq++, finishedAt: 0 })

const finish = (registry: TaskRegistry<Item>, entry: Item, at: number) => {
  entry.finishedAt = at
  registry.finished(entry)
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
      const entry = item(`t${i}`)
      registry.add(entry)
      finish(registry, entry, i * 1_000)
    }
    expect(registry.get("running", 1_000_000)).toBe(running)
    expect(registry.unfinished()).toEqual([running])
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
    for (let i = 0; i < 5; i++) {
      const entry = item(`a${i}`)
      registry.add(entry)
      finish(registry, entry, 2)
    }
    expect(registry.idOfKey("k", 2)).toBe("keyed")

    finish(registry, keyed, 3)
    for (let i = 0; i < 5; i++) {
      const entry = item(`b${i}`)
      registry.add(entry)
      finish(registry, entry, 4)
    }
    expect(registry.has("keyed")).toBe(false)
    expect(registry.idOfKey("k", 4)).toBeUndefined()
  })

  it("prune forgets every finished entry past its retention and says how many", () => {
    const registry = new TaskRegistry<Item>(100, 1_000)
    for (let i = 0; i < 10; i++) {
      const entry = item(`t${i}`)
      registry.add(entry)
      finish(registry, entry, i < 4 ? 0 : 900)
    }
    expect(registry.prune(1_500)).toBe(4)
    expect(registry.size).toBe(6)
    expect(registry.values(1_500).map((entry) => entry.id)).toEqual(["t9", "t8", "t7", "t6", "t5", "t4"])
  })
})
