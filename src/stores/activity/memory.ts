/**
 * The activity of {@link MemoryStore}: tab times in a `Map` beside the records, dropped with them.
 *
 * @module
 * @internal
 */
import { isExpired, lastOf, type ActivityQuery, type SessionActivity, type StoreContext, type StoreRecord } from '../store.js';

interface TabEntry {
  at: number;
  expiresAt: number;
}

/**
 * Per-tab activity kept in process. The store calls {@link MemoryActivity.forget} whenever it
 * drops a record (delete, expiry, eviction), so activity never outgrows the records it belongs to;
 * `deleteExpired` also sweeps entries past their own expiry.
 *
 * @example
 * ```ts
 * const activity = new MemoryActivity((key) => records.get(key)?.record);
 * activity.record('key', 'tab-0001', now, now + 3_600_000);
 * ```
 */
export class MemoryActivity {
  readonly #tabs = new Map<string, Map<string, TabEntry>>();
  readonly #recordOf: (key: string) => StoreRecord | undefined;

  /** `recordOf`: the store's record under a key, without counting as a use. */
  constructor(recordOf: (key: string) => StoreRecord | undefined) {
    this.#recordOf = recordOf;
  }

  record(key: string, tab: string, at: number, expiresAt: number): void {
    let tabs = this.#tabs.get(key);
    if (tabs === undefined) this.#tabs.set(key, (tabs = new Map()));
    const entry = tabs.get(tab);
    if (entry === undefined) tabs.set(tab, { at, expiresAt });
    else {
      if (at > entry.at) entry.at = at;
      if (expiresAt > entry.expiresAt) entry.expiresAt = expiresAt;
    }
  }

  of(key: string, ctx: StoreContext): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [tab, entry] of this.#tabs.get(key) ?? []) if (!isExpired(entry, ctx.now)) out[tab] = entry.at;
    return out;
  }

  list(query: ActivityQuery, ctx: StoreContext): SessionActivity[] {
    const found: Array<SessionActivity & { last: number }> = [];
    for (const key of this.#tabs.keys()) {
      const record = this.#recordOf(key);
      if (record === undefined || isExpired(record, ctx.now) || (query.tenant !== null && record.tenant !== query.tenant)) continue;
      const tabs = this.of(key, ctx);
      const last = lastOf(tabs);
      if (last !== -Infinity && last >= query.since && last < query.before) found.push({ key, userId: record.userId, tenant: record.tenant, tabs, last });
    }
    found.sort((a, b) => b.last - a.last || (a.key < b.key ? -1 : 1));
    return found.slice(0, query.limit).map(({ key, userId, tenant, tabs }) => ({ key, userId, tenant, tabs }));
  }

  forget(key: string): void {
    this.#tabs.delete(key);
  }

  deleteExpired(ctx: StoreContext): void {
    for (const [key, tabs] of this.#tabs) {
      for (const [tab, entry] of tabs) if (isExpired(entry, ctx.now)) tabs.delete(tab);
      if (tabs.size === 0) this.#tabs.delete(key);
    }
  }
}
