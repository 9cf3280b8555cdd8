/**
 * src/core/driver.ts: the store driver looks at a store's abilities once, at construction, and
 * refuses a store it cannot use; `run()` drives one algorithm over either store form.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { andThen, run, StoreDriver } from '../../src/core/driver.js';
import { ConfigError, NotSupportedError, StoreUnavailableError } from '../../src/errors.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { SessionStore, StoreRecord } from '../../src/stores/store.js';
import { CountingStore, CountingSyncStore, HangingStore } from '../helpers/browser.js';

const ctx = { now: Date.UTC(2026, 0, 1) };
const record: StoreRecord = { data: '{}', version: 1, expiresAt: ctx.now + 60_000, userId: 'u', tenant: null };

/** A store with only the required methods, answering with promises. */
function minimal(): SessionStore {
  const inner = new MemoryStore();
  return { name: 'minimal', get: (k, c) => inner.get(k, c), set: (k, r, v, c) => inner.set(k, r, v, c), delete: (k, c) => inner.delete(k, c) };
}

describe('StoreDriver', () => {
  it('refuses at construction, with ConfigError, something that is not a store object', () => {
    for (const bad of [null, undefined, 'memory', 42]) {
      assert.throws(() => new StoreDriver(bad as unknown as SessionStore), ConfigError, String(bad));
    }
  });

  it('refuses a store without get, set or delete, naming the missing method', () => {
    for (const method of ['get', 'set', 'delete'] as const) {
      const store = { ...minimal(), [method]: undefined } as unknown as SessionStore;
      assert.throws(() => new StoreDriver(store), (e: unknown) => e instanceof ConfigError && e.message.includes(`${method}()`), method);
    }
  });

  it('refuses a store with some but not all of getSync, setSync and deleteSync', () => {
    const sync = new MemoryStore();
    const forms = {
      getSync: sync.getSync.bind(sync),
      setSync: sync.setSync.bind(sync),
      deleteSync: sync.deleteSync.bind(sync),
    };
    const subsets: (keyof typeof forms)[][] = [['getSync'], ['setSync'], ['deleteSync'], ['getSync', 'setSync'], ['getSync', 'deleteSync'], ['setSync', 'deleteSync']];
    for (const subset of subsets) {
      const store = { ...minimal(), ...Object.fromEntries(subset.map((f) => [f, forms[f]])) } as SessionStore;
      assert.throws(() => new StoreDriver(store), (e: unknown) => e instanceof ConfigError && /getSync, setSync and deleteSync/.test(e.message), subset.join('+'));
    }
    assert.equal(new StoreDriver({ ...minimal(), ...forms }).synchronous, true, 'all three: accepted');
  });

  it('with all three synchronous forms, answers with values through them', () => {
    const store = new CountingSyncStore(new MemoryStore());
    const driver = new StoreDriver(store);
    assert.equal(driver.synchronous, true);
    assert.equal(driver.set('k', record, 0, ctx), true);
    assert.deepEqual(driver.get('k', ctx), record);
    assert.equal(driver.delete('k', ctx), undefined);
    assert.equal(driver.get('k', ctx), null);
    assert.deepEqual(store.calls, { get: 2, set: 1, delete: 1, deleteExpired: 0 });
  });

  it('without them, answers with the store’s promises', async () => {
    const driver = new StoreDriver(new CountingStore(new MemoryStore()));
    assert.equal(driver.synchronous, false);
    const written = driver.set('k', record, 0, ctx);
    assert.ok(written instanceof Promise);
    assert.equal(await written, true);
    assert.deepEqual(await driver.get('k', ctx), record);
  });

  it('marks only a store that keeps record objects (MemoryStore) as retaining them', () => {
    assert.equal(new StoreDriver(new MemoryStore()).retainsRecords, true);
    assert.equal(new StoreDriver(new CountingStore(new MemoryStore())).retainsRecords, false, 'a wrapper hides the mark');
    assert.equal(new StoreDriver(minimal()).retainsRecords, false);
  });

  it('detects the optional abilities; without them listByUser throws NotSupportedError and deleteExpired removes nothing', async () => {
    const full = new StoreDriver(new MemoryStore());
    assert.equal(full.listsByUser, true);
    assert.equal(full.cleansUp, true);
    full.set('k', record, 0, ctx);
    assert.deepEqual((await full.listByUser('u', null, ctx)).map((r) => r.key), ['k']);
    assert.equal(await full.deleteExpired({ now: ctx.now + 120_000 }), 1);

    const bare = new StoreDriver(minimal());
    assert.equal(bare.listsByUser, false);
    assert.equal(bare.cleansUp, false);
    assert.throws(() => bare.listByUser('u', null, ctx), NotSupportedError);
    assert.equal(await bare.deleteExpired(ctx), 0);
    await bare.close(); // no close(): nothing to do
  });
});

describe('StoreDriver: a deadline on every answer given as a promise (storeTimeout)', () => {
  /** Whether `error` is the driver's timeout: StoreUnavailableError, its cause a TimeoutError naming the call. */
  const timedOut = (call: string) => (error: unknown) =>
    error instanceof StoreUnavailableError &&
    error.code === 'ERR_STORE_UNAVAILABLE' &&
    error.status === 503 &&
    (error.cause as Error).name === 'TimeoutError' &&
    (error.cause as Error).message.includes(`${call}()`);

  it('rejects a get, set, delete, listByUser and deleteExpired the store does not answer in time with StoreUnavailableError', async () => {
    const driver = new StoreDriver(new HangingStore(true), 20);
    const started = Date.now();
    await Promise.all([
      assert.rejects(driver.get('k', ctx) as Promise<unknown>, timedOut('get')),
      assert.rejects(driver.set('k', record, 0, ctx) as Promise<unknown>, timedOut('set')),
      assert.rejects(driver.delete('k', ctx) as Promise<unknown>, timedOut('delete')),
      assert.rejects(driver.listByUser('u', null, ctx), timedOut('listByUser')),
      assert.rejects(driver.deleteExpired(ctx), timedOut('deleteExpired')),
    ]);
    assert.ok(Date.now() - started < 2_000, 'each failed at its deadline, not later');
  });

  it('passes on an answer that comes in time, and a failure as it is', async () => {
    const store = new HangingStore(true);
    store.hang = false;
    const driver = new StoreDriver(store, 1_000);
    assert.equal(await driver.set('k', record, 0, ctx), true);
    assert.deepEqual(await driver.get('k', ctx), record);
    const failing = new StoreDriver({ ...minimal(), get: () => Promise.reject(new Error('boom')) }, 1_000);
    await assert.rejects(failing.get('k', ctx) as Promise<unknown>, /boom/);
  });

  it('drops an answer that comes after the deadline: the call stays failed, and a late failure is not unhandled', async () => {
    const store = new HangingStore(true);
    const driver = new StoreDriver(store, 10);
    const write = driver.set('k', record, 0, ctx) as Promise<boolean>;
    await assert.rejects(write, StoreUnavailableError);
    store.answer(); // the write lands late
    await new Promise((resolve) => setTimeout(resolve, 10));
    store.hang = false;
    assert.deepEqual(await driver.get('k', ctx), record, 'it was stored all the same: the commit failed, the data may be there');
    const late = new StoreDriver({ ...minimal(), get: () => new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 30)) }, 5);
    await assert.rejects(late.get('k', ctx) as Promise<unknown>, StoreUnavailableError);
    await new Promise((resolve) => setTimeout(resolve, 50)); // an unhandled rejection would fail the test run
  });

  it('leaves synchronous answers alone, and puts no deadline with Infinity', () => {
    const sync = new StoreDriver(new MemoryStore(), 10);
    assert.equal(sync.set('k', record, 0, ctx), true, 'a value, not a promise');
    assert.deepEqual(sync.get('k', ctx), record);
    const answer = Promise.resolve(null);
    const forever = new StoreDriver({ ...minimal(), get: () => answer }, Infinity);
    assert.equal(forever.get('k', ctx), answer, 'the store’s own promise');
  });
});

describe('run', () => {
  /** A generator that yields each step in turn and returns the answers it got. */
  function* collect(steps: unknown[]): Generator<unknown, unknown[], unknown> {
    const answers: unknown[] = [];
    for (const step of steps) answers.push(yield step);
    return answers;
  }

  it('runs to the end synchronously while the answers are values', () => {
    const result = run(collect([1, 'two', null]));
    assert.deepEqual(result, [1, 'two', null], 'the result itself, not a promise');
  });

  it('goes on asynchronously from the first promise, passing each answer back in order', async () => {
    const result = run(collect([1, Promise.resolve(2), 3, Promise.resolve(4), 5]));
    assert.ok(result instanceof Promise);
    assert.deepEqual(await result, [1, 2, 3, 4, 5]);
  });

  it('awaits a thenable that is not a Promise (a third-party store may answer with one)', async () => {
    const thenable = { then: (resolve: (v: unknown) => void) => resolve('answer') };
    assert.deepEqual(await run(collect([thenable])), ['answer']);
  });

  it('throws a rejection into the generator, where it can be caught and the steps go on', async () => {
    function* recover(): Generator<unknown, string[], unknown> {
      const seen: string[] = [];
      try {
        yield Promise.reject(new StoreUnavailableError('down'));
        seen.push('not reached');
      } catch (error) {
        seen.push(`caught ${(error as Error).name}`);
      }
      seen.push(String(yield 'a value'));
      seen.push(String(yield Promise.resolve('a promise')));
      return seen;
    }
    assert.deepEqual(await run(recover()), ['caught StoreUnavailableError', 'a value', 'a promise']);
  });

  it('rejects with a rejection the generator does not catch, and runs its finally', async () => {
    let cleanedUp = false;
    function* failing(): Generator<unknown, string, unknown> {
      try {
        yield 1;
        yield Promise.reject(new StoreUnavailableError('down'));
        return 'not reached';
      } finally {
        cleanedUp = true;
      }
    }
    await assert.rejects(run(failing()) as Promise<string>, StoreUnavailableError);
    assert.equal(cleanedUp, true);
  });

  it('rejects once with an error the generator throws while handling a promised answer', async () => {
    let handled = 0;
    function* throwsOnAnswer(): Generator<unknown, void, unknown> {
      const answer = yield Promise.resolve('bad');
      handled++;
      throw new Error(`cannot use ${String(answer)}`);
    }
    await assert.rejects(run(throwsOnAnswer()) as Promise<void>, /cannot use bad/);
    assert.equal(handled, 1);
  });

  it('throws at once what a synchronous step throws and the generator does not catch', () => {
    function* syncFailure(): Generator<unknown, void, unknown> {
      yield 1;
      throw new StoreUnavailableError('down');
    }
    assert.throws(() => run(syncFailure()), StoreUnavailableError);
  });
});

describe('andThen', () => {
  it('applies fn at once to a value, and after a promise to its value', async () => {
    assert.equal(andThen(2, (n) => n * 3), 6);
    const later = andThen(Promise.resolve(2), (n) => n * 3);
    assert.ok(later instanceof Promise);
    assert.equal(await later, 6);
  });
});
