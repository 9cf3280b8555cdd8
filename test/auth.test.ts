import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { ConfigError, NotSupportedError, SessionStateError } from '../src/errors.js';
import { Tessera } from '../src/manager.js';
import type { TesseraOptions } from '../src/options.js';
import type { Session } from '../src/session.js';
import { CookieStore } from '../src/stores/cookie.js';
import { MemoryStore } from '../src/stores/memory.js';
import type { SessionStore } from '../src/stores/store.js';
import { FakeResponse } from './helpers/browser.js';
import { FakeClock } from './helpers/clock.js';

const OLD = 'auth-test-old-secret-0123456789abcdef';
const NEW = 'auth-test-new-secret-0123456789abcdef';
const HOUR = 3_600_000;

type Options = Partial<TesseraOptions> & { store?: SessionStore | CookieStore };

function make(options: Options = {}, clock = new FakeClock()) {
  const events: { reason?: string }[] = [];
  const tessera = new Tessera({ secrets: [NEW], store: new MemoryStore(), cleanupInterval: 0, logger: {}, csrf: false, cookie: { secure: true }, now: clock.now, ...options });
  tessera.on('invalidAuth', (e) => events.push(e));
  return { tessera, clock, events };
}

/** A browser: every cookie tessera sets, sent back as a browser would. */
class Jar {
  readonly cookies = new Map<string, string>();
  constructor(readonly tessera: Tessera) {}
  get header(): string | undefined {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') || undefined;
  }
  async request<T>(fn: (session: Session, res: FakeResponse) => T | Promise<T>, tenant?: string): Promise<{ result: T; res: FakeResponse }> {
    const res = new FakeResponse(this.tessera.cookieName);
    const ctx = this.tessera.begin({ cookieHeader: this.header, ip: '10.0.0.1', userAgent: 'ua', tenant }, res.sink);
    const session = await ctx.load();
    const result = await fn(session, res);
    await ctx.settle();
    for (const line of res.cookies) {
      const pair = line.split(';', 1)[0]!;
      const name = pair.slice(0, pair.indexOf('='));
      if (/Max-Age=0/.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(name.length + 1));
    }
    return { result, res };
  }
  clone(): Jar {
    const copy = new Jar(this.tessera);
    for (const [k, v] of this.cookies) copy.cookies.set(k, v);
    return copy;
  }
  get auth(): string {
    return this.cookies.get(this.tessera.auth!.cookie.name)!;
  }
}

const user = (jar: Jar, tenant?: string) => jar.request((s) => s.user(), tenant).then((r) => r.result);

describe('auth cookie: sign-in, user, sign-out', () => {
  it('HS256 round trip: signIn gives an HttpOnly Secure cookie; the next request has the verified claims', async () => {
    const { tessera } = make();
    const jar = new Jar(tessera);
    const { result: line } = await jar.request((s) => s.signIn({ sub: 'u1', role: 'admin' }));
    assert.match(line, /^__Host-tessera-auth=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=\d+; Expires=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    const token = jar.auth;
    assert.equal(decodeProtectedHeader(token).alg, 'HS256');
    const payload = decodeJwt(token);
    assert.equal(typeof payload.sid, 'string');
    assert.ok(!JSON.stringify(payload).includes(jar.cookies.get(tessera.cookieName)!.split('.')[0]!), 'the token does not hold the session ID');
    const claims = await user(jar);
    assert.equal(claims?.sub, 'u1');
    assert.equal(claims?.role, 'admin');
    const session = (await jar.request((s) => s)).result;
    assert.equal(session.userId, 'u1');
  });

  it('signIn rotates the session ID by itself: the cookie from before no longer loads the session', async () => {
    const { tessera } = make();
    const jar = new Jar(tessera);
    await jar.request((s) => s.set('cart', 3));
    const before = jar.clone();
    await jar.request((s) => s.signIn({ sub: 'u1' }));
    assert.notEqual(jar.cookies.get(tessera.cookieName), before.cookies.get(tessera.cookieName));
    assert.deepEqual((await before.request((s) => s.toJSON())).result, {}, 'the planted (old) ID is dead');
    assert.deepEqual((await jar.request((s) => s.toJSON())).result, { cart: 3 }, 'data kept');
  });

  const textStore = (): SessionStore => {
    const inner = new MemoryStore();
    // No RETAINS_RECORDS: records go through their text, as in SQLite, Redis or PostgreSQL.
    return { name: 'text', get: (k, c) => inner.get(k, c), set: (k, r, v, c) => inner.set(k, r, v, c), delete: (k, c) => inner.delete(k, c) };
  };
  for (const [title, store] of [['memory', () => new MemoryStore()], ['a store keeping text', textStore], ['CookieStore', () => new CookieStore({ revocation: new MemoryStore() })]] as const) {
  it(`records when the user authenticated, in the stored session (${title}): authenticatedAt and signedInWithin`, async () => {
    const { tessera, clock } = make({ store: store() });
    const jar = new Jar(tessera);
    const signedAt = clock.time;
    await jar.request((s) => s.signIn({ sub: 'u1' }));
    clock.advance(5 * 60_000);
    const { result } = await jar.request((s) => [s.authenticatedAt, s.meta.authenticatedAt, s.signedInWithin(10 * 60_000), s.signedInWithin(60_000)]);
    assert.deepEqual(result, [signedAt, signedAt, true, false]);
    assert.equal((await new Jar(tessera).request((s) => s.signedInWithin(HOUR))).result, false, 'never signed in');
  });
  }

  it('signOut clears the cookie and starts the session over; a copy of the auth cookie no longer verifies', async () => {
    const { tessera, events } = make();
    const jar = new Jar(tessera);
    await jar.request((s) => s.signIn({ sub: 'u1' }));
    const copy = jar.clone();
    const { result: line } = await jar.request((s) => {
      const cleared = s.signOut();
      s.set('flash', 'bye');
      return cleared;
    });
    assert.match(line, /^__Host-tessera-auth=; Max-Age=0; /);
    assert.equal(jar.cookies.has('__Host-tessera-auth'), false);
    assert.equal(await user(jar), null);
    assert.equal(await user(copy), null, 'the old session was deleted: its token is unbound');
    assert.ok(events.length >= 1);
  });

  it('destroying the session revokes its auth cookie', async () => {
    const { tessera } = make();
    const jar = new Jar(tessera);
    await jar.request((s) => s.signIn({ sub: 'u1' }));
    const copy = jar.clone();
    const { res } = await jar.request((s) => s.destroy());
    assert.ok(res.cookies.some((l) => /^__Host-tessera-auth=; Max-Age=0/.test(l)), 'the auth cookie is cleared too');
    assert.equal(await user(copy), null);
  });

  it('a token moved to another session, or another tenant, is refused', async () => {
    const { tessera, events } = make();
    const a = new Jar(tessera);
    const b = new Jar(tessera);
    await a.request((s) => s.signIn({ sub: 'u1' }));
    await b.request((s) => s.signIn({ sub: 'u1' }));
    b.cookies.set(tessera.auth!.cookie.name, a.auth);
    assert.equal(await user(b), null, "a's token on b's session (same user)");
    assert.equal(events.at(-1)?.reason, 'session');
    const t = new Jar(tessera);
    await t.request((s) => s.signIn({ sub: 'u1' }), 'acme');
    assert.equal((await user(t, 'acme'))?.sub, 'u1');
    assert.equal(await user(t, 'globex'), null, 'another tenant');
    const id = tessera.verifyCookie(t.cookies.get(tessera.cookieName)!)!;
    assert.ok(id);
    assert.equal(decodeJwt(t.auth).tid, 'acme');
  });

  it('an auth cookie without its session, or with a forged signature, is null and never throws', async () => {
    const { tessera, events } = make();
    const jar = new Jar(tessera);
    await jar.request((s) => s.signIn({ sub: 'u1' }));
    const alone = new Jar(tessera);
    alone.cookies.set(tessera.auth!.cookie.name, jar.auth);
    assert.equal(await user(alone), null);
    const [h, p, sig] = jar.auth.split('.');
    jar.cookies.set(tessera.auth!.cookie.name, `${h}.${p}.${sig!.slice(0, -2)}AA`);
    assert.equal(await user(jar), null);
    jar.cookies.set(tessera.auth!.cookie.name, 'not-a-jwt');
    assert.equal(await user(jar), null);
    assert.deepEqual(events.map((e) => e.reason), ['session', 'signature', 'malformed']);
  });

  it('a token spelled otherwise (the unused low bits of a segment\'s last character set) is refused: one token, one spelling', async () => {
    const { tessera, events } = make();
    const jar = new Jar(tessera);
    await jar.request((s) => s.signIn({ sub: 'u1' }));
    const token = jar.auth;
    // A 32-byte HS256 signature is 43 characters: the last one carries 2 unused bits.
    const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(token.at(-1)!);
    const respelled = token.slice(0, -1) + 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[last ^ 1];
    assert.deepEqual(Buffer.from(respelled.split('.')[2]!, 'base64url'), Buffer.from(token.split('.')[2]!, 'base64url'), 'the same signature bytes');
    jar.cookies.set(tessera.auth!.cookie.name, respelled);
    assert.equal(await user(jar), null);
    jar.cookies.set(tessera.auth!.cookie.name, token);
    assert.equal((await user(jar))?.sub, 'u1');
    assert.deepEqual(events.map((e) => e.reason), ['malformed']);
  });

  it('refuses claims it cannot sign, and signIn with auth: false', async () => {
    const { tessera } = make();
    for (const bad of [{ sub: '' }, { sub: 'u', exp: 1 }, { sub: 'u', sid: 'x' }, {}] as never[]) {
      await assert.rejects(new Jar(tessera).request((s) => s.signIn(bad)), SessionStateError, JSON.stringify(bad));
    }
    const off = make({ auth: false }).tessera;
    await assert.rejects(new Jar(off).request((s) => s.signIn({ sub: 'u' })), NotSupportedError);
    assert.equal(await user(new Jar(off)), null);
  });
});

describe('auth cookie: tokens', () => {
  it('exp: a token expires with its lifetime (fake clock)', async () => {
    const { tessera, clock, events } = make({ auth: { lifetime: HOUR }, idleTimeout: 10 * HOUR });
    const jar = new Jar(tessera);
    await jar.request((s) => s.signIn({ sub: 'u1' }));
    clock.advance(HOUR - 1000);
    assert.equal((await user(jar))?.sub, 'u1');
    clock.advance(2000);
    assert.equal(await user(jar), null);
    assert.equal(events.at(-1)?.reason, 'expired');
  });

  it('by default a token lives as long as its session can: exp at the absolute limit', async () => {
    const { tessera, clock } = make({ absoluteTimeout: 2 * HOUR });
    const jar = new Jar(tessera);
    await jar.request((s) => s.signIn({ sub: 'u1' }));
    const payload = decodeJwt(jar.auth);
    assert.equal(payload.exp, Math.floor((clock.time + 2 * HOUR) / 1000));
  });

  it('nbf, iss and aud are checked', async () => {
    const clock = new FakeClock();
    const { tessera, events } = make({ auth: { issuer: 'https://app.example', audience: 'app' } }, clock);
    const jar = new Jar(tessera);
    await jar.request((s) => s.signIn({ sub: 'u1' }));
    const payload = decodeJwt(jar.auth);
    assert.equal(payload.iss, 'https://app.example');
    assert.equal(payload.aud, 'app');
    assert.equal((await user(jar))?.sub, 'u1');
    // The same secrets, another issuer / audience: refused.
    for (const auth of [{ issuer: 'https://other.example', audience: 'app' }, { issuer: 'https://app.example', audience: 'other' }]) {
      const other = make({ auth, store: (tessera.store as MemoryStore) }, clock);
      const moved = new Jar(other.tessera);
      for (const [k, v] of jar.cookies) moved.cookies.set(k, v);
      assert.equal(await user(moved), null, JSON.stringify(auth));
      assert.equal(other.events.at(-1)?.reason, 'claims');
    }
    // A token not valid yet (issued in the future): refused.
    clock.advance(-60_000);
    assert.equal(await user(jar), null);
    assert.ok(events.some((e) => e.reason === 'claims'));
  });

  it('rotation by kid: a token of the old secret verifies after rotation; once the secret is dropped, it does not', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const old = make({ secrets: [OLD], store }, clock).tessera;
    const jar = new Jar(old);
    await jar.request((s) => s.signIn({ sub: 'u1' }));
    const oldKid = decodeProtectedHeader(jar.auth).kid;
    const rotated = make({ secrets: [NEW, OLD], store }, clock).tessera;
    const r = new Jar(rotated);
    for (const [k, v] of jar.cookies) r.cookies.set(k, v);
    assert.equal((await user(r))?.sub, 'u1', 'the old key verifies');
    await r.request((s) => s.signIn({ sub: 'u1' }));
    assert.notEqual(decodeProtectedHeader(r.auth).kid, oldKid, 'the new key signs');
    const dropped = make({ secrets: [NEW], store }, clock);
    const d = new Jar(dropped.tessera);
    for (const [k, v] of jar.cookies) d.cookies.set(k, v);
    d.cookies.set(tessera_session_name(dropped.tessera), jar.cookies.get(old.cookieName)!);
    assert.equal(await user(d), null);
  });

  it('the algorithm allow-list: alg none, and HS512 where only HS256 is allowed, are refused', async () => {
    const { tessera, events } = make();
    const jar = new Jar(tessera);
    await jar.request((s) => s.signIn({ sub: 'u1' }));
    const header = decodeProtectedHeader(jar.auth);
    const payload = decodeJwt(jar.auth);
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    jar.cookies.set(tessera.auth!.cookie.name, `${b64({ alg: 'none', kid: header.kid })}.${b64(payload)}.`);
    assert.equal(await user(jar), null);
    assert.equal(events.at(-1)?.reason, 'algorithm');
    const hs512 = await new SignJWT(payload).setProtectedHeader({ alg: 'HS512', kid: header.kid! }).sign(new Uint8Array(64));
    jar.cookies.set(tessera.auth!.cookie.name, hs512);
    assert.equal(await user(jar), null);
    assert.equal(events.at(-1)?.reason, 'algorithm');
  });

  it('asymmetric keys: ES256 and EdDSA sign and verify; a verify-only old key still verifies', async () => {
    const es = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ed = generateKeyPairSync('ed25519');
    const clock = new FakeClock();
    const store = new MemoryStore();
    const first = make({ store, auth: { keys: [{ kid: 'es-1', alg: 'ES256', privateKey: es.privateKey, publicKey: es.publicKey }] } }, clock).tessera;
    const jar = new Jar(first);
    await jar.request((s) => s.signIn({ sub: 'u1' }));
    assert.deepEqual([decodeProtectedHeader(jar.auth).alg, decodeProtectedHeader(jar.auth).kid], ['ES256', 'es-1']);
    assert.equal((await user(jar))?.sub, 'u1');
    const next = make({ store, auth: { keys: [{ kid: 'ed-1', alg: 'EdDSA', privateKey: ed.privateKey, publicKey: ed.publicKey }, { kid: 'es-1', alg: 'ES256', publicKey: es.publicKey }] } }, clock).tessera;
    const moved = new Jar(next);
    for (const [k, v] of jar.cookies) moved.cookies.set(k, v);
    assert.equal((await user(moved))?.sub, 'u1', 'the verify-only key still verifies');
    await moved.request((s) => s.signIn({ sub: 'u1' }));
    assert.equal(decodeProtectedHeader(moved.auth).alg, 'EdDSA');
    assert.equal((await user(moved))?.sub, 'u1');
  });

  it('refuses bad configurations at start-up', () => {
    const es = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (const auth of [
      { algorithms: ['none'] },
      { algorithms: ['HS512'] },
      { algorithms: [] },
      { keys: [] },
      { keys: [{ kid: 'k', alg: 'none', publicKey: es.publicKey }] },
      { keys: [{ kid: 'k', alg: 'ES256', publicKey: es.publicKey }] },
      { keys: [{ kid: 'k', alg: 'HS256', publicKey: new Uint8Array(8) }] },
      { keys: [{ kid: 'k', alg: 'ES256', privateKey: es.privateKey, publicKey: es.publicKey }], algorithms: ['HS256'] },
      { lifetime: 0 },
      { lifetime: 500 * 86_400_000 },
      { clockTolerance: -1 },
      { issuer: '' },
    ]) {
      assert.throws(() => make({ auth: auth as never }), ConfigError, JSON.stringify(auth));
    }
  });
});

function tessera_session_name(t: Tessera): string {
  return t.cookieName;
}

describe('auth cookie: sign out everywhere', () => {
  it('server store: ends the sessions, refuses tokens issued before, accepts one issued after', async () => {
    const { tessera, clock, events } = make();
    const phone = new Jar(tessera);
    const laptop = new Jar(tessera);
    await phone.request((s) => s.signIn({ sub: 'u1' }));
    await laptop.request((s) => s.signIn({ sub: 'u1' }));
    const other = new Jar(tessera);
    await other.request((s) => s.signIn({ sub: 'u2' }));
    clock.advance(1000);
    assert.equal(await tessera.signOutEverywhere('u1'), 2);
    assert.equal(await user(phone), null);
    assert.equal(await user(laptop), null);
    assert.equal((await user(other))?.sub, 'u2', "another user's session is untouched");
    clock.advance(1000);
    await phone.request((s) => s.signIn({ sub: 'u1' }));
    assert.equal((await user(phone))?.sub, 'u1', 'signed in again afterwards: works');
    assert.ok(events.length > 0);
  });

  it('a token whose session survived (a store without a by-user index) is refused by its iat', async () => {
    const inner = new MemoryStore();
    const store: SessionStore = { name: 'no-index', get: (k, c) => inner.get(k, c), set: (k, r, v, c) => inner.set(k, r, v, c), delete: (k, c) => inner.delete(k, c) };
    const { tessera, clock } = make({ store });
    const jar = new Jar(tessera);
    await jar.request((s) => s.signIn({ sub: 'u1' }));
    clock.advance(1000);
    // The time is recorded before the listing fails.
    await assert.rejects(tessera.signOutEverywhere('u1'), NotSupportedError);
    assert.equal((await jar.request((s) => s.userId)).result, 'u1', 'the session itself is still there');
    assert.equal(await user(jar), null, 'but its auth cookie is refused');
  });

  it('per tenant: signing out everywhere in one tenant leaves the same user ID in another alone', async () => {
    const { tessera, clock } = make();
    const acme = new Jar(tessera);
    const globex = new Jar(tessera);
    await acme.request((s) => s.signIn({ sub: 'u1' }), 'acme');
    await globex.request((s) => s.signIn({ sub: 'u1' }), 'globex');
    clock.advance(1000);
    await tessera.signOutEverywhere('u1', { tenant: 'acme' });
    assert.equal(await user(acme, 'acme'), null);
    assert.equal((await user(globex, 'globex'))?.sub, 'u1');
  });

  it('a clock with fractions of a millisecond: the sign-out time is stored as whole milliseconds, not counted as a session', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1) + 0.25);
    const store = new MemoryStore();
    const { tessera } = make({ store, metrics: {} }, clock);
    const jar = new Jar(tessera);
    await jar.request((s) => s.signIn({ sub: 'u1' }));
    clock.advance(1000.5);
    await tessera.signOutEverywhere('u1');
    assert.equal(await user(jar), null, 'signed out');
    const times = [...(await store.listSessions({ tenant: null, cursor: null, limit: 100 }, { now: clock.time })).records].filter(({ record }) => /^[0-9.]+$/.test(record.data));
    assert.deepEqual(times.map(({ record }) => record.data), [String(Math.ceil(clock.time))], 'whole milliseconds, rounded up');
    assert.equal(await store.countLive({ now: clock.time }), 0, 'the sign-out time is not a session');
  });

  it('CookieStore: the sealed session and auth cookie signed in before stop working; a sign-in after works', async () => {
    const { tessera, clock } = make({ store: new CookieStore({ revocation: new MemoryStore() }) });
    const jar = new Jar(tessera);
    await jar.request((s) => s.signIn({ sub: 'u1' }));
    await jar.request((s) => s.set('cart', 2));
    const anon = new Jar(tessera);
    await anon.request((s) => s.set('x', 1));
    assert.equal((await user(jar))?.sub, 'u1');
    clock.advance(1000);
    assert.equal(await tessera.signOutEverywhere('u1'), 0);
    const { result } = await jar.request((s) => [s.userId, s.get('cart')]);
    assert.deepEqual(result, [null, undefined], 'the sealed cookie opens nothing');
    assert.equal(await user(jar), null);
    assert.deepEqual((await anon.request((s) => s.toJSON())).result, { x: 1 }, 'an anonymous session is untouched');
    clock.advance(1000);
    await jar.request((s) => s.signIn({ sub: 'u1' }));
    assert.equal((await user(jar))?.sub, 'u1', 'signed in after: works');
    assert.equal((await jar.request((s) => s.userId)).result, 'u1');
  });

  it('CookieStore without revocation: nowhere to record it', async () => {
    const { tessera } = make({ store: new CookieStore({ revocation: false }) });
    await assert.rejects(tessera.signOutEverywhere('u1'), NotSupportedError);
  });
});
