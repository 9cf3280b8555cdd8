/**
 * Apps written for express-session, unchanged on tessera/express (issue 12): read-your-writes on
 * stores that answer asynchronously (the end of a response waits for its commit; streamed and
 * event-stream responses do not), one write for an object assigned and then changed in place, the
 * express-session exports, and passport with connect-flash on connect-redis and connect-pg-simple,
 * on Express 4 and 5.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import connectPgSimple from 'connect-pg-simple';
import flash from 'connect-flash';
import { RedisStore as ConnectRedis } from 'connect-redis';
import express5 from 'express';
import type { Express, NextFunction, Request as Req, Response as Res } from 'express';
import expressSession from 'express-session';
import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import session, { type ExpressSessionOptions } from '../../../src/adapters/express.js';
import { CookieStore } from '../../../src/stores/cookie.js';
import { MemoryStore } from '../../../src/stores/memory.js';
import { CountingStore, GatedStore } from '../../helpers/browser.js';
import { connectServices } from '../../helpers/connect-services.js';

const SECRET = 'express-dropin-test-secret-0123456789abcdef';
const CONNECT_SID = 'connect.sid';
const express4 = createRequire(import.meta.url)('express4') as typeof express5;
const { redisSkip, pgSkip, redis, pool, run: RUN, tables, cleanup } = await connectServices('dropin');
const PgStore = connectPgSimple(expressSession);
let counter = 0;

const servers: Server[] = [];
after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  await cleanup();
});

type Data = Record<string, unknown>;
const data = (req: Req): Data => req.session as unknown as Data;

/** A browser: keeps the cookies it is given, and follows no redirect by itself. */
class Browser {
  readonly jar = new Map<string, string>();
  constructor(readonly base: string) {}
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.jar.size > 0) headers.set('cookie', [...this.jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(this.base + path, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';', 1);
      const eq = pair!.indexOf('=');
      if (/Max-Age=0/i.test(line)) this.jar.delete(pair!.slice(0, eq));
      else this.jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return res;
  }
  async text(path: string, init?: RequestInit): Promise<string> {
    return (await this.fetch(path, init)).text();
  }
  /** POST a form. */
  post(path: string, fields: Record<string, string>): Promise<Response> {
    return this.fetch(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  }
}

async function start(express: typeof express5, routes: (app: Express) => void, options: ExpressSessionOptions, before?: (app: Express) => void): Promise<Browser> {
  const app = express();
  app.set('env', 'test');
  before?.(app);
  app.use(session({ secret: SECRET, logger: {}, cleanupInterval: 0, resave: false, saveUninitialized: false, csrf: false, ...options }));
  routes(app);
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  return new Browser(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

/** An async route for Express 4 and 5 alike: a rejection goes to `next`. */
const route =
  (fn: (req: Req, res: Res) => unknown) =>
  async (req: Req, res: Res, next: NextFunction): Promise<void> => {
    try {
      await fn(req, res);
    } catch (error) {
      next(error);
    }
  };

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A {@link GatedStore} that counts the writes that reached it, held or not. */
class WaitingStore extends GatedStore {
  arrived = 0;
  override set(...args: Parameters<GatedStore['set']>) {
    this.arrived++;
    return super.set(...args);
  }
}

for (const [label, express] of [['Express 5', express5], ['Express 4', express4]] as const) {
  describe(`tessera/express as express-session, on ${label}`, () => {
    it('read-your-writes: a response ends only once what its route wrote (without save) is stored', async () => {
      const store = new WaitingStore(new MemoryStore());
      const b = await start(
        express,
        (app) => {
          app.post('/note', route(async (req, res) => {
            await tick(); // after an await: the middleware no longer holds the commit
            data(req).note = 'hello';
            res.redirect('/next');
          }));
          app.get('/next', (req, res) => res.send(String(data(req).note)));
        },
        { store },
      );
      await b.fetch('/next'); // a session cookie is made only by a write: none yet
      store.hold();
      let ended = false;
      const posted = b.post('/note', {}).then((res) => ((ended = true), res));
      while (store.arrived === 0) await tick();
      await tick();
      assert.equal(ended, false, 'the redirect waits for the write');
      store.release();
      assert.equal((await posted).status, 302);
      assert.equal(await b.text('/next'), 'hello', 'the followed redirect sees the write');
    });

    it('does not hold a streamed response or an event stream for the commit', async () => {
      const store = new GatedStore(new MemoryStore());
      const b = await start(
        express,
        (app) => {
          app.get('/stream', route(async (req, res) => {
            await tick();
            data(req).streamed = true;
            res.write('first chunk;');
            res.end('last chunk');
          }));
          app.get('/events', route(async (req, res) => {
            await tick();
            data(req).listening = true;
            res.setHeader('content-type', 'text/event-stream');
            res.end('data: hi\n\n');
          }));
        },
        { store },
      );
      store.hold();
      assert.equal(await b.text('/stream'), 'first chunk;last chunk', 'complete while the write is still held');
      assert.equal(await b.text('/events'), 'data: hi\n\n');
      store.release();
    });

    it('one change, one write: an object assigned and then changed in place (as connect-flash does) on a store that answers asynchronously', async () => {
      const store = new CountingStore(new MemoryStore());
      const b = await start(
        express,
        (app) => {
          app.post('/flash', route(async (req, res) => {
            await tick();
            const s = data(req) as { messages?: string[] };
            s.messages = s.messages || [];
            s.messages.push('saved');
            await tick(); // the response ends later: the commit has started by then
            res.redirect('/messages');
          }));
          app.get('/messages', (req, res) => res.json(data(req).messages ?? []));
        },
        { store },
      );
      await b.post('/flash', {});
      assert.equal(store.calls.set, 1, 'one write for the assignment and the push');
      assert.deepEqual(await (await b.fetch('/messages')).json(), ['saved']);
      await b.post('/flash', {});
      assert.equal(store.calls.set, 2);
      assert.deepEqual(await (await b.fetch('/messages')).json(), ['saved', 'saved']);
    });

    it("sameSite: 'auto' is None over HTTPS (with Secure) and Lax over plain HTTP", async () => {
      const b = await start(express, (app) => app.get('/', (req, res) => {
        data(req).n = 1;
        res.send(req.session.cookie.sameSite);
      }), { store: new MemoryStore(), proxy: true, name: 'sid', cookie: { secure: 'auto', sameSite: 'auto' } });
      const https = await b.fetch('/', { headers: { 'x-forwarded-proto': 'https' } });
      assert.equal(await https.text(), 'none');
      assert.match(https.headers.getSetCookie()[0]!, /; Secure; SameSite=None/);
      const plain = await new Browser(b.base).fetch('/');
      assert.equal(await plain.text(), 'lax');
      assert.match(plain.headers.getSetCookie()[0]!, /; SameSite=Lax/);
      assert.doesNotMatch(plain.headers.getSetCookie()[0]!, /Secure/);
    });

    it('takes cookie as a function of the request: its attributes on that request’s cookie, its maxAge for the sessions it starts; a bad value goes to next(err)', async () => {
      const b = await start(express, (app) => {
        app.get('/', (req, res) => {
          data(req).n = 1;
          res.json({ sameSite: req.session.cookie.sameSite, secure: req.session.cookie.secure, maxAge: req.session.cookie.originalMaxAge });
        });
      }, {
        store: new MemoryStore(),
        proxy: true,
        cookie: (req) => {
          if (req.headers['x-bad']) return { secure: 'yes' } as never;
          return req.headers['x-embedded'] ? { secure: 'auto', sameSite: 'none', maxAge: 60_000 } : { sameSite: 'strict', httpOnly: false };
        },
      });
      const embedded = await b.fetch('/', { headers: { 'x-embedded': '1', 'x-forwarded-proto': 'https' } });
      assert.deepEqual(await embedded.json(), { sameSite: 'none', secure: true, maxAge: 60_000 });
      const line = embedded.headers.getSetCookie()[0]!;
      assert.match(line, /^connect\.sid=[^;]+; Max-Age=60; Expires=[^;]+; Path=\/; HttpOnly; Secure; SameSite=None$/);
      const plain = await new Browser(b.base).fetch('/');
      assert.equal((await plain.json() as { sameSite: string }).sameSite, 'strict');
      assert.match(plain.headers.getSetCookie()[0]!, /^connect\.sid=[^;]+; Path=\/; SameSite=Strict$/);
      assert.equal((await new Browser(b.base).fetch('/', { headers: { 'x-bad': '1' } })).status, 500);
    });

    it('takes the legacy key option as the cookie name; reads the cookie from req.cookies when the header lacks it (cookie-parser)', async () => {
      let fromParser: string | undefined;
      const b = await start(express, (app) => {
        app.get('/', (req, res) => {
          const s = data(req) as { n?: number };
          s.n = (s.n ?? 0) + 1;
          res.send(String(s.n));
        });
      }, { store: new MemoryStore(), key: 'legacy.sid' }, (app) => {
        app.use((req, _res, next) => {
          // What cookie-parser leaves behind when another layer consumed the header.
          if (fromParser) {
            delete req.headers.cookie;
            (req as unknown as { cookies: Record<string, string> }).cookies = { 'legacy.sid': fromParser };
          }
          next();
        });
      });
      assert.equal(await b.text('/'), '1');
      assert.deepEqual([...b.jar.keys()], ['legacy.sid']);
      fromParser = b.jar.get('legacy.sid');
      assert.equal(await new Browser(b.base).text('/'), '2', 'the session of req.cookies');
    });

    it('req.session.cookie.expires in the past (or maxAge 0) ends the cookie and the session instead of throwing', async () => {
      const b = await start(express, (app) => {
        app.get('/in', (req, res) => {
          data(req).user = 'ada';
          res.send('ok');
        });
        app.get('/who', (req, res) => res.send(String(data(req).user ?? 'nobody')));
        app.get('/out', (req, res) => {
          req.session.cookie.expires = new Date(0);
          res.send('bye');
        });
        app.get('/out-by-max-age', (req, res) => {
          req.session.cookie.maxAge = 0;
          res.send('bye');
        });
      }, { store: new MemoryStore() });
      for (const out of ['/out', '/out-by-max-age']) {
        await b.text('/in');
        const old = b.jar.get(CONNECT_SID);
        const res = await b.fetch(out);
        assert.equal(res.status, 200);
        assert.match(res.headers.getSetCookie()[0]!, /Max-Age=0/, 'the cookie is cleared');
        assert.equal(await b.text('/who'), 'nobody');
        const replayed = new Browser(b.base);
        replayed.jar.set(CONNECT_SID, old!);
        assert.equal(await replayed.text('/who'), 'nobody', 'the old cookie opens nothing');
      }
    });

    it('resave: false — assigning the value a key holds writes nothing; a change inside it is still saved', async () => {
      const store = new CountingStore(new MemoryStore());
      const b = await start(express, (app) => {
        app.get('/set', (req, res) => {
          const s = data(req) as { mode?: string; list?: string[] };
          s.mode = 'dark';
          s.list = ['a'];
          res.send('ok');
        });
        app.get('/same', (req, res) => {
          const s = data(req) as { mode?: string; list?: string[] };
          s.mode = 'dark';
          s.list = s.list || [];
          res.send('ok');
        });
        app.get('/same-then-push', (req, res) => {
          const s = data(req) as { list?: string[] };
          s.list = s.list || [];
          s.list.push('b');
          res.send('ok');
        });
        app.get('/list', (req, res) => res.json(data(req).list));
      }, { store });
      await b.text('/set');
      const writes = store.calls.set;
      await b.text('/same');
      assert.equal(store.calls.set, writes, 'no write');
      await b.text('/same-then-push');
      assert.equal(store.calls.set, writes + 1);
      assert.deepEqual(await (await b.fetch('/list')).json(), ['a', 'b']);
    });

    it('a new session set to null before the route ends sends no cookie and stores nothing', async () => {
      for (const store of [new CountingStore(new MemoryStore()), new GatedStore(new MemoryStore())]) {
        const b = await start(express, (app) => {
          app.get('/sync', (req, res) => {
            data(req).tried = true;
            (req as unknown as { session: unknown }).session = null;
            res.send('ok');
          });
          app.get('/async', route(async (req, res) => {
            data(req).tried = true;
            await tick();
            await tick();
            (req as unknown as { session: unknown }).session = null;
            res.send('ok');
          }));
        }, { store });
        for (const path of ['/sync', '/async']) {
          const res = await b.fetch(path);
          assert.deepEqual(res.headers.getSetCookie(), [], `${path}: no cookie`);
        }
        await tick();
        assert.equal(store.keys.size === 0 || (await Promise.all([...store.keys].map((k) => store.inner.get(k, { now: Date.now() })))).every((r) => r === null), true, 'nothing left in the store');
      }
    });

    it('refuses bad values at start-up: secret: [] (no random per-process secret), name and key both', () => {
      assert.throws(() => session({ secret: [], store: new MemoryStore(), logger: {}, resave: false, saveUninitialized: false }), (e: unknown) => (e as { code?: string }).code === 'ERR_SECRET');
      assert.throws(() => session({ secret: SECRET, name: 'a', key: 'b', store: new MemoryStore(), logger: {}, resave: false, saveUninitialized: false }), (e: unknown) => (e as { code?: string }).code === 'ERR_CONFIG');
    });

    it('req.sessionID = undefined, as in express-session, neither saves the session nor sends its cookie', async () => {
      const store = new CountingStore(new MemoryStore());
      const b = await start(express, (app) => {
        app.get('/', (req, res) => {
          data(req).n = 1;
          (req as unknown as { sessionID: unknown }).sessionID = undefined;
          res.json({ id: req.sessionID ?? null });
        });
      }, { store });
      const res = await b.fetch('/');
      assert.deepEqual(await res.json(), { id: null });
      assert.deepEqual(res.headers.getSetCookie(), []);
      assert.equal(store.calls.set, 0);
    });

    it("session.MemoryStore is tessera's MemoryStore with express-session's API by session ID", async () => {
      const store = new session.MemoryStore();
      let id = '';
      const b = await start(express, (app) => {
        app.get('/', (req, res) => {
          const s = data(req) as { n?: number };
          s.n = (s.n ?? 0) + 1;
          id = req.sessionID;
          res.send(String(s.n));
        });
      }, { store });
      const call = <T>(fn: (cb: (err: unknown, value?: T) => void) => void) =>
        new Promise<T | undefined>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
      assert.equal(await b.text('/'), '1');
      const sess = await call<Record<string, unknown> | null>((cb) => store.get(id, cb));
      assert.equal(sess?.n, 1);
      assert.ok((sess?.cookie as { expires: Date }).expires instanceof Date);
      await call((cb) => store.set(id, { ...sess, n: 41 }, cb));
      assert.equal(await b.text('/'), '42', 'the request sees what set() wrote');
      assert.equal(await call<number>((cb) => store.length(cb)), 1);
      await call((cb) => store.destroy(id, cb));
      assert.equal(await call((cb) => store.get(id, cb)), null);
      assert.equal(await b.text('/'), '1', 'a new session');
      await call((cb) => store.clear(cb));
      assert.equal(await call<number>((cb) => store.length(cb)), 0);
    });

    it('keeps the app’s express-session store as store and as migrateFrom.store: old sessions adopted, tessera’s records beside them', async () => {
      const shared = new expressSession.MemoryStore();
      const oldSecret = 'keyboard cat';
      const old = express();
      old.use(expressSession({ secret: oldSecret, store: shared, resave: false, saveUninitialized: false }));
      old.post('/login', (req, res) => {
        (req.session as unknown as Data).user = 'ada';
        res.sendStatus(204);
      });
      const oldServer = old.listen(0, '127.0.0.1');
      servers.push(oldServer);
      await once(oldServer, 'listening');
      const oldBrowser = new Browser(`http://127.0.0.1:${(oldServer.address() as AddressInfo).port}`);
      await oldBrowser.post('/login', {});
      const b = await start(express, (app) => app.get('/me', (req, res) => res.send(String(data(req).user ?? 'nobody'))), {
        store: shared,
        migrateFrom: { store: shared, secret: oldSecret, until: new Date(Date.now() + 86_400_000) },
      });
      for (const [k, v] of oldBrowser.jar) b.jar.set(k, v);
      assert.equal(await b.text('/me'), 'ada', 'adopted from the old record');
      assert.equal(await b.text('/me'), 'ada', 'then carried by tessera’s cookie, from tessera’s record in the same store');
      const sids = await new Promise<string[]>((resolve, reject) => shared.all((err, all) => (err ? reject(err) : resolve(Object.keys(all ?? {})))));
      const signed = decodeURIComponent(oldBrowser.jar.get('connect.sid')!);
      const oldSid = signed.slice(2, signed.lastIndexOf('.'));
      assert.equal(sids.includes(oldSid), false, 'the old record is gone');
      assert.ok(sids.length >= 1, 'tessera’s records are in the same store, under its own keys');
    });

    it('genid makes the session IDs (and again at regenerate); a weak one is warned about once, a malformed one refused', async () => {
      const warnings: string[] = [];
      let made = 0;
      const strong = await start(express, (app) => {
        app.get('/', (req, res) => {
          const s = data(req) as { n?: number };
          s.n = (s.n ?? 0) + 1;
          res.json({ id: req.sessionID, n: s.n });
        });
        app.get('/renew', route(async (req, res) => {
          await req.session.regenerate();
          data(req).n = 100;
          res.json({ id: req.sessionID });
        }));
      }, { store: new MemoryStore(), logger: { warn: (_fields: Record<string, unknown>, m: string) => warnings.push(m) }, genid: () => `app-${made++}-${randomUUID().replace(/-/g, '')}${randomUUID().replace(/-/g, '')}` });
      const first = (await (await strong.fetch('/')).json()) as { id: string; n: number };
      assert.match(first.id, /^app-0-[0-9a-f]{64}$/);
      assert.ok(strong.jar.get(CONNECT_SID)!.startsWith(`${first.id}.`), 'the cookie carries the app’s ID, signed');
      assert.deepEqual(await (await strong.fetch('/')).json(), { id: first.id, n: 2 });
      const renewed = (await (await strong.fetch('/renew')).json()) as { id: string };
      assert.match(renewed.id, /^app-1-/);
      assert.deepEqual(await (await strong.fetch('/')).json(), { id: renewed.id, n: 101 });
      assert.equal(warnings.length, 0, "no warning for 256-bit IDs");

      const uuid = await start(express, (app) => app.get('/', (req, res) => {
        data(req).n = 1;
        res.send(req.sessionID);
      }), { store: new MemoryStore(), logger: { warn: (_fields: Record<string, unknown>, m: string) => warnings.push(m) }, genid: () => randomUUID() });
      const id = await uuid.text('/');
      await new Browser(uuid.base).text('/');
      assert.equal(warnings.length, 1, 'warned once');
      assert.match(warnings[0]!, /at most 122 bits/);
      assert.doesNotMatch(warnings[0]!, new RegExp(id), 'never the ID itself');

      const weak = await start(express, (app) => app.get('/', (req, res) => {
        data(req).n = 1;
        res.send('stored');
      }), { store: new MemoryStore(), genid: () => 'guessable' });
      assert.equal((await weak.fetch('/')).status, 500, 'refused: the write that needed an ID throws a ConfigError');
      assert.throws(() => session({ secret: SECRET, store: new CookieStore() as never, logger: {}, resave: false, saveUninitialized: false, genid: () => randomUUID() }), (e: unknown) => (e as { code?: string }).code === 'ERR_CONFIG');
    });

    it("exports express-session's Store, Session and Cookie: an app's own store extends session.Store", async () => {
      class MapStore extends session.Store {
        readonly sessions = new Map<string, string>();
        get(sid: string, cb: (err: unknown, sess?: unknown) => void) {
          const s = this.sessions.get(sid);
          setImmediate(() => cb(null, s === undefined ? null : JSON.parse(s)));
        }
        set(sid: string, sess: object, cb?: (err?: unknown) => void) {
          this.sessions.set(sid, JSON.stringify(sess));
          setImmediate(() => cb?.());
        }
        destroy(sid: string, cb?: (err?: unknown) => void) {
          this.sessions.delete(sid);
          setImmediate(() => cb?.());
        }
      }
      const mine = new MapStore();
      const b = await start(
        express,
        (app) => {
          app.get('/count', (req, res) => {
            assert.ok(req.session instanceof session.Session);
            assert.ok(req.session.cookie instanceof session.Cookie);
            const s = data(req) as { n?: number };
            s.n = (s.n ?? 0) + 1;
            res.send(String(s.n));
          });
        },
        { store: mine },
      );
      assert.equal(await b.text('/count'), '1');
      assert.equal(await b.text('/count'), '2');
      assert.equal(mine.sessions.size, 1, 'kept in the app’s own store');
      assert.doesNotMatch([...mine.sessions.keys()][0]!, new RegExp([...b.jar.values()][0]!.split('.')[0]!), 'under a key, never the session ID');
    });
  });
}

// ------------------------------------------------------------------ passport and connect-flash

const USERS = new Map([['ada', { id: 'u-ada', password: 'correct horse' }]]);

function passportApp(app: Express, express: typeof express5): void {
  const passport = new Passport();
  passport.use(new LocalStrategy((username, password, done) => {
    // A user lookup that answers later, as a database would.
    setImmediate(() => {
      const user = USERS.get(username);
      if (!user || user.password !== password) return done(null, false, { message: 'Wrong username or password.' });
      done(null, { id: user.id, name: username });
    });
  }));
  passport.serializeUser((user, done) => done(null, (user as { id: string }).id));
  passport.deserializeUser((id: string, done) => done(null, { id, name: [...USERS].find(([, u]) => u.id === id)?.[0] }));
  app.use(express.urlencoded({ extended: false }));
  app.use(passport.session());
  app.use(flash());
  app.get('/account', (req, res) => {
    if (!req.user) {
      data(req).returnTo = req.originalUrl;
      return res.redirect('/login');
    }
    res.send(`account of ${(req.user as { name: string }).name}`);
  });
  app.get('/login', (req, res) => res.json({ flash: req.flash('error'), messages: data(req).messages ?? [] }));
  app.post('/login', passport.authenticate('local', { failureRedirect: '/login', failureFlash: true, failureMessage: true, successReturnToOrRedirect: '/', keepSessionInfo: true }));
  app.get('/whoami', (req, res) => res.json({ user: (req.user as { name?: string } | undefined)?.name ?? null, returnTo: data(req).returnTo ?? null }));
  app.post('/logout', (req, res, next) => req.logout((err) => (err ? next(err) : res.redirect('/'))));
}

const networked: Array<[string, string | false, () => Promise<ExpressSessionOptions['store']>]> = [
  ['connect-redis', redisSkip, async () => new ConnectRedis({ client: redis!, prefix: `${RUN}${counter++}:` })],
  [
    'connect-pg-simple',
    pgSkip,
    async () => {
      const tableName = `tessera_dropin_${process.pid}_${counter++}`;
      tables.push(tableName);
      await pool!.query(`CREATE TABLE "${tableName}" (sid varchar PRIMARY KEY, sess json NOT NULL, expire timestamp(6) NOT NULL)`);
      return new PgStore({ pool: pool!, tableName, pruneSessionInterval: false });
    },
  ],
];

for (const [storeName, skip, makeStore] of networked) {
  for (const [label, express] of [['Express 5', express5], ['Express 4', express4]] as const) {
    describe(`passport and connect-flash on ${storeName}, ${label}`, { skip }, () => {
      it('failureMessage and failureFlash are there on the redirected page; the returnTo survives a keepSessionInfo login; logout signs out', async () => {
        const b = await start(express, (app) => passportApp(app, express), { store: await makeStore() });
        // Not signed in: /account remembers where to return, without save().
        assert.equal((await b.fetch('/account')).headers.get('location'), '/login');
        // A failed login: passport's failureMessage and connect-flash's failureFlash, without save().
        const failed = await b.post('/login', { username: 'ada', password: 'wrong' });
        assert.equal(failed.headers.get('location'), '/login');
        assert.deepEqual(JSON.parse(await b.text('/login')), { flash: ['Wrong username or password.'], messages: ['Wrong username or password.'] });
        // The flash is read once.
        assert.deepEqual(JSON.parse(await b.text('/login')).flash, []);
        // Signing in keeps returnTo across the regenerate (keepSessionInfo) and sends the user there,
        // deleting it from the session without save().
        const before = [...b.jar.values()].join();
        const ok = await b.post('/login', { username: 'ada', password: 'correct horse' });
        assert.equal(ok.headers.get('location'), '/account');
        assert.notEqual([...b.jar.values()].join(), before, 'a new session ID at sign-in');
        assert.deepEqual(JSON.parse(await b.text('/whoami')), { user: 'ada', returnTo: null });
        assert.equal(await b.text('/account'), 'account of ada');
        // Signing out.
        assert.equal((await b.post('/logout', {})).headers.get('location'), '/');
        assert.deepEqual(JSON.parse(await b.text('/whoami')), { user: null, returnTo: null });
      });
    });
  }
}
