/**
 * `storeTimeout`: a store that does not answer cannot hang a request or an operation by ID — the
 * call fails with StoreUnavailableError (503) at the deadline — and an answer that comes after it
 * (a write that landed late) corrupts nothing.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { StoreUnavailableError } from '../../src/errors.js';
import { Tessera } from '../../src/manager.js';
import { DEFAULTS } from '../../src/options.js';
import { CookieStore } from '../../src/stores/cookie.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { Browser, HangingStore } from '../helpers/browser.js';
import { SECRET } from './matrix.js';

const managers: Tessera[] = [];
after(async () => {
  await Promise.all(managers.map((t) => t.close()));
});

function setup(store: HangingStore | CookieStore, storeTimeout = 20): Tessera {
  const tessera = new Tessera({ secrets: [SECRET], store, storeTimeout, cleanupInterval: 0, logger: {}, cookie: { secure: true } });
  managers.push(tessera);
  return tessera;
}

const unavailable = (error: unknown): boolean =>
  error instanceof StoreUnavailableError && error.code === 'ERR_STORE_UNAVAILABLE' && (error.cause as Error).name === 'TimeoutError';

describe('storeTimeout', () => {
  it('defaults to 15 seconds: above the built-in stores’ own limits (PostgreSQL and file 10 s), which fire first', () => {
    assert.equal(DEFAULTS.storeTimeout, 15_000);
    const tessera = new Tessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, logger: {} });
    managers.push(tessera);
    assert.equal(tessera.options.storeTimeout, 15_000);
  });

  it('operations by ID reject with ERR_STORE_UNAVAILABLE when the store does not answer in time', async () => {
    const store = new HangingStore();
    const tessera = setup(store);
    const { id } = await tessera.create({ data: { a: 1 }, userId: 'u1' });
    store.hang = true;
    const started = Date.now();
    await Promise.all([
      assert.rejects(tessera.get(id, 'a'), unavailable),
      assert.rejects(tessera.set(id, 'a', 2), unavailable),
      assert.rejects(tessera.load(id), unavailable),
      assert.rejects(tessera.destroy(id), unavailable),
      assert.rejects(tessera.listByUser('u1'), unavailable),
      assert.rejects(tessera.isValid(id), unavailable),
    ]);
    assert.ok(Date.now() - started < 2_000, 'at the deadline, not later');
    store.answer();
  });

  it('a request whose store does not answer fails to load with StoreUnavailableError', async () => {
    const store = new HangingStore();
    const tessera = setup(store);
    const browser = new Browser(tessera);
    await browser.request((s) => s.set('a', 1));
    store.hang = true;
    await assert.rejects(browser.request((s) => s.get('a')), unavailable);
    store.answer();
  });

  it('a request whose revocation store does not answer fails the same way (CookieStore)', async () => {
    const revocation = new HangingStore();
    const tessera = setup(new CookieStore({ revocation }));
    const browser = new Browser(tessera);
    await browser.request((s) => s.set('a', 1));
    revocation.hang = true;
    await assert.rejects(browser.request((s) => s.get('a')), unavailable);
    revocation.answer();
  });

  it('a write that timed out but landed later loses nothing: the next write meets its version and re-applies on top', async () => {
    const store = new HangingStore();
    const tessera = setup(store);
    const { id } = await tessera.create({ data: { a: 1 } });
    const session = (await tessera.load(id))!;
    store.hang = true;
    session.set('b', 2);
    await assert.rejects(session.save(), unavailable, 'the commit is reported failed');
    store.hang = false;
    store.answer(); // ... and lands after all: the record is now a version ahead of the session
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(await tessera.get(id, 'b'), 2);
    session.set('c', 3);
    await session.save();
    assert.deepEqual((await tessera.load(id))!.toJSON(), { a: 1, b: 2, c: 3 });
  });
});
