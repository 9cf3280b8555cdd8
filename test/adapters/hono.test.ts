/**
 * tessera/hono beyond the shared suite: options, typed variables, the app's own cookies, errors
 * and app.onError, streams, sub-apps, client IP and HTTPS, tenants — socket-free through
 * `app.request()` (with `@hono/node-server`'s bindings passed as `env` where the socket matters),
 * and once on a real `@hono/node-server` server for the address from the socket.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { setCookie } from 'hono/cookie';
import { HTTPException } from 'hono/http-exception';
import { stream, streamSSE } from 'hono/streaming';
import { sessions, type HonoSessionsOptions, type SessionVariables } from '../../src/adapters/hono.js';
import { ConfigError, SessionStateError, StoreUnavailableError } from '../../src/errors.js';
import { Tessera } from '../../src/manager.js';
import type { Session } from '../../src/session.js';
import { CookieStore } from '../../src/stores/cookie.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { SessionStore, StoreContext, StoreRecord } from '../../src/stores/store.js';

const SECRET = 'hono-adapter-test-secret-0123456789abcdef';

/** createTessera options for a test: memory, Secure cookies, no timer, no log lines. */
const base = (options: Partial<HonoSessionsOptions> = {}): HonoSessionsOptions => ({
  secrets: [SECRET],
  store: new MemoryStore(),
  cleanupInterval: 0,
  csrf: false,
  logger: {},
  ...options,
  cookie: { secure: true, ...options.cookie },
});

/** A store whose calls fail as an unreachable server's do while `down`, and answer with promises only. */
class FlakyStore implements SessionStore {
  readonly name = 'flaky';
  down = false;
  failWrites = false;
  readonly inner = new MemoryStore();
  async get(key: string, ctx: StoreContext): Promise<StoreRecord | null> {
    if (this.down) throw new StoreUnavailableError('flaky');
    return this.inner.get(key, ctx);
  }
  async set(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): Promise<boolean> {
    if (this.down || this.failWrites) throw new StoreUnavailableError('flaky');
    return this.inner.set(key, record, expectedVersion, ctx);
  }
  async delete(key: string, ctx: StoreContext): Promise<void> {
    if (this.down) throw new StoreUnavailableError('flaky');
    return this.inner.delete(key, ctx);
  }
}

/** The `name=value` of the session's Set-Cookie line on `res`, if any. */
const sessionCookie = (res: Response): string | undefined =>
  res.headers
    .getSetCookie()
    .find((line) => line.startsWith('__Host-tessera='))
    ?.split(';', 1)[0];

/** An app with the middleware and a `/count` route (views + 1, answered as text). */
function countingApp(options: HonoSessionsOptions = base()) {
  const middleware = sessions(options);
  const app = new Hono();
  app.use(middleware);
  app.get('/count', (c) => {
    const session = c.get('session');
    const views = (session.get<number>('views') ?? 0) + 1;
    session.set('views', views);
    return c.text(String(views));
  });
  return { app, middleware, tessera: middleware.tessera };
}

/** `@hono/node-server`'s bindings, as `app.request`'s `env`: what `c.env` holds on a real server. */
const nodeEnv = (remoteAddress: string, encrypted = false) => ({ incoming: { socket: { remoteAddress, encrypted } }, outgoing: {} });

describe('tessera/hono: options', () => {
  it('takes createTessera options, or a tessera instance with only trustProxy and tenant beside it', () => {
    assert.ok(sessions(base()).tessera instanceof Tessera);
    const tessera = new Tessera({ ...base(), store: new MemoryStore() });
    assert.equal(sessions({ tessera, trustProxy: 1, tenant: () => null }).tessera, tessera);
  });

  it('refuses bad options at once, with ConfigError', () => {
    const tessera = new Tessera({ ...base(), store: new MemoryStore() });
    const bad: unknown[] = [
      { ...base(), trustProxy: -1 },
      { ...base(), trustProxy: '1' },
      { ...base(), tenant: 'acme' },
      { tessera, secrets: [SECRET] },
      { tessera, store: new MemoryStore() },
      { tessera: {} },
      tessera,
      null,
      'secret',
    ];
    for (const options of bad) assert.throws(() => sessions(options as HonoSessionsOptions), ConfigError, JSON.stringify(options));
  });
});

describe('tessera/hono: sessions through app.request', () => {
  it('counts views per browser, with one signed session cookie', async () => {
    const { app } = countingApp();
    const first = await app.request('/count');
    assert.equal(await first.text(), '1');
    assert.match(first.headers.get('set-cookie')!, /^__Host-tessera=[\w-]{43}\.[\w-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    const cookie = sessionCookie(first)!;
    const second = await app.request('/count', { headers: { cookie } });
    assert.equal(await second.text(), '2');
    assert.equal(second.headers.get('set-cookie'), null, 'an existing session needs no new cookie');
    assert.equal(await (await app.request('/count')).text(), '1', 'another browser has its own session');
  });

  it("keeps the app's own cookies (hono/cookie's setCookie) with their attributes, next to the session's", async () => {
    const { app } = countingApp();
    app.get('/prefs', (c) => {
      setCookie(c, 'theme', 'dark', { path: '/', maxAge: 3600, sameSite: 'Strict' });
      c.get('session').set('prefs', true);
      setCookie(c, 'lang', 'fr');
      return c.text('ok');
    });
    const lines = (await app.request('/prefs')).headers.getSetCookie();
    assert.equal(lines.length, 3, JSON.stringify(lines));
    assert.equal(lines[0], 'theme=dark; Max-Age=3600; Path=/; SameSite=Strict');
    assert.equal(lines[1], 'lang=fr; Path=/');
    assert.match(lines[2]!, /^__Host-tessera=.+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
  });

  it('types c.get("session"): Session everywhere, your data with SessionVariables<Data>', async () => {
    const app = new Hono<{ Variables: SessionVariables<{ views: number; name: string }> }>();
    app.use(sessions(base()));
    app.get('/', (c) => {
      const session = c.get('session');
      const views: number | undefined = session.get('views');
      // @ts-expect-error -- views is a number in this app's session data
      const wrong: string | undefined = session.get('views');
      void wrong;
      session.set('views', (views ?? 0) + 1);
      return c.text(String(session.get('views')));
    });
    const plain = new Hono();
    plain.use(sessions(base()));
    plain.get('/', (c) => {
      const session: Session = c.get('session');
      return c.text(String(session.isNew && c.var.session === session));
    });
    assert.equal(await (await app.request('/')).text(), '1');
    assert.equal(await (await plain.request('/')).text(), 'true');
  });

  it('loads from a store that answers with promises before the handler runs', async () => {
    const store = new FlakyStore();
    const { app } = countingApp(base({ store }));
    const cookie = sessionCookie(await app.request('/count'))!;
    assert.equal(await (await app.request('/count', { headers: { cookie } })).text(), '2');
    assert.equal(store.inner.size, 1);
  });

  it('works with sessions sealed in the cookie (CookieStore)', async () => {
    const { app } = countingApp(base({ store: new CookieStore({ revocation: new MemoryStore() }) }));
    const first = await app.request('/count');
    const cookie = sessionCookie(first)!;
    assert.ok(cookie.length > 100, 'the session itself is in the cookie');
    assert.equal(await (await app.request('/count', { headers: { cookie } })).text(), '2');
  });

  it('session.ignore() takes the session cookie back and writes nothing', async () => {
    const store = new MemoryStore();
    const { app } = countingApp(base({ store }));
    app.get('/prefetch', (c) => {
      c.get('session').set('seen', true);
      c.get('session').ignore();
      return c.text('ok');
    });
    const res = await app.request('/prefetch');
    assert.deepEqual(res.headers.getSetCookie(), []);
    assert.equal(store.size, 0);
  });

  it('adds the cookie to a response whose headers are immutable (Response.redirect)', async () => {
    const { app } = countingApp();
    app.post('/login', (c) => {
      c.get('session').userId = 'u1';
      return Response.redirect('https://example.com/home', 303);
    });
    const res = await app.request('/login', { method: 'POST' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), 'https://example.com/home');
    assert.ok(sessionCookie(res));
  });

  it('runs once when mounted twice on one request', async () => {
    const store = new FlakyStore();
    const middleware = sessions(base({ store }));
    const app = new Hono();
    let gets = 0;
    const get = store.get.bind(store);
    store.get = (key, ctx) => (gets++, get(key, ctx));
    app.use(middleware);
    app.use('/twice/*', middleware);
    app.get('/twice/count', (c) => {
      c.get('session').set('n', 1);
      return c.text('ok');
    });
    const cookie = sessionCookie(await app.request('/twice/count'))!;
    const res = await app.request('/twice/count', { headers: { cookie } });
    assert.equal(gets, 1, 'one load for the second request');
    assert.deepEqual(res.headers.getSetCookie(), []);
  });
});

describe('tessera/hono: errors', () => {
  it('answers 503 with Retry-After through Hono\'s default error handler when the store is down', async () => {
    const store = new FlakyStore();
    const { app } = countingApp(base({ store }));
    const cookie = sessionCookie(await app.request('/count'))!;
    store.down = true;
    const res = await app.request('/count', { headers: { cookie } });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.match(await res.text(), /unavailable/);
    store.down = false;
    assert.equal(await (await app.request('/count', { headers: { cookie } })).text(), '2');
  });

  it('gives app.onError an HTTPException (status 503, the tessera error as its cause)', async () => {
    const store = new FlakyStore();
    const { app } = countingApp(base({ store }));
    const seen: unknown[] = [];
    app.onError((err, c) => {
      seen.push(err);
      if (err instanceof HTTPException) return err.getResponse();
      return c.text('oops', 500);
    });
    const cookie = sessionCookie(await app.request('/count'))!;
    store.down = true;
    const res = await app.request('/count', { headers: { cookie } });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    const [err] = seen;
    assert.ok(err instanceof HTTPException);
    assert.equal(err.status, 503);
    assert.ok(err.cause instanceof StoreUnavailableError);
  });

  it('answers 503, with no session cookie, when the commit after the handler fails', async () => {
    const store = new FlakyStore();
    const { app } = countingApp(base({ store }));
    store.failWrites = true;
    const res = await app.request('/count');
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.equal(sessionCookie(res), undefined, 'no cookie for a session that was not stored');
  });

  it('passes other errors to app.onError as thrown (a tenant resolver that throws)', async () => {
    const boom = new Error('bad host');
    const { app } = countingApp(base({ tenant: () => { throw boom; } }));
    let seen: unknown;
    app.onError((err, c) => ((seen = err), c.text('custom', 500)));
    const res = await app.request('/count');
    assert.equal(res.status, 500);
    assert.equal(await res.text(), 'custom');
    assert.equal(seen, boom);
  });

  it("commits what a handler changed before it threw, its cookie on app.onError's response", async () => {
    const store = new MemoryStore();
    const { app, tessera } = countingApp(base({ store }));
    app.get('/fail', (c) => {
      c.get('session').set('before', 'throw');
      throw new Error('handler failed');
    });
    app.onError((_err, c) => c.text('failed', 500));
    const res = await app.request('/fail');
    assert.equal(res.status, 500);
    const cookie = sessionCookie(res)!;
    const id = tessera.verifyCookie(cookie.slice(cookie.indexOf('=') + 1))!;
    assert.equal(await tessera.get(id, 'before'), 'throw');
  });
});

describe('tessera/hono: streams', () => {
  /** Read a streamed body chunk by chunk. */
  async function chunks(res: Response): Promise<string[]> {
    const out: string[] = [];
    const decoder = new TextDecoder();
    const reader = res.body!.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) out.push(decoder.decode(r.value));
    return out;
  }

  it('stream(), streamSSE() and a Response with a ReadableStream body keep their body, the cookie on the head', async () => {
    const { app } = countingApp();
    app.get('/stream', (c) => {
      c.get('session').set('kind', 'stream');
      return stream(c, async (s) => {
        await s.write('a');
        await s.write('b');
      });
    });
    app.get('/sse', (c) => {
      c.get('session').set('kind', 'sse');
      return streamSSE(c, async (s) => {
        await s.writeSSE({ data: 'one', event: 'tick' });
        await s.writeSSE({ data: 'two', event: 'tick' });
      });
    });
    app.get('/raw', (c) => {
      c.get('session').set('kind', 'raw');
      const parts = ['x', 'y', 'z'];
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          const part = parts.shift();
          if (part === undefined) controller.close();
          else controller.enqueue(new TextEncoder().encode(part));
        },
      });
      return new Response(body, { headers: { 'content-type': 'application/octet-stream' } });
    });
    const streamed = await app.request('/stream');
    assert.ok(sessionCookie(streamed));
    assert.equal((await chunks(streamed)).join(''), 'ab');
    const sse = await app.request('/sse');
    assert.ok(sessionCookie(sse));
    assert.equal(sse.headers.get('content-type'), 'text/event-stream');
    assert.equal((await chunks(sse)).join(''), 'event: tick\ndata: one\n\nevent: tick\ndata: two\n\n');
    const raw = await app.request('/raw');
    assert.ok(sessionCookie(raw));
    assert.deepEqual(await chunks(raw), ['x', 'y', 'z'], 'chunk by chunk, as the app made them');
  });

  it('commits a change made in a stream after the response left, without a cookie and without crashing', async () => {
    const store = new MemoryStore();
    const { app, tessera } = countingApp(base({ store }));
    const outcome: string[] = [];
    app.get('/later', (c) =>
      stream(
        c,
        async (s) => {
          await s.write('head sent; ');
          await new Promise((resolve) => setImmediate(resolve));
          c.get('session').set('later', true);
          outcome.push('set');
          await s.write('changed');
        },
        async (err, s) => {
          outcome.push((err as SessionStateError).code);
          await s.write((err as SessionStateError).code);
        },
      ),
    );
    // A session with a cookie already: the change is stored, no cookie needed.
    const cookie = sessionCookie(await app.request('/count'))!;
    const existing = await app.request('/later', { headers: { cookie } });
    assert.equal((await chunks(existing)).join(''), 'head sent; changed');
    assert.equal(existing.headers.get('set-cookie'), null);
    await new Promise((resolve) => setImmediate(resolve));
    const id = tessera.verifyCookie(cookie.slice(cookie.indexOf('=') + 1))!;
    assert.equal(await tessera.get(id, 'later'), true);
    // No session yet: it cannot start without a cookie, and says so in the stream's own error path.
    const fresh = await app.request('/later');
    assert.equal((await chunks(fresh)).join(''), 'head sent; ERR_SESSION_STATE');
    assert.deepEqual(outcome, ['set', 'ERR_SESSION_STATE']);
    assert.equal(store.size, 1, 'nothing stored for the browser without a cookie');
  });

  it('reports a commit that fails after the response left as a commitError, the stream intact', async () => {
    const store = new FlakyStore();
    const { app, tessera } = countingApp(base({ store }));
    app.get('/later', (c) =>
      stream(c, async (s) => {
        await s.write('one ');
        await new Promise((resolve) => setImmediate(resolve));
        store.failWrites = true;
        c.get('session').set('later', true);
        await s.write('two');
      }),
    );
    const cookie = sessionCookie(await app.request('/count'))!;
    const reported = new Promise((resolve) => tessera.once('commitError', resolve));
    const res = await app.request('/later', { headers: { cookie } });
    assert.equal(res.status, 200);
    assert.equal((await chunks(res)).join(''), 'one two');
    assert.ok((await reported) instanceof StoreUnavailableError);
  });
});

describe('tessera/hono: sub-apps', () => {
  it('gives routes of a sub-app mounted with app.route the session of the parent middleware', async () => {
    const { app } = countingApp();
    const api = new Hono();
    api.get('/me', (c) => c.json(c.get('session').toJSON()));
    app.route('/api', api);
    const cookie = sessionCookie(await app.request('/count'))!;
    assert.deepEqual(await (await app.request('/api/me', { headers: { cookie } })).json(), { views: 1 });
  });

  it("runs in a sub-app's own middleware, its errors through the sub-app's onError", async () => {
    const store = new FlakyStore();
    const admin = new Hono();
    admin.use(sessions(base({ store })));
    admin.get('/count', (c) => {
      c.get('session').update<number>('n', (n) => (n ?? 0) + 1);
      return c.text(String(c.get('session').get('n')));
    });
    admin.onError((err, c) => (err instanceof HTTPException ? c.text(`admin: ${err.status}`, err.status) : c.text('admin: 500', 500)));
    const app = new Hono();
    app.get('/', (c) => c.text('home'));
    app.route('/admin', admin);
    assert.equal(await (await app.request('/')).text(), 'home');
    const first = await app.request('/admin/count');
    assert.equal(await first.text(), '1');
    const cookie = sessionCookie(first)!;
    store.down = true;
    const down = await app.request('/admin/count', { headers: { cookie } });
    assert.equal(down.status, 503);
    assert.equal(await down.text(), 'admin: 503');
  });
});

describe('tessera/hono: client IP, HTTPS, tenants', () => {
  /** An app answering the IP tessera saw (from a new session's meta) and whether the request is secure. */
  function ipApp(options: Partial<HonoSessionsOptions> = {}) {
    const middleware = sessions(base(options));
    const app = new Hono();
    app.use(middleware);
    app.get('/', (c) => c.json({ ip: c.get('session').meta.ip, secure: middleware.isSecure(c) }));
    return app;
  }
  const ipOf = async (res: Response) => ((await res.json()) as { ip: string | null }).ip;

  it('takes the IP and TLS from the socket of @hono/node-server, ignoring forwarding headers by default', async () => {
    const app = ipApp();
    const headers = { 'x-forwarded-for': '198.51.100.66', 'x-forwarded-proto': 'https' };
    assert.deepEqual(await (await app.request('/', { headers }, nodeEnv('10.0.0.2'))).json(), { ip: '10.0.0.2', secure: false });
    assert.deepEqual(await (await app.request('/', {}, nodeEnv('10.0.0.2', true))).json(), { ip: '10.0.0.2', secure: true });
  });

  it('behind trustProxy, takes the client from X-Forwarded-For counted from the right, and HTTPS from X-Forwarded-Proto', async () => {
    const one = ipApp({ trustProxy: true });
    // The client sent 198.51.100.66; the one trusted proxy appended the address it saw.
    const headers = { 'x-forwarded-for': '198.51.100.66, 203.0.113.5', 'x-forwarded-proto': 'https' };
    assert.deepEqual(await (await one.request('/', { headers }, nodeEnv('10.0.0.2'))).json(), { ip: '203.0.113.5', secure: true });
    const two = ipApp({ trustProxy: 2 });
    const chain = { 'x-forwarded-for': '198.51.100.66, 203.0.113.5, 10.0.0.1' };
    assert.equal(await ipOf(await two.request('/', { headers: chain }, nodeEnv('10.0.0.2'))), '203.0.113.5');
    assert.equal(await ipOf(await one.request('/', {}, nodeEnv('10.0.0.2'))), '10.0.0.2', 'no header: the socket');
  });

  it('off Node (no socket in c.env): no IP unless a proxy is trusted, HTTPS from the URL', async () => {
    assert.deepEqual(await (await ipApp().request('https://example.com/')).json(), { ip: null, secure: true });
    assert.deepEqual(await (await ipApp().request('http://example.com/')).json(), { ip: null, secure: false });
    const proxied = ipApp({ trustProxy: 1 });
    assert.equal(await ipOf(await proxied.request('/', { headers: { 'x-forwarded-for': '203.0.113.5' } })), '203.0.113.5');
  });

  it('binds a session to the IP from the socket (bindIp)', async () => {
    const { app } = countingApp(base({ bindIp: true }));
    const cookie = sessionCookie(await app.request('/count', {}, nodeEnv('10.0.0.2')))!;
    assert.equal(await (await app.request('/count', { headers: { cookie } }, nodeEnv('10.0.0.2'))).text(), '2');
    assert.equal(await (await app.request('/count', { headers: { cookie } }, nodeEnv('10.9.9.9'))).text(), '1', 'another address: a fresh session');
  });

  it('keeps tenants apart (tenant from the request)', async () => {
    const { app } = countingApp(base({ tenant: (c) => c.req.header('x-tenant') ?? null }));
    const cookie = sessionCookie(await app.request('/count', { headers: { 'x-tenant': 'acme' } }))!;
    assert.equal(await (await app.request('/count', { headers: { cookie, 'x-tenant': 'acme' } })).text(), '2');
    assert.equal(await (await app.request('/count', { headers: { cookie, 'x-tenant': 'globex' } })).text(), '1');
  });
});

describe('tessera/hono on @hono/node-server', () => {
  const servers: Array<{ close(): unknown; closeAllConnections?(): void }> = [];
  after(() => servers.forEach((s) => (s.closeAllConnections?.(), s.close())));

  it('takes the client IP from the socket, and commits before the response goes out', async () => {
    const app = new Hono();
    app.use(sessions(base()));
    app.get('/', (c) => {
      c.get('session').set('visited', true);
      return c.text(c.get('session').meta.ip ?? 'none');
    });
    app.get('/read', (c) => c.json(c.get('session').toJSON()));
    const url = await new Promise<string>((resolve) => {
      const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve(`http://127.0.0.1:${info.port}`));
      servers.push(server as never);
    });
    const res = await fetch(url, { headers: { 'x-forwarded-for': '198.51.100.66' } });
    assert.equal(await res.text(), '127.0.0.1');
    const cookie = sessionCookie(res)!;
    assert.deepEqual(await (await fetch(`${url}/read`, { headers: { cookie } })).json(), { visited: true });
  });
});
