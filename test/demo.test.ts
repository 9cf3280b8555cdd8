/**
 * The demo app (examples/demo) over real HTTP: a browser-like client with a cookie jar against
 * `startDemo` on a free port, with a temporary data folder and SQLite store; then the counter on
 * every other store `STORE=` can pick (Redis and PostgreSQL skipped, saying so, when down).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { storeKey } from '../src/crypto/ids.js';
import { startDemo, type Demo } from '../examples/demo/app.js';
import { demoSecret, pickStore } from '../examples/demo/config.js';
import { describeUserAgent, relativeTime } from '../examples/demo/devices.js';
import { validName } from '../examples/demo/form.js';
import { PG_URL, REDIS_URL, serviceSkip } from './helpers/services.js';

/** The session cookie's names (plain http; production's), and the readable CSRF token cookie's. */
const SESSION_COOKIES = new Set(['tessera', '__Host-tessera']);

/** A browser, as far as cookies go: a jar that keeps what Set-Cookie gives, drops what it expires. */
class Client {
  /** Cookie values by name, sent back with every request. */
  readonly jar = new Map<string, string>();
  lastSetCookie: string[] = [];
  constructor(
    readonly base: string,
    readonly userAgent?: string,
  ) {}

  /** `name=value` of the session cookie, if the client holds one. Settable, as a copied cookie. */
  get cookie(): string | undefined {
    for (const [name, value] of this.jar) if (SESSION_COOKIES.has(name)) return `${name}=${value}`;
    return undefined;
  }
  set cookie(pair: string | undefined) {
    for (const name of SESSION_COOKIES) this.jar.delete(name);
    if (pair !== undefined) this.jar.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
  }

  async get(path: string, init: RequestInit = {}): Promise<{ status: number; body: string; headers: Headers }> {
    const headers = new Headers(init.headers);
    if (this.jar.size > 0) headers.set('cookie', [...this.jar].map(([name, value]) => `${name}=${value}`).join('; '));
    if (this.userAgent !== undefined && !headers.has('user-agent')) headers.set('user-agent', this.userAgent);
    const res = await fetch(new URL(path, this.base), { ...init, headers, redirect: 'manual' });
    this.lastSetCookie = res.headers.getSetCookie();
    for (const line of this.lastSetCookie) {
      const pair = line.split(';', 1)[0]!;
      const name = pair.slice(0, pair.indexOf('='));
      if (/;\s*Max-Age=0/i.test(line)) this.jar.delete(name);
      else this.jar.set(name, pair.slice(pair.indexOf('=') + 1));
    }
    return { status: res.status, body: await res.text(), headers: res.headers };
  }

  /**
   * POST a URL-encoded form, as a browser submits one: `fields`, plus the `_csrf` token from the
   * page at `from` (the hidden field its forms carry) unless `csrf: false`.
   */
  async post(path: string, fields: Record<string, string> = {}, options: { from?: string; csrf?: boolean; headers?: Record<string, string> } = {}) {
    const form = new URLSearchParams(fields);
    if (options.csrf !== false) form.set('_csrf', csrfTokenIn((await this.get(options.from ?? '/account')).body));
    return this.get(path, { method: 'POST', body: form, headers: options.headers });
  }

  /** GET /increment and read the counter off the page. */
  async increment(): Promise<number> {
    const { status, body } = await this.get('/increment');
    assert.equal(status, 200);
    const m = /<output id="count">(\d+)<\/output>/.exec(body);
    assert.ok(m, 'the counter is on the page');
    return Number(m[1]);
  }

  /** Sign in as `name` through the form; asserts the 303 to /account. */
  async signIn(name: string): Promise<void> {
    const res = await this.post('/sign-in', { name }, { from: '/sign-in' });
    assert.equal(res.status, 303, res.body);
    assert.equal(res.headers.get('location'), '/account');
  }

  /** The session ID the cookie carries (`name=id.signature`, or `name=id~signature` provisional). */
  get sessionId(): string {
    const cookie = this.cookie;
    assert.ok(cookie, 'the client holds a session cookie');
    return cookie.slice(cookie.indexOf('=') + 1).split(/[.~]/)[0]!;
  }
}

/** The CSRF token of the first form on a page (its hidden `_csrf` field). */
function csrfTokenIn(page: string): string {
  const m = /<input type="hidden" name="_csrf" value="([^"]+)">/.exec(page);
  assert.ok(m, 'the page has a form with a CSRF token');
  return m[1]!;
}

/** The devices the account page lists: browser, IP, last active, this device or a revoke handle. */
function devicesIn(page: string): { browser: string; ip: string; lastActive: string; current: boolean; handle: string | null }[] {
  return [...page.matchAll(/<tr class="device( current)?">([\s\S]*?)<\/tr>/g)].map(([, current, row]) => {
    const cells = [...row!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => m[1]!);
    return {
      browser: cells[0]!,
      ip: cells[1]!,
      lastActive: /<time[^>]*>([^<]*)<\/time>/.exec(cells[2]!)?.[1] ?? '',
      current: current !== undefined,
      handle: /name="handle" value="([^"]+)"/.exec(cells[3]!)?.[1] ?? null,
    };
  });
}

const CHROME_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

const ENV = { NODE_ENV: 'test' } as NodeJS.ProcessEnv;

describe('demo app', () => {
  let dataDir: string;
  let demo: Demo;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tessera-demo-'));
    demo = await startDemo({ port: 0, host: '127.0.0.1', dataDir, env: ENV, log: () => {} });
  });
  after(async () => {
    await demo?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves a home page that explains the demo and links to /increment and /clear', async () => {
    const client = new Client(demo.url);
    const { status, body, headers } = await client.get('/');
    assert.equal(status, 200);
    assert.match(headers.get('content-type')!, /^text\/html; charset=utf-8/);
    assert.match(body, /href="\/increment"/);
    assert.match(body, /href="\/clear"/);
    assert.match(body, /SQLite/);
    assert.match(body, /HttpOnly/);
    assert.equal(headers.get('cache-control'), 'no-store');
    assert.deepEqual(client.lastSetCookie, [], 'visiting the home page starts no session');
  });

  it('counts 1, 2, 3 with the cookie, and starts again at 1 without it', async () => {
    const client = new Client(demo.url);
    assert.equal(await client.increment(), 1);
    const cookie = client.lastSetCookie[0]!;
    assert.match(cookie, /^tessera=[\w-]{43}\.[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax$/, 'signed, HttpOnly, not Secure on plain http');
    assert.equal(await client.increment(), 2);
    assert.deepEqual(client.lastSetCookie, [], 'an existing session needs no new cookie');
    assert.equal(await client.increment(), 3);
    assert.equal(await new Client(demo.url).increment(), 1, 'no cookie: a new session');

    const home = await client.get('/');
    assert.match(home.body, /counter is at <strong>3<\/strong>/);
  });

  it('gives two clients separate counters', async () => {
    const a = new Client(demo.url);
    const b = new Client(demo.url);
    assert.equal(await a.increment(), 1);
    assert.equal(await a.increment(), 2);
    assert.equal(await b.increment(), 1);
    assert.equal(await a.increment(), 3);
    assert.equal(await b.increment(), 2);
    assert.notEqual(a.cookie, b.cookie);
  });

  it('ignores a tampered cookie', async () => {
    const client = new Client(demo.url);
    await client.increment();
    await client.increment();
    // Change one character in the middle of the signature (the last one carries padding bits).
    const at = client.cookie!.indexOf('.') + 10;
    const c = client.cookie![at] === 'A' ? 'B' : 'A';
    client.cookie = client.cookie!.slice(0, at) + c + client.cookie!.slice(at + 1);
    assert.equal(await client.increment(), 1, 'a bad signature starts a fresh session');
  });

  it('/clear destroys the session: the cookie is cleared and the record deleted', async () => {
    const client = new Client(demo.url);
    await client.increment();
    await client.increment();
    const oldCookie = client.cookie!;
    const key = storeKey(client.sessionId, null);
    const db = new Database(join(dataDir, 'sessions.db'), { readonly: true });
    try {
      const row = () => db.prepare('SELECT data FROM tessera_sessions WHERE key = ?').get(key) as { data: string } | undefined;
      assert.ok(row(), 'stored before /clear');

      const cleared = await client.get('/clear');
      assert.equal(cleared.status, 200);
      assert.match(cleared.body, /session was destroyed/);
      assert.equal(client.lastSetCookie.length, 1);
      assert.match(client.lastSetCookie[0]!, /^tessera=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=\/; HttpOnly; SameSite=Lax$/);
      assert.equal(client.cookie, undefined, 'the browser drops the cookie');
      assert.equal(row(), undefined, 'the record is gone from SQLite');
    } finally {
      db.close();
    }

    assert.equal(await client.increment(), 1, 'the next /increment starts at 1');
    const replay = new Client(demo.url);
    replay.cookie = oldCookie;
    assert.equal(await replay.increment(), 1, 'the old cookie no longer opens the destroyed session');

    const again = await new Client(demo.url).get('/clear');
    assert.match(again.body, /no session to clear/);
  });

  it('keeps the session in the SQLite file in the data folder, under a hash of its ID', async () => {
    const client = new Client(demo.url);
    for (let i = 0; i < 4; i++) await client.increment();
    const file = join(dataDir, 'sessions.db');
    assert.ok((await stat(file)).isFile());
    const db = new Database(file, { readonly: true });
    try {
      const row = db.prepare('SELECT data, version, expires_at FROM tessera_sessions WHERE key = ?').get(storeKey(client.sessionId, null)) as
        | { data: string; version: number; expires_at: number }
        | undefined;
      assert.ok(row, 'a row under storeKey(id)');
      assert.equal((JSON.parse(row.data) as { d: { count: number } }).d.count, 4);
      assert.equal(row.version, 4);
      assert.ok(row.expires_at > Date.now());
      const raw = db.prepare('SELECT count(*) AS n FROM tessera_sessions WHERE key = ? OR instr(data, ?) > 0').get(client.sessionId, client.sessionId) as { n: number };
      assert.equal(raw.n, 0, 'the raw session ID is nowhere in the database');
    } finally {
      db.close();
    }
  });

  it('keeps the generated secret in the data folder (owner-only), so sessions survive a restart', async () => {
    const client = new Client(demo.url);
    assert.equal(await client.increment(), 1);
    assert.equal(await client.increment(), 2);
    const secretFile = join(dataDir, 'demo-secret');
    assert.equal((await stat(secretFile)).mode & 0o777, 0o600);

    await demo.close();
    demo = await startDemo({ port: 0, host: '127.0.0.1', dataDir, env: ENV, log: () => {} });
    assert.equal(demo.secretSource, 'file');
    const restarted = new Client(demo.url);
    restarted.cookie = client.cookie;
    assert.equal(await restarted.increment(), 3, 'same secret, same SQLite file: the session goes on');
  });

  it('answers 404 for unknown paths, 405 for other methods, 204 for the favicon', async () => {
    const client = new Client(demo.url);
    assert.equal((await client.get('/nope')).status, 404);
    const post = await client.get('/increment', { method: 'POST' });
    assert.equal(post.status, 403, 'a POST without a CSRF token is refused before routing');
    assert.match(post.body, /CSRF/);
    const options = await client.get('/increment', { method: 'OPTIONS' });
    assert.equal(options.status, 405);
    assert.equal(options.headers.get('allow'), 'GET, HEAD');
    assert.equal((await client.get('/favicon.ico')).status, 204);
    assert.equal(client.cookie, undefined, 'none of these started a session');
  });

  it('escapes the path it echoes', async () => {
    // fetch() would percent-encode the path; node:http sends it as written.
    const body = await new Promise<string>((resolve, reject) => {
      get(new URL(demo.url), { path: '/<script>alert(1)</script>' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    assert.doesNotMatch(body, /<script>/);
    assert.match(body, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  });
});

describe('demo accounts (SQLite)', () => {
  let dataDir: string;
  let demo: Demo;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tessera-demo-accounts-'));
    demo = await startDemo({ port: 0, host: '127.0.0.1', dataDir, env: ENV, log: () => {} });
  });
  after(async () => {
    await demo?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('signs in with a name: a new session ID, then /account lists this device', async () => {
    const client = new Client(demo.url, CHROME_LINUX);
    const form = await client.get('/sign-in');
    assert.equal(form.status, 200);
    assert.match(form.body, /<form method="post" action="\/sign-in">/);
    const before = client.sessionId; // the form's CSRF token came with an ID cookie (not stored yet)
    await client.signIn('Ada');
    assert.notEqual(client.sessionId, before, 'signing in gives the session a new ID (no session fixation)');

    const page = await client.get('/account');
    assert.equal(page.status, 200);
    assert.match(page.body, /signed in as <strong id="user">Ada<\/strong>/);
    assert.match(page.body, /<button id="sign-out">Sign out Ada<\/button>/);
    assert.match(page.headers.get('content-security-policy')!, /form-action 'self'/);
    const devices = devicesIn(page.body);
    assert.equal(devices.length, 1);
    assert.deepEqual(devices[0], { browser: 'Chrome on Linux', ip: '127.0.0.1', lastActive: 'now', current: true, handle: null });
    assert.doesNotMatch(page.body, /revoke-others/, 'no other device to sign out');
  });

  it('signing in a stored session (a counter) gives it a new ID and keeps its data; the old cookie is not signed in', async () => {
    const client = new Client(demo.url);
    assert.equal(await client.increment(), 1);
    const before = client.cookie;
    await client.signIn('Katherine');
    assert.notEqual(client.cookie, before);
    assert.equal(await client.increment(), 2, 'the counter came along');
    const old = new Client(demo.url);
    old.cookie = before;
    assert.equal((await old.get('/account')).status, 303, 'the pre-sign-in cookie opens nothing');
  });

  it('sends a visitor from /account to the sign-in form, and refuses bad names with 400', async () => {
    const visitor = new Client(demo.url);
    const page = await visitor.get('/account');
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), '/sign-in');
    for (const name of ['', '   ', 'x'.repeat(65), 'a\u0000b', 'line\nbreak', 'spoof\u202eed']) {
      const res = await visitor.post('/sign-in', { name }, { from: '/sign-in' });
      assert.equal(res.status, 400, JSON.stringify(name));
      assert.match(res.body, /<p class="error" id="error">/);
    }
    assert.equal((await visitor.get('/account')).status, 303, 'still not signed in');
    const longest = new Client(demo.url);
    await longest.signIn(`  ${'é'.repeat(64)}  `); // trimmed; 64 characters
    assert.match((await longest.get('/account')).body, new RegExp(`<strong id="user">${'é'.repeat(64)}</strong>`));
  });

  it('escapes the name it shows', async () => {
    const client = new Client(demo.url);
    await client.signIn('<img src=x onerror=alert(1)> & "q"');
    const page = await client.get('/account');
    assert.doesNotMatch(page.body, /<img/);
    assert.match(page.body, /<strong id="user">&lt;img src=x onerror=alert\(1\)&gt; &amp; &quot;q&quot;<\/strong>/);
    const bad = await client.post('/sign-in', { name: '<b>\u0001' }, { from: '/sign-in' });
    assert.doesNotMatch(bad.body, /<b>/, 'the refused name is echoed escaped');
  });

  it('lists a second browser signed in as the same name; revoking it signs it out', async () => {
    const laptop = new Client(demo.url, CHROME_LINUX);
    const phone = new Client(demo.url, SAFARI_IPHONE);
    await laptop.signIn('Grace');
    await phone.signIn('Grace');
    const someoneElse = new Client(demo.url, FIREFOX_WINDOWS);
    await someoneElse.signIn('Linus');

    const page = await laptop.get('/account');
    const devices = devicesIn(page.body);
    assert.equal(devices.length, 2, 'two devices of Grace, not Linus\'s');
    const [mine, other] = devices[0]!.current ? [devices[0]!, devices[1]!] : [devices[1]!, devices[0]!];
    assert.equal(mine.browser, 'Chrome on Linux');
    assert.equal(other.browser, 'Safari on iOS');
    assert.equal(other.current, false);
    assert.match(other.lastActive, /^(just now|\d+ minutes? ago)$/);
    assert.ok(other.handle, 'a revoke button with the other device\'s handle');
    assert.ok(!other.handle.includes(phone.sessionId), 'the handle is not the session ID');
    assert.match(page.body, /Sign out all other devices \(1\)/);

    const revoked = await laptop.post('/devices/revoke', { handle: other.handle });
    assert.equal(revoked.status, 303);
    assert.equal(revoked.headers.get('location'), '/account');
    const after = await laptop.get('/account');
    assert.match(after.body, /<p class="notice" id="notice">That device was signed out\.<\/p>/);
    assert.equal(devicesIn(after.body).length, 1);
    assert.doesNotMatch((await laptop.get('/account')).body, /id="notice"/, 'the notice shows once');

    const phonePage = await phone.get('/account');
    assert.equal(phonePage.status, 303, 'the revoked cookie no longer signs the phone in');
    assert.equal(phonePage.headers.get('location'), '/sign-in');
    assert.equal((await someoneElse.get('/account')).status, 200, 'another user is untouched');
  });

  it("does not revoke another user's session by its handle, nor this device's", async () => {
    const alice = new Client(demo.url);
    const bob = new Client(demo.url);
    await alice.signIn('Alice');
    await bob.signIn('Bob');
    const [bobs] = devicesIn((await bob.get('/account')).body);
    const bobHandle = storeKey(bob.sessionId, null);
    assert.equal(bobs!.current, true);

    const res = await alice.post('/devices/revoke', { handle: bobHandle });
    assert.equal(res.status, 303);
    assert.match((await alice.get('/account')).body, /That device was already signed out\./);
    assert.equal((await bob.get('/account')).status, 200, "Bob's session survives Alice's request");

    const own = await alice.post('/devices/revoke', { handle: storeKey(alice.sessionId, null) });
    assert.equal(own.status, 400);
    assert.equal((await alice.get('/account')).status, 200);
    assert.equal((await alice.post('/devices/revoke', {})).status, 400, 'no handle');
    assert.equal((await alice.post('/devices/revoke', { handle: 'x'.repeat(300) })).status, 400);
  });

  it('signs out all other devices, keeping this one', async () => {
    const clients = [new Client(demo.url, CHROME_LINUX), new Client(demo.url, FIREFOX_WINDOWS), new Client(demo.url, SAFARI_IPHONE)];
    for (const c of clients) await c.signIn('Hedy');
    const [me, ...others] = clients;
    assert.equal(devicesIn((await me!.get('/account')).body).length, 3);
    const res = await me!.post('/devices/revoke-others');
    assert.equal(res.status, 303);
    const page = await me!.get('/account');
    assert.match(page.body, /Signed out 2 other devices\./);
    const devices = devicesIn(page.body);
    assert.equal(devices.length, 1);
    assert.equal(devices[0]!.current, true);
    for (const other of others) assert.equal((await other.get('/account')).status, 303, 'signed out');
  });

  it('refuses every POST without the CSRF token (403), or with another session\'s, and changes nothing', async () => {
    const client = new Client(demo.url);
    await client.signIn('Barbara');
    const phone = new Client(demo.url);
    await phone.signIn('Barbara');
    const handle = devicesIn((await client.get('/account')).body).find((d) => !d.current)!.handle!;

    for (const [path, fields] of [
      ['/sign-out', {}],
      ['/devices/revoke', { handle }],
      ['/devices/revoke-others', {}],
      ['/sign-in', { name: 'Mallory' }],
      ['/clear', {}],
    ] as const) {
      const res = await client.post(path, fields, { csrf: false });
      assert.equal(res.status, 403, path);
      assert.match(res.body, /CSRF/);
      const stolen = csrfTokenIn((await phone.get('/account')).body);
      const forged = await client.get(path, { method: 'POST', body: new URLSearchParams({ ...fields, _csrf: stolen }) });
      assert.equal(forged.status, 403, `${path} with another session's token`);
    }
    const crossSite = await client.post('/sign-out', {}, { headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(crossSite.status, 403, 'a cross-site form is refused even with the token');

    const page = await client.get('/account');
    assert.match(page.body, /<strong id="user">Barbara<\/strong>/, 'still signed in as Barbara');
    assert.equal(devicesIn(page.body).length, 2, 'no device was signed out');
    assert.equal((await phone.get('/account')).status, 200);
  });

  it('signs out: the cookie is cleared, a copy of it opens nothing, and / no longer shows the user', async () => {
    const client = new Client(demo.url);
    await client.signIn('Margaret');
    assert.equal(await client.increment(), 1);
    const copy = client.cookie;
    const res = await client.post('/sign-out', {}, { from: '/' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/');
    assert.equal(client.cookie, undefined, 'the session cookie is cleared');
    assert.equal(client.jar.size, 0, 'and the CSRF token cookie');
    const home = await client.get('/');
    assert.match(home.body, /href="\/sign-in"/);
    assert.doesNotMatch(home.body, /Margaret/);

    const replay = new Client(demo.url);
    replay.cookie = copy;
    assert.equal((await replay.get('/account')).status, 303, 'the old cookie is signed out');
    assert.equal(await replay.increment(), 1, 'and its counter is gone');
  });

  it('answers 405 with Allow for a method a path does not take', async () => {
    const client = new Client(demo.url);
    const get = await client.get('/sign-out');
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    const post = await client.post('/increment', {}, { from: '/sign-in' });
    assert.equal(post.status, 405, 'past the CSRF check, /increment takes no POST');
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    const clear = await client.post('/clear', {}, { from: '/sign-in' });
    assert.equal(clear.status, 200, '/clear takes a POST with the token, as well as GET');
    assert.match(clear.body, /id="cleared"/);
  });
});

describe('demo devices: browser names, times, names', () => {
  it('describes user agents in a few words', () => {
    assert.equal(describeUserAgent(CHROME_LINUX), 'Chrome on Linux');
    assert.equal(describeUserAgent(FIREFOX_WINDOWS), 'Firefox on Windows');
    assert.equal(describeUserAgent(SAFARI_IPHONE), 'Safari on iOS');
    assert.equal(
      describeUserAgent('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0'),
      'Edge on macOS',
    );
    assert.equal(describeUserAgent('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15'), 'Safari on macOS');
    assert.equal(describeUserAgent('Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36'), 'Chrome on Android');
    assert.equal(describeUserAgent('curl/8.5.0'), 'curl');
    assert.equal(describeUserAgent('node'), 'node');
    assert.equal(describeUserAgent(null), 'Unknown browser');
    assert.equal(describeUserAgent('Mozilla/5.0 (X11; Linux x86_64)'), 'A browser on Linux');
  });

  it('says how long ago, in words', () => {
    const now = Date.UTC(2026, 0, 10, 12);
    assert.equal(relativeTime(now - 30_000, now), 'just now');
    assert.equal(relativeTime(now + 5_000, now), 'just now', 'a clock a little ahead');
    assert.equal(relativeTime(now - 60_000, now), '1 minute ago');
    assert.equal(relativeTime(now - 5 * 60_000 - 59_000, now), '5 minutes ago');
    assert.equal(relativeTime(now - 2 * 3_600_000, now), '2 hours ago');
    assert.equal(relativeTime(now - 86_400_000, now), 'yesterday');
    assert.equal(relativeTime(now - 3 * 86_400_000, now), '3 days ago');
  });

  it('validates the sign-in name', () => {
    assert.deepEqual(validName('  Ada  '), { name: 'Ada' });
    assert.deepEqual(validName('Cafe\u0301'), { name: 'Café' }, 'NFC');
    assert.deepEqual(validName('👩‍💻'.repeat(16)), { name: '👩‍💻'.repeat(16) }, '48 code points');
    assert.ok(validName(undefined).error);
    assert.ok(validName(' \t ').error);
    assert.ok(validName('x'.repeat(65)).error);
    assert.deepEqual(validName('x'.repeat(64)), { name: 'x'.repeat(64) });
    for (const c of ['\u0000', '\u0007', '\u007f', '\u0085', '\u2028', '\u202e', '\u2066']) assert.ok(validName(`a${c}b`).error, JSON.stringify(c));
  });
});

describe('demo configuration', () => {
  it('picks SQLite in the data folder by default, memory with STORE=memory, and refuses unknown stores', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-demo-config-'));
    try {
      const sqlite = pickStore({}, dir);
      assert.equal(sqlite.label, 'SQLite');
      assert.equal(sqlite.where, `in the SQLite file ${join(dir, 'sessions.db')}`);
      await sqlite.store.close?.();
      const memory = pickStore({ STORE: 'memory' }, dir);
      assert.equal(memory.label, 'memory');
      assert.equal(memory.durable, false);
      assert.throws(
        () => pickStore({ STORE: 'mongodb://x' }, dir),
        /^Error: STORE=mongodb:\/\/x is not supported by the demo; use one of: sqlite\[:<file>\], memory, file\[:<dir>\], redis:\/\/.*, postgres:\/\/.*, cookie \(default sqlite\)$/,
      );
      assert.throws(() => pickStore({ STORE: 'redis' }, dir), /STORE=redis is not a URL with a host; for example STORE=redis:\/\/127\.0\.0\.1:6379/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('picks file, cookie, Redis and PostgreSQL stores from STORE, showing no password', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-demo-config-'));
    const opened: { store: { close?: () => unknown } }[] = [];
    const pick = (STORE: string) => {
      const choice = pickStore({ STORE }, dir);
      opened.push(choice);
      return choice;
    };
    try {
      assert.equal(pick('file').where, `in one file per session under ${join(dir, 'sessions')}`);
      assert.equal(pick(`file:${join(dir, 'other')}`).where, `in one file per session under ${join(dir, 'other')}`);
      const cookie = pick('cookie');
      assert.equal(cookie.label, 'encrypted cookie');
      assert.equal(cookie.serverSide, false);
      const redis = pick('redis://:hunter2@127.0.0.1:6390/3?prefix=demo:');
      assert.equal(redis.label, 'Redis');
      assert.equal(redis.where, 'in Redis at 127.0.0.1:6390/3 (keys under demo:)');
      const postgres = pick('postgresql://app:hunter2@db.internal/sessions?table=demo_sessions');
      assert.equal(postgres.label, 'PostgreSQL');
      assert.equal(postgres.where, 'in the PostgreSQL table demo_sessions at db.internal:5432/sessions');
      assert.throws(() => pick('postgres://db.internal/app?table=no-dashes'), /table/);
    } finally {
      for (const choice of opened) await choice.store.close?.();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('uses SESSION_SECRET when set, and requires it in production', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-demo-config-'));
    try {
      const given = 'a-session-secret-of-at-least-32-bytes!!';
      assert.deepEqual(demoSecret({ SESSION_SECRET: given }, dir), { secret: given, source: 'SESSION_SECRET' });
      assert.throws(() => demoSecret({ NODE_ENV: 'production' }, dir), /set SESSION_SECRET/);
      const first = demoSecret({}, dir);
      assert.equal(first.source, 'generated');
      assert.ok(Buffer.byteLength(first.secret) >= 32);
      assert.equal(demoSecret({}, dir).secret, first.secret, 'read back on the next start');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('sends a Secure __Host- cookie when NODE_ENV=production', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-demo-prod-'));
    const demo = await startDemo({
      port: 0,
      host: '127.0.0.1',
      dataDir: dir,
      env: { NODE_ENV: 'production', SESSION_SECRET: 'a-session-secret-of-at-least-32-bytes!!', STORE: 'memory' },
      log: () => {},
    });
    try {
      const client = new Client(demo.url);
      await client.increment();
      assert.match(client.lastSetCookie[0]!, /^__Host-tessera=.*; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    } finally {
      await demo.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// ------------------------------------------------------------------ every store

const redisSkip = await serviceSkip('Redis', REDIS_URL);
const pgSkip = await serviceSkip('PostgreSQL', PG_URL);

/** A store the counter runs on: its `STORE` value, what the home page calls it, and how to clean up. */
interface StoreCase {
  readonly name: string;
  readonly store: (dataDir: string) => string;
  readonly label: RegExp;
  readonly skip: string | false;
  readonly cleanup?: () => Promise<void>;
}

/** Keys and tables of this process only: other test processes may share the servers. */
const redisPrefix = `tessera-demo-test:${process.pid}:`;
const pgTable = `tessera_demo_test_${process.pid}`;

const STORE_CASES: StoreCase[] = [
  { name: 'memory', store: () => 'memory', label: /<strong>memory<\/strong>/, skip: false },
  { name: 'file', store: (dir) => `file:${join(dir, 'file-sessions')}`, label: /<strong>files<\/strong>/, skip: false },
  { name: 'cookie', store: () => 'cookie', label: /<strong>encrypted cookie<\/strong>/, skip: false },
  {
    name: 'Redis',
    store: () => `${REDIS_URL}${REDIS_URL.includes('?') ? '&' : '?'}prefix=${encodeURIComponent(redisPrefix)}`,
    label: /<strong>Redis<\/strong>/,
    skip: redisSkip,
    cleanup: async () => {
      const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      try {
        const keys = await client.keys(`${redisPrefix}*`);
        if (keys.length > 0) await client.del(...keys);
      } finally {
        client.disconnect();
      }
    },
  },
  {
    name: 'PostgreSQL',
    store: () => `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}table=${pgTable}`,
    label: /<strong>PostgreSQL<\/strong>/,
    skip: pgSkip,
    cleanup: async () => {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        await client.query(`DROP TABLE IF EXISTS "${pgTable}"`);
      } finally {
        await client.end();
      }
    },
  },
];

describe('demo on every store', () => {
  for (const c of STORE_CASES) {
    it(`STORE=${c.name}: names the store, counts 1, 2, and /clear starts again at 1`, { skip: c.skip }, async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'tessera-demo-store-'));
      let demo: Demo | undefined;
      try {
        demo = await startDemo({ port: 0, host: '127.0.0.1', dataDir, env: { NODE_ENV: 'test', STORE: c.store(dataDir) }, log: () => {} });
        const client = new Client(demo.url);
        const home = await client.get('/');
        assert.equal(home.status, 200);
        assert.match(home.body, new RegExp(`Session store in use: ${c.label.source}`));
        assert.equal(await client.increment(), 1);
        assert.equal(await client.increment(), 2);
        assert.match((await client.get('/')).body, /counter is at <strong>2<\/strong>/);
        const copy = client.cookie;

        const cleared = await client.get('/clear');
        assert.equal(cleared.status, 200);
        assert.match(cleared.body, /session was destroyed/);
        assert.equal(client.cookie, undefined, 'the cookie is cleared');
        assert.equal(await client.increment(), 1, 'a new session after /clear');
        const replay = new Client(demo.url);
        replay.cookie = copy;
        assert.equal(await replay.increment(), 1, 'a copy of the cleared cookie opens nothing (the sealed cookie: revoked)');
        await client.get('/clear');
      } finally {
        await demo?.close();
        await c.cleanup?.();
        await rm(dataDir, { recursive: true, force: true });
      }
    });

    it(`STORE=${c.name}: signs in, lists both devices of a user, revokes the other, signs out`, { skip: c.skip }, async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'tessera-demo-store-'));
      let demo: Demo | undefined;
      try {
        demo = await startDemo({ port: 0, host: '127.0.0.1', dataDir, env: { NODE_ENV: 'test', STORE: c.store(dataDir) }, log: () => {} });
        const laptop = new Client(demo.url, CHROME_LINUX);
        const phone = new Client(demo.url, SAFARI_IPHONE);
        const third = new Client(demo.url, FIREFOX_WINDOWS);
        await laptop.signIn('Ada');
        await phone.signIn('Ada');
        await third.signIn('Ada');
        const page = await laptop.get('/account');
        assert.equal(page.status, 200);
        assert.match(page.body, /<strong id="user">Ada<\/strong>/);
        assert.equal((await laptop.post('/devices/revoke-others', {}, { csrf: false })).status, 403, 'no token: refused');

        if (c.name === 'cookie') {
          // No server-side list of a user's sessions: the page explains, the buttons are not there.
          assert.match(page.body, /id="no-device-list"/);
          assert.deepEqual(devicesIn(page.body), []);
          const refused = await laptop.post('/devices/revoke-others');
          assert.equal(refused.status, 501);
          assert.match(refused.body, /cannot be listed or signed out from another device/);
          assert.equal((await laptop.post('/devices/revoke', { handle: 'abc' })).status, 501);
          assert.equal((await phone.get('/account')).status, 200, 'the other device is still signed in');
        } else {
          const devices = devicesIn(page.body);
          assert.equal(devices.length, 3);
          assert.equal(devices.filter((d) => d.current).length, 1);
          assert.deepEqual(devices.map((d) => d.browser).sort(), ['Chrome on Linux', 'Firefox on Windows', 'Safari on iOS']);
          const phoneHandle = devices.find((d) => d.browser === 'Safari on iOS')!.handle!;
          assert.equal((await laptop.post('/devices/revoke', { handle: phoneHandle })).status, 303);
          assert.equal((await phone.get('/account')).status, 303, 'the revoked phone is signed out');
          assert.equal(devicesIn((await laptop.get('/account')).body).length, 2);
          assert.equal((await laptop.post('/devices/revoke-others')).status, 303);
          assert.match((await laptop.get('/account')).body, /Signed out 1 other device\./);
          assert.equal((await third.get('/account')).status, 303, 'the other device is signed out');
        }

        const copy = laptop.cookie;
        assert.equal((await laptop.post('/sign-out', {}, { from: '/' })).status, 303);
        assert.equal(laptop.cookie, undefined);
        const replay = new Client(demo.url);
        replay.cookie = copy;
        assert.equal((await replay.get('/account')).status, 303, 'a copy of the signed-out cookie is not signed in');
      } finally {
        await demo?.close();
        await c.cleanup?.();
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  }
});
