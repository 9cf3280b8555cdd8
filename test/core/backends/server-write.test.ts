/**
 * src/core/backends/server-write.ts (ServerWriter), through a manager: the compare-and-set loop
 * ends. A store that refuses every write yet finds no record (broken, or racing a delete without
 * end) gets `maxWriteAttempts` tries, then `WriteConflictError` — also for a commit that changes
 * no data.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WriteConflictError } from '../../../src/errors.js';
import { Tessera } from '../../../src/manager.js';
import type { SessionStore, StoreRecord } from '../../../src/stores/store.js';
import { Browser } from '../../helpers/browser.js';

const SECRET = 'server-backend-test-secret-0123456789abcdef';

/** A store whose `set` always answers false and whose `get` always answers null, counting writes; in either form. */
function refusingStore(forms: 'sync' | 'promises'): SessionStore & { sets: number } {
  const store = {
    name: 'refusing',
    sets: 0,
    get: async (): Promise<StoreRecord | null> => null,
    set: async (): Promise<boolean> => {
      store.sets++;
      return false;
    },
    delete: async (): Promise<void> => {},
  };
  if (forms === 'promises') return store;
  return Object.assign(store, {
    getSync: (): StoreRecord | null => null,
    setSync: (): boolean => {
      store.sets++;
      return false;
    },
    deleteSync: (): void => {},
  });
}

for (const forms of ['sync', 'promises'] as const) {
  describe(`the write loop, on a store answering ${forms === 'sync' ? 'synchronously' : 'with promises'}`, () => {
    const manager = (options: { saveUninitialized?: boolean } = {}) => {
      const store = refusingStore(forms);
      const tessera = new Tessera({ secrets: [SECRET], store, cleanupInterval: 0, logger: {}, maxWriteAttempts: 3, ...options });
      assert.equal(tessera.loadsSynchronously, forms === 'sync');
      return { store, tessera };
    };

    // A timeout, so that a loop that spins again fails the test instead of running forever (on a
    // store answering with promises; one answering synchronously blocks the process: the run hangs).
    it('a touch of a new session (saveUninitialized) that the store always refuses ends with WriteConflictError after maxWriteAttempts', { timeout: 10_000 }, async () => {
      const { store, tessera } = manager({ saveUninitialized: true });
      await assert.rejects(new Browser(tessera).request(() => {}), (e: unknown) => e instanceof WriteConflictError && e.code === 'ERR_WRITE_CONFLICT');
      assert.equal(store.sets, 3);
    });

    it('create() of an empty session (a touch, no data) on such a store ends the same way', { timeout: 10_000 }, async () => {
      const { store, tessera } = manager();
      await assert.rejects(tessera.create(), WriteConflictError);
      assert.equal(store.sets, 3);
    });

    it('a data change on such a store ends the same way', { timeout: 10_000 }, async () => {
      const { store, tessera } = manager();
      await assert.rejects(new Browser(tessera).request((s) => s.set('a', 1)), WriteConflictError);
      assert.equal(store.sets, 3);
    });
  });
}
