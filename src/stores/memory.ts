/**
 * An in-process store: fast, bounded, lost on restart. For tests, development and single-process
 * apps whose sessions may be lost.
 *
 * @module
 */
import { ConfigError } from '../errors.js';
import { isExpired, type KeyedRecord, type SessionStore, type StoreContext, type StoreRecord } from './store.js';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Most records held at once; past it the least recently used record is evicted, so memory cannot
   * grow without limit. Default 100 000.
   */
  maxEntries?: number;
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
export class MemoryStore implements SessionStore {
  readonly name = 'memory';
  /** Records are kept as given (see {@link SessionStore.retainsRecords}). */
  readonly retainsRecords = true;
  readonly maxEntries: number;
  // Map iteration order is insertion order; re-inserting on access keeps it in LRU order.
  readonly #records = new Map<string, StoreRecord>();
  readonly #byUser = new Map<string, Set<string>>();

  constructor(options: MemoryStoreOptions = {}) {
    const max = options.maxEntries ?? 100_000;
    if (!Number.isInteger(max) || max < 1) throw new ConfigError('MemoryStore maxEntries must be a positive integer');
    this.maxEntries = max;
  }

  /** Number of records held, expired ones included until cleanup or access removes them. */
  get size(): number {
    return this.#records.size;
  }

  getSync(key: string, ctx: StoreContext): StoreRecord | null {
    const record = this.#records.get(key);
    if (record === undefined) return null;
    if (isExpired(record, ctx.now)) {
      this.#remove(key, record);
      return null;
    }
    this.#records.delete(key);
    this.#records.set(key, record);
    return record;
  }

  setSync(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): boolean {
    const current = this.#records.get(key);
    const live = current !== undefined && !isExpired(current, ctx.now);
    if (live ? current.version !== expectedVersion : expectedVersion !== 0) return false;
    if (current === undefined || current.userId !== record.userId) {
      if (current !== undefined) this.#remove(key, current);
      if (record.userId !== null) this.#index(record.userId).add(key);
    } else {
      // Same user: the index already holds the key. (Deleted first so it moves to the newest end.)
      this.#records.delete(key);
    }
    this.#records.set(key, record);
    if (this.#records.size > this.maxEntries) {
      const [oldestKey, oldest] = this.#records.entries().next().value as [string, StoreRecord];
      this.#remove(oldestKey, oldest);
    }
    return true;
  }

  deleteSync(key: string): void {
    const record = this.#records.get(key);
    if (record !== undefined) this.#remove(key, record);
  }

  async get(key: string, ctx: StoreContext): Promise<StoreRecord | null> {
    return this.getSync(key, ctx);
  }

  async set(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): Promise<boolean> {
    return this.setSync(key, record, expectedVersion, ctx);
  }

  async delete(key: string): Promise<void> {
    this.deleteSync(key);
  }

  async deleteExpired(ctx: StoreContext): Promise<number> {
    let removed = 0;
    for (const [key, record] of this.#records) {
      if (isExpired(record, ctx.now)) {
        this.#remove(key, record);
        removed++;
      }
    }
    return removed;
  }

  async listByUser(userId: string, tenant: string | null, ctx: StoreContext): Promise<KeyedRecord[]> {
    const out: KeyedRecord[] = [];
    for (const key of this.#byUser.get(userId) ?? []) {
      const record = this.#records.get(key);
      if (record && !isExpired(record, ctx.now) && (tenant === null || record.tenant === tenant)) out.push({ key, record });
    }
    return out;
  }

  async close(): Promise<void> {
    this.#records.clear();
    this.#byUser.clear();
  }

  #index(userId: string): Set<string> {
    let keys = this.#byUser.get(userId);
    if (!keys) this.#byUser.set(userId, (keys = new Set()));
    return keys;
  }

  #remove(key: string, record: StoreRecord): void {
    this.#records.delete(key);
    if (record.userId !== null) {
      const keys = this.#byUser.get(record.userId);
      keys?.delete(key);
      if (keys?.size === 0) this.#byUser.delete(record.userId);
    }
  }
}
