/**
 * The store conformance kit: one suite of tests every store passes, ours and third parties'. It
 * registers tests with `node:test` by default; pass `describe`/`it` of another runner to use that.
 *
 * The required contract (`get`, `set`, `delete`) is checked by one test each. Each optional
 * ability (`deleteExpired`, `listByUser`, activity, the synchronous forms) has its own test, which skips,
 * saying why, when the store does not offer it.
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
import { ACTIVITY_ABILITIES } from './conformance-activity.js';
import { LISTING_ABILITIES } from './conformance-listing.js';
import type { SessionStore, StoreContext, StoreRecord } from './store.js';

/**
 * What a test of the kit gets from the runner: node:test's context, or any object whose `skip`
 * marks the test skipped with a reason.
 *
 * @example
 * ```ts
 * it: (name, options, fn) => vitestIt(name, { skip: !!options.skip }, (ctx) => fn({ skip: (why) => ctx.skip(why) })),
 * ```
 */
export interface ConformanceTestContext {
  skip?(reason: string): void;
}

type TestFn = (t?: ConformanceTestContext) => Promise<unknown>;

/** Options of {@link storeConformance}. */
export interface ConformanceOptions {
  /** Name shown in the suite title. */
  name: string;
  /** Make a new, empty store. Called once per test; the kit closes it afterwards. */
  create(): SessionStore | Promise<SessionStore>;
  /** When a string, every test is registered as skipped with this reason (for example "Redis is down"). */
  skip?: string | false;
  /** Concurrent writers in the no-lost-update and atomic-update tests. Default 100. */
  writers?: number;
  /** The runner's `describe`. Default: `node:test`. */
  describe?: (name: string, fn: () => void) => unknown;
  /** The runner's `it`, taking an options object with `skip` (node:test style) and passing a context with `skip(reason)`. Default: `node:test`. */
  it?: (name: string, options: { skip?: string | boolean }, fn: TestFn) => unknown;
}

const SECRET = 'conformance-kit-secret-0123456789abcdef';
const HOUR = 3_600_000;

/** One check of the contract: run on a fresh store, at the time `now`. */
type Check = (store: SessionStore, ctx: { now: number }) => Promise<void>;

const at = (now: number): StoreContext => ({ now });

function record(over: Partial<StoreRecord> = {}, now = Date.now()): StoreRecord {
  return { data: '{"d":{}}', version: 1, expiresAt: now + HOUR, userId: null, tenant: null, ...over };
}

/** The required contract: `get`, `set` (compare-and-set) and `delete`, checked one behaviour at a time. */
const CONTRACT: ReadonlyArray<readonly [string, Check]> = [
  ['resolves null for a missing key', async (store, { now }) => {
    assert.equal(await store.get('missing-key', at(now)), null);
  }],

  ['creates with expectedVersion 0 and reads back every field', async (store, { now }) => {
    const r = record({ data: '{"d":{"a":1}}', userId: 'user-1', tenant: 'acme' }, now);
    assert.equal(await store.set('k1', r, 0, at(now)), true);
    assert.deepEqual(await store.get('k1', at(now)), r);
  }],

  ['refuses to create over a live record and changes nothing', async (store, { now }) => {
    const first = record({ data: 'first' }, now);
    await store.set('k1', first, 0, at(now));
    assert.equal(await store.set('k1', record({ data: 'second' }, now), 0, at(now)), false);
    assert.equal((await store.get('k1', at(now)))?.data, 'first');
  }],

  ['updates only from the current version', async (store, { now }) => {
    await store.set('k1', record({ data: 'v1' }, now), 0, at(now));
    assert.equal(await store.set('k1', record({ data: 'v2', version: 2 }, now), 1, at(now)), true);
    assert.equal(await store.set('k1', record({ data: 'stale', version: 2 }, now), 1, at(now)), false);
    const got = await store.get('k1', at(now));
    assert.equal(got?.data, 'v2');
    assert.equal(got?.version, 2);
  }],

  ['treats an update of a missing key as a conflict', async (store, { now }) => {
    assert.equal(await store.set('nobody', record({ version: 2 }, now), 1, at(now)), false);
    assert.equal(await store.get('nobody', at(now)), null);
  }],

  ['deletes, and deleting a missing key is a no-op', async (store, { now }) => {
    await store.set('k1', record({}, now), 0, at(now));
    await store.delete('k1', at(now));
    assert.equal(await store.get('k1', at(now)), null);
    await store.delete('k1', at(now));
    await store.delete('never-there', at(now));
  }],

  ['keeps records apart by key', async (store, { now }) => {
    await store.set('a', record({ data: 'A' }, now), 0, at(now));
    await store.set('b', record({ data: 'B' }, now), 0, at(now));
    await store.delete('a', at(now));
    assert.equal(await store.get('a', at(now)), null);
    assert.equal((await store.get('b', at(now)))?.data, 'B');
  }],

  ['hides records whose expiry has passed on the caller clock', async (store, { now }) => {
    await store.set('k1', record({ expiresAt: now + 1_000 }, now), 0, at(now));
    assert.notEqual(await store.get('k1', at(now + 999)), null);
    assert.equal(await store.get('k1', at(now + 1_000)), null);
  }],

  ['decides expiry by the caller clock even far from real time', async (store) => {
    // A store that set an absolute server-side expiry from expiresAt would drop this at once.
    const past = Date.UTC(2001, 0, 1);
    await store.set('k1', record({ expiresAt: past + HOUR }, past), 0, at(past));
    assert.notEqual(await store.get('k1', at(past + HOUR - 1)), null);
    assert.equal(await store.get('k1', at(past + HOUR)), null);
  }],

  ['lets a new record take the key of an expired one, but not update it', async (store, { now }) => {
    await store.set('k1', record({ data: 'old', expiresAt: now + 1_000 }, now), 0, at(now));
    const later = now + 2_000;
    assert.equal(await store.set('k1', record({ data: 'x', version: 2 }, later), 1, at(later)), false);
    assert.equal(await store.set('k1', record({ data: 'new' }, later), 0, at(later)), true);
    assert.equal((await store.get('k1', at(later)))?.data, 'new');
  }],

  ['extends expiry when a write moves expiresAt (touch)', async (store, { now }) => {
    await store.set('k1', record({ expiresAt: now + 1_000 }, now), 0, at(now));
    assert.equal(await store.set('k1', record({ version: 2, expiresAt: now + 5_000 }, now), 1, at(now + 500)), true);
    assert.notEqual(await store.get('k1', at(now + 4_000)), null);
    assert.equal(await store.get('k1', at(now + 5_000)), null);
  }],

  ['round-trips opaque keys and large unicode data', async (store, { now }) => {
    const key = 'Ab-_09/+=.:%\u00e9';
    const data = JSON.stringify({ d: { text: 'z\u00fc\u00df \u{1F600} '.repeat(8_000), quote: '\'"\\' } });
    await store.set(key, record({ data }, now), 0, at(now));
    assert.equal((await store.get(key, at(now)))?.data, data);
  }],

  ['lets exactly one of concurrent creates win', async (store, { now }) => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.set('race', record({ data: `w${i}` }, now), 0, at(now))),
    );
    assert.equal(results.filter(Boolean).length, 1);
    const winner = results.indexOf(true);
    assert.equal((await store.get('race', at(now)))?.data, `w${winner}`);
  }],

  ['lets exactly one of concurrent updates from one version win', async (store, { now }) => {
    await store.set('race', record({}, now), 0, at(now));
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.set('race', record({ data: `w${i}`, version: 2 }, now), 1, at(now))),
    );
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal((await store.get('race', at(now)))?.data, `w${results.indexOf(true)}`);
  }],
];

/** The optional abilities: each checked when the store has it, and skipped with this reason when not. */
const ABILITIES: ReadonlyArray<readonly [string, (store: SessionStore) => string | null, Check]> = [
  [
    'deleteExpired removes only expired records and counts them',
    (store) => (store.deleteExpired ? null : 'the store has no deleteExpired (it expires records by itself, or never cleans up)'),
    async (store, { now }) => {
    for (let i = 0; i < 5; i++) await store.set(`old${i}`, record({ expiresAt: now + 1_000 }, now), 0, at(now));
    for (let i = 0; i < 3; i++) await store.set(`live${i}`, record({ expiresAt: now + HOUR }, now), 0, at(now));
    const removed = await store.deleteExpired!(at(now + 2_000));
    assert.equal(removed, 5);
    for (let i = 0; i < 3; i++) assert.notEqual(await store.get(`live${i}`, at(now + 2_000)), null);
    for (let i = 0; i < 5; i++) assert.equal(await store.get(`old${i}`, at(now + 2_000)), null);
  }],
  [
    'deleteExpired with a limit: calls until one removes fewer than the limit remove every expired record, and only those',
    (store) => (store.deleteExpired ? null : 'the store has no deleteExpired (it expires records by itself, or never cleans up)'),
    async (store, { now }) => {
    for (let i = 0; i < 7; i++) await store.set(`old${i}`, record({ expiresAt: now + 1_000 }, now), 0, at(now));
    for (let i = 0; i < 3; i++) await store.set(`live${i}`, record({ expiresAt: now + HOUR }, now), 0, at(now));
    // As tessera's cleanup calls it (a store may ignore the limit and remove everything at once).
    let removed = 0;
    for (let calls = 1; ; calls++) {
      const count = await store.deleteExpired!(at(now + 2_000), { limit: 3 });
      removed += count;
      if (count < 3) break;
      assert.ok(calls < 10, 'the calls end');
    }
    assert.equal(removed, 7);
    for (let i = 0; i < 3; i++) assert.notEqual(await store.get(`live${i}`, at(now + 2_000)), null);
    for (let i = 0; i < 7; i++) assert.equal(await store.get(`old${i}`, at(now + 2_000)), null);
  }],
  [
    'listByUser lists live records of the user, by tenant, and forgets removed ones',
    (store) => (store.listByUser ? null : 'the store has no listByUser (no by-user index)'),
    async (store, { now }) => {
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
    const listed = await store.listByUser!('u2', null, at(now));
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
  }],
  [
    "countLive counts live session records, leaving out expired ones and tessera's bookkeeping records",
    (store) => (store.countLive ? null : 'the store has no countLive (the tessera.sessions.active gauge walks its listing, or is not reported)'),
    async (store, { now }) => {
    const before = await store.countLive!(at(now + 2_000));
    for (let i = 0; i < 3; i++) await store.set(`counted${i}`, record({ expiresAt: now + HOUR }, now), 0, at(now));
    await store.set('counted-old', record({ expiresAt: now + 1_000 }, now), 0, at(now));
    // A used live ticket (empty data) and a user's "sign out everywhere" time (digits) are no sessions.
    await store.set('ticket', record({ data: '' }, now), 0, at(now));
    await store.set('valid-after', record({ data: String(now) }, now), 0, at(now));
    assert.equal(await store.countLive!(at(now)), before + 4);
    assert.equal(await store.countLive!(at(now + 2_000)), before + 3, 'an expired record is not counted');
    await store.delete('counted0', at(now));
    assert.equal(await store.countLive!(at(now + 2_000)), before + 2);
  }],
  ...ACTIVITY_ABILITIES,
  ...LISTING_ABILITIES,
];

/** Why a store's synchronous forms cannot be checked, or `null` when it has all three. */
function noSyncForms(store: SessionStore): string | null {
  const count = [store.getSync, store.setSync, store.deleteSync].filter((f) => typeof f === 'function').length;
  if (count === 3) return null;
  // Some but not all: tessera refuses such a store at start-up, so the kit fails it.
  assert.equal(count, 0, `${store.name}: a store offers getSync, setSync and deleteSync together, or none of them`);
  return 'the store has no synchronous forms (getSync, setSync, deleteSync)';
}

/**
 * The store seen through its synchronous forms: `get`, `set` and `delete` call `getSync`,
 * `setSync` and `deleteSync` (and the view has no synchronous forms of its own).
 */
function throughSyncForms(store: SessionStore): SessionStore {
  const { getSync, setSync, deleteSync } = store;
  return {
    name: store.name,
    get: async (key, ctx) => getSync!.call(store, key, ctx),
    set: async (key, record, expectedVersion, ctx) => setSync!.call(store, key, record, expectedVersion, ctx),
    delete: async (key, ctx) => deleteSync!.call(store, key, ctx),
    deleteExpired: store.deleteExpired?.bind(store),
    listByUser: store.listByUser?.bind(store),
    countLive: store.countLive?.bind(store),
    listSessions: store.listSessions?.bind(store),
    recordActivity: store.recordActivity?.bind(store),
    activityOf: store.activityOf?.bind(store),
    listActivity: store.listActivity?.bind(store),
    close: store.close?.bind(store),
  };
}

/**
 * Register the conformance suite for a store.
 *
 * Checks: get / set / delete contracts, compare-and-set conflicts (including concurrent ones),
 * expiry against the caller's clock, unusual keys and large values; the optional abilities
 * (`deleteExpired`, `listByUser`, the synchronous forms — every check again through them), each
 * skipped with its reason when the store lacks it; and, through a real {@link Tessera} manager,
 * that concurrent writers changing different keys of one session lose no update and that
 * concurrent `update()`s of one key all count.
 *
 * @example
 * ```ts
 * storeConformance({ name: 'sqlite', create: () => new SqliteStore({ path: ':memory:' }) });
 * ```
 */
export function storeConformance(options: ConformanceOptions): void {
  const describe = options.describe ?? nodeDescribe;
  const it = options.it ?? ((name: string, opts: { skip?: string | boolean }, fn: TestFn) => nodeIt(name, opts, async (t) => {
      await fn(t);
    }));
  const skip = options.skip || false;
  const writers = options.writers ?? 100;
  const create = async (): Promise<SessionStore> => options.create();

  /** Run `fn` on a fresh store, closed afterwards. */
  const withStore = async <T>(fn: (store: SessionStore) => Promise<T>): Promise<T> => {
    const store = await create();
    try {
      return await fn(store);
    } finally {
      await store.close?.();
    }
  };
  /** Run `fn` with a manager on a fresh store. */
  const withTessera = (fn: (tessera: Tessera) => Promise<void>): Promise<void> =>
    withStore(async (store) => {
      const tessera = new Tessera({ store, secrets: [SECRET], cleanupInterval: 0, logger: {} });
      try {
        await fn(tessera);
      } finally {
        await tessera.close();
      }
    });

  describe(`store conformance: ${options.name}`, () => {
    for (const [name, check] of CONTRACT) {
      it(name, { skip }, () => withStore((store) => check(store, { now: Date.now() })));
    }

    for (const [name, absent, check] of ABILITIES) {
      it(`ability: ${name}`, { skip }, (t) =>
        withStore(async (store) => {
          const reason = absent(store);
          if (reason !== null) return t?.skip?.(reason);
          await check(store, { now: Date.now() });
        }),
      );
    }

    it('ability: the synchronous forms keep the whole contract (every check above, through getSync, setSync and deleteSync)', { skip }, async (t) => {
      const reason = await withStore(async (store) => noSyncForms(store));
      if (reason !== null) return t?.skip?.(reason);
      const checks = [...CONTRACT, ...ABILITIES.map(([name, absent, check]) => [name, check, absent] as const)];
      for (const [name, check, absent] of checks) {
        await withStore(async (store) => {
          if (absent?.(store)) return;
          await check(throughSyncForms(store), { now: Date.now() }).catch((error: unknown) => {
            throw new assert.AssertionError({ message: `through the synchronous forms: ${name}: ${(error as Error).message}` });
          });
        });
      }
    });

    it('ability: the synchronous forms see what the promise forms wrote, and refuse a stale version alike', { skip }, (t) =>
      withStore(async (store) => {
        const reason = noSyncForms(store);
        if (reason !== null) return t?.skip?.(reason);
        const ctx: StoreContext = { now: Date.now() };
        assert.equal(store.setSync!('a', record({ data: '{"d":{"n":1}}' }, ctx.now), 0, ctx), true);
        assert.equal((await store.get('a', ctx))?.data, '{"d":{"n":1}}');
        assert.equal(await store.set('a', record({ data: '{"d":{"n":2}}', version: 2 }, ctx.now), 1, ctx), true);
        assert.equal(store.getSync!('a', ctx)?.data, '{"d":{"n":2}}');
        assert.equal(store.setSync!('a', record({ version: 2 }, ctx.now), 1, ctx), false, 'stale version, synchronously');
        assert.equal(await store.set('a', record({ version: 2 }, ctx.now), 1, ctx), false, 'stale version, with a promise');
        store.deleteSync!('a', ctx);
        assert.equal(await store.get('a', ctx), null);
      }),
    );

    it(`loses no update with ${writers} concurrent writers on one session`, { skip }, () =>
      withTessera(async (tessera) => {
        const { id } = await tessera.create({ data: { start: true } });
        await Promise.all(Array.from({ length: writers }, (_, i) => tessera.set(id, `k${i}`, i)));
        const session = await tessera.load(id);
        assert.ok(session, 'the session is still there');
        for (let i = 0; i < writers; i++) assert.equal(session.get(`k${i}`), i, `k${i} survived`);
        assert.equal(session.get('start'), true);
      }),
    );

    it(`counts every one of ${writers} concurrent update() calls on one key`, { skip }, () =>
      withTessera(async (tessera) => {
        const { id } = await tessera.create({ data: { n: 0 } });
        await Promise.all(Array.from({ length: writers }, () => tessera.update<number>(id, 'n', (n) => (n ?? 0) + 1)));
        assert.equal(await tessera.get(id, 'n'), writers);
      }),
    );

    it('keeps both of two overlapping sessions that change different keys', { skip }, () =>
      withTessera(async (tessera) => {
        const { id } = await tessera.create({ data: { a: 0, b: 0, shared: 'x' } });
        const [one, two] = await Promise.all([tessera.load(id), tessera.load(id)]);
        one!.set('a', 1);
        two!.set('b', 2);
        two!.delete('shared');
        await Promise.all([one!.save(), two!.save()]);
        const after = await tessera.load(id);
        assert.deepEqual(after!.toJSON(), { a: 1, b: 2 });
      }),
    );
  });
}
