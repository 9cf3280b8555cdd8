/**
 * The conformance check of the listing ability (`listSessions`), which {@link storeConformance}
 * runs with the other abilities.
 *
 * @module
 * @internal
 */
import assert from 'node:assert/strict';
import type { ListQuery, SessionStore, StoreContext, StoreRecord } from './store.js';

const HOUR = 3_600_000;

function record(now: number, over: Partial<StoreRecord> = {}): StoreRecord {
  return { data: '{"d":{}}', version: 1, expiresAt: now + HOUR, userId: null, tenant: null, ...over };
}

/** Every key of a listing, page after page (at most 100,000 pages: a store that never ends fails). */
async function listAll(store: SessionStore, query: Omit<ListQuery, 'cursor'>, ctx: StoreContext): Promise<{ keys: string[]; pages: number }> {
  const keys: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await store.listSessions!({ ...query, cursor }, ctx);
    for (const { key, record } of page.records) {
      assert.ok(record.expiresAt > ctx.now, `${key}: listSessions gave an expired record`);
      keys.push(key);
    }
    assert.ok(page.next === null || typeof page.next === 'string', 'next is a string or null');
    cursor = page.next;
    assert.ok(++pages < 100_000, 'the listing never ended');
  } while (cursor !== null);
  return { keys: keys.sort(), pages };
}

/**
 * The listing check: `[name, why absent (or null), check]`, in the shape of the kit's abilities.
 *
 * @example
 * ```ts
 * const ABILITIES = [...others, ...LISTING_ABILITIES];
 * ```
 */
export const LISTING_ABILITIES: ReadonlyArray<readonly [string, (store: SessionStore) => string | null, (store: SessionStore, ctx: { now: number }) => Promise<void>]> = [
  [
    'listSessions: pages through every live record once, by tenant, without expired or deleted ones or index entries',
    (store) => (typeof store.listSessions === 'function' ? null : 'the store cannot list its sessions (listSessions)'),
    async (store, { now }) => {
      const ctx = { now };
      const live = ['k-a', 'k-b', 'k-c', 'k-d', 'k-e', 'k-f', 'k-g'];
      for (const [i, key] of live.entries()) {
        const over = { userId: i % 2 === 0 ? `u${i}` : null, tenant: i < 3 ? 't1' : i < 5 ? 't2' : null };
        assert.equal(await store.set(key, record(now, over), 0, ctx), true);
        if (store.recordActivity) await store.recordActivity(key, 'tab-aaaa', now, now + HOUR, ctx);
      }
      await store.set('k-expired', record(now, { expiresAt: now + 1_000, userId: 'u9' }), 0, ctx);
      await store.set('k-deleted', record(now, { userId: 'u9' }), 0, ctx);
      await store.delete('k-deleted', ctx);
      const later = { now: now + 2_000 };

      const all = await listAll(store, { tenant: null, limit: 2 }, later);
      assert.deepEqual(all.keys, live, 'every live record, once, and nothing else');
      assert.ok(all.pages >= 2, 'a limit of 2 gives several pages');
      assert.deepEqual((await listAll(store, { tenant: 't1', limit: 100 }, later)).keys, ['k-a', 'k-b', 'k-c']);
      assert.deepEqual((await listAll(store, { tenant: 't2', limit: 1 }, later)).keys, ['k-d', 'k-e']);
      assert.deepEqual((await listAll(store, { tenant: 'nobody', limit: 100 }, later)).keys, []);

      // A record deleted between two pages does not break the listing.
      const first = await store.listSessions!({ tenant: null, cursor: null, limit: 3 }, later);
      for (const key of live) if (!first.records.some((r) => r.key === key)) await store.delete(key, later);
      let cursor = first.next;
      while (cursor !== null) {
        const page = await store.listSessions!({ tenant: null, cursor, limit: 3 }, later);
        assert.deepEqual(page.records, [], 'records deleted after the first page are not listed');
        cursor = page.next;
      }
    },
  ],
];
