/**
 * Prelude of README.md's conformance-kit snippet (`<!-- snippet: prelude test/docs/my-store.ts -->`):
 * `MyStore`, a third party's store written from the contract alone — the three required methods
 * over a `Map`, compare-and-set on `version`, expiry on the caller's clock — so the snippet runs
 * the kit on a store that is not tessera's.
 */
import { isExpired, type SessionStore, type StoreContext, type StoreRecord } from '../../src/index.js';

export class MyStore implements SessionStore {
  readonly name = 'my store';
  readonly #records = new Map<string, StoreRecord>();

  async get(key: string, ctx: StoreContext): Promise<StoreRecord | null> {
    return this.#live(key, ctx.now);
  }

  async set(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): Promise<boolean> {
    // Checked and written in one synchronous step: no other call can write in between.
    if ((this.#live(key, ctx.now)?.version ?? 0) !== expectedVersion) return false;
    this.#records.set(key, { ...record });
    return true;
  }

  async delete(key: string): Promise<void> {
    this.#records.delete(key);
  }

  #live(key: string, now: number): StoreRecord | null {
    const record = this.#records.get(key);
    return record && !isExpired(record, now) ? { ...record } : null;
  }
}
