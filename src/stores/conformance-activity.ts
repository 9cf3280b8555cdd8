/**
 * The conformance checks of the activity ability (`recordActivity`, `activityOf`,
 * `listActivity`), which {@link storeConformance} runs with the other abilities.
 *
 * @module
 * @internal
 */
import assert from 'node:assert/strict';
import type { ActivityQuery, SessionStore, StoreContext, StoreRecord } from './store.js';

const HOUR = 3_600_000;
const at = (now: number): StoreContext => ({ now });

function record(now: number, over: Partial<StoreRecord> = {}): StoreRecord {
  return { data: '{"d":{}}', version: 1, expiresAt: now + HOUR, userId: null, tenant: null, ...over };
}

/** Why the store's activity cannot be checked, or `null` when it has the ability. */
function absent(store: SessionStore): string | null {
  const count = [store.recordActivity, store.activityOf, store.listActivity].filter((f) => typeof f === 'function').length;
  if (count === 3) return null;
  assert.equal(count, 0, `${store.name}: a store offers recordActivity, activityOf and listActivity together, or none of them`);
  return 'the store keeps no activity (recordActivity, activityOf, listActivity)';
}

type Check = (store: SessionStore, ctx: { now: number }) => Promise<void>;

const ALL: ActivityQuery = { since: -Infinity, before: Infinity, tenant: null, limit: 100 };

/**
 * The activity checks: `[name, why absent (or null), check]`, in the shape of the kit's abilities.
 *
 * @example
 * ```ts
 * const ABILITIES = [...others, ...ACTIVITY_ABILITIES];
 * ```
 */
export const ACTIVITY_ABILITIES: ReadonlyArray<readonly [string, (store: SessionStore) => string | null, Check]> = [
  [
    'activity: records tabs, keeps the later time, and keeps sessions apart',
    absent,
    async (store, { now }) => {
      const ctx = at(now);
      assert.deepEqual(await store.activityOf!('s1', ctx), {});
      await store.recordActivity!('s1', 'tab-aaaa', now - 5_000, now + HOUR, ctx);
      await store.recordActivity!('s1', 'tab-bbbb', now - 3_000, now + HOUR, ctx);
      await store.recordActivity!('s2', 'tab-aaaa', now - 1_000, now + HOUR, ctx);
      assert.deepEqual(await store.activityOf!('s1', ctx), { 'tab-aaaa': now - 5_000, 'tab-bbbb': now - 3_000 });
      assert.deepEqual(await store.activityOf!('s2', ctx), { 'tab-aaaa': now - 1_000 });
      await store.recordActivity!('s1', 'tab-aaaa', now - 2_000, now + HOUR, ctx);
      await store.recordActivity!('s1', 'tab-bbbb', now - 9_000, now + HOUR, ctx); // earlier: ignored
      assert.deepEqual(await store.activityOf!('s1', ctx), { 'tab-aaaa': now - 2_000, 'tab-bbbb': now - 3_000 });
    },
  ],
  [
    'activity: listActivity gives live sessions in [since, before), most recent first, with user, tenant and every tab',
    absent,
    async (store, { now }) => {
      const ctx = at(now);
      await store.set('a', record(now, { userId: 'u1', tenant: 't1' }), 0, ctx);
      await store.set('b', record(now, { userId: 'u2', tenant: 't2' }), 0, ctx);
      await store.set('c', record(now), 0, ctx);
      await store.recordActivity!('a', 'tab-old1', now - 50_000, now + HOUR, ctx);
      await store.recordActivity!('a', 'tab-new1', now - 1_000, now + HOUR, ctx);
      await store.recordActivity!('b', 'tab-bbbb', now - 10_000, now + HOUR, ctx);
      await store.recordActivity!('c', 'tab-cccc', now - 30_000, now + HOUR, ctx);
      await store.recordActivity!('no-record', 'tab-dddd', now, now + HOUR, ctx); // no live session: not listed
      const all = await store.listActivity!(ALL, ctx);
      assert.deepEqual(all.map((s) => s.key), ['a', 'b', 'c']);
      assert.deepEqual(all[0], { key: 'a', userId: 'u1', tenant: 't1', tabs: { 'tab-old1': now - 50_000, 'tab-new1': now - 1_000 } });
      const keys = async (query: Partial<ActivityQuery>) =>
        (await store.listActivity!({ ...ALL, ...query }, ctx)).map((s) => s.key);
      assert.deepEqual(await keys({ since: now - 20_000 }), ['a', 'b']);
      assert.deepEqual(await keys({ since: now - 10_000 }), ['a', 'b'], 'since is inclusive');
      assert.deepEqual(await keys({ before: now - 10_000 }), ['c'], 'before is exclusive; by the latest tab');
      assert.deepEqual(await keys({ limit: 2 }), ['a', 'b']);
      assert.deepEqual(await keys({ tenant: 't2' }), ['b']);
      assert.deepEqual(await keys({ tenant: 't3' }), []);
    },
  ],
  [
    'activity: delete removes it; it expires with its expiresAt and with the record',
    absent,
    async (store, { now }) => {
      const ctx = at(now);
      await store.set('d', record(now), 0, ctx);
      await store.recordActivity!('d', 'tab-dddd', now, now + HOUR, ctx);
      await store.delete('d', ctx);
      assert.deepEqual(await store.activityOf!('d', ctx), {});
      await store.set('d', record(now), 0, ctx); // the key again: its old activity stays gone
      assert.deepEqual(await store.activityOf!('d', ctx), {});
      assert.deepEqual((await store.listActivity!(ALL, ctx)).map((s) => s.key), []);

      await store.set('e', record(now, { expiresAt: now + 10_000 }), 0, ctx);
      await store.recordActivity!('e', 'tab-short', now, now + 5_000, ctx);
      await store.recordActivity!('e', 'tab-long1', now, now + 10_000, ctx);
      await store.set('g', record(now), 0, ctx);
      await store.recordActivity!('g', 'tab-gggg', now, now + 5_000, ctx); // a live session whose only tab expires
      const later = at(now + 6_000);
      assert.deepEqual(await store.activityOf!('e', later), { 'tab-long1': now });
      assert.deepEqual(await store.listActivity!(ALL, later), [{ key: 'e', userId: null, tenant: null, tabs: { 'tab-long1': now } }]);
      const gone = at(now + 11_000);
      assert.deepEqual(await store.activityOf!('e', gone), {});
      assert.deepEqual(await store.listActivity!(ALL, gone), []);
      await store.delete('g', ctx);
      // A later expiresAt extends the entry; an earlier one does not shorten it.
      await store.recordActivity!('f', 'tab-ffff', now, now + 5_000, ctx);
      await store.recordActivity!('f', 'tab-ffff', now, now + 20_000, ctx);
      await store.recordActivity!('f', 'tab-ffff', now, now + 1_000, ctx);
      assert.deepEqual(await store.activityOf!('f', at(now + 15_000)), { 'tab-ffff': now });
      if (store.deleteExpired) {
        await store.deleteExpired(at(now + 30_000));
        assert.deepEqual(await store.activityOf!('f', ctx), {}, 'deleteExpired removed the expired entry');
      }
    },
  ],
];
