/**
 * Performance guards. Each test here checks an implementation detail that exists only for speed
 * (or memory), not a behaviour a user sees: the other manager tests pass with or without it. They
 * are here so that a change which silently drops one of these speed-ups — and the bench figure that
 * justified it (docs/benchmarks.md) — fails a test that says which one. Each says what it guards
 * and why. If a speed-up is removed on purpose, remove its guard with it.
 */
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { promiseHooks } from 'node:v8';
import { RecordCodec } from '../../src/core/codec.js';
import { NO_CHANGES } from '../../src/core/state.js';
import { Keyring } from '../../src/crypto/keyring.js';
import { Sealer } from '../../src/crypto/seal.js';
import { Tessera } from '../../src/manager.js';
import { Browser, FakeResponse } from '../helpers/browser.js';
import { SECRET, matrix } from './matrix.js';

/** How many times `object[method]` was called while `during` ran. */
async function callsOf<T extends object>(object: T, method: keyof T & string, during: () => unknown): Promise<number> {
  const spy = mock.method(object as Record<string, (...args: never[]) => unknown>, method);
  try {
    await during();
    return spy.mock.callCount();
  } finally {
    spy.mock.restore();
  }
}

/** How many promises `fn` made (synchronously). */
function promisesMadeBy(fn: () => void): number {
  let made = 0;
  const stop = promiseHooks.onInit(() => made++);
  try {
    fn();
  } finally {
    stop();
  }
  return made;
}

matrix('performance guards', (c) => {
  // Guards the decoded-record cache (core/codec.ts): a record read again unchanged costs a shallow
  // copy, not JSON.parse (nor, with encryptData, an AES-GCM decryption). A returning browser reads
  // the record its last request wrote: the write already knows what it decodes to. Stores of
  // strings only: MemoryStore's retained records are never decoded at all (the next guard).
  if (c.server && !c.retained) {
    it('decoded-record cache: a record read again unchanged is neither parsed nor decrypted again', async () => {
      const { request, tessera, store, another } = c.setup();
      await request((s) => s.set('n', 1));
      const reads = store.calls.get;
      assert.equal(await callsOf(JSON, 'parse', () => request((s) => assert.equal(s.get('n'), 1))), 0, 'the record this process wrote: not parsed');
      assert.equal(await callsOf(Sealer.prototype, 'open', () => request((s) => assert.equal(s.get('n'), 1))), 0, 'nor opened');
      assert.equal(store.calls.get - reads, 2, 'each request did read the store');
      // A record written elsewhere (another process) is decoded once, then remembered.
      const { id } = await tessera.create({ data: { n: 1 } });
      await another().set(id, 'n', 2);
      assert.equal(await callsOf(JSON, 'parse', () => tessera.get(id, 'n')), 1, 'decoded once');
      assert.equal(await callsOf(JSON, 'parse', () => tessera.get(id, 'n')), 0, 'then remembered');
    });
  }

  // Guards retained records (core/codec.ts, RETAINS_RECORDS): MemoryStore keeps the record objects
  // it is given, so the manager hands it records that carry their session, and neither serialises
  // them (the text is built only if something reads `data`) nor decodes them when read back.
  if (c.retained) {
    it('retained records: written without serialising, read back without decoding', async () => {
      const { request } = c.setup();
      const text = await callsOf(RecordCodec.prototype, 'text', async () => {
        assert.equal(await callsOf(JSON, 'parse', async () => {
          await request((s) => s.set('n', 1));
          await request((s) => s.set('n', (s.get<number>('n') ?? 0) + 1));
          assert.equal((await request((s) => s.get('n'))).result, 2);
        }), 0, 'no record was decoded');
      });
      assert.equal(text, 0, 'no record text was built');
    });
  }

  // Guards the verified-cookie cache (core/signed.ts): a signed ID cookie that verified once (or
  // that this process signed) is remembered, so a returning browser's cookie costs a map lookup,
  // not an HMAC per request.
  if (c.server) {
    it('verified-cookie cache: a returning browser’s cookie is not verified by HMAC again', async () => {
      const { request, tessera, another } = c.setup();
      await request((s) => s.set('n', 1));
      assert.equal(await callsOf(Keyring.prototype, 'match', async () => {
        for (let i = 0; i < 3; i++) assert.equal((await request((s) => s.get('n'))).result, 1);
      }), 0);
      // A cookie signed elsewhere (another process) is verified once, then remembered.
      const { cookie } = await another().create({ data: { n: 2 } });
      const stranger = new Browser(tessera);
      stranger.cookie = `${tessera.cookieName}=${cookie}`;
      assert.equal(await callsOf(Keyring.prototype, 'match', () => stranger.request((s) => s.get('n'))), 1, 'verified once');
      assert.equal(await callsOf(Keyring.prototype, 'match', () => stranger.request((s) => s.get('n'))), 0, 'then remembered');
    });
  }

  // Guards the opened-seal cache (core/sealed.ts): the sealed cookie a browser sends back unchanged
  // is not decrypted again (an authenticated seal that matches exactly is as good as opened).
  if (c.cookie) {
    it('opened-seal cache: a sealed cookie sent back unchanged is not decrypted again', async () => {
      const { request } = c.setup();
      await request((s) => s.set('n', 1));
      assert.equal(await callsOf(Sealer.prototype, 'open', async () => {
        for (let i = 0; i < 3; i++) assert.equal((await request((s) => s.get('n'))).result, 1);
      }), 0);
    });
  }

  // Guards the shared empty change set (core/state.ts NO_CHANGES): a request that changes nothing
  // allocates no Map for changes, and a commit hands the shared one back once it took the changes.
  it('NO_CHANGES: a request that only reads allocates no change set, and a commit gives it back', async () => {
    const { browser, tessera } = c.setup();
    await browser.request((s) => s.set('n', 1));
    const ctx = tessera.begin({ cookieHeader: browser.cookie }, new FakeResponse().sink);
    const session = await ctx.load();
    assert.equal(session.get('n'), 1);
    assert.equal(ctx.state!.changes, NO_CHANGES, 'reading allocated no change set');
    session.set('n', 2);
    // A server store's change waits for its commit; a cookie's is sealed into the response at once.
    if (c.server) assert.notEqual(ctx.state!.changes, NO_CHANGES);
    await ctx.settle();
    assert.equal(ctx.state!.changes, NO_CHANGES, 'the commit took the changes and gave the shared set back');
  });

  // Guards the promise-free synchronous path (core/loader.ts, core/queue.ts): with a store that
  // answers synchronously, loadSync() makes no promise, and a held commit started by release()
  // writes before release() returns, also without one — a plain handler costs no trip through the
  // microtask queue.
  if (c.synchronous) {
    it('loadSync() makes no promise', async () => {
      const { browser, tessera } = c.setup();
      await browser.request((s) => s.set('n', 1));
      const ctx = tessera.begin({ cookieHeader: browser.cookie }, new FakeResponse().sink);
      let n: unknown;
      assert.equal(promisesMadeBy(() => (n = ctx.loadSync().get('n'))), 0);
      assert.equal(n, 1);
    });
  }
  if (c.server && c.synchronous) {
    it('a held commit started by release() writes before release() returns, without a promise', async () => {
      const { browser, tessera, store } = c.setup();
      await browser.request((s) => s.set('n', 1));
      const before = store.calls.set;
      const ctx = tessera.begin({ cookieHeader: browser.cookie }, new FakeResponse().sink);
      const made = promisesMadeBy(() => {
        ctx.hold();
        ctx.loadSync().set('n', 2);
        ctx.release();
      });
      assert.equal(store.calls.set - before, 1, 'written by the time release() returned');
      assert.equal(made, 0);
      assert.equal(ctx.settled, true);
      assert.equal(await tessera.get(ctx.state!.id!, 'n'), 2);
    });
  }
});

describe('performance guards (the manager alone)', () => {
  // Guards the size limit of the decoded-record cache (core/codec.ts DECODED_MAX_LENGTH): it keeps
  // small records only, so a process with large sessions does not hold them all in memory.
  it('does not keep large records in memory (a store that keeps nothing shows the manager alone)', async () => {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const nothing = { name: 'nothing', get: async () => null, set: async () => true, delete: async () => {} };
    const tessera = new Tessera({ secrets: [SECRET], store: nothing, cleanupInterval: 0, logger: {}, maxDataBytes: 1_000_000 });
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 200; i++) await tessera.create({ data: { draft: `${i}`.padEnd(256 * 1024, 'x') } });
    gc();
    const retainedMb = (process.memoryUsage().heapUsed - before) / 1e6;
    assert.ok(retainedMb < 20, `retained ${retainedMb.toFixed(0)} MB after 200 sessions of 256 KB (kept in full, it would be ~100 MB)`);
  });
});
