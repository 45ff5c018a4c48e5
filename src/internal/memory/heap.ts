/**
 * A binary heap of queued entries: higher `priority` first, then submission order. Entries keep
 * their own index so an interrupted entry leaves the heap at once instead of lingering.
 *
 * @internal
 */
export interface HeapItem {
  readonly priority: number
  readonly seq: number
  heapIndex: number
}

const before = (a: HeapItem, b: HeapItem): boolean =>
  a.priority === b.priority ? a.seq < b.seq : a.priority > b.priority

/** @internal */
export class TaskHeap<A extends HeapItem> {
  private readonly items: Array<A> = []

  get size(): number {
    return this.items.length
  }

  peek(): A | undefined {
    return this.items[0]
  }

  push(item: A): void {
    item.heapIndex = this.items.length
    this.items.push(item)
    this.up(item.heapIndex)
  }

  pop(): A | undefined {
    const top = this.items[0]
    if (top !== undefined) this.removeAt(0)
    return top
  }

  remove(item: A): boolean {
    const i = item.heapIndex
    if (i < 0 || this.items[i] !== item) return false
    this.removeAt(i)
    return true
  }

  private removeAt(i: number): void {
    const items = this.items
    const removed = items[i]!
    const last = items.pop()!
    removed.heapIndex = -1
    if (i < items.length) {
      items[i] = last
      last.heapIndex = i
      this.down(i)
      this.up(last.heapIndex)
    }
  }

  private up(i: number): void {
    const items = this.items
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(items[i]!, items[parent]!)) return
      this.swap(i, parent)
      i = parent
    }
  }

  private down(i: number): void {
    const items = this.items
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let best = i
      if (left < items.length && before(items[left]!, items[best]!)) best = left
      if (right < items.length && before(items[right]!, items[best]!)) best = right
      if (best === i) return
      this.swap(i, best)
      i = best
    }
  }

  private swap(i: number, j: number): void {
    const items = this.items
    const a = items[i]!
    const b = items[j]!
    items[i] = b
    items[j] = a
    a.heapIndex = j
    b.heapIndex = i
  }
}
