/**
 * The store conformance kit: one suite of tests every store passes, ours and third parties'. It
 * registers tests with `node:test` by default; pass `describe`/`it` of another runner to use that.
 *
 * @example
 * ```ts
 * // test/my-store.test.ts
 * import { storeConformance } from 'tessera/stores/conformance';
 * storeConformance({ name: 'my store', create: () => new MyStore({ ... }) });
 * ```
 * @module
 */
import assert from 'node:assert/strict';
import { describe as nodeDescribe, it as nodeIt } from 'node:test';
import { Tessera } from '../manager.js';
import type { SessionStore, StoreContext, StoreRecord } from './store.js';

type TestFn = () => Promise<void>;

/** Options of {@link storeConformance}. */
export interface ConformanceOptions {
  /** Name shown in the suite title. */
  name: string;
  /** Make a new, empty store. Called once per test; the kit closes it afterwards. */
  create(): SessionStore | Promise<SessionStore>;
  /** When a string, every test is registered as skipped with this reason (for example "Redis is down"). */
  skip?: string | false;
  /**
   * The store answers synchronously too (`getSync`, `setSync`, `deleteSync`): the suite runs a
   * second time through those forms (the manager's tests there take its path for stores that
   * answer with promises), and a test checks that the two forms see the same records. Default `false`.
   */
  syncForms?: boolean;
  /** Concurrent writers in the no-lost-update test. Default 100. */
  writers?: number;
  /** The runner's `describe`. Default: `node:test`. */
  describe?: (name: string, fn: () => void) => unknown;
  /** The runner's `it`, taking an options object with `skip` (node:test style). Default: `node:test`. */
  it?: (name: string, options: { skip?: string | boolean }, fn: TestFn) => unknown;
}

const SECRET = 'conformance-kit-secret-0123456789abcdef';
const HOUR = 3_600_000;

/**
 * The store seen through its synchronous forms: `get`, `set` and `delete` call `getSync`,
 * `setSync` and `deleteSync` (and the view has no synchronous forms of its own, so a manager
 * given it takes its path for promise-based stores).
 */
function throughSyncForms(store: SessionStore): SessionStore {
  const { getSync, setSync, deleteSync } = store;
  assert.ok(getSync && setSync && deleteSync, `${store.name}: syncForms is set, but the store lacks getSync, setSync or deleteSync`);
  return {
    name: store.name,
    get: async (key, ctx) => getSync.call(store, key, ctx),
    set: async (key, record, expectedVersion, ctx) => setSync.call(store, key, record, expectedVersion, ctx),
    delete: async (key, ctx) => deleteSync.call(store, key, ctx),
    deleteExpired: store.deleteExpired?.bind(store),
    listByUser: store.listByUser?.bind(store),
    expiresNatively: store.expiresNatively,
    close: store.close?.bind(store),
  };
}

function record(over: Partial<StoreRecord> = {}, now = Date.now()): StoreRecord {
  return { data: '{"d":{}}', version: 1, expiresAt: now + HOUR, userId: null, tenant: null, ...over };
}

/**
 * Register the conformance suite for a store.
 *
 * Checks: get / set / delete contracts, compare-and-set conflicts (including concurrent ones),
 * expiry against the caller's clock, unusual keys and large values, the optional `deleteExpired`
 * and `listByUser` abilities, and — through a real {@link Tessera} manager — that 100 concurrent
 * writers changing different keys of one session lose no update.
 *
 * @example
 * ```ts
 * storeConformance({ name: 'sqlite', create: () => new SqliteStore({ path: ':memory:' }) });
 * ```
 */
export function storeConformance(options: ConformanceOptions): void {
  const describe = options.describe ?? nodeDescribe;
  const it = options.it ?? ((name: string, opts: { skip?: string | boolean }, fn: TestFn) => nodeIt(name, opts, fn));
  const skip = options.skip || false;
  const writers = options.writers ?? 100;

  const suite = (title: string, create: () => Promise<SessionStore>): void => {
    const withStore = (fn: (store: SessionStore, ctx: { now: number }) => Promise<void>): TestFn => {
      return async () => {
        const store = await create();
        try {
          await fn(store, { now: Date.now() });
        } finally {
          await store.close?.();
        }
      };
    };
    const at = (now: number): StoreContext => ({ now });

    describe(title, () => {
      it('resolves null for a missing key', { skip }, withStore(async (store, { now }) => {
        assert.equal(await store.get('missing-key', at(now)), null);
      }));

      it('creates with expectedVersion 0 and reads back every field', { skip }, withStore(async (store, { now }) => {
        const r = record({ data: '{"d":{"a":1}}', userId: 'user-1', tenant: 'acme' }, now);
        assert.equal(await store.set('k1', r, 0, at(now)), true);
        assert.deepEqual(await store.get('k1', at(now)), r);
      }));

      it('refuses to create over a live record and changes nothing', { skip }, withStore(async (store, { now }) => {
        const first = record({ data: 'first' }, now);
        await store.set('k1', first, 0, at(now));
        assert.equal(await store.set('k1', record({ data: 'second' }, now), 0, at(now)), false);
        assert.equal((await store.get('k1', at(now)))?.data, 'first');
      }));

      it('updates only from the current version', { skip }, withStore(async (store, { now }) => {
        await store.set('k1', record({ data: 'v1' }, now), 0, at(now));
        assert.equal(await store.set('k1', record({ data: 'v2', version: 2 }, now), 1, at(now)), true);
        assert.equal(await store.set('k1', record({ data: 'stale', version: 2 }, now), 1, at(now)), false);
        const got = await store.get('k1', at(now));
        assert.equal(got?.data, 'v2');
        assert.equal(got?.version, 2);
      }));

      it('treats an update of a missing key as a conflict', { skip }, withStore(async (store, { now }) => {
        assert.equal(await store.set('nobody', record({ version: 2 }, now), 1, at(now)), false);
        assert.equal(await store.get('nobody', at(now)), null);
      }));

      it('deletes, and deleting a missing key is a no-op', { skip }, withStore(async (store, { now }) => {
        await store.set('k1', record({}, now), 0, at(now));
        await store.delete('k1', at(now));
        assert.equal(await store.get('k1', at(now)), null);
        await store.delete('k1', at(now));
        await store.delete('never-there', at(now));
      }));

      it('keeps records apart by key', { skip }, withStore(async (store, { now }) => {
        await store.set('a', record({ data: 'A' }, now), 0, at(now));
        await store.set('b', record({ data: 'B' }, now), 0, at(now));
        await store.delete('a', at(now));
        assert.equal(await store.get('a', at(now)), null);
        assert.equal((await store.get('b', at(now)))?.data, 'B');
      }));

      it('hides records whose expiry has passed on the caller clock', { skip }, withStore(async (store, { now }) => {
        await store.set('k1', record({ expiresAt: now + 1_000 }, now), 0, at(now));
        assert.notEqual(await store.get('k1', at(now + 999)), null);
        assert.equal(await store.get('k1', at(now + 1_000)), null);
      }));

      it('decides expiry by the caller clock even far from real time', { skip }, withStore(async (store) => {
        // A store that set an absolute server-side expiry from expiresAt would drop this at once.
        const past = Date.UTC(2001, 0, 1);
        await store.set('k1', record({ expiresAt: past + HOUR }, past), 0, at(past));
        assert.notEqual(await store.get('k1', at(past + HOUR - 1)), null);
        assert.equal(await store.get('k1', at(past + HOUR)), null);
      }));

      it('lets a new record take the key of an expired one, but not update it', { skip }, withStore(async (store, { now }) => {
        await store.set('k1', record({ data: 'old', expiresAt: now + 1_000 }, now), 0, at(now));
        const later = now + 2_000;
        assert.equal(await store.set('k1', record({ data: 'x', version: 2 }, later), 1, at(later)), false);
        assert.equal(await store.set('k1', record({ data: 'new' }, later), 0, at(later)), true);
        assert.equal((await store.get('k1', at(later)))?.data, 'new');
      }));

      it('extends expiry when a write moves expiresAt (touch)', { skip }, withStore(async (store, { now }) => {
        await store.set('k1', record({ expiresAt: now + 1_000 }, now), 0, at(now));
        assert.equal(await store.set('k1', record({ version: 2, expiresAt: now + 5_000 }, now), 1, at(now + 500)), true);
        assert.notEqual(await store.get('k1', at(now + 4_000)), null);
        assert.equal(await store.get('k1', at(now + 5_000)), null);
      }));

      it('round-trips opaque keys and large unicode data', { skip }, withStore(async (store, { now }) => {
        const key = 'Ab-_09/+=.:%\u00e9';
        const data = JSON.stringify({ d: { text: 'z\u00fc\u00df \u{1F600} '.repeat(8_000), quote: '\'"\\' } });
        await store.set(key, record({ data }, now), 0, at(now));
        assert.equal((await store.get(key, at(now)))?.data, data);
      }));

      it('lets exactly one of concurrent creates win', { skip }, withStore(async (store, { now }) => {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.set('race', record({ data: `w${i}` }, now), 0, at(now))),
        );
        assert.equal(results.filter(Boolean).length, 1);
        const winner = results.indexOf(true);
        assert.equal((await store.get('race', at(now)))?.data, `w${winner}`);
      }));

      it('lets exactly one of concurrent updates from one version win', { skip }, withStore(async (store, { now }) => {
        await store.set('race', record({}, now), 0, at(now));
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.set('race', record({ data: `w${i}`, version: 2 }, now), 1, at(now))),
        );
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal((await store.get('race', at(now)))?.data, `w${results.indexOf(true)}`);
      }));

      it('deleteExpired removes only expired records and counts them', { skip }, withStore(async (store, { now }) => {
        if (!store.deleteExpired) return;
        for (let i = 0; i < 5; i++) await store.set(`old${i}`, record({ expiresAt: now + 1_000 }, now), 0, at(now));
        for (let i = 0; i < 3; i++) await store.set(`live${i}`, record({ expiresAt: now + HOUR }, now), 0, at(now));
        const removed = await store.deleteExpired(at(now + 2_000));
        assert.equal(removed, store.expiresNatively ? removed : 5);
        for (let i = 0; i < 3; i++) assert.notEqual(await store.get(`live${i}`, at(now + 2_000)), null);
        for (let i = 0; i < 5; i++) assert.equal(await store.get(`old${i}`, at(now + 2_000)), null);
      }));

      it('listByUser lists live records of the user, by tenant, and forgets removed ones', { skip }, withStore(async (store, { now }) => {
        if (!store.listByUser) return;
        await store.set('a', record({ userId: 'u1', tenant: 't1' }, now), 0, at(now));
        await store.set('b', record({ userId: 'u1', tenant: 't2' }, now), 0, at(now));
        await store.set('c', record({ userId: 'u2' }, now), 0, at(now));
        await store.set('d', record({ userId: 'u1', expiresAt: now + 1_000 }, now), 0, at(now));
        await store.set('e', record({ userId: null }, now), 0, at(now));
        const keys = async (user: string, tenant: string | null, t = now + 2_000) =>
          (await store.listByUser!(user, tenant, at(t))).map((r) => r.key).sort();
        assert.deepEqual(await keys('u1', null), ['a', 'b']);
        assert.deepEqual(await keys('u1', 't1'), ['a']);
        assert.deepEqual(await keys('u2', null), ['c']);
        assert.deepEqual(await keys('nobody', null), []);
        const listed = await store.listByUser('u2', null, at(now));
        assert.equal(listed[0]?.record.userId, 'u2');
        await store.delete('a', at(now));
        assert.deepEqual(await keys('u1', null), ['b']);
        // Reassigning a record to another user moves it in the index.
        assert.equal(await store.set('b', record({ userId: 'u2', tenant: 't2', version: 2 }, now), 1, at(now)), true);
        assert.deepEqual(await keys('u1', null), []);
        assert.deepEqual(await keys('u2', null), ['b', 'c']);
        // Signing out (userId back to null) removes it from the index.
        assert.equal(await store.set('c', record({ userId: null, version: 2 }, now), 1, at(now)), true);
        assert.deepEqual(await keys('u2', null), ['b']);
      }));

      it(`loses no update with ${writers} concurrent writers on one session`, { skip }, async () => {
        const store = await create();
        const tessera = new Tessera({ store, secrets: [SECRET], cleanupInterval: 0, logger: {} });
        try {
          const { id } = await tessera.create({ data: { start: true } });
          await Promise.all(Array.from({ length: writers }, (_, i) => tessera.set(id, `k${i}`, i)));
          const session = await tessera.load(id);
          assert.ok(session, 'the session is still there');
          for (let i = 0; i < writers; i++) assert.equal(session.get(`k${i}`), i, `k${i} survived`);
          assert.equal(session.get('start'), true);
        } finally {
          await tessera.close();
        }
      });

      it('keeps both of two overlapping sessions that change different keys', { skip }, async () => {
        const store = await create();
        const tessera = new Tessera({ store, secrets: [SECRET], cleanupInterval: 0, logger: {} });
        try {
          const { id } = await tessera.create({ data: { a: 0, b: 0, shared: 'x' } });
          const [one, two] = await Promise.all([tessera.load(id), tessera.load(id)]);
          one!.set('a', 1);
          two!.set('b', 2);
          two!.delete('shared');
          await Promise.all([one!.save(), two!.save()]);
          const after = await tessera.load(id);
          assert.deepEqual(after!.toJSON(), { a: 1, b: 2 });
        } finally {
          await tessera.close();
        }
      });
    });
  };

  suite(`store conformance: ${options.name}`, async () => options.create());
  if (!options.syncForms) return;
  suite(`store conformance: ${options.name} (synchronous forms)`, async () => {
    const store = await options.create();
    try {
      return throughSyncForms(store);
    } catch (error) {
      await store.close?.();
      throw error;
    }
  });
  describe(`store conformance: ${options.name} (both forms together)`, () => {
    it('sees through each form what the other wrote, and refuses a stale version in both', { skip }, async () => {
      const store = await options.create();
      try {
        const ctx: StoreContext = { now: Date.now() };
        assert.equal(store.setSync!('a', record({ data: '{"d":{"n":1}}' }, ctx.now), 0, ctx), true);
        assert.equal((await store.get('a', ctx))?.data, '{"d":{"n":1}}');
        assert.equal(await store.set('a', record({ data: '{"d":{"n":2}}', version: 2 }, ctx.now), 1, ctx), true);
        assert.equal(store.getSync!('a', ctx)?.data, '{"d":{"n":2}}');
        assert.equal(store.setSync!('a', record({ version: 2 }, ctx.now), 1, ctx), false, 'stale version, synchronously');
        assert.equal(await store.set('a', record({ version: 2 }, ctx.now), 1, ctx), false, 'stale version, with a promise');
        store.deleteSync!('a', ctx);
        assert.equal(await store.get('a', ctx), null);
      } finally {
        await store.close?.();
      }
    });
  });
}
