/** What the registry needs to know of an entry. @internal */
export interface Registered {
  readonly id: string
  readonly idempotencyKey: string | undefined
  /** The order of submission: `values` lists newest first by it. */
  readonly seq: number
  /** When it finished; meaningful only once it is in a finished generation. */
  readonly finishedAt: number
}

/**
 * Every task the memory supervisor knows, by id: the unfinished ones, and the finished ones for
 * their retention in two generations. A full generation is dropped whole when the next one fills,
 * so forgetting a task touches neither the task nor a hash table (evicting one entry at a time
 * read each evicted entry again long after it finished: a cache miss per task on the hot path).
 *
 * Of the finished tasks, at most `maxRetained` are kept, and once that many have finished, at
 * least the most recent `maxRetained / 2`. A finished task past `retention` is not found, and is
 * dropped with its generation.
 *
 * @internal
 */
export class TaskRegistry<E extends Registered> {
  private readonly live = new Map<string, E>()
  private recent = new Map<string, E>()
  private older = new Map<string, E>()
  /** The entries of each generation that have an idempotency key, to forget the keys with them. */
  private recentKeyed: Array<E> = []
  private olderKeyed: Array<E> = []
  /** When the newest entry of each generation finished. */
  private recentNewest = 0
  private olderNewest = 0
  /** Idempotency key to task id. */
  private readonly byKey = new Map<string, string>()
  private readonly generationSize: number

  constructor(maxRetained: number, private readonly retentionMillis: number) {
    this.generationSize = Math.max(1, Math.floor(maxRetained / 2))
  }

  /** Entries held, finished or not. */
  get size(): number {
    return this.live.size + this.recent.size + this.older.size
  }

  /** Whether an entry under this id is held, expired or not. */
  has(id: string): boolean {
    return this.live.has(id) || this.recent.has(id) || this.older.has(id)
  }

  /** The entry under this id, unless it finished longer than `retention` ago. */
  get(id: string, now: number): E | undefined {
    const live = this.live.get(id)
    if (live !== undefined) return live
    const finished = this.recent.get(id) ?? this.older.get(id)
    return finished === undefined || this.expired(finished, now) ? undefined : finished
  }

  /** The id of the retained task submitted with this idempotency key. */
  idOfKey(key: string, now: number): string | undefined {
    const id = this.byKey.get(key)
    return id !== undefined && this.get(id, now) !== undefined ? id : undefined
  }

  /** Adds a task that has not finished. */
  add(entry: E): void {
    this.live.set(entry.id, entry)
    if (entry.idempotencyKey !== undefined) this.byKey.set(entry.idempotencyKey, entry.id)
  }

  /** Moves a task that has just finished (`finishedAt` set) to the recent generation. */
  finished(entry: E): void {
    this.live.delete(entry.id)
    this.recent.set(entry.id, entry)
    if (entry.idempotencyKey !== undefined) this.recentKeyed.push(entry)
    this.recentNewest = entry.finishedAt
    if (this.recent.size >= this.generationSize) this.rotate()
    this.dropExpired(entry.finishedAt)
  }

  /** Takes a finished task back among the unfinished ones (a retry). */
  reopen(entry: E): void {
    if (!this.recent.delete(entry.id)) this.older.delete(entry.id)
    this.live.set(entry.id, entry)
  }

  /** Unfinished entries first, then finished ones, each newest first; expired ones are left out. */
  values(now: number): Array<E> {
    const all: Array<E> = Array.from(this.live.values())
    for (const generation of [this.recent, this.older]) {
      for (const entry of generation.values()) {
        if (!this.expired(entry, now)) all.push(entry)
      }
    }
    return all.sort((a, b) => b.seq - a.seq)
  }

  /** The entries that have not finished. */
  unfinished(): Array<E> {
    return Array.from(this.live.values())
  }

  /** Forgets every finished task past its retention; answers how many. */
  prune(now: number): number {
    const before = this.recent.size + this.older.size
    this.dropExpired(now)
    let pruned = before - (this.recent.size + this.older.size)
    for (const generation of [this.recent, this.older]) {
      for (const entry of Array.from(generation.values())) {
        if (!this.expired(entry, now)) continue
        generation.delete(entry.id)
        if (entry.idempotencyKey !== undefined && this.byKey.get(entry.idempotencyKey) === entry.id) {
          this.byKey.delete(entry.idempotencyKey)
        }
        pruned++
      }
    }
    return pruned
  }

  /** Drops the generations whose tasks are all past their retention. */
  dropExpired(now: number): void {
    if (this.older.size > 0 && this.olderNewest + this.retentionMillis <= now) this.dropOlder()
    if (this.recent.size > 0 && this.recentNewest + this.retentionMillis <= now) {
      this.rotate()
      this.dropOlder()
    }
  }

  private expired(entry: E, now: number): boolean {
    return entry.finishedAt + this.retentionMillis <= now
  }

  private rotate(): void {
    this.forgetKeysOfOlder()
    this.older = this.recent
    this.olderKeyed = this.recentKeyed
    this.olderNewest = this.recentNewest
    this.recent = new Map()
    this.recentKeyed = []
  }

  private dropOlder(): void {
    this.forgetKeysOfOlder()
    this.older = new Map()
    this.olderKeyed = []
  }

  private forgetKeysOfOlder(): void {
    for (const entry of this.olderKeyed) {
      // unless it was retried since (then it is live or in the recent generation)
      if (this.older.get(entry.id) === entry && this.byKey.get(entry.idempotencyKey!) === entry.id) {
        this.byKey.delete(entry.idempotencyKey!)
      }
    }
  }
}
