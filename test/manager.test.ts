import assert from 'node:assert/strict';
import { before, describe, it, mock } from 'node:test';
import { createTessera } from '../src/index.js';
import { Tessera } from '../src/manager.js';
import { MemoryStore } from '../src/stores/memory.js';
import { SecretError, SessionNotFoundError, SessionStateError, ConfigError, StoreUnavailableError, TesseraError } from '../src/errors.js';
import { storeKey } from '../src/crypto/ids.js';
import type { TesseraOptions } from '../src/options.js';
import { Browser, CountingStore, CountingSyncStore, FakeResponse, GatedStore } from './helpers/browser.js';
import { FakeClock } from './helpers/clock.js';

const SECRET = 'test-secret-that-is-long-enough-0123456789';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * How the store of {@link setup} answers: every suite below runs twice, on a store answering with
 * promises (the manager's path for networked stores) and on one answering synchronously too
 * (`getSync`/`setSync`/`deleteSync`, its path for memory and SQLite).
 */
let storeForms: 'promises' | 'sync' = 'promises';

function setup(options: Partial<TesseraOptions> & { encryptData?: boolean } = {}) {
  const clock = new FakeClock();
  const store = storeForms === 'sync' ? new CountingSyncStore(new MemoryStore()) : new CountingStore(new MemoryStore());
  const tessera = new Tessera({ secrets: [SECRET], store, now: clock.now, cleanupInterval: 0, logger: {}, cookie: { secure: true }, ...options });
  return { clock, store, tessera, browser: new Browser(tessera) };
}

for (const forms of ['promises', 'sync'] as const) {
  describe(`on a store answering ${forms === 'sync' ? 'synchronously' : 'with promises'}`, () => {
    before(() => {
      storeForms = forms;
    });

    describe('lazy, minimal writes', () => {
      it('neither stores nor sends a cookie for a session that is only read', async () => {
        const { store, browser } = setup();
        const { res, session } = await browser.request((s) => s.get('anything'));
        assert.equal(store.calls.set, 0);
        assert.deepEqual(res.cookies, []);
        assert.equal(session.isNew, true);
      });

      it('does not even read the store when the request has no cookie', async () => {
        const { store, browser } = setup();
        await browser.request(() => {});
        assert.equal(store.calls.get, 0);
      });

      it('stores on first write and sends a signed, secure cookie', async () => {
        const { store, browser, tessera } = setup();
        const { res, session } = await browser.request((s) => s.set('views', 1));
        assert.equal(store.calls.set, 1);
        assert.equal(res.cookies.length, 1);
        assert.match(res.cookies[0]!, /^__Host-tessera=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
        assert.equal(tessera.verifyCookie(browser.cookie!.split('=')[1]!), session.id);
      });

      it('stores only a hash of the ID, never the ID', async () => {
        const { store, browser } = setup();
        const { session } = await browser.request((s) => s.set('a', 1));
        assert.deepEqual([...store.keys], [storeKey(session.id, null)]);
        assert.ok(![...store.keys].some((k) => k.includes(session.id)));
      });

      it('does not write an unchanged session, and writes a changed one once per request', async () => {
        const { store, browser } = setup();
        await browser.request((s) => s.set('views', 1));
        await browser.request((s) => assert.equal(s.get('views'), 1));
        assert.equal(store.calls.set, 1, 'a read-only request wrote nothing');
        await browser.request((s) => {
          s.set('views', 2);
          s.set('other', 'x');
          s.delete('other');
        });
        assert.equal(store.calls.set, 2, 'three changes in one tick: one write');
      });

      it('writes nothing when a new session is set and emptied in the same tick', async () => {
        const { store, browser } = setup();
        await browser.request((s) => {
          s.set('a', 1);
          s.delete('a');
        });
        assert.equal(store.calls.set, 0);
      });

      it('assigns an ID when it is read, but sends no cookie until the session is written', async () => {
        const { store, browser } = setup();
        const { res, result: id } = await browser.request((s) => s.id);
        assert.equal(res.cookies.length, 0);
        assert.equal(store.calls.set, 0);
        const { res: written } = await browser.request((s) => {
          void s.id;
          s.set('a', 1);
          return s.id;
        });
        assert.equal(written.cookies.length, 1);
        assert.notEqual(id, undefined);
      });

      it('a lifetime alone does not start a session; the first write carries it', async () => {
        const { store, browser } = setup();
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
        const { store, browser } = setup({ saveUninitialized: true });
        const { res } = await browser.request(() => {});
        assert.equal(store.calls.set, 1);
        assert.equal(res.cookies.length, 1);
      });
    });

    describe('untrusted cookies become fresh sessions', () => {
      it('finds the session among other cookies, in any order, and reports a bad cookie each time it comes', async () => {
        const { browser, tessera } = setup();
        const events: unknown[] = [];
        tessera.on('invalidCookie', (e) => events.push(e));
        const { session } = await browser.request((s) => s.set('a', 1));
        const mine = browser.cookie!;
        const [name] = mine.split('=');
        for (const header of [mine, `theme=dark; ${mine}`, `${mine}; lang=en`, mine, `theme=dark; ${mine}`]) {
          browser.cookie = header;
          assert.equal((await browser.request((s) => s.id)).result, session.id, header);
        }
        assert.equal(events.length, 0);
        for (let i = 0; i < 2; i++) {
          browser.cookie = `${name}=forged.value`;
          assert.equal((await browser.request((s) => s.isNew)).result, true);
        }
        assert.equal(events.length, 2, 'a forged cookie seen twice is reported twice');
      });

      it('starts fresh, with a new ID, for a tampered cookie', async () => {
        const { browser, tessera } = setup();
        const events: unknown[] = [];
        tessera.on('invalidCookie', (e) => events.push(e));
        const { session } = await browser.request((s) => s.set('a', 1));
        const [name, value] = browser.cookie!.split('=');
        const tampered = value!.slice(0, 10) + (value![10] === 'A' ? 'B' : 'A') + value!.slice(11);
        for (const cookie of [`${name}=${tampered}`, `${name}=garbage`, `${name}=`, `${name}=${'x'.repeat(5000)}`, `${name}=%00%ff`]) {
          browser.cookie = cookie;
          const { session: fresh, result } = await browser.request((s) => s.get('a'));
          assert.equal(result, undefined);
          assert.equal(fresh.isNew, true);
          assert.notEqual(fresh.id, session.id, 'never adopts the client-chosen ID');
        }
        assert.ok(events.length >= 4);
      });

      it('starts fresh for a cookie signed with an unknown secret, and accepts rotated-out secrets still listed', async () => {
        const store = new MemoryStore();
        const clock = new FakeClock();
        const base = { store, now: clock.now, cleanupInterval: 0, logger: {} };
        const old = new Tessera({ ...base, secrets: ['o'.repeat(32)] });
        const { id, cookie } = await old.create({ data: { kept: true } });
        const rotated = new Browser(new Tessera({ ...base, secrets: ['n'.repeat(32), 'o'.repeat(32)] }));
        rotated.cookie = `${old.cookieName}=${cookie}`;
        const { result } = await rotated.request((s) => s.get('kept'));
        assert.equal(result, true);
        const stranger = new Browser(new Tessera({ ...base, secrets: ['s'.repeat(32)] }));
        stranger.cookie = `${old.cookieName}=${cookie}`;
        const { session } = await stranger.request((s) => assert.equal(s.get('kept'), undefined));
        assert.notEqual(session.id, id);
      });

      it('starts fresh when the stored record cannot be read', async () => {
        const { browser, store, tessera } = setup();
        const { session } = await browser.request((s) => s.set('a', 1));
        const key = storeKey(session.id, null);
        await store.inner.set(key, { data: 'not json', version: 2, expiresAt: Date.UTC(2027, 0), userId: null, tenant: null }, 1, { now: tessera.options.now() });
        const { result } = await browser.request((s) => s.get('a'));
        assert.equal(result, undefined);
      });
    });

    describe('expiry (fake clock)', () => {
      it('expires a session idle for longer than idleTimeout, and deletes its record', async () => {
        const { browser, clock, store } = setup({ idleTimeout: 30 * MINUTE });
        const { session } = await browser.request((s) => s.set('a', 1));
        clock.advance(29 * MINUTE);
        assert.equal((await browser.request((s) => s.get('a'))).result, 1);
        clock.advance(31 * MINUTE);
        const { result, session: after } = await browser.request((s) => s.get('a'));
        assert.equal(result, undefined);
        assert.equal(after.isNew, true);
        assert.equal(await store.inner.get(storeKey(session.id, null), { now: 0 }), null);
      });

      it('keeps an active session alive with throttled touches', async () => {
        const { browser, clock, store } = setup({ idleTimeout: 30 * MINUTE, touchAfter: 0.5 });
        await browser.request((s) => s.set('a', 1));
        const writes = () => store.calls.set;
        clock.advance(10 * MINUTE);
        await browser.request(() => {});
        assert.equal(writes(), 1, 'no touch before half the idle window');
        clock.advance(10 * MINUTE);
        await browser.request(() => {});
        assert.equal(writes(), 2, 'one touch once half the window passed');
        clock.advance(1 * MINUTE);
        await browser.request(() => {});
        assert.equal(writes(), 2, 'the next request within the window does not touch');
        clock.advance(25 * MINUTE); // 46 min after creation, 26 after the touch
        assert.equal((await browser.request((s) => s.get('a'))).result, 1, 'the touch extended the expiry');
      });

      it('enforces the absolute timeout however active the session is', async () => {
        const { browser, clock } = setup({ idleTimeout: HOUR, absoluteTimeout: 3 * HOUR, touchAfter: 0 });
        await browser.request((s) => s.set('a', 1));
        for (let i = 0; i < 5; i++) {
          clock.advance(35 * MINUTE);
          assert.equal((await browser.request((s) => s.get('a'))).result, 1);
        }
        clock.advance(10 * MINUTE); // 185 minutes after creation
        assert.equal((await browser.request((s) => s.get('a'))).result, undefined);
      });

      it('reports metadata: created, last seen, expires, IP, user agent', async () => {
        const { browser, clock } = setup({ idleTimeout: HOUR, absoluteTimeout: DAY, touchAfter: 0 });
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
        });
      });

      it('remember me: a per-session lifetime outlives the idle timeout, with a persistent cookie', async () => {
        const { browser, clock } = setup({ idleTimeout: HOUR, absoluteTimeout: DAY, rememberMeLifetime: 30 * DAY });
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
        const plain = setup();
        const first = await plain.browser.request((s) => s.set('a', 1));
        assert.doesNotMatch(first.res.cookies[0]!, /Max-Age/);
        const persistent = setup({ cookie: { secure: true, maxAge: HOUR }, idleTimeout: HOUR, touchAfter: 0.5 });
        const a = await persistent.browser.request((s) => s.set('a', 1));
        assert.match(a.res.cookies[0]!, /Max-Age=3600;/);
        persistent.clock.advance(40 * MINUTE);
        const b = await persistent.browser.request(() => {});
        assert.match(b.res.cookies[0] ?? '', /Max-Age=3600;/, 'the touch re-sent the cookie');
      });

      it('rolling: re-sends the cookie on every response', async () => {
        const { browser } = setup({ rolling: true, cookie: { secure: true, maxAge: HOUR } });
        await browser.request((s) => s.set('a', 1));
        const { res } = await browser.request((s) => s.get('a'));
        assert.match(res.cookies[0] ?? '', /Max-Age=3600;/);
        const quiet = setup({ cookie: { secure: true, maxAge: HOUR } });
        await quiet.browser.request((s) => s.set('a', 1));
        assert.deepEqual((await quiet.browser.request((s) => s.get('a'))).res.cookies, [], 'not without rolling');
      });

      it('a session can opt out of a persistent cookie, and the choice is kept', async () => {
        const { browser, clock } = setup({ cookie: { secure: true, maxAge: HOUR }, idleTimeout: HOUR, touchAfter: 0 });
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

      it('removes expired records with cleanupExpired, and on the cleanup timer until close()', async () => {
        mock.timers.enable({ apis: ['setInterval'] });
        try {
          const clock = new FakeClock();
          const store = new CountingStore(new MemoryStore());
          const tessera = new Tessera({ secrets: [SECRET], store, now: clock.now, cleanupInterval: 5 * MINUTE, idleTimeout: MINUTE, logger: {} });
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
    });

    describe('regenerate and destroy', () => {
      it('regenerate gives a new ID, keeps data, deletes the old record; the old cookie is dead', async () => {
        const { browser, store } = setup();
        const { session: before } = await browser.request((s) => s.set('cart', [1]));
        const oldCookie = browser.cookie;
        const { session: after } = await browser.request((s) => {
          s.regenerate();
          s.userId = 'ann';
        });
        assert.notEqual(after.id, before.id);
        assert.equal(await store.inner.get(storeKey(before.id, null), { now: 0 }), null);
        assert.deepEqual((await browser.request((s) => s.toJSON())).result, { cart: [1] });
        assert.equal((await browser.request((s) => s.userId)).result, 'ann');
        browser.cookie = oldCookie;
        assert.equal((await browser.request((s) => s.get('cart'))).result, undefined);
      });

      it('a retired record whose delete failed is deleted by the next commit, so the old ID stops working', async () => {
        const { browser, store } = setup();
        const { session: before } = await browser.request((s) => s.set('cart', [1]));
        const oldKey = storeKey(before.id, null);
        let failures = 1;
        if (store instanceof CountingSyncStore) {
          // A store with synchronous forms is deleted from through deleteSync.
          const deleteFromStore = store.deleteSync.bind(store);
          store.deleteSync = (key, ctx) => {
            if (failures-- > 0) throw new StoreUnavailableError('down for a moment');
            deleteFromStore(key, ctx);
          };
        } else {
          const deleteFromStore = store.delete.bind(store);
          store.delete = (key, ctx) => (failures-- > 0 ? Promise.reject(new StoreUnavailableError('down for a moment')) : deleteFromStore(key, ctx));
        }
        const { session } = await browser.request(async (s) => {
          s.regenerate();
          await assert.rejects(s.save(), StoreUnavailableError);
          assert.notEqual(await store.inner.get(oldKey, { now: 0 }), null, 'the failed delete left the old record');
          await s.save(); // the handler retries (or the next change commits): the old record goes
        });
        assert.notEqual(session.id, before.id);
        assert.equal(await store.inner.get(oldKey, { now: 0 }), null);
      });

      it('regenerate({ keepData: false }) starts empty', async () => {
        const { browser } = setup();
        await browser.request((s) => s.set('cart', [1]));
        await browser.request((s) => {
          s.regenerate({ keepData: false });
          s.set('fresh', true);
        });
        assert.deepEqual((await browser.request((s) => s.toJSON())).result, { fresh: true });
      });

      it('destroy deletes the record and clears the cookie; later writes throw', async () => {
        const { browser, store } = setup();
        const { session } = await browser.request((s) => s.set('a', 1));
        const { res } = await browser.request((s) => {
          s.destroy();
          assert.throws(() => s.set('a', 2), SessionStateError);
        });
        assert.match(res.cookies[0]!, /^__Host-tessera=; Max-Age=0;/);
        assert.equal(await store.inner.get(storeKey(session.id, null), { now: 0 }), null);
      });

      it('refuses to start a session once the response headers are sent', async () => {
        const { browser } = setup();
        await browser.request((s, res) => {
          res.headersSent = true;
          assert.throws(() => s.set('a', 1), (e: unknown) => e instanceof SessionStateError && /headers/.test(e.message));
        });
      });

      it('does not resurrect a session destroyed while a request was using it', async () => {
        const { browser, tessera } = setup();
        const { session } = await browser.request((s) => s.set('a', 1));
        let destroyedMeanwhile = false;
        await browser.request(async (s) => {
          assert.equal(await tessera.destroy(session.id), true);
          destroyedMeanwhile = true;
          s.set('b', 2);
        });
        assert.ok(destroyedMeanwhile);
        assert.equal(await tessera.isValid(session.id), false);
      });
    });

    describe('no lost updates', () => {
      it('two overlapping requests changing different keys both survive', async () => {
        const { tessera } = setup();
        const a = new Browser(tessera);
        await a.request((s) => s.set('x', 0));
        const b = new Browser(tessera);
        b.cookie = a.cookie;
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const slow = a.request(async (s) => {
          await gate;
          s.set('x', 1);
        });
        await b.request((s) => s.set('y', 2));
        release();
        await slow;
        assert.deepEqual((await a.request((s) => s.toJSON())).result, { x: 1, y: 2 });
      });
    });

    describe('binding and tenants', () => {
      it('bindIp starts a fresh session when the IP changes', async () => {
        const { browser } = setup({ bindIp: true });
        await browser.request((s) => s.set('a', 1), { ip: '192.0.2.1' });
        assert.equal((await browser.request((s) => s.get('a'), { ip: '192.0.2.1' })).result, 1);
        assert.equal((await browser.request((s) => s.get('a'), { ip: '198.51.100.9' })).result, undefined);
      });

      it('bindUserAgent starts a fresh session when the User-Agent changes', async () => {
        const { browser } = setup({ bindUserAgent: true });
        await browser.request((s) => s.set('a', 1), { userAgent: 'A' });
        assert.equal((await browser.request((s) => s.get('a'), { userAgent: 'B' })).result, undefined);
      });

      it('a cookie of one tenant finds nothing under another', async () => {
        const { browser } = setup();
        const { session } = await browser.request((s) => s.set('a', 1), { tenant: 'acme' });
        assert.equal(session.meta.tenant, 'acme');
        assert.equal((await browser.request((s) => s.get('a'), { tenant: 'acme' })).result, 1);
        assert.equal((await browser.request((s) => s.get('a'), { tenant: 'globex' })).result, undefined);
      });
    });

    describe('operations by ID', () => {
      it('get / set / delete / clear / refresh / destroy without a request', async () => {
        const { tessera, clock } = setup({ idleTimeout: HOUR });
        const { id } = await tessera.create({ data: { a: 1 }, userId: 'u1', ip: '192.0.2.1' });
        assert.equal(await tessera.get(id, 'a'), 1);
        await tessera.set(id, 'b', { nested: [1, 2] });
        assert.deepEqual(await tessera.get(id, 'b'), { nested: [1, 2] });
        assert.equal(await tessera.delete(id, 'a'), true);
        assert.equal(await tessera.delete(id, 'a'), false);
        assert.equal(await tessera.get(id, 'a'), undefined);
        clock.advance(50 * MINUTE);
        await tessera.refresh(id);
        clock.advance(50 * MINUTE);
        assert.equal(await tessera.isValid(id), true, 'refresh extended the expiry');
        await tessera.clear(id);
        assert.deepEqual((await tessera.load(id))?.toJSON(), {});
        assert.equal((await tessera.load(id))?.userId, 'u1', 'clear keeps the session and its user');
        assert.equal(await tessera.destroy(id), true);
        assert.equal(await tessera.destroy(id), false);
        assert.equal(await tessera.isValid(id), false);
      });

      it('isValid / isExpired follow the clock', async () => {
        const { tessera, clock } = setup({ idleTimeout: HOUR });
        const { id } = await tessera.create({ data: { a: 1 } });
        assert.equal(await tessera.isValid(id), true);
        assert.equal(await tessera.isExpired(id), false);
        clock.advance(HOUR);
        assert.equal(await tessera.isValid(id), false);
        assert.equal(await tessera.isExpired(id), true);
      });

      it('writing to an unknown or expired session throws SessionNotFoundError; reading gives undefined', async () => {
        const { tessera } = setup();
        const unknown = 'A'.repeat(43);
        await assert.rejects(tessera.set(unknown, 'a', 1), (e: unknown) => e instanceof SessionNotFoundError && e.code === 'ERR_SESSION_NOT_FOUND');
        await assert.rejects(tessera.clear('not even an id'), SessionNotFoundError);
        assert.equal(await tessera.get(unknown, 'a'), undefined);
        await assert.rejects(tessera.get(42 as never, 'a'), TypeError);
      });

      it('lists a user’s sessions and signs out the others', async () => {
        const { tessera } = setup();
        const mine = await tessera.create({ userId: 'ann', userAgent: 'laptop', data: { a: 1 } });
        await tessera.create({ userId: 'ann', userAgent: 'phone', data: { a: 1 } });
        await tessera.create({ userId: 'bob', data: { a: 1 } });
        const list = await tessera.listByUser('ann');
        assert.deepEqual(list.map((s) => s.userAgent).sort(), ['laptop', 'phone']);
        assert.ok(list.every((s) => !JSON.stringify(s).includes(mine.id)), 'no session IDs in listings');
        assert.equal(await tessera.destroyByUser('ann', { except: mine.id }), 1);
        assert.deepEqual((await tessera.listByUser('ann')).map((s) => s.userAgent), ['laptop']);
        assert.equal(await tessera.isValid(mine.id), true);
      });

      it('rejects values that are not JSON', async () => {
        const { tessera } = setup();
        const { id } = await tessera.create();
        await assert.rejects(tessera.set(id, 'f', () => 1), SessionStateError);
        await assert.rejects(tessera.set(id, 'b', 1n), SessionStateError);
      });
    });

    describe('encryption at rest', () => {
      it('stores ciphertext, reads it back, and re-seals with a new key on the next write', async () => {
        const store = new MemoryStore();
        const clock = new FakeClock();
        const base = { store, now: clock.now, cleanupInterval: 0, logger: {}, encryptData: true };
        const old = new Tessera({ ...base, secrets: ['o'.repeat(32)] });
        const { id } = await old.create({ data: { card: 'visible-secret' } });
        const key = storeKey(id, null);
        const stored = (await store.get(key, { now: clock.time }))!.data;
        assert.ok(!stored.includes('visible-secret'));
        const rotated = new Tessera({ ...base, secrets: ['n'.repeat(32), 'o'.repeat(32)] });
        assert.equal(await rotated.get(id, 'card'), 'visible-secret', 'old-key records stay readable');
        await rotated.set(id, 'x', 1);
        const resealed = (await store.get(key, { now: clock.time }))!.data;
        const onlyNew = new Tessera({ ...base, secrets: ['n'.repeat(32)] });
        assert.equal(await onlyNew.get(id, 'card'), 'visible-secret', 're-sealed with the current key');
        assert.notEqual(resealed, stored);
      });
    });

    describe('records kept as objects (MemoryStore, retainsRecords)', () => {
      it('hold the same text a store of strings gets', async () => {
        const store = new MemoryStore();
        const clock = new FakeClock();
        const tessera = new Tessera({ secrets: [SECRET], store, now: clock.now, cleanupInterval: 0, logger: {} });
        const { id } = await tessera.create({ data: { n: 1, name: 'ann' }, ip: '10.0.0.9' });
        const text = (await store.get(storeKey(id, null), { now: clock.time }))!.data;
        assert.deepEqual(JSON.parse(text), { d: { n: 1, name: 'ann' }, c: clock.time, s: clock.time, l: null, ip: '10.0.0.9', ua: null });
      });

      it('keep what was written: a change made since, not yet committed, is not seen by another request', async () => {
        const store = new MemoryStore();
        const tessera = new Tessera({ secrets: [SECRET], store, cleanupInterval: 0, logger: {} });
        const { cookie } = await tessera.create({ data: { n: 0 } });
        const request = () => tessera.begin({ cookieHeader: `${tessera.cookieName}=${cookie}` }, new FakeResponse().sink);
        const first = request();
        const a = first.loadSync();
        a.set('n', 1);
        await a.save();
        a.set('n', 2); // its commit waits for this synchronous code to finish
        assert.equal(request().loadSync().get('n'), 1, 'the stored record still says 1');
        await first.settle();
        assert.equal(request().loadSync().get('n'), 2);
      });

      it('are read back by another manager from their text, so its own secrets apply', async () => {
        const store = new MemoryStore();
        const clock = new FakeClock();
        const base = { store, now: clock.now, cleanupInterval: 0, logger: {}, encryptData: true };
        const { id } = await new Tessera({ ...base, secrets: ['a'.repeat(32)] }).create({ data: { card: 'secret' } });
        assert.equal(await new Tessera({ ...base, secrets: ['a'.repeat(32)] }).get(id, 'card'), 'secret', 'same secret: readable');
        assert.equal(await new Tessera({ ...base, secrets: ['b'.repeat(32)] }).isValid(id), false, 'another secret: unreadable');
      });

      for (const encryptData of [false, true]) it(`treat a record without text (a spread copy of a kept record) as unreadable, not as a crash${encryptData ? ' (encryptData)' : ''}`, async () => {
        const store = new MemoryStore();
        const clock = new FakeClock();
        const tessera = new Tessera({ secrets: [SECRET], store, now: clock.now, cleanupInterval: 0, logger: {}, encryptData });
        const { id } = await tessera.create({ data: { n: 1 } });
        const key = storeKey(id, null);
        const kept = (await store.get(key, { now: clock.time }))!;
        const { id: other } = await tessera.create({ data: { n: 2 } });
        const target = storeKey(other, null);
        await store.set(target, { ...kept, version: 2 }, 1, { now: clock.time });
        assert.equal(await tessera.isValid(other), false);
        assert.equal(await tessera.get(id, 'n'), 1, 'the original is untouched');
      });
    });

    describe('records read again (the decoded-record cache)', () => {
      it('gives every request its own copy of the data', async () => {
        const { tessera } = setup();
        const { id } = await tessera.create({ data: { n: 1, name: 'ann' } });
        const first = (await tessera.load(id))!;
        const second = (await tessera.load(id))!;
        first.set('n', 2);
        first.delete('name');
        assert.deepEqual(second.toJSON(), { n: 1, name: 'ann' }, 'the other request still sees the stored record');
        await first.save();
        assert.deepEqual((await tessera.load(id))!.toJSON(), { n: 2 });
      });

      it('does not leak a nested value changed in place (and not saved) into the next request', async () => {
        const { tessera } = setup();
        const { id } = await tessera.create({ data: { cart: ['apple'], profile: { name: 'ann' } } });
        const first = (await tessera.load(id))!;
        first.get<string[]>('cart')!.push('pear');
        first.get<{ name: string }>('profile')!.name = 'bob';
        const next = (await tessera.load(id))!;
        assert.deepEqual(next.get('cart'), ['apple']);
        assert.deepEqual(next.get('profile'), { name: 'ann' });
      });

      it('reads back what JSON holds, in this process as in any other (NaN, Infinity, -0)', async () => {
        const store = new MemoryStore();
        const options = { secrets: [SECRET], store, cleanupInterval: 0, logger: {} };
        const writer = new Tessera(options);
        const { id } = await writer.create({ data: { score: NaN, big: Infinity, neg: -0, n: 1 } });
        const expected = { score: null, big: null, neg: 0, n: 1 };
        assert.deepEqual((await writer.load(id))!.toJSON(), expected, 'the process that wrote it');
        assert.deepEqual((await new Tessera(options).load(id))!.toJSON(), expected, 'another process');
      });

      it('does not keep large records in memory (a store that keeps nothing shows the manager alone)', async () => {
        const { setFlagsFromString } = await import('node:v8');
        const { runInNewContext } = await import('node:vm');
        setFlagsFromString('--expose-gc');
        const gc = runInNewContext('gc') as () => void;
        const nothing = { name: 'nothing', get: async () => null, set: async () => true, delete: async () => {} };
        const tessera = new Tessera({ secrets: [SECRET], store: nothing, cleanupInterval: 0, logger: {} });
        gc();
        const before = process.memoryUsage().heapUsed;
        for (let i = 0; i < 200; i++) await tessera.create({ data: { draft: `${i}`.padEnd(256 * 1024, 'x') } });
        gc();
        const retainedMb = (process.memoryUsage().heapUsed - before) / 1e6;
        assert.ok(retainedMb < 20, `retained ${retainedMb.toFixed(0)} MB after 200 sessions of 256 KB (kept in full, it would be ~100 MB)`);
      });

      it('a record without ip, ua or l (written elsewhere) stays readable by other processes after a write', async () => {
        const store = new MemoryStore();
        const clock = new FakeClock();
        const options = { secrets: [SECRET], store, now: clock.now, cleanupInterval: 0, logger: {} };
        const { id } = await new Tessera(options).create({ data: { n: 1 } });
        const key = storeKey(id, null);
        const current = (await store.get(key, { now: clock.time }))!;
        const bare = JSON.stringify({ d: { n: 1 }, c: clock.time, s: clock.time });
        await store.set(key, { ...current, data: bare, version: current.version + 1 }, current.version, { now: clock.time });
        await new Tessera(options).set(id, 'n', 2);
        const written = (await store.get(key, { now: clock.time }))!.data;
        assert.doesNotThrow(() => JSON.parse(written), written);
        assert.equal(await new Tessera(options).get(id, 'n'), 2, 'another process reads the write');
        const meta = (await new Tessera(options).load(id))!.meta;
        assert.deepEqual([meta.ip, meta.userAgent, meta.lifetime], [null, null, null], 'missing fields read as null, as typed');
      });

      // A memory store's records are objects carrying their session: moving the object itself must not get past the seal either.
      for (const how of ['its text, in a new record', 'the record object itself'] as const) {
        it(`with encryption at rest, a record copied under another session stays unreadable (${how})`, async () => {
          const store = new MemoryStore();
          const clock = new FakeClock();
          const tessera = new Tessera({ secrets: [SECRET], store, now: clock.now, cleanupInterval: 0, logger: {}, encryptData: true });
          const victim = await tessera.create({ data: { card: 'victim-secret' } });
          const attacker = await tessera.create({ data: { card: 'mine' } });
          assert.equal(await tessera.get(victim.id, 'card'), 'victim-secret'); // now decoded once
          const sealed = (await store.get(storeKey(victim.id, null), { now: clock.time }))!;
          const target = storeKey(attacker.id, null);
          const current = (await store.get(target, { now: clock.time }))!;
          const copy = how === 'the record object itself' ? sealed : { data: sealed.data, version: current.version + 1, expiresAt: sealed.expiresAt, userId: null, tenant: null };
          assert.equal(await store.set(target, copy, current.version, { now: clock.time }), true);
          assert.equal(await tessera.get(attacker.id, 'card'), undefined, 'the seal is bound to its store key');
          assert.equal(await tessera.isValid(attacker.id), false);
        });
      }
    });

    describe('configuration', () => {
      it('refuses to start in production without a secret', () => {
        const env = process.env.NODE_ENV;
        process.env.NODE_ENV = 'production';
        try {
          assert.throws(() => createTessera({ store: new MemoryStore() }), SecretError);
        } finally {
          process.env.NODE_ENV = env;
        }
      });

      it('refuses bad durations and shares with ConfigError', () => {
        for (const bad of [{ idleTimeout: -1 }, { idleTimeout: 0 }, { absoluteTimeout: Number.NaN }, { touchAfter: 2 }, { maxWriteAttempts: 0 }]) {
          assert.throws(() => setup(bad as Partial<TesseraOptions>), (e: unknown) => e instanceof ConfigError && e instanceof TesseraError, JSON.stringify(bad));
        }
      });

      it('never puts a raw session ID in events or log lines', async () => {
        const lines: string[] = [];
        const { browser, tessera } = setup({ logger: { debug: (m, f) => lines.push(m + JSON.stringify(f)) } });
        const seen: unknown[] = [];
        for (const e of ['created', 'destroyed', 'regenerated', 'expired']) tessera.on(e, (p) => seen.push(p));
        const { session } = await browser.request((s) => s.set('a', 1));
        const id1 = session.id;
        const { session: s2 } = await browser.request((s) => s.regenerate());
        await browser.request((s) => s.destroy());
        assert.ok(lines.length >= 3 && seen.length >= 3);
        for (const text of [...lines, JSON.stringify(seen)]) {
          assert.ok(!text.includes(id1) && !text.includes(s2.id), text);
        }
      });
    });

    describe('changes while a write is in flight', () => {
      function gated(options: Partial<TesseraOptions> = {}) {
        const clock = new FakeClock();
        const store = new GatedStore(new MemoryStore());
        const tessera = new Tessera({ secrets: [SECRET], store, now: clock.now, cleanupInterval: 0, logger: {}, cookie: { secure: true }, ...options });
        return { clock, store, tessera, browser: new Browser(tessera) };
      }
      const tick = () => new Promise((r) => setImmediate(r));

      it('a failed write keeps its changes, and they survive a conflict on the retry', async () => {
        const { store, tessera } = setup();
        const { id } = await tessera.create({ data: { a: 0 } });
        const session = (await tessera.load(id))!;
        // The next write fails, in whichever form (promise or synchronous) the manager uses.
        const inner = store.inner;
        const failOnce = <F extends (...args: never[]) => unknown>(f: F): F => {
          let failed = false;
          return ((...args: Parameters<F>) => {
            if (failed) return f.apply(inner, args);
            failed = true;
            throw new StoreUnavailableError('down');
          }) as F;
        };
        if (storeForms === 'sync') inner.setSync = failOnce(inner.setSync!.bind(inner));
        else inner.set = failOnce(inner.set.bind(inner));
        session.set('a', 1);
        await assert.rejects(session.save(), StoreUnavailableError);
        await tessera.set(id, 'c', 3); // another request writes meanwhile: the retry will conflict
        session.set('b', 2);
        await session.save();
        assert.deepEqual((await tessera.load(id))!.toJSON(), { a: 1, b: 2, c: 3 });
      });

      it('keeps a change made while the previous commit waits on the store', async () => {
        const { store, browser, tessera } = gated();
        const { session } = await browser.request(async (s) => {
          store.hold();
          s.set('a', 1);
          await tick(); // the commit of a is now waiting on the store
          s.set('b', 2);
          store.release();
          await s.save();
        });
        assert.deepEqual((await tessera.load(session.id))?.toJSON(), { a: 1, b: 2 });
      });

      it('keeps a change made while a touch is being written', async () => {
        const { store, browser, clock, tessera } = gated({ idleTimeout: HOUR, touchAfter: 0.1 });
        const { session } = await browser.request((s) => s.set('cart', ['apple']));
        clock.advance(30 * MINUTE);
        await browser.request(async (s) => {
          store.hold(); // the touch queued at load waits on the store
          await tick();
          s.set('cart', ['apple', 'pear']);
          store.release();
          await s.save();
        });
        assert.deepEqual(await tessera.get(session.id, 'cart'), ['apple', 'pear']);
      });

      it('regenerate while a write is in flight keeps the data under the new ID and retires the old', async () => {
        const { store, browser, tessera } = gated();
        const { session: before } = await browser.request((s) => s.set('cart', ['apple']));
        const { session: after } = await browser.request(async (s) => {
          store.hold();
          s.set('attempt', 1);
          await tick();
          s.regenerate();
          s.userId = 'alice';
          store.release();
          await s.save();
        });
        const reloaded = await tessera.load(after.id);
        assert.deepEqual(reloaded?.toJSON(), { cart: ['apple'], attempt: 1 });
        assert.equal(reloaded?.userId, 'alice');
        assert.equal(await tessera.isValid(before.id), false);
      });
    });

    describe('refused input', () => {
      it('refuses nested values that are not JSON, and the __proto__ key, at set', async () => {
        const { browser } = setup();
        await browser.request((s) => {
          const cycle: Record<string, unknown> = {};
          cycle.self = cycle;
          assert.throws(() => s.set('big', { n: 1n }), SessionStateError);
          assert.throws(() => s.set('cycle', cycle), SessionStateError);
          assert.throws(() => s.set('__proto__', { admin: true }), SessionStateError);
          s.set('fine', { n: 1 });
        });
        assert.deepEqual((await browser.request((s) => s.toJSON())).result, { fine: { n: 1 } });
      });

      it('create() validates lifetime and user like a request does', async () => {
        const { tessera } = setup();
        for (const lifetime of [Number.NaN, Number.POSITIVE_INFINITY, 0, -5]) {
          await assert.rejects(tessera.create({ lifetime }), SessionStateError, String(lifetime));
        }
        await assert.rejects(tessera.create({ userId: '' }), SessionStateError);
      });

      it('refuses a cleanupInterval longer than a Node.js timer can wait', () => {
        assert.throws(() => setup({ cleanupInterval: 30 * DAY }), ConfigError);
      });

      it('survives a commitError listener that throws, and later commits still run', async () => {
        let fail = true;
        const store = new MemoryStore();
        const flaky = {
          name: 'flaky',
          get: (...args: Parameters<MemoryStore['get']>) => store.get(...args),
          set: (...args: Parameters<MemoryStore['set']>) => (fail ? Promise.reject(new Error('blip')) : store.set(...args)),
          delete: (...args: Parameters<MemoryStore['delete']>) => store.delete(...args),
        };
        const tessera = new Tessera({ secrets: [SECRET], store: flaky, cleanupInterval: 0, logger: {} });
        tessera.on('commitError', () => {
          throw new Error('listener bug');
        });
        const browser = new Browser(tessera);
        const warnings: string[] = [];
        const onWarning = (w: Error) => warnings.push(w.message);
        process.on('warning', onWarning);
        try {
          await browser.request(async (s) => {
            s.set('a', 1);
            await new Promise((r) => setImmediate(r));
            await new Promise((r) => setImmediate(r)); // the unobserved failure is reported
            fail = false;
            s.set('b', 2);
            await s.save().catch(() => {});
            await s.save();
          }).catch(() => {});
          await new Promise((r) => setImmediate(r));
          assert.ok(warnings.some((w) => /listener or logger threw/.test(w)));
          assert.deepEqual((await browser.request((s) => s.toJSON())).result, { a: 1, b: 2 });
        } finally {
          process.off('warning', onWarning);
        }
      });
    });

    describe('held commits (what adapters do around a handler)', () => {
      /** A request whose context the test holds, as an adapter does while a handler runs. */
      const heldRequest = async (tessera: Tessera, cookie: string | undefined) => {
        const res = new FakeResponse();
        const ctx = tessera.begin({ cookieHeader: cookie }, res.sink);
        ctx.hold();
        return { ctx, res, session: await ctx.load() };
      };

      it('writes nothing while held, and everything in one write on release', async () => {
        const { store, tessera } = setup();
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

      it('loadSync() after a load() that failed says to await load()', async () => {
        const { store, tessera } = setup();
        const { cookie } = await tessera.create({ data: { a: 1 } });
        store.inner.get = async () => {
          throw new StoreUnavailableError('down');
        };
        if (store.inner.getSync) store.inner.getSync = () => {
          throw new StoreUnavailableError('down');
        };
        const ctx = tessera.begin({ cookieHeader: `${tessera.cookieName}=${cookie}` }, new FakeResponse().sink);
        await assert.rejects(ctx.load(), StoreUnavailableError);
        assert.throws(() => ctx.loadSync(), /await load\(\)/);
      });

      it('settle() and save() end the hold instead of waiting for it', async () => {
        const { store, tessera } = setup();
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
        const { clock, store, tessera, browser } = setup({ idleTimeout: HOUR });
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
    });

    describe('users across tenants', () => {
      it('destroyByUser keeps the excepted session whatever its tenant', async () => {
        const { tessera } = setup();
        const mine = await tessera.create({ userId: 'ann', tenant: 'acme', data: { a: 1 } });
        const other = await tessera.create({ userId: 'ann', tenant: 'globex', data: { a: 1 } });
        assert.equal(await tessera.destroyByUser('ann', { except: mine.id }), 1);
        assert.equal(await tessera.isValid(mine.id, { tenant: 'acme' }), true);
        assert.equal(await tessera.isValid(other.id, { tenant: 'globex' }), false);
      });
    });
  });
}
