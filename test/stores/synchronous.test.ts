/**
 * A third-party store built on SynchronousStore (the example in its TSDoc): the promise forms come
 * from the base class, and the conformance kit passes through both.
 */
import { storeConformance } from '../../src/stores/conformance.js';
import { isExpired, SynchronousStore, type StoreContext, type StoreRecord } from '../../src/stores/store.js';

class MapStore extends SynchronousStore {
  readonly name = 'map';
  readonly #records = new Map<string, StoreRecord>();
  getSync(key: string, ctx: StoreContext) {
    const r = this.#records.get(key);
    return r && !isExpired(r, ctx.now) ? r : null;
  }
  setSync(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext) {
    if ((this.getSync(key, ctx)?.version ?? 0) !== expectedVersion) return false;
    this.#records.set(key, record);
    return true;
  }
  deleteSync(key: string) {
    this.#records.delete(key);
  }
}

storeConformance({ name: 'SynchronousStore (the TSDoc example)', create: () => new MapStore() });
