/**
 * The adapter behaviour suite: one set of tests every adapter (node:http, Express, Fastify, Hono)
 * passes, through a small app each adapter's harness builds with its own framework and API. A
 * harness implements these routes, each with the adapter's own way to reach the session:
 *
 * - `GET /read`: loads the session; answers its data as JSON (`{}` for a new session). Writes nothing.
 * - `POST /write?key=K&value=V`: sets `K` to the string `V`; answers `ok`.
 * - `POST /slow-write?key=K&value=V`: loads the session, waits for `hooks.slowWrite()`, then sets `K`; answers `ok`.
 * - `POST /regenerate`: gives the session a new ID (its data may or may not be kept); answers `ok`.
 * - `POST /destroy`: destroys the session; answers `ok`.
 * - `GET /stream`: sets `streamed` to `yes`, sends the head (200) and the chunk `one`, waits for
 *   `hooks.firstChunkSeen()`, then sends `two` and ends — a streamed body the adapter must not buffer.
 * - `GET /untouched`: answers `ok` without using the session.
 * - `GET /token`: answers `session.csrfToken()`.
 * - `POST /sign-in?user=U`: `await session.signIn({ sub: U })`; answers `ok`.
 * - `POST /sign-out`: `session.signOut()`; answers `ok`.
 * - `GET /me`: answers `JSON.stringify((await session.user())?.sub ?? null)`.
 *
 * Errors a route meets go to the framework's normal error path: the suite checks what the client
 * gets (a store outage is a 503, an empty tenant a 400).
 *
 * The apps are served as behind one TLS-terminating proxy: each harness trusts one proxy (the
 * adapter's `trustProxy`, or Express's `trust proxy`), and every request carries
 * `X-Forwarded-Proto: https` unless a test sends `http` — a plain-HTTP request.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { PayloadTooLargeError, StoreUnavailableError } from '../../src/errors.js';
import { Tessera } from '../../src/manager.js';
import type { TesseraOptions } from '../../src/options.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { SessionStore, StoreContext, StoreRecord } from '../../src/stores/store.js';
import type { TenantResolver } from '../../src/adapters/kit.js';
import { liveCases } from './live-cases.js';

/** What the client gets back. */
export interface Reply {
  status: number;
  /** Header values by lower-case name (`set-cookie` excluded: see `setCookies`). */
  headers: Record<string, string>;
  setCookies: string[];
  body: string;
}

/** What the suite lets a route wait for. */
export interface SuiteHooks {
  /** `/stream` waits for this between its two chunks: resolved once the client read the first one. */
  firstChunkSeen(): Promise<void>;
  /** `/slow-write` waits for this between loading the session and writing it. */
  slowWrite(): Promise<void>;
}

/** An app under test. */
export interface HarnessApp {
  /**
   * Send one request. `onFirstChunk` (for `/stream`) is called when the first body chunk arrives,
   * for clients that read a body as it comes; others leave it uncalled.
   */
  request(method: 'GET' | 'POST', path: string, headers?: Record<string, string>, onFirstChunk?: () => void, body?: string): Promise<Reply>;
  /** The response as soon as its head is in, its body unread (for event streams); absent where responses only come whole (Fastify's inject). */
  open?(path: string, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/** The adapter options a test asks for: a tenant rule (the rules read the same request in every adapter). */
export interface SuiteAdapterOptions {
  tenant?: Exclude<TenantResolver<never>, (request: never) => unknown>;
}

/** An adapter, as the suite drives it. */
export interface AdapterHarness {
  readonly name: string;
  /** The client reads bodies as they arrive (so the suite can check a stream is not buffered). */
  readonly streams: boolean;
  /**
   * The adapter commits before the response goes out, so a write the store refuses is answered
   * 503 (Fastify's onSend, Hono's middleware after `next()`). `false` where the handler ends the
   * response itself (node:http's `res.end`, Express's `res.send`) and the adapter never replaces
   * `res.end`: a commit failing after that is reported through the `commitError` event instead
   * (a handler that must know awaits `save()` first).
   */
  readonly answersCommitFailures: boolean;
  /**
   * A `Secure` cookie is held back on a plain-HTTP request (express-session's rule, with the
   * `secure: true` an instance's Secure cookie gives `tessera/express`), not sent with a warning.
   */
  readonly withholdsSecureCookieOverHttp: boolean;
  /** Build the routes above on `tessera`, with this adapter, trusting one proxy, with `options`. */
  start(tessera: Tessera, hooks: SuiteHooks, options: SuiteAdapterOptions): Promise<HarnessApp>;
}

const SECRET = 'adapter-suite-secret-0123456789abcdefghij';

/** A memory store that answers with promises only (no synchronous forms), as networked stores do. */
class PromiseStore implements SessionStore {
  readonly name: string = 'promises';
  readonly #inner = new MemoryStore();
  async get(key: string, ctx: StoreContext): Promise<StoreRecord | null> {
    return this.#inner.get(key, ctx);
  }
  async set(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): Promise<boolean> {
    return this.#inner.set(key, record, expectedVersion, ctx);
  }
  async delete(key: string, ctx: StoreContext): Promise<void> {
    return this.#inner.delete(key, ctx);
  }
}

/** A store that can be taken down, whole or for writes only: calls then fail as an unreachable server's would. */
class FlakyStore extends PromiseStore {
  override readonly name = 'flaky';
  down = false;
  writesDown = false;
  override async get(key: string, ctx: StoreContext): Promise<StoreRecord | null> {
    if (this.down) throw new StoreUnavailableError('flaky');
    return super.get(key, ctx);
  }
  override async set(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): Promise<boolean> {
    if (this.down || this.writesDown) throw new StoreUnavailableError('flaky');
    return super.set(key, record, expectedVersion, ctx);
  }
  override async delete(key: string, ctx: StoreContext): Promise<void> {
    if (this.down || this.writesDown) throw new StoreUnavailableError('flaky');
    return super.delete(key, ctx);
  }
}

/** A store whose reads, while `hang` is set, never answer: a database that accepted the query and went silent. */
class HangingStore extends PromiseStore {
  override readonly name = 'hanging';
  hang = false;
  override async get(key: string, ctx: StoreContext): Promise<StoreRecord | null> {
    if (this.hang) return new Promise<never>(() => {});
    return super.get(key, ctx);
  }
}

/** The `name=value` part of a Set-Cookie line. */
const pair = (line: string | undefined): string => line?.split(';', 1)[0] ?? '';

/** The stores the suite runs on: one answering synchronously (memory, SQLite), one with promises (Redis, PostgreSQL). */
const STORE_FORMS = [
  { title: 'a store answering synchronously', make: (): SessionStore => new MemoryStore() },
  { title: 'a store answering with promises', make: (): SessionStore => new PromiseStore() },
] as const;

/**
 * Register the suite for one adapter, on each store form.
 *
 * @example
 * ```ts
 * adapterSuite(nodeHarness);
 * ```
 */
export function adapterSuite(harness: AdapterHarness): void {
  const apps: HarnessApp[] = [];
  after(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });
  for (const form of STORE_FORMS) suiteOn(harness, apps, form.title, form.make);
}

function suiteOn(harness: AdapterHarness, apps: HarnessApp[], storeTitle: string, makeStore: () => SessionStore): void {

  interface Started {
    app: HarnessApp;
    tessera: Tessera;
    hooks: { firstChunk: () => void; slowWriters: (count: number) => Promise<void>; openSlowWrites: () => void };
  }

  async function start(options: Partial<TesseraOptions> & { store?: SessionStore } = {}, adapterOptions: SuiteAdapterOptions = {}): Promise<Started> {
    const tessera = new Tessera({
      secrets: [SECRET],
      store: options.store ?? makeStore(),
      cleanupInterval: 0,
      logger: {},
      // The CSRF checks have their own cases below; the others send their POSTs without a token.
      csrf: false,
      ...options,
      cookie: { secure: true, ...options.cookie },
    });
    let firstChunk!: () => void;
    const firstChunkSeen = new Promise<void>((resolve) => (firstChunk = resolve));
    // /slow-write: requests wait at the gate until the test opens it; the test waits until enough have arrived.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let arrived = 0;
    const arrivals: Array<{ count: number; resolve: () => void }> = [];
    const served = await harness.start(
      tessera,
      {
        firstChunkSeen: () => (harness.streams ? firstChunkSeen : Promise.resolve()),
        slowWrite: () => {
          arrived++;
          for (const waiter of arrivals) if (arrived >= waiter.count) waiter.resolve();
          return gate;
        },
      },
      adapterOptions,
    );
    // Behind the TLS-terminating proxy: HTTPS unless the test says otherwise.
    const app: HarnessApp = {
      request: (method, path, headers = {}, onFirstChunk, body) => served.request(method, path, { 'x-forwarded-proto': 'https', ...headers }, onFirstChunk, body),
      open: served.open && ((path, headers = {}) => served.open!(path, { 'x-forwarded-proto': 'https', ...headers })),
      close: () => served.close(),
    };
    const slowWriters = (count: number) => (arrived >= count ? Promise.resolve() : new Promise<void>((resolve) => arrivals.push({ count, resolve })));
    apps.push(app);
    return { app, tessera, hooks: { firstChunk, slowWriters, openSlowWrites: openGate } };
  }

  describe(`adapter behaviour: ${harness.name}, on ${storeTitle}`, () => {
    it('sets one session cookie on the first write: __Host- name, signed value, HttpOnly, Secure, SameSite=Lax', async () => {
      const { app } = await start();
      const reply = await app.request('POST', '/write?key=a&value=1');
      assert.equal(reply.status, 200);
      assert.equal(reply.setCookies.length, 1, `one Set-Cookie, got ${JSON.stringify(reply.setCookies)}`);
      assert.match(reply.setCookies[0]!, /^__Host-tessera=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    });

    it('reads what an earlier request wrote, and writes nothing (no cookie) on a read', async () => {
      const { app } = await start();
      const cookie = pair((await app.request('POST', '/write?key=a&value=1')).setCookies[0]);
      const read = await app.request('GET', '/read', { cookie });
      assert.equal(read.status, 200);
      assert.deepEqual(JSON.parse(read.body), { a: '1' });
      assert.deepEqual(read.setCookies, []);
      assert.deepEqual(JSON.parse((await app.request('GET', '/read')).body), {}, 'another browser has its own session');
    });

    it('writes again to the same session, keeping what it held', async () => {
      const { app } = await start();
      const cookie = pair((await app.request('POST', '/write?key=a&value=1')).setCookies[0]);
      const second = await app.request('POST', '/write?key=b&value=2', { cookie });
      assert.deepEqual(second.setCookies, [], 'an existing session needs no new cookie');
      assert.deepEqual(JSON.parse((await app.request('GET', '/read', { cookie })).body), { a: '1', b: '2' });
    });

    it('sends no cookie and stores nothing for a route that never uses the session', async () => {
      const { app } = await start();
      const reply = await app.request('GET', '/untouched');
      assert.equal(reply.body, 'ok');
      assert.deepEqual(reply.setCookies, []);
    });

    it('regenerate gives a new session cookie, and the old cookie no longer names a session', async () => {
      const { app } = await start();
      const old = pair((await app.request('POST', '/write?key=a&value=1')).setCookies[0]);
      const reply = await app.request('POST', '/regenerate', { cookie: old });
      assert.equal(reply.status, 200);
      const fresh = pair(reply.setCookies.find((l) => l.startsWith('__Host-tessera=')));
      assert.ok(fresh.length > '__Host-tessera='.length && fresh !== old, 'a new cookie value');
      assert.deepEqual(JSON.parse((await app.request('GET', '/read', { cookie: old })).body), {}, 'the old ID is dead');
      await app.request('POST', '/write?key=b&value=2', { cookie: fresh });
      assert.equal(JSON.parse((await app.request('GET', '/read', { cookie: fresh })).body).b, '2', 'the new ID works');
    });

    it('destroy clears the cookie and the session', async () => {
      const { app } = await start();
      const cookie = pair((await app.request('POST', '/write?key=a&value=1')).setCookies[0]);
      const reply = await app.request('POST', '/destroy', { cookie });
      assert.equal(reply.status, 200);
      assert.equal(reply.setCookies.length, 1);
      assert.match(reply.setCookies[0]!, /^__Host-tessera=; Max-Age=0; /);
      assert.deepEqual(JSON.parse((await app.request('GET', '/read', { cookie })).body), {});
    });

    it('saveUninitialized: a new session is stored and gets its cookie without a write; off, nothing', async () => {
      const on = await start({ saveUninitialized: true });
      const reply = await on.app.request('GET', '/read');
      assert.equal(reply.setCookies.length, 1);
      const again = await on.app.request('GET', '/read', { cookie: pair(reply.setCookies[0]) });
      assert.deepEqual(again.setCookies, [], 'the stored session is found again: no new cookie');
      const off = await start({ saveUninitialized: false });
      assert.deepEqual((await off.app.request('GET', '/read')).setCookies, []);
    });

    it('rolling: every response that loads the session sends its cookie again; off, only when it changes', async () => {
      const on = await start({ rolling: true, cookie: { maxAge: 3_600_000 } });
      const cookie = pair((await on.app.request('POST', '/write?key=a&value=1')).setCookies[0]);
      const read = await on.app.request('GET', '/read', { cookie });
      assert.equal(read.setCookies.length, 1);
      assert.equal(pair(read.setCookies[0]), cookie, 'the same session, its cookie sent again');
      assert.match(read.setCookies[0]!, /Max-Age=3600;/);
      const off = await start({ rolling: false, cookie: { maxAge: 3_600_000 } });
      const offCookie = pair((await off.app.request('POST', '/write?key=a&value=1')).setCookies[0]);
      assert.deepEqual((await off.app.request('GET', '/read', { cookie: offCookie })).setCookies, []);
    });

    it('answers 503 with Retry-After while the store is down, and serves again when it is back', async () => {
      const store = new FlakyStore();
      const { app, tessera } = await start({ store });
      const cookie = pair((await app.request('POST', '/write?key=a&value=1')).setCookies[0]);
      store.down = true;
      const read = await app.request('GET', '/read', { cookie });
      assert.equal(read.status, 503);
      assert.equal(read.headers['retry-after'], '1');
      store.down = false;
      store.writesDown = true;
      const reported: unknown[] = [];
      tessera.on('commitError', (error) => reported.push(error));
      const write = await app.request('POST', '/write?key=b&value=2', { cookie });
      if (harness.answersCommitFailures) {
        assert.equal(write.status, 503, 'a write that cannot be stored is not answered 200');
        assert.equal(write.headers['retry-after'], '1');
      } else {
        // The handler ended the response before the commit: the failure is reported, not lost.
        for (let i = 0; i < 50 && reported.length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
        assert.ok(reported[0] instanceof StoreUnavailableError, 'the failed commit was reported through commitError');
      }
      store.writesDown = false;
      const back = await app.request('GET', '/read', { cookie });
      assert.equal(back.status, 200, 'the process is up and serving');
      assert.deepEqual(JSON.parse(back.body), { a: '1' });
    });

    it('answers 413 for session data over maxDataBytes, and keeps what the session held', async () => {
      const { app, tessera } = await start({ maxDataBytes: 100 });
      const cookie = pair((await app.request('POST', '/write?key=a&value=1')).setCookies[0]);
      // A value alone over the cap: refused by session.set, in the handler.
      const refused = await app.request('POST', `/write?key=big&value=${'x'.repeat(200)}`, { cookie });
      assert.equal(refused.status, 413, 'from the handler: the framework answers the error with its status');
      const b = 'y'.repeat(60);
      assert.equal((await app.request('POST', `/write?key=b&value=${b}`, { cookie })).status, 200, '76 bytes: under the cap');
      // Each value under the cap, the session over it: refused by the write.
      const reported: unknown[] = [];
      tessera.on('commitError', (error) => reported.push(error));
      const grown = await app.request('POST', `/write?key=c&value=${'z'.repeat(60)}`, { cookie });
      if (harness.answersCommitFailures) assert.equal(grown.status, 413);
      else {
        // The handler ended the response before the commit: the failure is reported, not lost.
        for (let i = 0; i < 50 && reported.length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
        assert.ok(reported[0] instanceof PayloadTooLargeError, 'the failed commit was reported through commitError');
      }
      const back = await app.request('GET', '/read', { cookie });
      assert.equal(back.status, 200);
      assert.deepEqual(JSON.parse(back.body), { a: '1', b });
    });

    it('answers 503 with Retry-After, at storeTimeout, when the store never answers', { timeout: 10_000 }, async () => {
      const store = new HangingStore();
      const { app } = await start({ store, storeTimeout: 50 });
      const cookie = pair((await app.request('POST', '/write?key=a&value=1')).setCookies[0]);
      store.hang = true;
      const started = Date.now();
      const read = await app.request('GET', '/read', { cookie });
      assert.equal(read.status, 503);
      assert.equal(read.headers['retry-after'], '1');
      assert.ok(Date.now() - started < 3_000, `answered after ${Date.now() - started} ms`);
      store.hang = false;
      assert.deepEqual(JSON.parse((await app.request('GET', '/read', { cookie })).body), { a: '1' }, 'served again once the store answers');
    });

    it('keeps both of two concurrent requests that change different keys', async () => {
      const { app, hooks } = await start();
      const cookie = pair((await app.request('POST', '/write?key=a&value=1')).setCookies[0]);
      const one = app.request('POST', '/slow-write?key=b&value=2', { cookie });
      const two = app.request('POST', '/slow-write?key=c&value=3', { cookie });
      // Both have loaded the session before either writes.
      await hooks.slowWriters(2);
      hooks.openSlowWrites();
      const replies = await Promise.all([one, two]);
      assert.deepEqual(replies.map((r) => r.status), [200, 200]);
      assert.deepEqual(JSON.parse((await app.request('GET', '/read', { cookie })).body), { a: '1', b: '2', c: '3' });
    });

    it('keeps tenants apart: a session of tenant A is not visible under tenant B, nor without a tenant', async () => {
      const { app } = await start({}, { tenant: { header: 'x-tenant' } });
      const cookie = pair((await app.request('POST', '/write?key=a&value=1', { 'x-tenant': 'acme' })).setCookies[0]);
      assert.deepEqual(JSON.parse((await app.request('GET', '/read', { cookie, 'x-tenant': 'acme' })).body), { a: '1' });
      const other = await app.request('GET', '/read', { cookie, 'x-tenant': 'globex' });
      assert.equal(other.status, 200);
      assert.deepEqual(JSON.parse(other.body), {}, "acme's cookie opens nothing under globex");
      assert.deepEqual(JSON.parse((await app.request('GET', '/read', { cookie })).body), {}, 'nor on a request without a tenant');
      await app.request('POST', '/write?key=b&value=2', { cookie, 'x-tenant': 'globex' });
      assert.deepEqual(JSON.parse((await app.request('GET', '/read', { cookie, 'x-tenant': 'acme' })).body), { a: '1' }, "globex's write did not reach acme's session");
    });

    it('tenant { host: true }: the Host header, lower-cased, without its port', async () => {
      const { app } = await start({}, { tenant: { host: true } });
      const cookie = pair((await app.request('POST', '/write?key=a&value=1', { host: 'Acme.Example.com:8443' })).setCookies[0]);
      assert.deepEqual(JSON.parse((await app.request('GET', '/read', { cookie, host: 'acme.example.com' })).body), { a: '1' }, 'the same tenant');
      assert.deepEqual(JSON.parse((await app.request('GET', '/read', { cookie, host: 'globex.example.com:8443' })).body), {}, 'another tenant');
    });

    it('answers 400 for an empty tenant, never taking it as "no tenant"', async () => {
      const { app } = await start({}, { tenant: { header: 'x-tenant' } });
      const cookie = pair((await app.request('POST', '/write?key=a&value=1')).setCookies[0]);
      assert.deepEqual(JSON.parse((await app.request('GET', '/read', { cookie })).body), { a: '1' }, 'a session without a tenant');
      const empty = await app.request('GET', '/read', { cookie, 'x-tenant': '' });
      assert.equal(empty.status, 400, `an empty tenant is refused (body: ${empty.body.slice(0, 200)})`);
      assert.deepEqual(empty.setCookies, []);
      assert.equal((await app.request('POST', '/write?key=b&value=2', { cookie, 'x-tenant': ' ' })).status, 400, 'blank is empty');
      assert.deepEqual(JSON.parse((await app.request('GET', '/read', { cookie })).body), { a: '1' }, 'nothing was written');
    });

    it('warns once (logger.warn) when a Secure session cookie meets a plain-HTTP request; never over HTTPS', async () => {
      const warnings: string[] = [];
      const { app } = await start({ logger: { warn: (_fields, m) => warnings.push(m) } });
      const overHttps = await app.request('POST', '/write?key=a&value=1');
      assert.match(overHttps.setCookies[0] ?? '', /; Secure;/);
      assert.deepEqual(warnings, [], 'HTTPS: nothing to say');
      for (let i = 0; i < 2; i++) {
        const plain = await app.request('POST', '/write?key=a&value=1', { 'x-forwarded-proto': 'http' });
        assert.equal(plain.status, 200);
        if (harness.withholdsSecureCookieOverHttp) assert.deepEqual(plain.setCookies, [], 'held back, as express-session does');
        else assert.match(plain.setCookies[0] ?? '', /^__Host-tessera=.*; Secure;/, 'sent as configured');
      }
      const said = warnings.filter((m) => /plain HTTP/.test(m));
      assert.equal(said.length, 1, `one warning, got ${JSON.stringify(warnings)}`);
      assert.match(said[0]!, /Secure session cookie/);
    });

    it('leaves a streamed response alone: the cookie goes out with the head, chunks as they are written', async () => {
      const { app, hooks } = await start();
      let seen = false;
      const reply = await app.request('GET', '/stream', {}, () => {
        seen = true;
        hooks.firstChunk();
      });
      assert.equal(reply.status, 200);
      assert.equal(reply.body, 'onetwo');
      assert.equal(reply.setCookies.length, 1, 'the session cookie was on the head');
      if (harness.streams) assert.ok(seen, 'the first chunk reached the client before the handler wrote the second');
      const cookie = pair(reply.setCookies[0]);
      assert.deepEqual(JSON.parse((await app.request('GET', '/read', { cookie })).body), { streamed: 'yes' });
    });
  });

  liveCases(harness, storeTitle, start);

  describe(`auth cookie: ${harness.name}, on ${storeTitle}`, () => {
    const cookies = (reply: Reply, jar: Map<string, string> = new Map()): Map<string, string> => {
      for (const line of reply.setCookies) {
        const [name, value] = pair(line).split('=') as [string, string];
        if (/Max-Age=0/.test(line)) jar.delete(name);
        else jar.set(name, value);
      }
      return jar;
    };
    const header = (jar: Map<string, string>) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

    it('sign-in sets a new session cookie and the HttpOnly auth cookie; /me has the user; sign-out clears it', async () => {
      const { app } = await start();
      const jar = cookies(await app.request('POST', '/write?key=a&value=1'));
      const before = jar.get('__Host-tessera');
      const signedIn = await app.request('POST', '/sign-in?user=u1', { cookie: header(jar) });
      assert.equal(signedIn.status, 200, signedIn.body);
      const auth = signedIn.setCookies.find((l) => l.startsWith('__Host-tessera-auth='));
      assert.match(auth ?? '', /; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
      cookies(signedIn, jar);
      assert.notEqual(jar.get('__Host-tessera'), before, 'signing in rotated the session ID');
      assert.equal((await app.request('GET', '/me', { cookie: header(jar) })).body, '"u1"');
      assert.equal((await app.request('GET', '/me')).body, 'null', 'another browser');
      const copy = header(jar);
      const signedOut = await app.request('POST', '/sign-out', { cookie: header(jar) });
      assert.ok(signedOut.setCookies.some((l) => /^__Host-tessera-auth=; Max-Age=0/.test(l)));
      cookies(signedOut, jar);
      assert.equal((await app.request('GET', '/me', { cookie: header(jar) })).body, 'null');
      assert.equal((await app.request('GET', '/me', { cookie: copy })).body, 'null', 'a copy of the signed-in cookies');
    });

    it('an auth cookie is isolated per tenant', async () => {
      const { app } = await start({}, { tenant: { header: 'x-tenant' } });
      const jar = cookies(await app.request('POST', '/sign-in?user=u1', { 'x-tenant': 'acme' }));
      assert.equal((await app.request('GET', '/me', { cookie: header(jar), 'x-tenant': 'acme' })).body, '"u1"');
      assert.equal((await app.request('GET', '/me', { cookie: header(jar), 'x-tenant': 'globex' })).body, 'null');
    });
  });

  describe(`CSRF: ${harness.name}, on ${storeTitle}`, () => {
    const HOST = 'app.example';
    /** A browser's same-origin request headers, with `cookie` and, if given, the token header. */
    const sameOrigin = (cookie: string, token?: string): Record<string, string> => ({
      cookie,
      'sec-fetch-site': 'same-origin',
      ...(token === undefined ? {} : { 'x-csrf-token': token }),
    });

    /** A CSRF-protected app; a first visit's page gives a token (the browser's cookies: `cookie`). */
    async function visit(csrf: TesseraOptions['csrf'] = {}) {
      const events: { reason?: string }[] = [];
      const started = await start({ csrf });
      started.tessera.on('csrfRejected', (e: { reason?: string }) => events.push(e));
      const page = await started.app.request('GET', '/token');
      assert.equal(page.status, 200);
      const cookie = page.setCookies.map(pair).join('; ');
      return { ...started, events, token: page.body, page, cookie };
    }

    it('refuses a POST without a token with 403 and an event; the handler does not run', async () => {
      const { app, events, cookie } = await visit();
      const refused = await app.request('POST', '/write?key=a&value=1', sameOrigin(cookie));
      assert.equal(refused.status, 403);
      assert.match(refused.body, /CSRF/);
      assert.deepEqual(events.map((e) => e.reason), ['missing-token']);
      assert.deepEqual(JSON.parse((await app.request('GET', '/read', { cookie })).body), {}, 'nothing was written');
    });

    it('a token works from the first visit (nothing stored yet), in the header or the _csrf form field', async () => {
      const { app, tessera, token, page, cookie } = await visit();
      assert.match(token, /^[A-Za-z0-9_-]{86}$/);
      const session = page.setCookies.find((l) => l.startsWith(`${tessera.cookieName}=`));
      assert.ok(session, 'the first visit got its session ID cookie with the token');
      const readable = page.setCookies.find((l) => l.startsWith(`${tessera.csrf.cookie!.name}=`));
      assert.ok(readable && !/HttpOnly/i.test(readable), 'and a CSRF cookie page script can read');
      const cookieToken = pair(readable).slice(pair(readable).indexOf('=') + 1);
      const viaHeader = await app.request('POST', '/write?key=a&value=1', sameOrigin(cookie, token));
      assert.equal(viaHeader.status, 200, viaHeader.body);
      const form = { ...sameOrigin(cookie), 'content-type': 'application/x-www-form-urlencoded' };
      const viaForm = await app.request('POST', '/write?key=b&value=2', form, undefined, `note=hi&_csrf=${encodeURIComponent(token)}`);
      assert.equal(viaForm.status, 200, viaForm.body);
      const viaCookie = await app.request('POST', '/write?key=c&value=3', sameOrigin(cookie, cookieToken));
      assert.equal(viaCookie.status, 200, 'the token page script reads from the cookie works too');
      assert.deepEqual(JSON.parse((await app.request('GET', '/read', { cookie })).body), { a: '1', b: '2', c: '3' });
    });

    it('every masked token of the session validates; a token of another session does not', async () => {
      const { app, cookie, events } = await visit();
      const again = await app.request('GET', '/token', { cookie });
      assert.notEqual(again.body, (await app.request('GET', '/token', { cookie })).body, 'masked afresh per response');
      assert.equal((await app.request('POST', '/write?key=a&value=1', sameOrigin(cookie, again.body))).status, 200);
      const other = await visit();
      const refused = await app.request('POST', '/write?key=a&value=2', sameOrigin(cookie, other.token));
      assert.equal(refused.status, 403);
      const forged = await app.request('POST', '/write?key=a&value=3', sameOrigin(cookie, 'A'.repeat(86)));
      assert.equal(forged.status, 403);
      assert.deepEqual(events.map((e) => e.reason), ['invalid-token', 'invalid-token']);
    });

    it('a token stops working when the session ID changes (regenerate)', async () => {
      const { app, token, cookie } = await visit();
      const regenerated = await app.request('POST', '/regenerate', sameOrigin(cookie, token));
      assert.equal(regenerated.status, 200, regenerated.body);
      const renewed = regenerated.setCookies.map(pair).join('; ');
      assert.equal((await app.request('POST', '/write?key=a&value=1', sameOrigin(renewed, token))).status, 403, 'the old token');
      const fresh = (await app.request('GET', '/token', { cookie: renewed })).body;
      assert.equal((await app.request('POST', '/write?key=a&value=1', sameOrigin(renewed, fresh))).status, 200);
    });

    it('Fetch Metadata: refuses cross-site and same-site requests, and a foreign Origin without Sec-Fetch-Site, even with a valid token', async () => {
      const { app, token, cookie, events } = await visit();
      for (const site of ['cross-site', 'same-site']) {
        const refused = await app.request('POST', '/write?key=a&value=1', { cookie, 'x-csrf-token': token, 'sec-fetch-site': site, origin: 'https://evil.example' });
        assert.equal(refused.status, 403, site);
      }
      const oldBrowser = await app.request('POST', '/write?key=a&value=1', { cookie, 'x-csrf-token': token, host: HOST, origin: 'https://evil.example' });
      assert.equal(oldBrowser.status, 403);
      const sameHost = await app.request('POST', '/write?key=a&value=1', { cookie, 'x-csrf-token': token, host: HOST, origin: `https://${HOST}` });
      assert.equal(sameHost.status, 200, 'an Origin matching the Host passes');
      const noHeaders = await app.request('POST', '/write?key=b&value=2', { cookie, 'x-csrf-token': token });
      assert.equal(noHeaders.status, 200, 'a client that sends neither header (not a browser) needs only the token');
      assert.deepEqual(events.map((e) => e.reason), ['cross-site', 'cross-site', 'cross-origin']);
    });

    it('trusted origins pass the Fetch Metadata check; exempt routes skip both checks', async () => {
      const { app, token, cookie } = await visit({ trustedOrigins: ['https://admin.example'], exempt: ['/destroy'] });
      const trusted = await app.request('POST', '/write?key=a&value=1', { cookie, 'x-csrf-token': token, 'sec-fetch-site': 'cross-site', origin: 'https://admin.example' });
      assert.equal(trusted.status, 200, trusted.body);
      const untrusted = await app.request('POST', '/write?key=a&value=1', { cookie, 'x-csrf-token': token, 'sec-fetch-site': 'cross-site', origin: 'https://other.example' });
      assert.equal(untrusted.status, 403);
      const exempt = await app.request('POST', '/destroy', { cookie, 'sec-fetch-site': 'cross-site' });
      assert.equal(exempt.status, 200, 'an exempt route (a webhook) needs neither');
    });

    it('reads neither the session ID nor the CSRF token from the URL', async () => {
      const { app, tessera, token, cookie, events } = await visit();
      const field = tessera.csrf.field;
      const inQuery = `key=a&value=1&${field}=${encodeURIComponent(token)}&${tessera.csrf.header}=${encodeURIComponent(token)}`;
      const refused = await app.request('POST', `/write?${inQuery}`, sameOrigin(cookie));
      assert.equal(refused.status, 403, 'a token in the query string is not taken');
      assert.deepEqual(events.map((e) => e.reason), ['missing-token']);
      assert.equal((await app.request('POST', '/write?key=a&value=1', sameOrigin(cookie, token))).status, 200);
      const idPair = cookie.split('; ').find((p) => p.startsWith(`${tessera.cookieName}=`));
      assert.ok(idPair, 'the browser holds the session cookie');
      const [name, value] = [idPair.slice(0, idPair.indexOf('=')), idPair.slice(idPair.indexOf('=') + 1)];
      for (const param of [name, 'sid', 'session', 'connect.sid']) {
        const read = await app.request('GET', `/read?${encodeURIComponent(param)}=${encodeURIComponent(value)}`);
        assert.deepEqual(JSON.parse(read.body), {}, `?${param}= names no session`);
      }
      assert.deepEqual(JSON.parse((await app.request('GET', '/read', { cookie })).body), { a: '1' }, 'the cookie does');
    });

    it('a token never validates under another tenant', async () => {
      const started = await start({ csrf: {} }, { tenant: { header: 'x-tenant' } });
      const page = await started.app.request('GET', '/token', { 'x-tenant': 'a' });
      const cookie = page.setCookies.map(pair).join('; ');
      const headers = (tenant: string) => ({ ...sameOrigin(cookie, page.body), 'x-tenant': tenant });
      assert.equal((await started.app.request('POST', '/write?key=k&value=1', headers('b'))).status, 403);
      assert.equal((await started.app.request('POST', '/write?key=k&value=1', headers('a'))).status, 200);
    });
  });
}
