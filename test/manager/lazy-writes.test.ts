/** Lazy, minimal writes: nothing is read, stored or sent until the session needs it. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { storeKey } from '../../src/crypto/ids.js';
import { DAY, matrix } from './matrix.js';

matrix('lazy, minimal writes', (c) => {
  it('neither stores nor sends a cookie for a session that is only read', async () => {
    const { store, browser } = c.setup();
    const { res, session } = await browser.request((s) => s.get('anything'));
    assert.equal(store.calls.set, 0);
    assert.deepEqual(res.cookies, []);
    assert.equal(session.isNew, true);
  });

  it('does not even read the store when the request has no cookie', async () => {
    const { store, browser } = c.setup();
    await browser.request(() => {});
    assert.equal(store.calls.get, 0);
  });

  it('stores on first write and sends a secure cookie', async () => {
    const { store, browser, tessera } = c.setup();
    const { res, session } = await browser.request((s) => s.set('views', 1));
    assert.equal(res.cookies.length, 1);
    assert.match(res.cookies[0]!, /^__Host-tessera=[A-Za-z0-9_.-]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    assert.equal((await browser.request((s) => s.get('views'))).result, 1);
    if (c.server) {
      // The signed ID cookie; the cookie store's sealed one is checked in test/stores/cookie.test.ts.
      assert.equal(store.calls.set, 1);
      assert.match(res.cookies[0]!, /^__Host-tessera=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
      assert.equal(tessera.verifyCookie(browser.cookie!.split('=')[1]!), session.id);
    }
  });

  // A server store holds records under keys; the cookie store holds none.
  if (c.server) {
    it('stores only a hash of the ID, never the ID', async () => {
      const { store, browser } = c.setup();
      const { session } = await browser.request((s) => s.set('a', 1));
      assert.deepEqual([...store.keys], [storeKey(session.id, null)]);
      assert.ok(![...store.keys].some((k) => k.includes(session.id)));
    });
  }

  it('does not write an unchanged session, and writes a changed one once per request', async () => {
    const { store, request } = c.setup();
    await request((s) => s.set('views', 1));
    const read = await request((s) => assert.equal(s.get('views'), 1));
    assert.equal(read.wrote, false, 'a read-only request wrote nothing');
    assert.deepEqual(read.res.cookies, [], 'and sent no cookie');
    const { res } = await request((s) => {
      s.set('views', 2);
      s.set('other', 'x');
      s.delete('other');
    });
    if (c.server) assert.equal(store.calls.set, 2, 'three changes in one tick: one write');
    else assert.equal(res.cookies.length, 1, 'three changes in one tick: one cookie');
    assert.deepEqual((await request((s) => s.toJSON())).result, { views: 2 });
  });

  // The cookie store seals each change into the response at once: set-then-delete leaves an empty session's cookie.
  if (c.server) {
    it('writes nothing when a new session is set and emptied in the same tick', async () => {
      const { store, browser } = c.setup();
      await browser.request((s) => {
        s.set('a', 1);
        s.delete('a');
      });
      assert.equal(store.calls.set, 0);
    });
  }

  it('assigns an ID when it is read, but sends no cookie until the session is written', async () => {
    const { store, browser } = c.setup();
    const { res, result: id } = await browser.request((s) => s.id);
    assert.equal(res.cookies.length, 0);
    assert.equal(store.calls.set, 0);
    const { res: written, result: sameId } = await browser.request((s) => {
      void s.id;
      s.set('a', 1);
      return s.id;
    });
    assert.equal(written.cookies.length, 1);
    assert.notEqual(id, undefined);
    assert.equal((await browser.request((s) => s.id)).result, sameId, 'the cookie carries the ID read before the write');
  });

  it('a lifetime alone does not start a session; the first write carries it', async () => {
    const { store, browser } = c.setup();
    const { res } = await browser.request((s) => s.rememberMe(7 * DAY));
    assert.deepEqual(res.cookies, []);
    assert.equal(store.calls.set, 0);
    const { res: written, session } = await browser.request((s) => {
      s.rememberMe(7 * DAY);
      s.set('user', 'ann');
    });
    assert.match(written.cookies[0]!, /Max-Age=604800;/);
    assert.equal(session.meta.lifetime, 7 * DAY);
    assert.equal((await browser.request((s) => s.meta.lifetime)).result, 7 * DAY);
  });

  it('with saveUninitialized, stores a new empty session and sends its cookie', async () => {
    const { store, browser } = c.setup({ saveUninitialized: true });
    const { res, session } = await browser.request(() => {});
    assert.equal(res.cookies.length, 1);
    assert.deepEqual((await browser.request((s) => [s.id, s.isNew])).result, [session.id, false], 'the next request finds it');
    if (c.server) assert.equal(store.calls.set, 1);
  });
});
