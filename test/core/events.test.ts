/**
 * Audit events: each type with its time, user, tenant, IP, user agent and hashed reference — to
 * `audit` listeners and to a real pino logger at its level — and never a raw session ID anywhere.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { storeKey } from '../../src/crypto/ids.js';
import type { AuditEvent } from '../../src/core/events.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { Tessera } from '../../src/manager.js';
import type { TesseraOptions } from '../../src/options.js';
import { CookieStore } from '../../src/stores/cookie.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { StoreContext, StoreRecord } from '../../src/stores/store.js';
import { Browser, FakeResponse } from '../helpers/browser.js';
import { FakeClock } from '../helpers/clock.js';

const SECRET = 'audit-events-test-secret-0123456789abcdef';
const MINUTE = 60_000;

/** A pino logger writing its JSON lines here, at `level`. */
function pinoLines(level = 'debug') {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const logger = pino({ level }, { write: (line: string) => void (raw.push(line), lines.push(JSON.parse(line) as Record<string, unknown>)) });
  return { logger, lines, raw };
}

function setup(options: Partial<TesseraOptions> = {}, store: MemoryStore | CookieStore = new MemoryStore()) {
  const clock = new FakeClock();
  const log = pinoLines();
  const tessera = new Tessera({ secrets: [SECRET], store, now: clock.now, cleanupInterval: 0, cookie: { secure: true }, logger: log.logger, ...options });
  const events: AuditEvent[] = [];
  tessera.on('audit', (e: AuditEvent) => events.push(e));
  return { tessera, clock, log, events, browser: new Browser(tessera), ids: [] as string[] };
}

const ref = (id: string, tenant: string | null = null) => storeKey(id, tenant).slice(0, 12);
const only = (events: AuditEvent[], type: AuditEvent['type']) => events.filter((e) => e.type === type);

describe('audit events', () => {
  it('created, signedIn (with regenerated), signedOut, destroyed: who, when, from where, which session', async () => {
    const { tessera, clock, log, events, browser } = setup();
    const { session } = await browser.request((s) => s.set('cart', 1), { ip: '192.0.2.7', userAgent: 'Firefox/140', tenant: 'acme' });
    const first = session.id;
    assert.deepEqual(events, [{ type: 'created', at: clock.now(), ref: ref(first, 'acme'), userId: null, tenant: 'acme', ip: '192.0.2.7', userAgent: 'Firefox/140' }]);

    clock.advance(MINUTE);
    events.length = 0;
    const signedIn = await browser.request((s) => s.signIn({ sub: 'ann' }), { ip: '192.0.2.8', userAgent: 'Firefox/141', tenant: 'acme' });
    const second = signedIn.session.id;
    const from = { at: clock.now(), tenant: 'acme', ip: '192.0.2.8', userAgent: 'Firefox/141' };
    assert.deepEqual(
      events.map((e) => [e.type, e.ref, e.userId]),
      [
        ['regenerated', ref(first, 'acme'), null],
        ['created', ref(second, 'acme'), 'ann'],
        ['signedIn', ref(second, 'acme'), 'ann'],
      ],
      'the old ID is retired, the new one stored (while the auth token is signed), and the user signed in under it',
    );
    assert.deepEqual(only(events, 'signedIn')[0], { type: 'signedIn', ref: ref(second, 'acme'), userId: 'ann', ...from });

    clock.advance(MINUTE);
    events.length = 0;
    const signedOut = await browser.request((s) => s.signOut(), { ip: '192.0.2.9', userAgent: 'Firefox/141', tenant: 'acme' });
    assert.deepEqual(only(events, 'signedOut'), [
      { type: 'signedOut', at: clock.now(), ref: ref(second, 'acme'), userId: 'ann', tenant: 'acme', ip: '192.0.2.9', userAgent: 'Firefox/141' },
    ]);

    events.length = 0;
    await browser.request((s) => s.set('x', 1), { tenant: 'acme' });
    await browser.request((s) => s.destroy(), { ip: '198.51.100.1', userAgent: 'curl/8', tenant: 'acme' });
    const [destroyed] = only(events, 'destroyed');
    assert.deepEqual(destroyed, { type: 'destroyed', at: clock.now(), ref: ref(signedOut.session.id, 'acme'), userId: null, tenant: 'acme', ip: '198.51.100.1', userAgent: 'curl/8' });

    // pino got each at its level: created and regenerated debug (20), signed in/out and destroyed info (30).
    const levels = new Map(log.lines.map((l) => [l.msg, l.level]));
    assert.deepEqual(
      ['created', 'regenerated', 'signedIn', 'signedOut', 'destroyed'].map((t) => levels.get(`tessera: ${t}`)),
      [20, 20, 30, 30, 30],
    );
    const line = log.lines.find((l) => l.msg === 'tessera: signedIn')!;
    assert.equal(line.userId, 'ann');
    assert.equal(line.ip, '192.0.2.8');
    assert.equal(line.ref, ref(second, 'acme'));
    for (const id of [first, second, signedOut.session.id]) {
      assert.ok(!JSON.stringify(events).includes(id) && !log.raw.join('').includes(id), 'no raw session ID in events or log lines');
    }
  });

  // A server store hides a record past its expiry (the request finds nothing to call expired);
  // a sealed cookie, or a record kept longer than this manager's policy, is met expired.
  it('expired: the session that expired and its user, from the request that met it', async () => {
    const { clock, events, browser, log } = setup({ idleTimeout: 30 * MINUTE }, new CookieStore({ revocation: new MemoryStore() }));
    const { session } = await browser.request(async (s) => {
      await s.signIn({ sub: 'bob' });
    });
    clock.advance(31 * MINUTE);
    events.length = 0;
    await browser.request((s) => s.get('a'), { ip: '203.0.113.4', userAgent: 'Safari/18' });
    assert.deepEqual(events, [{ type: 'expired', at: clock.now(), ref: ref(session.id), userId: 'bob', tenant: null, ip: '203.0.113.4', userAgent: 'Safari/18' }]);
    assert.ok(!log.raw.join('').includes(session.id));
  });

  it('a tampered cookie: invalidCookie (signature) with no session reference, at warn', async () => {
    const { events, browser, log, tessera } = setup();
    await browser.request((s) => s.set('a', 1));
    const [name, value] = browser.cookie!.split('=') as [string, string];
    browser.cookie = `${name}=${value.slice(0, -2)}xx`;
    events.length = 0;
    await browser.request((s) => s.get('a'), { ip: '203.0.113.9', userAgent: 'evil/1' });
    assert.deepEqual(events, [{ type: 'invalidCookie', at: tessera.options.now(), ref: null, userId: null, tenant: null, ip: '203.0.113.9', userAgent: 'evil/1', reason: 'signature' }]);
    assert.equal(log.lines.find((l) => l.msg === 'tessera: invalidCookie')?.level, 40);
  });

  it('a CSRF rejection: csrfRejected with the reason and the session the cookie names, at warn', async () => {
    const { tessera, events, browser, log } = setup();
    const { session } = await browser.request((s) => s.set('a', 1));
    events.length = 0;
    const ctx = tessera.begin({ cookieHeader: browser.cookieHeader, ip: '192.0.2.50', userAgent: 'Chrome/140' }, new FakeResponse().sink);
    const crossSite = await tessera.checkCsrf(ctx, { method: 'POST', path: '/transfer', host: 'bank.example', origin: 'https://evil.example', secFetchSite: 'cross-site', token: undefined });
    assert.ok(crossSite);
    const missing = await tessera.checkCsrf(ctx, { method: 'POST', path: '/transfer', host: 'bank.example', origin: 'https://bank.example', secFetchSite: 'same-origin', token: undefined });
    assert.equal(missing?.reason, 'missing-token');
    const at = tessera.options.now();
    const from = { at, ref: ref(session.id), userId: null, tenant: null, ip: '192.0.2.50', userAgent: 'Chrome/140' };
    assert.deepEqual(events, [
      { type: 'csrfRejected', ...from, reason: crossSite.reason },
      { type: 'csrfRejected', ...from, reason: 'missing-token' },
    ]);
    assert.deepEqual(
      log.lines.filter((l) => l.msg === 'tessera: csrfRejected').map((l) => [l.level, l.reason]),
      [
        [40, crossSite.reason],
        [40, 'missing-token'],
      ],
    );
  });

  it('a binding mismatch: the session, its user, and the address it came from', async () => {
    const { events, browser, clock } = setup({ bindIp: 'strict' });
    const { session } = await browser.request((s) => s.signIn({ sub: 'cy' }), { ip: '192.0.2.1' });
    events.length = 0;
    await browser.request((s) => s.get('a'), { ip: '203.0.113.5', userAgent: 'thief/1' });
    const from = { at: clock.now(), ref: ref(session.id), userId: 'cy', tenant: null, ip: '203.0.113.5', userAgent: 'thief/1' };
    assert.deepEqual(events, [
      { type: 'bindingMismatch', ...from, reason: 'ip', mode: 'strict' },
      { type: 'destroyed', ...from, reason: 'binding' },
    ]);
  });

  it('a store failure: storeError while loading and while committing, with the error code', async () => {
    class FailingStore extends MemoryStore {
      failGet = false;
      failSet = false;
      override getSync(key: string, ctx: StoreContext): StoreRecord | null {
        if (this.failGet) throw new StoreUnavailableError('failing', new Error('down'));
        return super.getSync(key, ctx);
      }
      override setSync(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): boolean {
        if (this.failSet) throw new Error('disk full');
        return super.setSync(key, record, expectedVersion, ctx);
      }
    }
    const store = new FailingStore();
    const { events, browser, clock, log } = setup({}, store);
    const { session } = await browser.request((s) => s.signIn({ sub: 'dee' }), { ip: '192.0.2.1' });
    events.length = 0;
    store.failGet = true;
    await assert.rejects(browser.request((s) => s.get('a'), { ip: '192.0.2.2', userAgent: 'ua' }), { code: 'ERR_STORE_UNAVAILABLE' });
    store.failGet = false;
    store.failSet = true;
    await assert.rejects(browser.request((s) => s.set('a', 1), { ip: '192.0.2.3', userAgent: 'ua' }), /disk full/);
    const from = { at: clock.now(), ref: ref(session.id), tenant: null, userAgent: 'ua' };
    assert.deepEqual(events, [
      // Loading, the session is known by its cookie only: its user is not.
      { type: 'storeError', ...from, userId: null, ip: '192.0.2.2', reason: 'load', error: 'ERR_STORE_UNAVAILABLE' },
      { type: 'storeError', ...from, userId: 'dee', ip: '192.0.2.3', reason: 'commit', error: 'Error' },
    ]);
    assert.deepEqual(
      log.lines.filter((l) => l.msg === 'tessera: storeError').map((l) => l.level),
      [40, 40],
    );
  });

  it('revoked: an operator ended the session (tessera.admin.revoke), after its destroyed event, with whose it was', async () => {
    const { tessera, events, browser, clock, log } = setup();
    const { session } = await browser.request((s) => s.signIn({ sub: 'eve' }), { tenant: 'acme' });
    events.length = 0;
    assert.equal(await tessera.admin.revoke(session.handle), true);
    const revoked = only(events, 'revoked');
    assert.deepEqual(revoked, [{ type: 'revoked', at: clock.now(), ref: ref(session.id, 'acme'), userId: 'eve', tenant: 'acme', ip: null, userAgent: null, reason: 'operator' }]);
    assert.equal(log.lines.find((l) => l.msg === 'tessera: revoked')?.level, 30);

    assert.deepEqual(events.map((e) => e.type), ['destroyed', 'revoked']);
  });

  it('a logger level that is off gets no line; the default logger gets no audit lines', async () => {
    const quiet = pinoLines('warn');
    const { browser } = setup({ logger: quiet.logger });
    await browser.request((s) => s.signIn({ sub: 'ann' }));
    browser.cookie = `${browser.cookie!.split('=')[0]}=forged.value`;
    await browser.request((s) => s.get('a'));
    assert.deepEqual(
      quiet.lines.map((l) => l.msg),
      ['tessera: invalidCookie'],
      'info and debug events are not logged at level warn; the forged cookie is',
    );

    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const tessera = new Tessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, cookie: { secure: true } });
      const anon = new Browser(tessera);
      anon.cookie = `${tessera.cookieName}=forged.value`;
      await anon.request((s) => s.signIn({ sub: 'ann' }));
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(
      warnings.filter((w) => w.includes('tessera: ')),
      [],
      'no process warning for audit events without a logger',
    );
  });
});
