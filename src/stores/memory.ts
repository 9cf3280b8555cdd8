/**
 * An in-process store: fast, bounded, lost on restart. For tests, development and single-process
 * apps whose sessions may be lost.
 *
 * @module
 */
import { ConfigError } from '../errors.js';
import { MemoryActivity } from './activity/memory.js';
import { isExpired, isSessionRecord, pageByKey, RETAINS_RECORDS, SynchronousStore, type ActivityQuery, type DeleteExpiredOptions, type KeyedRecord, type ListQuery, type SessionActivity, type SessionPage, type StoreContext, type StoreRecord } from './store.js';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Most records held at once; past it the least recently used record is evicted, so memory cannot
   * grow without limit. Default 100 000.
   */
  maxEntries?: number;
}

/** A record and when it was last moved to the newest end (a count of moves and inserts). */
interface Entry {
  record: StoreRecord;
  stamp: number;
}

/**
 * Sessions in a `Map`, with LRU eviction and a by-user index.
 *
 * @example
 * ```ts
 * import { createTessera } from 'tessera';
 * import { MemoryStore } from 'tessera/stores/memory';
 * const tessera = createTessera({ secrets: [secret], store: new MemoryStore({ maxEntries: 10_000 }) });
 * ```
 */
export class MemoryStore extends SynchronousStore {
  readonly name = 'memory';
  /**
   * Records are kept as given, so tessera may hand over records that carry their decoded session.
   * A getter on the prototype: a copy of the store (`{ ...store }`) does not carry the mark.
   */
  get [RETAINS_RECORDS](): boolean {
    return true;
  }
  readonly maxEntries: number;
  // Map iteration order is insertion order: re-inserting an entry on access keeps the map in LRU
  // order. An entry is moved only when it is in the older half (its stamp is over maxEntries / 2
  // moves old), so a session read on every request costs a lookup, not a delete and an insert;
  // an entry used within the last maxEntries / 2 moves is never the one evicted.
  readonly #records = new Map<string, Entry>();
  readonly #byUser = new Map<string, Set<string>>();
  readonly #window: number;
  /** Where the current cleanup run's batches have got to, and the time they remove what had expired by. */
  #sweep: { now: number; entries: MapIterator<[string, Entry]> } | null = null;
  readonly #activity = new MemoryActivity((key) => this.#records.get(key)?.record);
  #clock = 0;

  constructor(options: MemoryStoreOptions = {}) {
    super();
    const max = options.maxEntries ?? 100_000;
    if (!Number.isInteger(max) || max < 1) throw new ConfigError('MemoryStore maxEntries must be a positive integer');
    this.maxEntries = max;
    this.#window = max >> 1;
  }

  /** Number of records held, expired ones included until cleanup or access removes them. */
  get size(): number {
    return this.#records.size;
  }

  getSync(key: string, ctx: StoreContext): StoreRecord | null {
    const entry = this.#records.get(key);
    if (entry === undefined) return null;
    if (isExpired(entry.record, ctx.now)) {
      this.#drop(key, entry.record);
      return null;
    }
    this.#use(key, entry);
    return entry.record;
  }

  setSync(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): boolean {
    const entry = this.#records.get(key);
    const current = entry?.record;
    const live = current !== undefined && !isExpired(current, ctx.now);
    if (live ? current.version !== expectedVersion : expectedVersion !== 0) return false;
    if (entry !== undefined && current!.userId === record.userId) {
      // Same user: the index already holds the key.
      entry.record = record;
      this.#use(key, entry);
      return true;
    }
    if (entry !== undefined) this.#remove(key, current!);
    if (record.userId !== null) this.#index(record.userId).add(key);
    this.#records.set(key, { record, stamp: ++this.#clock });
    if (this.#records.size > this.maxEntries) {
      const [oldestKey, oldest] = this.#records.entries().next().value as [string, Entry];
      this.#drop(oldestKey, oldest.record);
    }
    return true;
  }

  deleteSync(key: string): void {
    const entry = this.#records.get(key);
    if (entry !== undefined) this.#drop(key, entry.record);
  }

  /**
   * Remove expired records: every one, or with `limit` at most that many, going on from where the
   * previous call with the same `ctx.now` stopped (so the records a run has already passed are not
   * visited again), and the expired activity once the sweep reaches the end.
   *
   * @example
   * ```ts
   * const removed = await store.deleteExpired({ now: Date.now() }, { limit: 500 });
   * ```
   */
  async deleteExpired(ctx: StoreContext, options: DeleteExpiredOptions = {}): Promise<number> {
    const limit = options.limit ?? Infinity;
    // A call without a limit sweeps everything, from the start; a batch goes on with its run's sweep.
    if (limit === Infinity || this.#sweep?.now !== ctx.now) this.#sweep = { now: ctx.now, entries: this.#records.entries() };
    const { entries } = this.#sweep;
    let removed = 0;
    while (removed < limit) {
      const next = entries.next();
      if (next.done) {
        this.#sweep = null;
        this.#activity.deleteExpired(ctx);
        break;
      }
      const [key, { record }] = next.value;
      if (isExpired(record, ctx.now)) {
        this.#drop(key, record);
        removed++;
      }
    }
    return removed;
  }

  /** Live session records (a walk over the map: once per scrape is cheap at `maxEntries`). */
  async countLive(ctx: StoreContext): Promise<number> {
    let live = 0;
    for (const { record } of this.#records.values()) if (!isExpired(record, ctx.now) && isSessionRecord(record.data)) live++;
    return live;
  }

  async listByUser(userId: string, tenant: string | null, ctx: StoreContext): Promise<KeyedRecord[]> {
    const out: KeyedRecord[] = [];
    for (const key of this.#byUser.get(userId) ?? []) {
      const record = this.#records.get(key)?.record;
      if (record && !isExpired(record, ctx.now) && (tenant === null || record.tenant === tenant)) out.push({ key, record });
    }
    return out;
  }

  /** A page of the live records, in key order (the cursor is the last key of the page before). */
  async listSessions(query: ListQuery, ctx: StoreContext): Promise<SessionPage> {
    return pageByKey(this.#records.entries(), query, ctx.now, (entry) => entry.record);
  }

  /** Per-tab activity, kept beside the records and dropped with them (see docs/activity.md). */
  async recordActivity(key: string, tab: string, at: number, expiresAt: number): Promise<void> {
    this.#activity.record(key, tab, at, expiresAt);
  }

  async activityOf(key: string, ctx: StoreContext): Promise<Record<string, number>> {
    return this.#activity.of(key, ctx);
  }

  async listActivity(query: ActivityQuery, ctx: StoreContext): Promise<SessionActivity[]> {
    return this.#activity.list(query, ctx);
  }

  async close(): Promise<void> {
    this.#sweep = null;
    this.#records.clear();
    this.#byUser.clear();
  }

  /** Mark `entry` used: moved to the newest end when it is in the older half. */
  #use(key: string, entry: Entry): void {
    if (this.#clock - entry.stamp < this.#window) return;
    entry.stamp = ++this.#clock;
    this.#records.delete(key);
    this.#records.set(key, entry);
  }

  #index(userId: string): Set<string> {
    let keys = this.#byUser.get(userId);
    if (!keys) this.#byUser.set(userId, (keys = new Set()));
    return keys;
  }

  /** Remove the record and its activity (delete, expiry, eviction). */
  #drop(key: string, record: StoreRecord): void {
    this.#remove(key, record);
    this.#activity.forget(key);
  }

  /** Remove the record (and its index entry), keeping its activity: a write may be putting it back. */
  #remove(key: string, record: StoreRecord): void {
    this.#records.delete(key);
    if (record.userId !== null) {
      const keys = this.#byUser.get(record.userId);
      keys?.delete(key);
      if (keys?.size === 0) this.#byUser.delete(record.userId);
    }
  }
}
