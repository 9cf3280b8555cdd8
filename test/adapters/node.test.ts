import assert from 'node:assert/strict';
import { createServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, describe, it, mock } from 'node:test';
import { inspect } from 'node:util';
import { nodeSessions, responseCookieSink, type NodeHandler } from '../../src/adapters/node.js';
import { Tessera } from '../../src/manager.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { NotSupportedError, StoreUnavailableError, TenantError } from '../../src/errors.js';
import type { SessionStore } from '../../src/stores/store.js';
import type { Logger } from '../../src/options.js';
import { GatedStore } from '../helpers/browser.js';

/** A {@link GatedStore} that counts the writes that reached it, held or not. */
class WaitingStore extends GatedStore {
  arrived = 0;
  override set(...args: Parameters<GatedStore['set']>) {
    this.arrived++;
    return super.set(...args);
  }
}

const SECRET = 'node-adapter-test-secret-0123456789abcdef';
const servers: Server[] = [];
after(() => servers.forEach((s) => s.close()));

async function serve(handler: (sessions: ReturnType<typeof nodeSessions>) => NodeHandler, options: { store?: SessionStore; trustProxy?: boolean | number } = {}) {
  const tessera = new Tessera({ secrets: [SECRET], store: options.store ?? new MemoryStore(), cleanupInterval: 0, logger: {}, csrf: false, cookie: { secure: true } });
  const sessions = nodeSessions(tessera, { trustProxy: options.trustProxy ?? false, tenant: (req) => (req.headers['x-tenant'] as string) ?? null });
  const server = createServer(sessions.wrap(handler(sessions)));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { tessera, base };
}

const cookieOf = (res: Response) => res.headers.getSetCookie()[0]?.split(';')[0];

describe('node:http adapter', () => {
  it('counts views per browser with a signed cookie', async () => {
    const { base } = await serve((sessions) => async (req, res) => {
      const session = await sessions.load(req, res);
      const views = (session.get<number>('views') ?? 0) + 1;
      session.set('views', views);
      res.end(String(views));
    });
    const first = await fetch(base);
    const cookie = cookieOf(first);
    assert.equal(await first.text(), '1');
    assert.match(first.headers.get('set-cookie')!, /HttpOnly; Secure; SameSite=Lax/);
    const second = await fetch(base, { headers: { cookie: cookie! } });
    assert.equal(await second.text(), '2');
    assert.equal(second.headers.get('set-cookie'), null, 'no new cookie for an existing session');
    assert.equal(await (await fetch(base)).text(), '1', 'another browser has its own session');
  });

  it('keeps other Set-Cookie headers the handler set', async () => {
    const { base } = await serve((sessions) => async (req, res) => {
      res.setHeader('set-cookie', ['theme=dark; Path=/']);
      (await sessions.load(req, res)).set('a', 1);
      res.end();
    });
    const cookies = (await fetch(base)).headers.getSetCookie();
    assert.equal(cookies.length, 2);
    assert.ok(cookies[0]!.startsWith('theme=dark'));
    assert.ok(cookies[1]!.startsWith('__Host-tessera='));
  });

  it('streams: the cookie goes out with the head, the body is not buffered', async () => {
    const { base } = await serve((sessions) => async (req, res) => {
      (await sessions.load(req, res)).set('streamed', true);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('chunk1\n');
      await new Promise((r) => setTimeout(r, 20));
      res.write('chunk2\n');
      res.end('end\n');
    });
    const res = await fetch(base);
    assert.ok(res.headers.get('set-cookie'));
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    assert.equal(new TextDecoder().decode(value), 'chunk1\n', 'the first chunk arrives before the handler ends');
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    assert.equal(rest, 'chunk2\nend\n');
  });

  it('answers 503 with a clear message when the store is unavailable, and stays up', async () => {
    const broken: SessionStore = {
      name: 'broken',
      get: async () => {
        throw new StoreUnavailableError('broken');
      },
      set: async () => {
        throw new StoreUnavailableError('broken');
      },
      delete: async () => {},
    };
    const { base, tessera } = await serve((sessions) => async (req, res) => {
      if (req.url === '/plain') return void res.end('no session needed');
      const session = await sessions.load(req, res);
      session.set('a', 1);
      await session.save();
      res.end('ok');
    }, { store: broken });
    const res = await fetch(base);
    assert.equal(res.status, 503);
    assert.match(await res.text(), /unavailable/);
    assert.equal(res.headers.get('retry-after'), '1');
    const { cookie } = await new Tessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, logger: {}, csrf: false, cookie: { secure: true } }).create({ data: { a: 1 } });
    assert.equal((await fetch(base, { headers: { cookie: `${tessera.cookieName}=${cookie}` } })).status, 503);
    const plain = await fetch(`${base}/plain`);
    assert.equal(plain.status, 200, 'requests that do not touch the session still work');
  });

  it('reports a commit that fails after the response was sent as a commitError', async () => {
    const failing: SessionStore = { ...new MemoryStore(), name: 'failing', get: async () => null, set: async () => { throw new StoreUnavailableError('failing'); }, delete: async () => {} };
    const { base, tessera } = await serve((sessions) => async (req, res) => {
      (await sessions.load(req, res)).set('a', 1);
      res.end('sent before the write');
    }, { store: failing });
    const errors: unknown[] = [];
    const reported = new Promise<void>((resolve) => tessera.on('commitError', (e) => { errors.push(e); resolve(); }));
    assert.equal((await fetch(base)).status, 200);
    await reported;
    assert.ok(errors[0] instanceof StoreUnavailableError);
  });

  it('responseCookieSink works under another adapter\'s sink that calls it', async () => {
    const tessera = new Tessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, logger: {}, csrf: false, cookie: { secure: true } });
    const server = createServer(async (req, res) => {
      const base = responseCookieSink(res, tessera.cookieName);
      const writable = () => base.writable();
      const ctx = tessera.begin({ cookieHeader: req.headers.cookie }, { writable, setCookie: (line) => base.setCookie(line), withdrawCookie: () => base.withdrawCookie() });
      (await ctx.load()).set('a', 1);
      await ctx.settle();
      res.end(String(writable()));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'true');
    assert.match(cookieOf(res)!, /^__Host-tessera=/);
  });

  it('answers 500 without details when the handler throws', async () => {
    const { base } = await serve(() => () => {
      throw new Error('database password is hunter2');
    });
    const res = await fetch(base);
    assert.equal(res.status, 500);
    assert.equal(await res.text(), 'Internal Server Error');
  });

  it('records the client IP, from X-Forwarded-For only with trustProxy, counting proxies from the right', async () => {
    const handler = (sessions: ReturnType<typeof nodeSessions>): NodeHandler => async (req, res) => {
      const s = await sessions.load(req, res);
      s.set('a', 1);
      await s.save();
      res.end(s.meta.ip ?? '');
    };
    const direct = await serve(handler);
    assert.equal(await (await fetch(direct.base, { headers: { 'x-forwarded-for': '203.0.113.5' } })).text(), '127.0.0.1');
    const proxied = await serve(handler, { trustProxy: true });
    // The client sent "198.51.100.66"; the one trusted proxy appended what it saw.
    assert.equal(await (await fetch(proxied.base, { headers: { 'x-forwarded-for': '198.51.100.66, 203.0.113.5' } })).text(), '203.0.113.5');
    const twoHops = await serve(handler, { trustProxy: 2 });
    assert.equal(await (await fetch(twoHops.base, { headers: { 'x-forwarded-for': '198.51.100.66, 203.0.113.5, 10.0.0.1' } })).text(), '203.0.113.5');
  });

  it('keeps tenants apart', async () => {
    const { base } = await serve((sessions) => async (req, res) => {
      const s = await sessions.load(req, res);
      if (req.method === 'POST') s.set('who', req.headers['x-tenant']);
      res.end(String(s.get('who') ?? 'nobody'));
    });
    const cookie = cookieOf(await fetch(base, { method: 'POST', headers: { 'x-tenant': 'acme' } }))!;
    assert.equal(await (await fetch(base, { headers: { cookie, 'x-tenant': 'acme' } })).text(), 'acme');
    assert.equal(await (await fetch(base, { headers: { cookie, 'x-tenant': 'globex' } })).text(), 'nobody');
  });

  it('lets two concurrent requests change different keys of one session', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { base } = await serve((sessions) => async (req, res) => {
      const s = await sessions.load(req, res);
      if (req.url === '/init') s.set('init', true);
      if (req.url === '/slow') {
        await gate;
        s.set('slow', 1);
      }
      if (req.url === '/fast') s.set('fast', 2);
      await s.save();
      res.end(JSON.stringify(s.toJSON()));
    });
    const cookie = cookieOf(await fetch(`${base}/init`))!;
    const slow = fetch(`${base}/slow`, { headers: { cookie } });
    await new Promise((r) => setTimeout(r, 30));
    await fetch(`${base}/fast`, { headers: { cookie } });
    release();
    await slow;
    const final = JSON.parse(await (await fetch(base, { headers: { cookie } })).text());
    assert.deepEqual(final, { init: true, slow: 1, fast: 2 });
  });
});

describe('node:http adapter, read-your-writes', () => {
  it('on a store answering with promises, res.end() waits for the commit; a streamed response does not', async () => {
    const store = new WaitingStore(new MemoryStore());
    const { base } = await serve((sessions) => async (req, res) => {
      const session = await sessions.load(req, res);
      if (req.url === '/read') return res.end(String(session.get('note') ?? 'none'));
      await new Promise((resolve) => setImmediate(resolve));
      session.set('note', req.url === '/stream' ? 'streamed' : 'hello');
      if (req.url === '/stream') res.write('chunk;');
      res.end('done');
    }, { store });
    const cookie = cookieOf(await fetch(`${base}/write`));
    store.hold();
    let ended = false;
    const written = fetch(`${base}/write`, { headers: { cookie: cookie! } }).then(async (res) => ((ended = true), await res.text()));
    while (store.arrived < 2) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(ended, false, 'the response waits for the write');
    store.release();
    assert.equal(await written, 'done');
    assert.equal(await (await fetch(`${base}/read`, { headers: { cookie: cookie! } })).text(), 'hello', 'the next request sees it');
    store.hold();
    assert.equal(await (await fetch(`${base}/stream`, { headers: { cookie: cookie! } })).text(), 'chunk;done', 'not held while the write is');
    store.release();
  });
});

describe('node:http adapter, read-your-writes: a held end is the end', () => {
  /** A store answering with promises, its writes a few turns late. */
  const lateWrites = (): SessionStore => {
    const inner = new MemoryStore();
    return {
      name: 'late',
      get: (k, c) => inner.get(k, c),
      set: async (k, r, v, c) => {
        for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
        return inner.set(k, r, v, c);
      },
      delete: (k, c) => inner.delete(k, c),
    };
  };

  it('a route that answered keeps its answer: a fallback after it, or an error thrown after its end, changes nothing', async () => {
    const { base } = await serve((sessions) => async (req, res) => {
      const session = await sessions.load(req, res);
      session.set('cart', ['book']);
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
      if (req.url === '/throws') {
        await new Promise((resolve) => setImmediate(resolve));
        throw new Error('after the answer');
      }
      // A small router's fallback: answer 404 unless the route ended the response.
      if (!res.writableEnded) {
        res.statusCode = 404;
        res.setHeader('content-type', 'text/plain');
        res.end('not found');
      }
    }, { store: lateWrites() });
    for (const path of ['/fallback', '/throws']) {
      const res = await fetch(base + path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-type'), 'application/json', path);
      assert.equal(await res.text(), '{"ok":true}', path);
    }
  });

  it('writeHead(…).end() is held like end(): the next request reads the write', async () => {
    const { base } = await serve((sessions) => async (req, res) => {
      const session = await sessions.load(req, res);
      if (req.url === '/read') return res.end(String(session.get('note') ?? 'none'));
      await new Promise((resolve) => setImmediate(resolve));
      session.set('note', 'redirected');
      res.writeHead(303, { location: '/read' }).end();
    }, { store: lateWrites() });
    const first = await fetch(`${base}/go`, { redirect: 'manual' });
    assert.equal(first.status, 303);
    const cookie = cookieOf(first)!;
    assert.equal(await (await fetch(`${base}/read`, { headers: { cookie } })).text(), 'redirected');
  });
});

describe('node:http adapter, edge cases', () => {
  it('keeps two session managers on one request apart', async () => {
    const app = new Tessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, logger: {}, csrf: false, cookie: { secure: true, name: 'app' } });
    const admin = new Tessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, logger: {}, csrf: false, cookie: { secure: true, name: 'admin' } });
    const appSessions = nodeSessions(app);
    const adminSessions = nodeSessions(admin);
    const server = createServer(appSessions.wrap(adminSessions.wrap(async (req, res) => {
      const a = await appSessions.load(req, res);
      const b = await adminSessions.load(req, res);
      a.set('cart', 1);
      b.set('adminUser', 'root');
      res.end(JSON.stringify({ same: a === b, app: a.toJSON(), admin: b.toJSON() }));
    })));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    assert.deepEqual(await res.json(), { same: false, app: { cart: 1 }, admin: { adminUser: 'root' } });
    assert.deepEqual(res.headers.getSetCookie().map((l) => l.split('=')[0]).sort(), ['admin', 'app']);
  });

  it('lets a handler that caught a store failure answer for itself', async () => {
    const down: SessionStore = { name: 'down', get: async () => { throw new StoreUnavailableError('down'); }, set: async () => false, delete: async () => {} };
    const { base, tessera } = await serve((sessions) => async (req, res) => {
      try {
        await sessions.load(req, res);
        res.end('personal page');
      } catch {
        setImmediate(() => res.end('public page'));
      }
    }, { store: down });
    const { cookie } = await new Tessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, logger: {}, csrf: false }).create({ data: { a: 1 } });
    const res = await fetch(base, { headers: { cookie: `${tessera.cookieName}=${cookie}` } });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'public page');
  });

  it('does not cut a streaming response when a commit fails after the head went out', async () => {
    const failing: SessionStore = { name: 'failing', get: async () => null, set: async () => { throw new StoreUnavailableError('failing'); }, delete: async () => {} };
    const { base, tessera } = await serve((sessions) => async (req, res) => {
      (await sessions.load(req, res)).set('a', 1);
      res.writeHead(200);
      res.write('partial ');
      setTimeout(() => res.end('rest'), 20);
    }, { store: failing });
    const reported = new Promise((resolve) => tessera.once('commitError', resolve));
    const res = await fetch(base);
    assert.equal(await res.text(), 'partial rest');
    assert.ok((await reported) instanceof StoreUnavailableError);
  });
});

describe('node:http adapter, synchronous handlers (loadSync)', () => {
  /** A store that answers with promises only: what Redis, PostgreSQL and the file store are. */
  const promisesOnly = (): SessionStore => {
    const inner = new MemoryStore();
    return { name: 'promises-only', get: (k, c) => inner.get(k, c), set: (k, r, v, c) => inner.set(k, r, v, c), delete: (k, c) => inner.delete(k, c) };
  };

  it('counts views with a plain (non-async) handler on a store that answers synchronously', async () => {
    const { base } = await serve((sessions) => (req, res) => {
      const session = sessions.loadSync(req, res);
      const views = (session.get<number>('views') ?? 0) + 1;
      session.set('views', views);
      res.end(String(views));
    });
    const first = await fetch(base);
    const cookie = cookieOf(first)!;
    assert.equal(await first.text(), '1');
    for (const expected of ['2', '3']) assert.equal(await (await fetch(base, { headers: { cookie } })).text(), expected);
  });

  it('has written a change made by a plain handler by the time the handler returns to node', async () => {
    const store = new MemoryStore();
    let written: boolean | undefined;
    const { tessera, base } = await serve((sessions) => {
      const wrapped = sessions.wrap((req, res) => {
        sessions.loadSync(req, res).set('n', 1);
        res.end();
      });
      // The server calls this handler; wrapping it again only observes the store right after.
      return (req, res) => {
        void wrapped(req, res);
        written = store.size === 1;
      };
    }, { store });
    await (await fetch(base)).text();
    assert.equal(written, true, 'no tick was needed');
    assert.equal(tessera.loadsSynchronously, true);
  });

  it('commits a change made after the handler returned (a callback), on the next tick', async () => {
    const store = new MemoryStore();
    const { base, tessera } = await serve((sessions) => (req, res) => {
      const session = sessions.loadSync(req, res);
      session.set('first', 1);
      setImmediate(() => {
        session.set('later', 2);
        res.end('ok');
      });
    }, { store });
    const res = await fetch(base);
    assert.equal(await res.text(), 'ok');
    const id = tessera.verifyCookie(decodeURIComponent(cookieOf(res)!.split('=')[1]!))!;
    await new Promise((r) => setImmediate(r));
    assert.deepEqual((await tessera.load(id))!.toJSON(), { first: 1, later: 2 });
  });

  it('a save() in the handler\'s synchronous code writes at once, though the adapter holds the commit', async () => {
    const store = new MemoryStore();
    const { base, tessera } = await serve((sessions) => (req, res) => {
      const session = sessions.loadSync(req, res);
      session.set('saved', true);
      void session.save().then(() => res.end(`${store.size} ${session.id}`));
    }, { store });
    const [size, id] = (await (await fetch(base)).text()).split(' ');
    assert.equal(size, '1', 'written when save() resolved');
    assert.equal(await tessera.get(id!, 'saved'), true);
  });

  it('resolves the tenant when the handler loads the session, not before the handler runs', async () => {
    const tessera = new Tessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, logger: {}, csrf: false });
    const sessions = nodeSessions(tessera, { tenant: (req) => (req as { tenant?: string }).tenant ?? null });
    const server = createServer(
      sessions.wrap(async (req, res) => {
        (req as { tenant?: string }).tenant = 'acme'; // set by the app's router, say
        const session = await sessions.load(req, res);
        session.set('a', 1);
        res.end(String(session.meta.tenant));
      }),
    );
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    assert.equal(await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)).text(), 'acme');
  });

  it('load() rejects, never throws, when the tenant is refused (an empty one is a TenantError, 400)', async () => {
    const tessera = new Tessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, logger: {}, csrf: false });
    const sessions = nodeSessions(tessera, { tenant: { header: 'x-tenant' } });
    const req = Object.assign(new IncomingMessage(new Socket()), { headers: { 'x-tenant': '' } });
    let loading: Promise<unknown> | undefined;
    assert.doesNotThrow(() => (loading = sessions.load(req, new ServerResponse(req))));
    await assert.rejects(loading!, (e: unknown) => e instanceof TenantError && e.status === 400);
  });

  it('answers 500 when the tenant resolver throws, and never throws out of the request listener', async () => {
    const tessera = new Tessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, logger: {}, csrf: false });
    const sessions = nodeSessions(tessera, { tenant: (req) => new URL(`http://${req.headers['x-host']}`).hostname });
    const wrapped = sessions.wrap(async (req, res) => {
      if (req.url === '/health') return void res.end('ok');
      (await sessions.load(req, res)).set('a', 1);
      res.end('ok');
    });
    let thrown: unknown;
    const server = createServer((req, res) => {
      try {
        void wrapped(req, res);
      } catch (error) {
        thrown = error; // a listener that throws would take the process down
        res.statusCode = 599;
        res.end();
      }
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const res = await fetch(base, { headers: { 'x-host': 'bad host[' } });
    await res.text();
    assert.equal(thrown, undefined);
    assert.equal(res.status, 500);
    assert.equal((await fetch(`${base}/health`, { headers: { 'x-host': 'bad host[' } })).status, 200, 'a request that does not load the session never runs the resolver');
  });

  it('refuses loadSync on a store that answers with promises, with a typed error (500, no details)', async () => {
    let thrown: unknown;
    const { base, tessera } = await serve((sessions) => (req, res) => {
      try {
        sessions.loadSync(req, res);
      } catch (error) {
        thrown = error;
        throw error;
      }
    }, { store: promisesOnly() });
    const res = await fetch(base);
    assert.equal(res.status, 500);
    assert.equal(await res.text(), 'Internal Server Error');
    assert.ok(thrown instanceof NotSupportedError);
    assert.match((thrown as Error).message, /use load\(\), not loadSync\(\)/);
    assert.equal(tessera.loadsSynchronously, false);
  });

  it('answers 503 when the write a plain handler made fails at once (a synchronous store that is down)', async () => {
    const store = new MemoryStore();
    store.setSync = () => {
      throw new StoreUnavailableError('disk full');
    };
    const { base } = await serve((sessions) => (req, res) => {
      sessions.loadSync(req, res).set('a', 1);
      setImmediate(() => {
        if (!res.writableEnded) res.end('written');
      });
    }, { store });
    const res = await fetch(base);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
  });

  it('gives load() the session loadSync() loaded, and the same on a second loadSync()', async () => {
    const { base } = await serve((sessions) => async (req, res) => {
      const first = sessions.loadSync(req, res);
      res.end(String(first === sessions.loadSync(req, res) && first === (await sessions.load(req, res))));
    });
    assert.equal(await (await fetch(base)).text(), 'true');
  });
});

describe('node:http adapter, a destroy whose delete fails after the response went out', () => {
  /** A memory store whose deletes fail, as an unreachable server's would. */
  function failingDeletes(): SessionStore {
    const inner = new MemoryStore();
    return {
      name: 'failing-deletes',
      get: (key, ctx) => inner.get(key, ctx),
      set: (key, record, expected, ctx) => inner.set(key, record, expected, ctx),
      delete: async () => {
        throw new StoreUnavailableError('failing-deletes', new Error('connection reset'));
      },
    };
  }

  /** `/write` stores a session, `/read` answers its `a`; `/sign-out` answers, then destroys the session (the delete fails). Without `logger`, the default one. */
  async function serveSignOut(logger?: Logger) {
    const tessera = new Tessera({ secrets: [SECRET], store: failingDeletes(), cleanupInterval: 0, cookie: { secure: true }, ...(logger ? { logger } : {}) });
    const sessions = nodeSessions(tessera);
    const server = createServer(
      sessions.wrap(async (req, res) => {
        const session = await sessions.load(req, res);
        if (req.url === '/write') {
          session.set('a', 1);
          res.end('ok');
          return;
        }
        if (req.url === '/read') {
          res.end(String(session.get('a')));
          return;
        }
        res.end('bye');
        session.destroy(); // after the response: nobody can be answered 503
      }),
    );
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const cookie = cookieOf(await fetch(`${base}/write`))!;
    const id = cookie.slice(cookie.indexOf('=') + 1).split('.')[0]!;
    return { base, cookie, id };
  }

  async function until(done: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  it('reaches the default logger, on console.error, naming the failure and never the session ID', async () => {
    const { base, cookie, id } = await serveSignOut();
    const consoleError = mock.method(console, 'error', () => {});
    try {
      assert.equal((await fetch(`${base}/sign-out`, { headers: { cookie } })).status, 200);
      await until(() => consoleError.mock.callCount() > 0);
      const text = consoleError.mock.calls.map((call) => inspect(call.arguments)).join('\n');
      assert.match(text, /tessera: session commit failed/);
      assert.match(text, /StoreUnavailableError/);
      assert.ok(!text.includes(id), 'no raw session ID');
    } finally {
      consoleError.mock.restore();
    }
  });

  it('reaches a configured logger’s error, and the old cookie no longer loads the session here', async () => {
    const lines: string[] = [];
    const { base, cookie, id } = await serveSignOut({ error: (fields, message) => lines.push(`${message} ${JSON.stringify(fields)}`) });
    assert.equal((await fetch(`${base}/sign-out`, { headers: { cookie } })).status, 200);
    await until(() => lines.length > 0);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /tessera: session commit failed.*StoreUnavailableError/);
    assert.ok(!lines[0]!.includes(id), 'no raw session ID');
    assert.equal(await (await fetch(`${base}/read`, { headers: { cookie } })).text(), 'undefined', 'the destroyed session does not load again');
  });
});
