/** What the registry needs to know of an entry. @internal */
export interface Registered {
  readonly id: string
  readonly idempotencyKey: string | undefined
  /** The order of submission: `values` lists newest first by it. */
  readonly seq: number
  /** Whether it has finished (then it is retained, and expires `retention` after `finishedAt`). */
  readonly finished: boolean
  /** When it finished; meaningful only once `finished`. */
  readonly finishedAt: number
  /** The registry's own: the generation that holds it. */
  generation: unknown
  /** The registry's own: its place in that generation. */
  slot: number
}

/**
 * A set of entries that is dropped whole. Entries are kept in the order they came in, and indexed
 * by id only when an id is looked up: a submit appends to an array, and no hash table is written
 * on the hot path. A hash-table write per task was the largest single cost of a submit (its table
 * of thousands of ids misses the cache), and most tasks are never looked up by id.
 */
class Generation<E extends Registered> {
  /** Entries in the order they came in; a removed one leaves a hole. */
  private slots: Array<E | undefined> = []
  /** Id to entry for `slots[0, indexed)`, made by the first lookup. */
  private index: Map<string, E> | undefined = undefined
  private indexed = 0
  /** Entries in it, holes left out. */
  size = 0
  /** Entries in it that have not finished. */
  unfinished = 0
  /** Entries that finished in it. */
  finished = 0
  /** When its newest finished entry finished. */
  newest = 0
  /** Its finished entries that have an idempotency key, to forget the keys with them. */
  keyed: Array<E> = []

  add(entry: E): void {
    entry.generation = this
    entry.slot = this.slots.length
    this.slots.push(entry)
    this.size++
  }

  remove(entry: E): void {
    this.slots[entry.slot] = undefined
    if (entry.slot < this.indexed) this.index!.delete(entry.id)
    this.size--
    // only the long-lived set has many holes for long: it is never dropped whole
    if (this.slots.length > 64 && this.size < this.slots.length / 4) this.compact()
  }

  get(id: string): E | undefined {
    if (this.indexed < this.slots.length) {
      const index = this.index ??= new Map()
      for (let i = this.indexed; i < this.slots.length; i++) {
        const entry = this.slots[i]
        if (entry !== undefined) index.set(entry.id, entry)
      }
      this.indexed = this.slots.length
    }
    return this.index?.get(id)
  }

  /** Its entries, oldest first. */
  *[Symbol.iterator](): IterableIterator<E> {
    for (const entry of this.slots) {
      if (entry !== undefined) yield entry
    }
  }

  private compact(): void {
    const slots: Array<E> = []
    for (const entry of this.slots) {
      if (entry === undefined) continue
      entry.slot = slots.length
      slots.push(entry)
    }
    this.slots = slots
    this.index = undefined
    this.indexed = 0
  }
}

/**
 * Every task the memory supervisor knows, by id: the unfinished ones, and the finished ones for
 * their retention, in two generations. An entry goes into the recent generation when it is added
 * and stays there when it finishes (one array append per task). When the recent generation has
 * `maxRetained / 2` finished entries it becomes the older one, and the older one is dropped whole,
 * so forgetting a task touches neither the task nor a hash table (evicting one entry at a time read
 * each evicted entry again long after it finished: a cache miss per task on the hot path).
 *
 * Of the finished tasks, at most `maxRetained` are kept, and once that many have finished, at
 * least the most recent `maxRetained / 2`: an entry that finishes while it is in the older
 * generation moves to the recent one. A finished task past `retention` is not found, and is
 * dropped with its generation.
 *
 * Unfinished entries of a generation being dropped (long-running or long-queued tasks) move to a
 * third set, `longLived`, once each, and from there to the recent generation when they finish.
 *
 * @internal
 */
export class TaskRegistry<E extends Registered> {
  private recent = new Generation<E>()
  private older = new Generation<E>()
  private readonly longLived = new Generation<E>()
  /** Idempotency key to task id. */
  private readonly byKey = new Map<string, string>()
  private readonly generationSize: number

  constructor(maxRetained: number, private readonly retentionMillis: number) {
    this.generationSize = Math.max(1, Math.floor(maxRetained / 2))
  }

  /** Entries held, finished or not. */
  get size(): number {
    return this.recent.size + this.older.size + this.longLived.size
  }

  /** Whether an entry under this id is held, expired or not. */
  has(id: string): boolean {
    return this.find(id) !== undefined
  }

  /** The entry under this id, unless it finished longer than `retention` ago. */
  get(id: string, now: number): E | undefined {
    const entry = this.find(id)
    return entry === undefined || this.expired(entry, now) ? undefined : entry
  }

  /** The id of the retained task submitted with this idempotency key. */
  idOfKey(key: string, now: number): string | undefined {
    const id = this.byKey.get(key)
    return id !== undefined && this.get(id, now) !== undefined ? id : undefined
  }

  /** Adds a task that has not finished. */
  add(entry: E): void {
    this.recent.add(entry)
    this.recent.unfinished++
    if (entry.idempotencyKey !== undefined) this.byKey.set(entry.idempotencyKey, entry.id)
  }

  /** Records that a task has just finished (`finished` and `finishedAt` set). */
  finished(entry: E): void {
    const recent = this.recent
    const generation = entry.generation as Generation<E>
    generation.unfinished--
    if (generation !== recent) {
      generation.remove(entry)
      recent.add(entry)
    }
    recent.finished++
    recent.newest = entry.finishedAt
    if (entry.idempotencyKey !== undefined) recent.keyed.push(entry)
    if (recent.finished >= this.generationSize) this.rotate()
    this.dropExpired(entry.finishedAt)
  }

  /** Takes a finished task back among the unfinished ones (a retry). */
  reopen(entry: E): void {
    const generation = entry.generation as Generation<E>
    generation.finished--
    generation.remove(entry)
    this.recent.add(entry)
    this.recent.unfinished++
  }

  /** Entries newest first; expired ones are left out. */
  values(now: number): Array<E> {
    return this.collect((entry) => !this.expired(entry, now)).sort((a, b) => b.seq - a.seq)
  }

  /** The entries that have not finished. */
  unfinished(): Array<E> {
    return this.collect((entry) => !entry.finished)
  }

  /** Forgets every finished task past its retention; answers how many. */
  prune(now: number): number {
    const before = this.size
    this.dropExpired(now)
    let pruned = before - this.size
    for (const generation of [this.recent, this.older]) {
      for (const entry of Array.from(generation)) {
        if (!this.expired(entry, now)) continue
        generation.remove(entry)
        generation.finished--
        this.forgetKey(entry)
        pruned++
      }
    }
    return pruned
  }

  /** Drops the generations whose finished tasks are all past their retention. */
  dropExpired(now: number): void {
    if (this.older.size > 0 && this.older.newest + this.retentionMillis <= now) this.dropOlder()
    if (this.recent.finished > 0 && this.recent.newest + this.retentionMillis <= now) {
      this.rotate()
      this.dropOlder()
    }
  }

  /** The entries of all three generations that `keep` accepts. */
  private collect(keep: (entry: E) => boolean): Array<E> {
    const all: Array<E> = []
    for (const generation of [this.recent, this.older, this.longLived]) {
      for (const entry of generation) {
        if (keep(entry)) all.push(entry)
      }
    }
    return all
  }

  private find(id: string): E | undefined {
    return this.recent.get(id) ?? this.older.get(id) ?? this.longLived.get(id)
  }

  private expired(entry: E, now: number): boolean {
    return entry.finished && entry.finishedAt + this.retentionMillis <= now
  }

  private rotate(): void {
    this.dropOlder()
    this.older = this.recent
    this.recent = new Generation()
  }

  private dropOlder(): void {
    const older = this.older
    if (older.unfinished > 0) {
      for (const entry of older) {
        if (entry.finished) continue
        this.longLived.add(entry)
        this.longLived.unfinished++
      }
    }
    // unless it was retried since (then it is in another generation)
    for (const entry of older.keyed) {
      if (entry.generation === older) this.forgetKey(entry)
    }
    this.older = new Generation()
  }

  private forgetKey(entry: E): void {
    const key = entry.idempotencyKey
    if (key !== undefined && this.byKey.get(key) === entry.id) this.byKey.delete(key)
  }
}
