/**
 * session.ignore(): this request writes nothing — no change before or after it is stored, no
 * expiry is extended, nothing is deleted or revoked, and no session cookie stays on the response —
 * while the handler still reads its own changes. A commit that already ran stays.
 */
import assert from 'node:assert/strict';
import { it, mock } from 'node:test';
import { storeKey } from '../../src/crypto/ids.js';
import { Sealer } from '../../src/crypto/seal.js';
import { FakeResponse } from '../helpers/browser.js';
import { HOUR, MINUTE, matrix } from './matrix.js';

matrix('session.ignore()', (c) => {
  it('stores no change made before or after it, and the handler still reads its own changes', async () => {
    const { store, request } = c.setup();
    await request((s) => s.set('a', 1));
    const writes = store.calls.set;
    const { res, result, wrote } = await request((s) => {
      s.set('b', 2);
      s.ignore();
      s.set('c', 3);
      s.delete('a');
      s.update<number>('n', (n) => (n ?? 0) + 1);
      return [s.get('a'), s.get('b'), s.get('c'), s.get('n')];
    });
    assert.deepEqual(result, [undefined, 2, 3, 1], 'reads see the request’s own changes');
    assert.equal(wrote, false);
    assert.deepEqual(res.cookies, []);
    assert.equal(store.calls.set, writes, 'nothing reached the store');
    assert.deepEqual((await request((s) => s.toJSON())).result, { a: 1 });
  });

  it('takes back the cookie a new session already put on the response, and stores nothing', async () => {
    const { store, browser } = c.setup();
    const { res } = await browser.request((s, response) => {
      s.set('a', 1);
      assert.equal(response.cookies.length, 1, 'the first write put the cookie on the response');
      s.ignore();
      assert.deepEqual(response.cookies, []);
    });
    assert.deepEqual(res.cookies, []);
    assert.equal(store.calls.set, 0);
    assert.equal(browser.cookie, undefined);
    assert.equal((await browser.request((s) => s.isNew)).result, true);
  });

  it('with saveUninitialized, neither stores the new session nor leaves its cookie', async () => {
    const { store, browser } = c.setup({ saveUninitialized: true });
    const { res } = await browser.request((s, response) => {
      assert.equal(response.cookies.length, 1, 'loading put the new session’s cookie on the response');
      s.ignore();
    });
    assert.deepEqual(res.cookies, []);
    assert.equal(store.calls.set, 0);
  });

  it('takes back a cookie re-sent at load (rolling), leaving the browser’s as it was', async () => {
    const { browser } = c.setup({ rolling: true, cookie: { secure: true, maxAge: HOUR } });
    await browser.request((s) => s.set('a', 1));
    const cookie = browser.cookie;
    const { res } = await browser.request((s, response) => {
      assert.equal(response.cookies.length, 1, 'rolling re-sent the cookie at load');
      s.ignore();
    });
    assert.deepEqual(res.cookies, []);
    assert.equal(browser.cookie, cookie);
  });

  it('a read-only request that would have touched the session does not extend its expiry', async () => {
    const { store, browser, clock } = c.setup({ idleTimeout: HOUR });
    await browser.request((s) => s.set('a', 1));
    clock.advance(50 * MINUTE); // a touch is due
    const writes = store.calls.set;
    const { res } = await browser.request((s) => s.ignore());
    assert.deepEqual(res.cookies, [], 'no touch cookie');
    assert.equal(store.calls.set, writes, 'no touch write');
    clock.advance(15 * MINUTE); // past the original expiry, within the one a touch would have given
    assert.equal((await browser.request((s) => s.get('a'))).result, undefined, 'the expiry was not extended');
  });

  // A handler using loadSync() in a held context: what an adapter does around a plain handler.
  if (c.synchronous) {
    it('in a held context with loadSync(), a due touch is not written either', async () => {
      const { store, browser, clock, tessera } = c.setup({ idleTimeout: HOUR });
      await browser.request((s) => s.set('a', 1));
      clock.advance(50 * MINUTE);
      const writes = store.calls.set;
      const res = new FakeResponse();
      const ctx = tessera.begin({ cookieHeader: browser.cookie }, res.sink);
      ctx.hold();
      ctx.loadSync().ignore();
      ctx.release();
      await ctx.settle();
      assert.deepEqual(res.cookies, []);
      assert.equal(store.calls.set, writes);
      clock.advance(15 * MINUTE);
      assert.equal((await browser.request((s) => s.get('a'))).result, undefined, 'the expiry was not extended');
    });
  }

  it('regenerate() then ignore() leaves the old session valid and the browser’s cookie unchanged', async () => {
    const { store, browser } = c.setup();
    const { session: before } = await browser.request((s) => s.set('a', 1));
    const cookie = browser.cookie;
    const writes = store.calls.set;
    const { res } = await browser.request((s) => {
      s.regenerate();
      s.ignore();
    });
    assert.deepEqual(res.cookies, []);
    assert.equal(browser.cookie, cookie);
    assert.equal(store.calls.set, writes, 'nothing stored under the new ID (nor revoked, with a cookie store)');
    assert.equal(store.calls.delete, 0);
    assert.deepEqual((await browser.request((s) => [s.id, s.toJSON()])).result, [before.id, { a: 1 }]);
    if (c.server) assert.deepEqual([...store.keys], [storeKey(before.id, null)]);
  });

  it('destroy() then ignore() leaves the session alive', async () => {
    const { store, browser } = c.setup();
    const { session: before } = await browser.request((s) => s.set('a', 1));
    const cookie = browser.cookie;
    const writes = store.calls.set;
    const { res } = await browser.request((s) => {
      s.destroy();
      s.ignore();
    });
    assert.deepEqual(res.cookies, [], 'the clearing cookie was taken back');
    assert.equal(browser.cookie, cookie);
    assert.equal(store.calls.delete, 0);
    assert.equal(store.calls.set, writes, 'not revoked, with a cookie store');
    assert.deepEqual((await browser.request((s) => [s.id, s.toJSON()])).result, [before.id, { a: 1 }]);
  });

  // The cookie store writes by sealing the session into the response.
  if (c.cookie) {
    it('with the cookie store, a change after ignore() seals nothing', async () => {
      const { browser } = c.setup();
      await browser.request((s) => s.set('a', 1));
      const seal = mock.method(Sealer.prototype, 'seal');
      try {
        const { res } = await browser.request((s) => {
          s.ignore();
          s.set('b', 2);
          s.userId = 'ann';
          s.rememberMe();
        });
        assert.deepEqual(res.cookies, []);
        assert.equal(seal.mock.callCount(), 0);
      } finally {
        seal.mock.restore();
      }
      assert.deepEqual((await browser.request((s) => [s.toJSON(), s.userId])).result, [{ a: 1 }, null]);
    });
  }

  // With the cookie store the commit is the cookie on this very response, which ignore() takes back.
  if (c.server) {
    it('a commit already awaited before ignore() stays', async () => {
      const { browser } = c.setup();
      await browser.request((s) => s.set('a', 1));
      await browser.request(async (s) => {
        s.set('a', 2);
        await s.save();
        s.set('b', 3);
        s.ignore();
      });
      assert.deepEqual((await browser.request((s) => s.toJSON())).result, { a: 2 });
    });

    it('a session opened by ID writes nothing after ignore(), save() included', async () => {
      const { tessera, store } = c.setup();
      const { id } = await tessera.create({ data: { a: 1 } });
      const writes = store.calls.set;
      const session = (await tessera.load(id))!;
      session.set('a', 2);
      session.ignore();
      await session.save();
      assert.equal(store.calls.set, writes);
      assert.equal(await tessera.get(id, 'a'), 1);
    });
  }
});
