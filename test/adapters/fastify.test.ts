/**
 * What is particular to the Fastify plugin (the shared behaviour is fastify-suite.test.ts):
 * registration and its options, types, @fastify/cookie in either order, the app's own cookies,
 * errors and 503s, the order of hooks, child plugins, lazy loading, streams and hijacked replies.
 * Socket-free: every request goes through `app.inject`.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { sessions, type FastifySessionsOptions } from '../../src/adapters/fastify.js';
import { ConfigError, SessionStateError, StoreUnavailableError, TesseraError } from '../../src/errors.js';
import { Tessera } from '../../src/manager.js';
import type { TesseraOptions } from '../../src/options.js';
import { Session } from '../../src/session.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { SessionStore, StoreContext, StoreRecord } from '../../src/stores/store.js';

declare module '../../src/adapters/fastify.js' {
  interface FastifySessionData {
    views: number;
  }
}

const SECRET = 'fastify-adapter-test-secret-0123456789abcdef';
const COOKIE = '__Host-tessera=';

function manager(store: SessionStore = new MemoryStore(), options: Partial<TesseraOptions> = {}): Tessera {
  return new Tessera({ secrets: [SECRET], store, cleanupInterval: 0, logger: {}, cookie: { secure: true }, csrf: false, ...options });
}

const apps: FastifyInstance[] = [];
after(() => Promise.all(apps.map((app) => app.close())));

/** A Fastify app with the plugin registered (after `before` ran, if given). */
async function appWith(options: FastifySessionsOptions, before?: (app: FastifyInstance) => unknown): Promise<FastifyInstance> {
  const app = Fastify();
  apps.push(app);
  await before?.(app);
  await app.register(sessions, options);
  return app;
}

const setCookies = (res: LightMyRequestResponse): string[] => {
  const lines = res.headers['set-cookie'];
  return lines === undefined ? [] : Array.isArray(lines) ? lines : [String(lines)];
};
/** The `name=value` of the session cookie a response set. */
const sessionCookie = (res: LightMyRequestResponse): string => {
  const line = setCookies(res).find((l) => l.startsWith(COOKIE));
  assert.ok(line, `a session cookie in ${JSON.stringify(setCookies(res))}`);
  return line.split(';', 1)[0]!;
};

/** A MemoryStore counting its reads. */
class CountingMemoryStore extends MemoryStore {
  reads = 0;
  override getSync(key: string, ctx: StoreContext): StoreRecord | null {
    this.reads++;
    return super.getSync(key, ctx);
  }
}

/** A store answering with promises (as PostgreSQL and Redis do), which can fail or hold its writes. */
class PromiseStore implements SessionStore {
  readonly name = 'promise';
  readonly inner = new MemoryStore();
  reads = 0;
  writes = 0;
  failReads = false;
  failWrites = false;
  /** While set, writes wait for it. */
  writeGate: Promise<void> | null = null;
  async get(key: string, ctx: StoreContext): Promise<StoreRecord | null> {
    this.reads++;
    if (this.failReads) throw new StoreUnavailableError(this.name);
    return this.inner.get(key, ctx);
  }
  async set(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): Promise<boolean> {
    this.writes++;
    if (this.writeGate) await this.writeGate;
    if (this.failWrites) throw new StoreUnavailableError(this.name);
    return this.inner.set(key, record, expectedVersion, ctx);
  }
  async delete(key: string, ctx: StoreContext): Promise<void> {
    return this.inner.delete(key, ctx);
  }
}

/** Routes most tests share: read the data, and write `?key=value`. */
function counterRoutes(app: FastifyInstance): FastifyInstance {
  app.get('/read', async (request) => request.session.toJSON());
  app.post<{ Querystring: Record<string, string> }>('/write', async (request) => {
    for (const [key, value] of Object.entries(request.query)) request.session.set(key, value);
    return 'ok';
  });
  app.get('/untouched', async () => 'ok');
  return app;
}

describe('tessera/fastify: registration', () => {
  it('decorates the instance it is registered on (not encapsulated): fastify.tessera and request.session', async () => {
    const tessera = manager();
    const app = await appWith({ tessera });
    assert.equal(app.tessera, tessera);
    assert.ok(app.hasRequestDecorator('session'));
    assert.ok(app.hasPlugin('tessera'), 'registered under its name, as fastify-plugin would');
    app.get('/', async (request) => request.session instanceof Session);
    assert.equal((await app.inject('/')).body, 'true');
  });

  it('makes its own manager from createTessera options, and closes it with Fastify; a given one stays open', async () => {
    const own = Fastify();
    await own.register(sessions, { secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, logger: {} });
    const made = own.tessera;
    assert.ok(made instanceof Tessera);
    await own.close();
    await assert.rejects(made.cleanupExpired(), SessionStateError, 'closed with the app');

    const given = manager();
    const app = Fastify();
    await app.register(sessions, { tessera: given });
    await app.close();
    assert.equal(await given.cleanupExpired(), 0, 'still open');
  });

  it('refuses bad options at registration with typed errors', async () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['manager options next to a tessera', { tessera: manager(), secrets: [SECRET] }, 'ERR_CONFIG'],
      ['a tessera that is not one', { tessera: { cookieName: 'x' } }, 'ERR_CONFIG'],
      ['a negative trustProxy', { tessera: manager(), trustProxy: -1 }, 'ERR_CONFIG'],
      ['a tenant that is not a function', { tessera: manager(), tenant: 'acme' }, 'ERR_CONFIG'],
      ['a short secret', { secrets: ['short'], store: new MemoryStore() }, 'ERR_SECRET'],
    ];
    for (const [what, options, code] of cases) {
      const app = Fastify();
      await assert.rejects(
        async () => app.register(sessions, options as FastifySessionsOptions),
        (error: unknown) => error instanceof TesseraError && error.code === code,
        what,
      );
      await app.close().catch(() => {});
    }
    const app = Fastify();
    await assert.rejects(async () => app.register(sessions, { tessera: manager(), idleTimeout: 1 }), /remove `idleTimeout`/);
    await app.close().catch(() => {});
    assert.ok(new ConfigError('x') instanceof TesseraError);
  });

  it('cannot be registered twice in one scope', async () => {
    const app = await appWith({ tessera: manager() });
    await assert.rejects(async () => app.register(sessions, { tessera: manager() }), /already been added|already present/);
  });

  it('serves only the scope it is registered in: sibling routes have no session and cost no store read', async () => {
    const store = new PromiseStore();
    const tessera = manager(store);
    const app = Fastify();
    apps.push(app);
    await app.register(async (scope) => {
      await scope.register(sessions, { tessera });
      counterRoutes(scope);
    });
    app.get('/outside', async (request) => ({ session: (request as { session?: unknown }).session ?? null }));
    const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/write?a=1' }));
    const reads = store.reads;
    assert.deepEqual((await app.inject({ url: '/outside', headers: { cookie } })).json(), { session: null });
    assert.equal(store.reads, reads);
    assert.deepEqual((await app.inject({ url: '/read', headers: { cookie } })).json(), { a: '1' });
  });

  it('types request.session (with the app-declared FastifySessionData) and fastify.tessera', async () => {
    const app = await appWith({ tessera: manager() });
    app.get('/', async (request) => {
      const views: number | undefined = request.session.get('views');
      // @ts-expect-error -- views is declared a number
      const wrong: string | undefined = request.session.get('views');
      const other = request.session.get<string>('other');
      const session: Session = request.session;
      const tessera: Tessera = request.server.tessera;
      // @ts-expect-error -- request.session is read-only
      if (views === -1) request.session = session;
      return { views: views ?? null, wrong: wrong ?? null, other: other ?? null, same: tessera === app.tessera };
    });
    assert.deepEqual((await app.inject('/')).json(), { views: null, wrong: null, other: null, same: true });
  });
});

describe('tessera/fastify: cookies', () => {
  for (const order of ['before', 'after'] as const) {
    it(`keeps the app's cookies next to the session's, with @fastify/cookie registered ${order} the plugin`, async () => {
      const tessera = manager();
      const app = Fastify();
      apps.push(app);
      if (order === 'before') await app.register(fastifyCookie);
      await app.register(sessions, { tessera });
      if (order === 'after') await app.register(fastifyCookie);
      app.post('/', async (request, reply) => {
        reply.setCookie('theme', 'dark', { path: '/' });
        reply.header('set-cookie', 'plain=1; Path=/');
        request.session.set('a', 1);
        reply.setCookie('lang', 'en', { path: '/' });
        return { cookies: request.cookies };
      });
      app.post('/twice', async (request, reply) => {
        reply.header('set-cookie', 'plain=1; Path=/');
        request.session.set('a', 1);
        request.session.regenerate();
        return 'ok';
      });
      app.post('/destroy', async (request, reply) => {
        reply.setCookie('bye', '1');
        request.session.destroy();
        return 'ok';
      });
      const res = await app.inject({ method: 'POST', url: '/' });
      const lines = setCookies(res);
      assert.equal(lines.length, 4, JSON.stringify(lines));
      assert.equal(lines.filter((l) => l.startsWith(COOKIE)).length, 1, JSON.stringify(lines));
      for (const name of ['theme=dark', 'plain=1', 'lang=en']) assert.ok(lines.some((l) => l.startsWith(name)), `${name} in ${JSON.stringify(lines)}`);
      const twice = setCookies(await app.inject({ method: 'POST', url: '/twice' }));
      assert.equal(twice.length, 2, `the session cookie replaced, the app's kept once: ${JSON.stringify(twice)}`);
      const cookie = sessionCookie(res);
      const again = await app.inject({ method: 'POST', url: '/', headers: { cookie } });
      assert.deepEqual(setCookies(again).filter((l) => l.startsWith(COOKIE)), [], 'no new session cookie for a known session');
      assert.equal(again.json().cookies[COOKIE.slice(0, -1)], cookie.slice(COOKIE.length), '@fastify/cookie parses the session cookie like any other');
      const destroyed = setCookies(await app.inject({ method: 'POST', url: '/destroy', headers: { cookie } }));
      assert.ok(destroyed.some((l) => l.startsWith(`${COOKIE}; Max-Age=0`)) && destroyed.some((l) => l.startsWith('bye=1')), JSON.stringify(destroyed));
    });
  }

  it('keeps Set-Cookie lines the app put on reply.raw before the session wrote', async () => {
    const app = await appWith({ tessera: manager() });
    app.get('/', async (request, reply) => {
      reply.raw.setHeader('set-cookie', ['raw=1; Path=/']);
      request.session.set('a', 1);
      return 'ok';
    });
    const lines = setCookies(await app.inject('/'));
    assert.equal(lines.length, 2, JSON.stringify(lines));
    assert.ok(lines[0]!.startsWith('raw=1') && lines[1]!.startsWith(COOKIE));
  });
});

describe('tessera/fastify: errors', () => {
  it('answers 503 with Retry-After when a commit fails, though the read worked: the commit is awaited before the head', async () => {
    const store = new PromiseStore();
    const app = counterRoutes(await appWith({ tessera: manager(store) }));
    const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/write?a=1' }));
    store.failWrites = true;
    const res = await app.inject({ method: 'POST', url: '/write?b=2', headers: { cookie } });
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(res.json().code, 'ERR_STORE_UNAVAILABLE', "Fastify's default error handler, with the error's status");
    store.failWrites = false;
    assert.deepEqual((await app.inject({ url: '/read', headers: { cookie } })).json(), { a: '1' });
  });

  it('a store failing on a synchronous-store commit is a 503 too', async () => {
    class FailingMemoryStore extends MemoryStore {
      fail = false;
      override setSync(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): boolean {
        if (this.fail) throw new StoreUnavailableError('memory');
        return super.setSync(key, record, expectedVersion, ctx);
      }
    }
    const store = new FailingMemoryStore();
    const app = counterRoutes(await appWith({ tessera: manager(store) }));
    app.post('/sync', (request, reply) => {
      request.session.set('a', 1);
      reply.send('ok');
    });
    store.fail = true;
    for (const url of ['/write?a=1', '/sync']) {
      const res = await app.inject({ method: 'POST', url });
      assert.equal(res.statusCode, 503, url);
      assert.equal(res.headers['retry-after'], '1', url);
    }
  });

  it('a failed load answers 503 only to routes that read the session', async () => {
    const store = new PromiseStore();
    const app = counterRoutes(await appWith({ tessera: manager(store) }));
    const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/write?a=1' }));
    store.failReads = true;
    const read = await app.inject({ url: '/read', headers: { cookie } });
    assert.equal(read.statusCode, 503);
    assert.equal(read.headers['retry-after'], '1');
    const untouched = await app.inject({ url: '/untouched', headers: { cookie } });
    assert.equal(untouched.statusCode, 200, 'a route that never reads the session still answers');
  });

  it("hands errors to the app's error handler, which sees the typed error (Retry-After already set)", async () => {
    const store = new PromiseStore();
    const seen: unknown[] = [];
    const app = counterRoutes(await appWith({ tessera: manager(store) }));
    app.setErrorHandler((error, _request, reply) => {
      seen.push(error);
      if (error instanceof StoreUnavailableError) return reply.code(503).send('come back soon');
      return reply.send(error);
    });
    store.failWrites = true;
    const res = await app.inject({ method: 'POST', url: '/write?a=1' });
    assert.equal(res.statusCode, 503);
    assert.equal(res.body, 'come back soon');
    assert.equal(res.headers['retry-after'], '1');
    assert.ok(seen[0] instanceof StoreUnavailableError);
  });

  it('a misuse of the session is a 500 through Fastify, with the error code', async () => {
    const app = await appWith({ tessera: manager() });
    app.post('/', async (request) => {
      request.session.destroy();
      request.session.set('a', 1);
    });
    const res = await app.inject({ method: 'POST', url: '/' });
    assert.equal(res.statusCode, 500);
    assert.equal(res.json().code, 'ERR_SESSION_STATE');
    assert.equal(res.headers['retry-after'], undefined);
  });

  it('reports a commit that fails after the head went out (a stream), leaving the response alone', async () => {
    const store = new PromiseStore();
    const tessera = manager(store);
    const app = counterRoutes(await appWith({ tessera }));
    app.get('/late', async (request, reply) => {
      const session = request.session;
      const body = new PassThrough();
      reply.send(body);
      body.write('head and first chunk; ');
      while (!reply.raw.headersSent) await new Promise((resolve) => setImmediate(resolve));
      session.set('late', 1);
      body.end('then a change');
      return reply;
    });
    const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/write?a=1' }));
    const reported = new Promise<unknown>((resolve) => tessera.once('commitError', resolve));
    store.failWrites = true;
    const res = await app.inject({ url: '/late', headers: { cookie } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, 'head and first chunk; then a change');
    assert.ok((await reported) instanceof StoreUnavailableError);
  });
});

describe('tessera/fastify: hooks', () => {
  for (const kind of ['synchronous', 'promise'] as const) {
    it(`the session is there in the app's hooks registered after the plugin, and their changes are committed (${kind} store)`, async () => {
      const tessera = manager(kind === 'promise' ? new PromiseStore() : new MemoryStore());
      const app = await appWith({ tessera });
      const order: string[] = [];
      app.addHook('onRequest', async (request) => {
        order.push(`onRequest:${request.session.isNew ? 'new' : 'known'}`);
      });
      app.addHook('preHandler', async (request) => {
        request.session.set('hook', 'preHandler');
      });
      counterRoutes(app);
      const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/write?a=1' }));
      assert.deepEqual((await app.inject({ url: '/read', headers: { cookie } })).json(), { a: '1', hook: 'preHandler' });
      assert.deepEqual(order, ['onRequest:new', 'onRequest:known']);
    });
  }

  it('reading request.session in a hook that runs before the plugin\'s is a clear 500', async () => {
    const app = await appWith({ tessera: manager() }, (first) =>
      first.addHook('onRequest', async (request) => {
        void request.session;
      }),
    );
    app.get('/', async () => 'ok');
    const res = await app.inject('/');
    assert.equal(res.statusCode, 500);
    assert.equal(res.json().code, 'ERR_SESSION_STATE');
    assert.match(res.json().message, /before tessera\/fastify's onRequest hook/);
  });

  it('the head waits for the commit; onSend hooks registered after the plugin run after it', async () => {
    const store = new PromiseStore();
    const app = counterRoutes(await appWith({ tessera: manager(store) }));
    const storedAtOnSend: number[] = [];
    app.addHook('onSend', async () => {
      storedAtOnSend.push(store.inner.size);
    });
    let open!: () => void;
    store.writeGate = new Promise((resolve) => (open = resolve));
    let answered = false;
    const pending = app.inject({ method: 'POST', url: '/write?a=1' }).then((res) => ((answered = true), res));
    while (store.writes === 0) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(answered, false, 'no answer while the write is pending');
    open();
    const res = await pending;
    assert.equal(res.statusCode, 200);
    assert.deepEqual(storedAtOnSend, [1]);
  });

  it('a synchronous store has the change written when reply.send() returns, with no tick in between', async () => {
    const store = new MemoryStore();
    const app = await appWith({ tessera: manager(store) });
    let sizeAfterSend = -1;
    app.get('/', (request, reply) => {
      request.session.set('a', 1);
      reply.send('ok');
      sizeAfterSend = store.size;
    });
    assert.equal((await app.inject('/')).statusCode, 200);
    assert.equal(sizeAfterSend, 1);
  });

  it('child plugins (encapsulated, with a prefix) see the session', async () => {
    const app = await appWith({ tessera: manager() });
    await app.register(
      async (child) => {
        child.addHook('preHandler', async (request) => {
          request.session.set('via', 'child hook');
        });
        child.get('/data', async (request) => request.session.toJSON());
      },
      { prefix: '/child' },
    );
    counterRoutes(app);
    const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/write?a=1' }));
    assert.deepEqual((await app.inject({ url: '/child/data', headers: { cookie } })).json(), { a: '1', via: 'child hook' });
  });
});

describe('tessera/fastify: loading', () => {
  it('a synchronous store is read only when a route reads request.session', async () => {
    const store = new CountingMemoryStore();
    const app = counterRoutes(await appWith({ tessera: manager(store) }));
    const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/write?a=1' }));
    store.reads = 0;
    await app.inject({ url: '/untouched', headers: { cookie } });
    assert.equal(store.reads, 0);
    await app.inject({ url: '/read', headers: { cookie } });
    assert.equal(store.reads, 1);
  });

  it('a promise store is read in onRequest when the request has a session cookie (and only then)', async () => {
    const store = new PromiseStore();
    const app = counterRoutes(await appWith({ tessera: manager(store) }));
    const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/write?a=1' }));
    store.reads = 0;
    await app.inject('/untouched');
    assert.equal(store.reads, 0, 'no cookie: nothing to read');
    await app.inject({ url: '/untouched', headers: { cookie } });
    assert.equal(store.reads, 1, 'loaded before the route, which cannot await it');
  });
});

describe('tessera/fastify: streams and hijacked replies', () => {
  for (const kind of ['synchronous', 'promise'] as const) {
    it(`a hijacked reply sends the session cookie, set before or after hijack() (${kind} store)`, async () => {
      const app = counterRoutes(await appWith({ tessera: manager(kind === 'promise' ? new PromiseStore() : new MemoryStore()) }));
      app.get('/before', (request, reply) => {
        request.session.set('when', 'before');
        reply.hijack();
        reply.raw.writeHead(200, { 'content-type': 'text/plain' });
        reply.raw.end('hijacked');
      });
      app.get('/after', async (request, reply) => {
        reply.hijack();
        reply.raw.setHeader('set-cookie', ['app=1; Path=/']);
        request.session.set('when', 'after');
        reply.raw.writeHead(200, { 'content-type': 'text/plain' });
        reply.raw.end('hijacked');
      });
      for (const when of ['before', 'after']) {
        const res = await app.inject(`/${when}`);
        assert.equal(res.body, 'hijacked');
        const cookie = sessionCookie(res);
        if (when === 'after') assert.ok(setCookies(res).some((l) => l.startsWith('app=1')), "the app's raw Set-Cookie is kept");
        assert.deepEqual((await app.inject({ url: '/read', headers: { cookie } })).json(), { when }, when);
      }
    });
  }

  it('a streamed reply on a promise store: the commit is awaited before the head, which carries the cookie', async () => {
    const store = new PromiseStore();
    const app = counterRoutes(await appWith({ tessera: manager(store) }));
    app.get('/stream', async (request, reply) => {
      request.session.set('streamed', 'yes');
      const body = new PassThrough();
      reply.type('text/plain').send(body);
      body.write('one');
      body.end('two');
      return reply;
    });
    const res = await app.inject('/stream');
    assert.equal(res.body, 'onetwo');
    assert.deepEqual((await app.inject({ url: '/read', headers: { cookie: sessionCookie(res) } })).json(), { streamed: 'yes' });
  });
});

describe('tessera/fastify: requests', () => {
  const forwarded = { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' };

  async function ipApp(fastifyTrustProxy: boolean, options: Partial<FastifySessionsOptions>): Promise<FastifyInstance> {
    const app = Fastify({ trustProxy: fastifyTrustProxy });
    apps.push(app);
    await app.register(sessions, { tessera: manager(), ...options } as FastifySessionsOptions);
    app.get('/', async (request) => {
      request.session.set('a', 1);
      return request.session.meta.ip;
    });
    return app;
  }

  it("takes the client IP from Fastify's request.ip by default, or from trustProxy counted from the right", async () => {
    const ip = async (app: FastifyInstance) => (await app.inject({ url: '/', headers: forwarded, remoteAddress: '10.0.0.2' })).body;
    assert.equal(await ip(await ipApp(false, {})), '10.0.0.2', 'Fastify trusts no proxy: the socket');
    assert.equal(await ip(await ipApp(true, {})), '198.51.100.1', "Fastify's trustProxy: true trusts every entry");
    assert.equal(await ip(await ipApp(true, { trustProxy: 1 })), '203.0.113.7', 'one trusted proxy: the entry it appended');
    assert.equal(await ip(await ipApp(true, { trustProxy: false })), '10.0.0.2');
  });

  it('keeps tenants apart', async () => {
    const app = counterRoutes(await appWith({ tessera: manager(), tenant: (request) => request.headers['x-tenant'] as string | undefined }));
    const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/write?a=1', headers: { 'x-tenant': 'acme' } }));
    assert.deepEqual((await app.inject({ url: '/read', headers: { cookie, 'x-tenant': 'acme' } })).json(), { a: '1' });
    assert.deepEqual((await app.inject({ url: '/read', headers: { cookie, 'x-tenant': 'globex' } })).json(), {});
  });
});
