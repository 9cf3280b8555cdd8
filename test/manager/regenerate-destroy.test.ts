/** regenerate() and destroy(): a new ID retires the old one; a destroyed session stays gone. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { storeKey } from '../../src/crypto/ids.js';
import { SessionStateError, StoreUnavailableError } from '../../src/errors.js';
import { Browser } from '../helpers/browser.js';
import { failNext, matrix } from './matrix.js';

matrix('regenerate and destroy', (c) => {
  // Without a revocation store a copied cookie stays valid until it expires (the documented limit of
  // the cookie store, tested in test/stores/cookie.test.ts): the old cookie is dead only where the
  // server can remember that it is.
  const retiresOldCookie = c.server || c.revocation !== null;

  if (retiresOldCookie) {
    it('regenerate gives a new ID, keeps data, retires the old ID; the old cookie is dead', async () => {
      const { browser, store, tessera } = c.setup();
      const { session: before } = await browser.request((s) => s.set('cart', [1]));
      const oldCookie = browser.cookie;
      const { session: after } = await browser.request((s) => {
        s.regenerate();
        s.userId = 'ann';
      });
      assert.notEqual(after.id, before.id);
      if (c.server) assert.equal(await store.inner.get(storeKey(before.id, null), { now: 0 }), null, 'the old record was deleted');
      assert.deepEqual((await browser.request((s) => s.toJSON())).result, { cart: [1] });
      assert.equal((await browser.request((s) => s.userId)).result, 'ann');
      const thief = new Browser(tessera);
      thief.cookie = oldCookie;
      assert.equal((await thief.request((s) => s.get('cart'))).result, undefined);
    });

    it('a retired ID whose delete (or revocation) failed is retired by the next commit, so the old cookie stops working', async () => {
      const { browser, store, tessera } = c.setup();
      const { session: before } = await browser.request((s) => s.set('cart', [1]));
      const oldCookie = browser.cookie;
      const oldKey = storeKey(before.id, null);
      const thief = new Browser(tessera);
      // A server store deletes the old record; a cookie store's revocation store records the old ID.
      failNext(store, c.server ? 'delete' : 'set');
      const { session } = await browser.request(async (s) => {
        s.regenerate();
        await assert.rejects(s.save(), StoreUnavailableError);
        if (c.server) assert.notEqual(await store.inner.get(oldKey, { now: 0 }), null, 'the failed delete left the old record');
        await s.save(); // the handler retries (or the next change commits): the old ID goes
      });
      assert.notEqual(session.id, before.id);
      if (c.server) assert.equal(await store.inner.get(oldKey, { now: 0 }), null);
      thief.cookie = oldCookie;
      assert.equal((await thief.request((s) => s.get('cart'))).result, undefined, 'the old cookie stopped working');
      assert.deepEqual((await browser.request((s) => s.toJSON())).result, { cart: [1] });
    });
  }

  if (retiresOldCookie) {
    it('a destroy whose delete (or revocation) failed is done by the next save(), so a copy of the cookie stops working', async () => {
      const { browser, store, tessera } = c.setup();
      await browser.request((s) => s.set('a', 1));
      const copy = new Browser(tessera);
      copy.cookie = browser.cookie;
      failNext(store, c.server ? 'delete' : 'set');
      await browser.request(async (s) => {
        s.destroy();
        await assert.rejects(s.save(), StoreUnavailableError);
        await s.save(); // the handler retries
      });
      assert.equal((await copy.request((s) => s.get('a'))).result, undefined, 'the copy no longer works');
    });
  }

  if (retiresOldCookie) {
    it('a destroy whose delete (or revocation) failed with no later commit is refused here at once, and done when the store is back', async () => {
      const { browser, store, tessera, another } = c.setup();
      await browser.request((s) => s.set('a', 1));
      const old = browser.cookie;
      // A server store deletes the record; a cookie store's revocation store records the destroyed ID.
      failNext(store, c.server ? 'delete' : 'set', 2);
      await assert.rejects(browser.request((s) => s.destroy()), StoreUnavailableError);
      assert.equal(browser.cookie, old, 'the browser still holds the cookie (the response carried the failure, not the clearing cookie)');
      // The request that brings it back: refused, though the store still holds the session (its retry fails too).
      assert.equal((await browser.request((s) => s.get('a'))).result, undefined, 'the destroyed session does not load again');
      const elsewhere = new Browser(another());
      elsewhere.cookie = old;
      assert.equal((await elsewhere.request((s) => s.get('a'))).result, 1, 'another process still finds it: nothing reached the store yet');
      // The store is back: the next request that brings the cookie deletes (revokes) it for every process.
      const back = new Browser(tessera);
      back.cookie = old;
      assert.equal((await back.request((s) => s.get('a'))).result, undefined);
      await new Promise((resolve) => setImmediate(resolve));
      elsewhere.cookie = old;
      assert.equal((await elsewhere.request((s) => s.get('a'))).result, undefined, 'gone for every process now');
    });

    it('a delete (or revocation) that failed with no later commit is done by the next cleanup', async () => {
      const { browser, store, tessera, another } = c.setup();
      await browser.request((s) => s.set('a', 1));
      const old = browser.cookie;
      failNext(store, c.server ? 'delete' : 'set');
      await assert.rejects(browser.request((s) => s.destroy()), StoreUnavailableError);
      await tessera.cleanupExpired();
      const elsewhere = new Browser(another());
      elsewhere.cookie = old;
      assert.equal((await elsewhere.request((s) => s.get('a'))).result, undefined, 'deleted (revoked) by the cleanup');
    });
  }

  it('regenerate({ keepData: false }) starts empty', async () => {
    const { browser } = c.setup();
    await browser.request((s) => s.set('cart', [1]));
    await browser.request((s) => {
      s.regenerate({ keepData: false });
      s.set('fresh', true);
    });
    assert.deepEqual((await browser.request((s) => s.toJSON())).result, { fresh: true });
  });

  it('destroy deletes the session and clears the cookie; later writes throw', async () => {
    const { browser, store } = c.setup();
    const { session } = await browser.request((s) => s.set('a', 1));
    const { res } = await browser.request((s) => {
      s.destroy();
      assert.throws(() => s.set('a', 2), SessionStateError);
    });
    assert.match(res.cookies[0]!, /^__Host-tessera=; Max-Age=0;/);
    if (c.server) assert.equal(await store.inner.get(storeKey(session.id, null), { now: 0 }), null);
    assert.equal(browser.cookie, undefined);
    assert.equal((await browser.request((s) => s.get('a'))).result, undefined);
  });

  it('refuses to start a session once the response headers are sent', async () => {
    const { browser } = c.setup();
    await browser.request((s, res) => {
      res.headersSent = true;
      assert.throws(() => s.set('a', 1), (e: unknown) => e instanceof SessionStateError && /headers/.test(e.message));
    });
  });

  // Destroying by ID needs the server: a store that holds the session, or a revocation store.
  if (retiresOldCookie) {
    it('does not resurrect a session destroyed while a request was using it', async () => {
      const { browser, tessera } = c.setup();
      const { session } = await browser.request((s) => s.set('a', 1));
      let destroyedMeanwhile = false;
      await browser.request(async (s) => {
        assert.equal(await tessera.destroy(session.id), true);
        destroyedMeanwhile = true;
        s.set('b', 2);
      });
      assert.ok(destroyedMeanwhile);
      if (c.server) assert.equal(await tessera.isValid(session.id), false);
      assert.deepEqual((await browser.request((s) => [s.isNew, s.toJSON()])).result, [true, {}], 'the browser finds no session');
    });
  }
});
