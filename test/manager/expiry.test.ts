/** Expiry on a fake clock: idle and absolute timeouts, touches, remember me, cookie lifetimes, cleanup. */
import assert from 'node:assert/strict';
import { it, mock } from 'node:test';
import { storeKey } from '../../src/crypto/ids.js';
import { DAY, HOUR, MINUTE, matrix } from './matrix.js';

matrix('expiry (fake clock)', (c) => {
  it('expires a session idle for longer than idleTimeout, and deletes its record', async () => {
    const { browser, clock, store } = c.setup({ idleTimeout: 30 * MINUTE });
    const { session } = await browser.request((s) => s.set('a', 1));
    clock.advance(29 * MINUTE);
    assert.equal((await browser.request((s) => s.get('a'))).result, 1);
    clock.advance(31 * MINUTE);
    const { result, session: after } = await browser.request((s) => s.get('a'));
    assert.equal(result, undefined);
    assert.equal(after.isNew, true);
    // Only a server store has a record: it is gone (stores hide expired records; MemoryStore drops them as it reads).
    if (c.server) assert.equal(await store.inner.get(storeKey(session.id, null), { now: clock.now() }), null);
  });

  // A record only a server store keeps.
  if (c.server) {
    it('deletes a record its own policy finds expired (a writer with a longer idleTimeout stored it)', async () => {
      const { browser, clock, store, another } = c.setup({ idleTimeout: HOUR });
      const { session } = await browser.request((s) => s.set('a', 1));
      const strict = another({ idleTimeout: 30 * MINUTE });
      const expired: unknown[] = [];
      strict.on('expired', (e) => expired.push(e));
      clock.advance(31 * MINUTE);
      assert.equal(await strict.get(session.id, 'a'), undefined);
      assert.equal(expired.length, 1);
      assert.equal(await store.inner.get(storeKey(session.id, null), { now: 0 }), null, 'the record was deleted');
      assert.equal((await browser.request((s) => s.get('a'))).result, undefined);
    });
  }

  it('keeps an active session alive with throttled touches', async () => {
    const { request, clock } = c.setup({ idleTimeout: 30 * MINUTE, touchAfter: 0.5 });
    await request((s) => s.set('a', 1));
    clock.advance(10 * MINUTE);
    assert.equal((await request(() => {})).wrote, false, 'no touch before half the idle window');
    clock.advance(10 * MINUTE);
    assert.equal((await request(() => {})).wrote, true, 'one touch once half the window passed');
    clock.advance(1 * MINUTE);
    assert.equal((await request(() => {})).wrote, false, 'the next request within the window does not touch');
    clock.advance(25 * MINUTE); // 46 min after creation, 26 after the touch
    assert.equal((await request((s) => s.get('a'))).result, 1, 'the touch extended the expiry');
  });

  it('enforces the absolute timeout however active the session is', async () => {
    const { browser, clock } = c.setup({ idleTimeout: HOUR, absoluteTimeout: 3 * HOUR, touchAfter: 0 });
    await browser.request((s) => s.set('a', 1));
    for (let i = 0; i < 5; i++) {
      clock.advance(35 * MINUTE);
      assert.equal((await browser.request((s) => s.get('a'))).result, 1);
    }
    clock.advance(10 * MINUTE); // 185 minutes after creation
    assert.equal((await browser.request((s) => s.get('a'))).result, undefined);
  });

  it('reports metadata: created, last seen, expires, IP, user agent', async () => {
    const { browser, clock } = c.setup({ idleTimeout: HOUR, absoluteTimeout: DAY, touchAfter: 0 });
    const t0 = clock.time;
    await browser.request((s) => s.set('a', 1), { ip: '192.0.2.1', userAgent: 'UA/1' });
    clock.advance(10 * MINUTE);
    const { session } = await browser.request(() => {}, { ip: '192.0.2.2', userAgent: 'UA/1' });
    assert.deepEqual(session.meta, {
      createdAt: t0,
      lastSeenAt: t0 + 10 * MINUTE,
      expiresAt: t0 + 10 * MINUTE + HOUR,
      ip: '192.0.2.2',
      userAgent: 'UA/1',
      userId: null,
      tenant: null,
      lifetime: null,
      cookieMaxAge: null,
      authenticatedAt: null,
    });
  });

  it('remember me: a per-session lifetime outlives the idle timeout, with a persistent cookie', async () => {
    const { browser, clock } = c.setup({ idleTimeout: HOUR, absoluteTimeout: 60 * DAY, rememberMeLifetime: 30 * DAY });
    const { res } = await browser.request((s) => {
      s.set('user', 'ann');
      s.rememberMe();
    });
    assert.match(res.cookies[0]!, /Max-Age=2592000;/);
    clock.advance(20 * DAY);
    assert.equal((await browser.request((s) => s.get('user'))).result, 'ann');
    clock.advance(31 * DAY);
    assert.equal((await browser.request((s) => s.get('user'))).result, undefined);
  });

  it('sends a browser-session cookie by default, and a refreshed Max-Age with cookie.maxAge', async () => {
    const plain = c.setup();
    const first = await plain.browser.request((s) => s.set('a', 1));
    assert.doesNotMatch(first.res.cookies[0]!, /Max-Age/);
    const persistent = c.setup({ cookie: { secure: true, maxAge: HOUR }, idleTimeout: HOUR, touchAfter: 0.5 });
    const a = await persistent.browser.request((s) => s.set('a', 1));
    assert.match(a.res.cookies[0]!, /Max-Age=3600;/);
    persistent.clock.advance(40 * MINUTE);
    const b = await persistent.browser.request(() => {});
    assert.match(b.res.cookies[0] ?? '', /Max-Age=3600;/, 'the touch re-sent the cookie');
  });

  it('rolling: re-sends the cookie on every response', async () => {
    const { browser } = c.setup({ rolling: true, cookie: { secure: true, maxAge: HOUR } });
    await browser.request((s) => s.set('a', 1));
    const { res } = await browser.request((s) => s.get('a'));
    assert.match(res.cookies[0] ?? '', /Max-Age=3600;/);
    const quiet = c.setup({ cookie: { secure: true, maxAge: HOUR } });
    await quiet.browser.request((s) => s.set('a', 1));
    assert.deepEqual((await quiet.browser.request((s) => s.get('a'))).res.cookies, [], 'not without rolling');
  });

  it('a session can opt out of a persistent cookie, and the choice is kept', async () => {
    const { browser, clock } = c.setup({ cookie: { secure: true, maxAge: HOUR }, idleTimeout: HOUR, touchAfter: 0 });
    const first = await browser.request((s) => {
      s.set('a', 1);
      s.setLifetime(null, { persistentCookie: false });
    });
    assert.doesNotMatch(first.res.cookies[0]!, /Max-Age/);
    clock.advance(10 * MINUTE);
    const { res, session } = await browser.request((s) => s.refresh());
    assert.equal(session.meta.cookieMaxAge, null);
    assert.ok(res.cookies.every((l) => !/Max-Age/.test(l)), 'a refresh does not make it persistent again');
  });

  // Cleanup removes records of a server store (the cookie store's revocation records are its own test).
  if (c.server) {
    it('removes expired records with cleanupExpired, and on the cleanup timer until close()', async () => {
      mock.timers.enable({ apis: ['setInterval'] });
      try {
        const { store, tessera, clock } = c.setup({ cleanupInterval: 5 * MINUTE, idleTimeout: MINUTE });
        await tessera.create({ data: { a: 1 } });
        await tessera.create({ data: { b: 1 } });
        clock.advance(2 * MINUTE);
        await tessera.create({ data: { c: 1 } });
        assert.equal(await tessera.cleanupExpired(), 2);
        mock.timers.tick(5 * MINUTE);
        assert.equal(store.calls.deleteExpired, 2, 'the timer ran cleanup');
        await tessera.close();
        mock.timers.tick(15 * MINUTE);
        assert.equal(store.calls.deleteExpired, 2, 'close() stopped the timer');
      } finally {
        mock.timers.reset();
      }
    });
  }
});
