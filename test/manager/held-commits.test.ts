/**
 * Held commits — what adapters do around a handler: while a context is held its commits wait, and
 * on release they start at once, in one write.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { StoreUnavailableError } from '../../src/errors.js';
import type { Tessera } from '../../src/manager.js';
import { FakeResponse } from '../helpers/browser.js';
import { failNext, HOUR, MINUTE, matrix } from './matrix.js';

/** A request whose context the test holds, as an adapter does while a handler runs. */
async function heldRequest(tessera: Tessera, cookie: string | undefined) {
  const res = new FakeResponse();
  const ctx = tessera.begin({ cookieHeader: cookie }, res.sink);
  ctx.hold();
  return { ctx, res, session: await ctx.load() };
}

matrix('held commits (what adapters do around a handler)', (c) => {
  // Held writes are a server store's: the cookie store seals each change into the response at once.
  if (c.server) {
    it('writes nothing while held, and everything in one write on release', async () => {
      const { store, tessera } = c.setup();
      const { ctx, session } = await heldRequest(tessera, undefined);
      session.set('a', 1);
      await new Promise((r) => setImmediate(r));
      assert.equal(store.calls.set, 0, 'held: no write yet, even after a tick');
      assert.equal(ctx.settled, false, 'a deferred commit is not settled');
      session.set('b', 2);
      ctx.release();
      await ctx.settle();
      assert.equal(store.calls.set, 1);
      assert.deepEqual((await tessera.load(session.id))!.toJSON(), { a: 1, b: 2 });
    });

    it('settle() and save() end the hold instead of waiting for it', async () => {
      const { store, tessera } = c.setup();
      const { ctx, session } = await heldRequest(tessera, undefined);
      session.set('a', 1);
      await session.save();
      assert.equal(store.calls.set, 1);
      session.set('b', 2);
      await ctx.settle();
      assert.equal(store.calls.set, 2, 'no longer held: the change was committed');
      assert.equal(await tessera.get(session.id, 'b'), 2);
    });

    it('a touch and a change due while held go out together', async () => {
      const { clock, store, tessera, browser } = c.setup({ idleTimeout: HOUR });
      await browser.request((s) => s.set('n', 1));
      clock.advance(50 * MINUTE);
      const before = store.calls.set;
      const { ctx, session } = await heldRequest(tessera, browser.cookie);
      session.set('n', 2);
      ctx.release();
      await ctx.settle();
      assert.equal(store.calls.set - before, 1);
      assert.ok((await tessera.load(session.id))!.meta.expiresAt >= clock.now() + 59 * MINUTE, 'the expiry moved too');
    });
  }

  // A load that can fail needs a store to read: a server store, or a revocation store.
  if (c.server || c.revocation !== null) {
    it('loadSync() after a load() that failed says to await load()', async () => {
      const { store, tessera, browser } = c.setup();
      await browser.request((s) => s.set('a', 1));
      failNext(store, 'get');
      const ctx = tessera.begin({ cookieHeader: browser.cookie }, new FakeResponse().sink);
      await assert.rejects(ctx.load(), StoreUnavailableError);
      assert.throws(() => ctx.loadSync(), /await load\(\)/);
    });
  }
});
