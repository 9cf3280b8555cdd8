import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Tessera } from '../../src/manager.js';
import { CookieStore } from '../../src/stores/cookie.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { ConfigError, NotSupportedError, PayloadTooLargeError } from '../../src/errors.js';
import { Browser, CountingStore } from '../helpers/browser.js';
import type { SessionStore } from '../../src/stores/store.js';
import { FakeClock } from '../helpers/clock.js';
import { otherSpellings } from '../helpers/sealing.js';
import { Sealer } from '../../src/crypto/seal.js';
import type { SessionEvent } from '../../src/core/events.js';

const OLD = 'old-secret-for-cookie-store-tests-0123456789';
const NEW = 'new-secret-for-cookie-store-tests-0123456789';
/**
 * A cookie sealed by tessera before the Sealer's format 2 (format 1), with the secret below at the
 * FakeClock's start, tenant `acme`: user `ann`, data `{ card: 'sealed-before' }`.
 */
const FORMAT_1_SECRET = 'test-secret-that-is-long-enough-0123456789';
const FORMAT_1_COOKIE =
  '__Host-tessera=AYm47PosaSbDh8S3QVIJIdRqJljJtKoSWY1ZFtTtYPDgK5MADdcqlnNV96QpTc1ka1mjDMoxEbCuZJu0_AKpSjKbuQI2EDSBKRyHdGb1xsyCw_ET9GblNiPD2jKJ-PHCIsVCa90z9DLcO9tA84pO4oFAwan4n2F5zFHvuJheBWgeUEyW5l9byZdxLC2dXnSxfh8S6jUv12-8sc_0PiYIlfjOrUsPqvsR4bQxZatQh0oOxWP0ttyqAcGIDcki4Dn_6eo4sh1DqPbX_Q';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A manager on a CookieStore; its revocation store a MemoryStore unless given (`false`: turned off). */
function setup(options: { revocation?: SessionStore | false; secrets?: string[]; clock?: FakeClock; rememberMeLifetime?: number } = {}) {
  const clock = options.clock ?? new FakeClock();
  const tessera = new Tessera({
    secrets: options.secrets ?? [OLD],
    store: new CookieStore({ revocation: options.revocation ?? new MemoryStore() }),
    now: clock.now,
    idleTimeout: HOUR,
    rememberMeLifetime: options.rememberMeLifetime,
    cleanupInterval: 0,
    logger: {},
    cookie: { secure: true },
  });
  return { clock, tessera, browser: new Browser(tessera) };
}

describe('CookieStore (AES-256-GCM sealed sessions)', () => {
  it('keeps the whole session in the cookie, encrypted', async () => {
    const { browser } = setup();
    await browser.request((s) => {
      s.set('card', 'plaintext-secret');
      s.userId = 'ann';
    });
    assert.ok(!browser.cookie!.includes('plaintext-secret'));
    assert.ok(!Buffer.from(browser.cookie!.split('=')[1]!, 'base64url').toString('latin1').includes('plaintext'));
    const { result } = await browser.request((s) => [s.get('card'), s.userId, s.isNew]);
    assert.deepEqual(result, ['plaintext-secret', 'ann', false]);
  });

  it('gives a fresh session for a tampered or foreign cookie', async () => {
    const { browser } = setup();
    await browser.request((s) => s.set('a', 1));
    const [name, value] = browser.cookie!.split('=');
    const bytes = Buffer.from(value!, 'base64url');
    bytes[bytes.length - 5]! ^= 0xff;
    browser.cookie = `${name}=${bytes.toString('base64url')}`;
    assert.equal((await browser.request((s) => s.get('a'))).result, undefined);
    const other = setup({ secrets: [NEW] });
    other.browser.cookie = `${name}=${value}`;
    assert.equal((await other.browser.request((s) => s.get('a'))).result, undefined);
  });

  it('opens cookies sealed with a rotated-out secret and re-seals them with the current one', async () => {
    const clock = new FakeClock();
    const before = setup({ clock });
    await before.browser.request((s) => s.set('a', 1));
    const after = setup({ clock, secrets: [NEW, OLD] });
    after.browser.cookie = before.browser.cookie;
    assert.equal((await after.browser.request((s) => s.get('a'))).result, 1);
    await after.browser.request((s) => s.set('b', 2));
    const onlyNew = setup({ clock, secrets: [NEW] });
    onlyNew.browser.cookie = after.browser.cookie;
    assert.deepEqual((await onlyNew.browser.request((s) => s.toJSON())).result, { a: 1, b: 2 });
  });

  it('keeps the expiry inside the seal (server time, fake clock)', async () => {
    const { browser, clock } = setup();
    await browser.request((s) => s.set('a', 1));
    clock.advance(HOUR - 1);
    assert.equal((await browser.request((s) => s.get('a'))).result, 1);
    clock.advance(HOUR);
    assert.equal((await browser.request((s) => s.get('a'))).result, undefined);
  });

  it('refuses a session over 4096 bytes with a typed error, at set, keeping the last good cookie', async () => {
    const { browser } = setup();
    await browser.request((s) => s.set('small', 'ok'));
    const before = browser.cookie;
    await browser.request((s, res) => {
      assert.throws(
        () => s.set('big', 'x'.repeat(5_000)),
        (e: unknown) => e instanceof PayloadTooLargeError && e.code === 'ERR_PAYLOAD_TOO_LARGE' && e.limit === 4096 && /4096-byte cookie limit/.test(e.message),
      );
      assert.equal(s.get('big'), undefined, 'the refused value is not kept');
      assert.deepEqual(res.cookies, []);
    });
    assert.equal(browser.cookie, before);
    assert.equal((await browser.request((s) => s.get('small'))).result, 'ok');
  });

  // The revocation store is read on every request: synchronously when it can (memory, SQLite), else through its promise.
  for (const [forms, revocation] of [
    ['synchronously', () => new MemoryStore()],
    ['with promises', () => new CountingStore(new MemoryStore())],
  ] as const) {
    it(`with a revocation store (answering ${forms}), a copied cookie cannot be replayed after destroy or regenerate`, async () => {
      const { browser, tessera } = setup({ revocation: revocation() });
      await browser.request((s) => s.set('user', 'ann'));
      const stolen = browser.cookie;
      await browser.request((s) => s.destroy());
      assert.equal(browser.cookie, undefined, 'the cookie was cleared');
      const thief = new Browser(tessera);
      thief.cookie = stolen;
      assert.equal((await thief.request((s) => s.get('user'))).result, undefined, 'the destroyed session is revoked');

      await browser.request((s) => s.set('user', 'bob'));
      const beforeSignIn = browser.cookie;
      await browser.request((s) => s.regenerate());
      assert.equal((await browser.request((s) => s.get('user'))).result, 'bob');
      thief.cookie = beforeSignIn;
      assert.equal((await thief.request((s) => s.get('user'))).result, undefined, 'the pre-regenerate cookie is revoked');
    });
  }

  it('with revocation turned off, a copied cookie stays valid until expiry (the documented limit)', async () => {
    const { browser, tessera } = setup({ revocation: false });
    await browser.request((s) => s.set('user', 'ann'));
    const copy = browser.cookie;
    await browser.request((s) => s.destroy());
    const replay = new Browser(tessera);
    replay.cookie = copy;
    assert.equal((await replay.request((s) => s.get('user'))).result, 'ann');
  });

  it('revokes by ID with a revocation store; other by-ID operations are not supported', async () => {
    const { browser, tessera } = setup({ revocation: new MemoryStore() });
    const { session } = await browser.request((s) => s.set('a', 1));
    assert.equal(await tessera.destroy(session.id), true);
    assert.equal((await browser.request((s) => s.get('a'))).result, undefined);
    await assert.rejects(tessera.get(session.id, 'a'), NotSupportedError);
    await assert.rejects(tessera.create(), NotSupportedError);
    await assert.rejects(tessera.listByUser('ann'), NotSupportedError);
    await assert.rejects(setup({ revocation: false }).tessera.destroy(session.id), NotSupportedError);
  });

  it('binds the seal to the tenant: a cookie of one tenant is a fresh session under another, or under none', async () => {
    const { browser, tessera } = setup();
    const invalid: SessionEvent[] = [];
    tessera.on('invalidCookie', (e: SessionEvent) => invalid.push(e));
    await browser.request((s) => s.set('a', 1), { tenant: 'acme' });
    const acme = browser.cookie;
    assert.equal((await browser.request((s) => s.get('a'), { tenant: 'acme' })).result, 1);
    const { result, session } = await browser.request((s) => s.get('a'), { tenant: 'globex' });
    assert.equal(result, undefined);
    assert.equal(session.isNew, true);
    assert.deepEqual(invalid, [{ type: 'invalidCookie', at: invalid[0]!.at, ref: null, userId: null, tenant: 'globex', ip: '10.0.0.1', userAgent: 'test-agent', reason: 'seal' }]);
    browser.cookie = acme;
    assert.equal((await browser.request((s) => s.get('a'))).result, undefined, 'no tenant');
    browser.cookie = acme;
    assert.equal((await browser.request((s) => s.get('a'), { tenant: 'acme' })).result, 1, 'still opens under its own tenant');
  });

  it('opens its sealed cookie only in its canonical spelling', async () => {
    const { browser, tessera } = setup();
    const invalid: SessionEvent[] = [];
    tessera.on('invalidCookie', (e: SessionEvent) => invalid.push(e));
    await browser.request((s) => s.set('a', 1));
    const [name, value] = browser.cookie!.split('=') as [string, string];
    // Read once, so this process remembers what the value holds.
    assert.equal((await browser.request((s) => s.get('a'))).result, 1);
    // Whitespace around a cookie value is not part of it (the header parser trims it).
    const variants = otherSpellings(value).filter((v) => v.trim() === v);
    for (const variant of variants) {
      browser.cookie = `${name}=${variant}`;
      const { result, session } = await browser.request((s) => s.get('a'));
      assert.equal(result, undefined, JSON.stringify(variant));
      assert.equal(session.isNew, true);
    }
    assert.equal(invalid.length, variants.length);
    browser.cookie = `${name}=${value}`;
    assert.equal((await browser.request((s) => s.get('a'))).result, 1, 'the canonical value opens');
  });

  it('opens a cookie sealed before format 2, and seals it again in format 2 on the response that loaded it', async () => {
    const { browser } = setup({ secrets: [FORMAT_1_SECRET] });
    browser.cookie = FORMAT_1_COOKIE;
    const { result, res } = await browser.request((s) => [s.isNew, s.get('card'), s.userId], { tenant: 'acme' });
    assert.deepEqual(result, [false, 'sealed-before', 'ann']);
    assert.equal(res.cookies.length, 1, 'a read too: the old format is replaced while the head can take a cookie');
    assert.notEqual(browser.cookie, FORMAT_1_COOKIE);
    assert.equal(Sealer.formatOf(browser.cookie!.split('=')[1]!), 2);
    const { res: again } = await browser.request((s) => s.get('card'), { tenant: 'acme' });
    assert.deepEqual(again.cookies, [], 'once in format 2, a read sends no cookie');
    await browser.request((s) => s.set('more', 1), { tenant: 'acme' });
    assert.deepEqual((await browser.request((s) => [s.toJSON(), s.userId], { tenant: 'acme' })).result, [{ card: 'sealed-before', more: 1 }, 'ann']);
  });

  it('gives each request its own copy of the sealed data, however often the same cookie comes back', async () => {
    const { browser, tessera } = setup();
    await browser.request((s) => {
      s.set('n', 1);
      s.set('cart', ['apple']);
    });
    const copy = browser.cookie;
    await browser.request((s) => {
      s.get<string[]>('cart')!.push('pear'); // changed in place and never set: not saved
    });
    await browser.request((s) => s.set('n', 2));
    const other = new Browser(tessera);
    other.cookie = copy;
    assert.deepEqual((await other.request((s) => s.toJSON())).result, { n: 1, cart: ['apple'] });
    assert.deepEqual((await browser.request((s) => s.toJSON())).result, { n: 2, cart: ['apple'] });

    // Only primitives: the opened payload itself is remembered, and must be copied for each request.
    const plain = new Browser(tessera);
    await plain.request((s) => s.set('n', 1));
    const before = plain.cookie;
    await plain.request((s) => s.set('n', 2));
    await plain.request((s) => s.set('n', 3));
    const replay = new Browser(tessera);
    replay.cookie = before;
    assert.equal((await replay.request((s) => s.get('n'))).result, 1);
    assert.equal((await plain.request((s) => s.get('n'))).result, 3);
  });

  it('refuses an impossible maxBytes', () => {
    assert.throws(() => new CookieStore({ maxBytes: 10_000 }), ConfigError);
  });
});

describe('CookieStore edge cases', () => {
  it('a session created and destroyed in one request leaves a clearing cookie, not the session', async () => {
    const { browser } = setup();
    const { res } = await browser.request((s) => {
      s.set('user', 'alice');
      s.destroy();
    });
    assert.equal(res.cookies.length, 1);
    assert.match(res.cookies[0]!, /=; Max-Age=0;/);
    assert.equal((await browser.request((s) => s.get('user'))).result, undefined);
  });

  it('keeps a destroyed session revoked as long as any copy of its cookie could live', async () => {
    const clock = new FakeClock();
    const { tessera } = setup({ clock, revocation: new MemoryStore(), rememberMeLifetime: 30 * 24 * HOUR });
    const victim = new Browser(tessera);
    await victim.request((s) => s.set('user', 'alice'));
    const attacker = new Browser(tessera);
    attacker.cookie = victim.cookie;
    clock.advance(5 * MINUTE);
    await attacker.request((s) => s.set('x', 1)); // the copy is now newer than the victim's
    clock.advance(MINUTE / 2); // within the touch window: the victim's cookie still says T0
    await victim.request((s) => s.destroy());
    for (const later of [55 * MINUTE, 2 * MINUTE, 24 * HOUR]) {
      clock.advance(later);
      assert.equal((await attacker.request((s) => s.get('user'))).result, undefined, `still revoked ${later} ms later`);
    }
  });

  it('reading the session after the head went out works even when a touch is due', async () => {
    const { browser, clock } = setup();
    await browser.request((s) => s.set('user', 'alice'));
    clock.advance(HOUR / 2);
    const { result } = await browser.request((s, res) => {
      res.headersSent = true;
      return s.get('user');
    });
    assert.equal(result, 'alice');
  });

  it('undoes a userId, lifetime or clear that would not fit', async () => {
    const { browser } = setup();
    await browser.request((s) => s.set('note', 'n'.repeat(2_000)));
    await browser.request((s) => {
      assert.throws(() => (s.userId = 'u'.repeat(3_000)), PayloadTooLargeError);
      assert.equal(s.userId, null);
      s.set('small', 1);
    });
    assert.deepEqual((await browser.request((s) => Object.keys(s.toJSON()))).result, ['note', 'small']);
  });
});

describe('CookieStore revocation is on by default (the replay of CVE-2024-31999)', () => {
  /** Run `fn` with the working directory in a fresh folder, where the default revocation store puts ./data/sessions.db. */
  async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-cookie-revocation-'));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      await fn(dir);
    } finally {
      process.chdir(cwd);
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('without a revocation option, a copy taken before destroy() or regenerate() gives a fresh session', async () => {
    await inTempDir(async (dir) => {
      const warnings: string[] = [];
      const store = new CookieStore();
      const tessera = new Tessera({ secrets: [OLD], store, now: new FakeClock().now, cleanupInterval: 0, logger: { warn: (_fields, m) => warnings.push(m) }, cookie: { secure: true } });
      try {
        assert.equal(tessera.loadsSynchronously, true, 'the default store (SQLite) answers synchronously');
        const browser = new Browser(tessera);
        await browser.request((s) => s.set('user', 'ann'));
        const beforeDestroy = browser.cookie;
        await browser.request((s) => s.destroy());
        const thief = new Browser(tessera);
        thief.cookie = beforeDestroy;
        const replay = await thief.request((s) => [s.get('user'), s.isNew]);
        assert.deepEqual(replay.result, [undefined, true], 'the destroyed session is revoked');
        assert.ok(replay.res.cookies.every((l) => !l.includes('Max-Age=') || /Max-Age=0;/.test(l)), 'and is not sealed again');

        await browser.request((s) => s.set('user', 'bob'));
        const beforeRegenerate = browser.cookie;
        await browser.request((s) => s.regenerate());
        assert.equal((await browser.request((s) => s.get('user'))).result, 'bob', 'the regenerated session goes on');
        thief.cookie = beforeRegenerate;
        assert.deepEqual((await thief.request((s) => [s.get('user'), s.isNew])).result, [undefined, true], 'the pre-regenerate copy is revoked');
        assert.deepEqual(warnings, [], 'no warning: revocation is on');
      } finally {
        await tessera.close();
      }
      const db = new Database(join(dir, 'data', 'sessions.db'), { readonly: true });
      try {
        const { n } = db.prepare('SELECT count(*) AS n FROM tessera_revoked_sessions').get() as { n: number };
        assert.equal(n, 2, 'the destroyed and the regenerated session, in ./data/sessions.db');
      } finally {
        db.close();
      }
    });
  });

  it('revocation: false turns it off, and warns once at start-up', () => {
    const warnings: string[] = [];
    const logger = { warn: (_fields: object, m: string) => warnings.push(m) };
    const store = new CookieStore({ revocation: false });
    assert.equal(store.revocation, null);
    const make = (s: CookieStore) => new Tessera({ secrets: [OLD], store: s, cleanupInterval: 0, logger, cookie: { secure: true } });
    make(store);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /revocation: false/);
    assert.match(warnings[0]!, /CVE-2024-31999/);
    make(store);
    assert.equal(warnings.length, 1, 'once for the store, however many managers share it');
    make(new CookieStore({ revocation: false }));
    assert.equal(warnings.length, 2, 'another store warns for itself');
    make(new CookieStore({ revocation: new MemoryStore() }));
    assert.equal(warnings.length, 2, 'a revocation store given: no warning');
  });

  it('refuses a revocation that is not a store', () => {
    assert.throws(() => new CookieStore({ revocation: 'yes' as never }), ConfigError);
    assert.throws(() => new CookieStore({ revocation: true as never }), ConfigError);
  });
});
