/**
 * The Express adapter over real sockets, on Express 5 (`express`) and Express 4 (`express4`): one
 * suite run against both. Each test is what an express-session user would check in a browser.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { ServerResponse, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import express5 from 'express';
import type { Express, NextFunction, Request as Req, Response as Res } from 'express';
import session, { tesseraSession, type ExpressSessionOptions, type SessionMiddleware } from '../../src/adapters/express.js';
import { generateId } from '../../src/crypto/ids.js';
import { ConfigError, SecretError, StoreUnavailableError } from '../../src/errors.js';
import { createTessera } from '../../src/index.js';
import { CookieStore } from '../../src/stores/cookie.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { SessionStore } from '../../src/stores/store.js';
import { CountingStore, CountingSyncStore } from '../helpers/browser.js';
import { FakeClock } from '../helpers/clock.js';

declare module '../../src/adapters/express.js' {
  interface SessionData {
    views: number;
    user: string;
    cart: { items: string[] };
    prefs: { theme: string };
    count: number;
    a: number;
    streamed: boolean;
  }
}

const express4 = createRequire(import.meta.url)('express4') as typeof express5;

const SECRET = 'express-adapter-test-secret-0123456789abcdef';
const OLD_SECRET = 'express-adapter-old-secret-0123456789abcdefgh';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/;

const servers: Server[] = [];
after(() => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

/** A browser's cookie jar for the session cookie only. */
class Browser {
  cookie: string | undefined;
  constructor(
    readonly base: string,
    readonly name: string,
  ) {}

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookie) headers.set('cookie', this.cookie);
    const res = await fetch(this.base + path, { ...init, headers });
    for (const line of sessionCookies(res, this.name)) this.cookie = /Max-Age=0/.test(line) ? undefined : line.split(';')[0];
    return res;
  }

  async json<T = unknown>(path: string, init?: RequestInit): Promise<T> {
    const res = await this.fetch(path, init);
    assert.equal(res.status, 200, `${path} answered ${res.status}: ${await res.clone().text()}`);
    return (await res.json()) as T;
  }

  /** Another browser holding the same cookie (another tab, or a stolen copy). */
  copy(): Browser {
    const other = new Browser(this.base, this.name);
    other.cookie = this.cookie;
    return other;
  }
}

function sessionCookies(res: Response, name: string): string[] {
  return res.headers.getSetCookie().filter((line) => line.startsWith(`${name}=`));
}

/** A promise the test opens, to hold a request inside its handler. */
function gate() {
  let open!: () => void;
  let arrive!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const arrived = new Promise<void>((r) => (arrive = r));
  return { open, opened, arrive, arrived };
}

/** An async route for Express 4 and 5 alike: a rejection goes to `next`. */
const route =
  (fn: (req: Req, res: Res, next: NextFunction) => unknown) =>
  async (req: Req, res: Res, next: NextFunction): Promise<void> => {
    try {
      await fn(req, res, next);
    } catch (error) {
      next(error);
    }
  };

const brokenStore = (): SessionStore => ({
  name: 'broken',
  get: async () => {
    throw new StoreUnavailableError('broken');
  },
  set: async () => {
    throw new StoreUnavailableError('broken');
  },
  delete: async () => {},
});

function suite(label: string, express: typeof express5): void {
  /** An app with the session middleware and `routes`; the defaults a careful app would choose. */
  async function start(routes: (app: Express, sessions: SessionMiddleware) => void, options: ExpressSessionOptions = {}) {
    const clock = new FakeClock();
    const store = (options.store as MemoryStore | undefined) ?? new MemoryStore();
    const sessions = session({
      secret: SECRET,
      store,
      now: clock.now,
      logger: {},
      cleanupInterval: 0,
      resave: false,
      saveUninitialized: false,
      csrf: false,
      ...options,
    });
    const app = express();
    app.set('env', 'test'); // the default error handler stays quiet
    app.use(sessions);
    routes(app, sessions);
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { tessera } = sessions;
    return { base, clock, store, sessions, tessera, browser: () => new Browser(base, tessera.cookieName) };
  }

  describe(`tessera/express on ${label}`, () => {
    it('checks CSRF: req.csrfToken() as csurf gave it, a _csrf form field read before express.urlencoded(), which still parses the body', async () => {
      const { browser } = await start(
        (app) => {
          app.use(express.urlencoded({ extended: false }));
          app.get('/form', (req, res) => res.send(req.csrfToken()));
          app.post('/note', (req, res) => {
            (req.session as unknown as Record<string, unknown>).note = (req.body as { note: string }).note;
            res.json(req.body);
          });
        },
        { csrf: {} },
      );
      const b = browser();
      const token = await (await b.fetch('/form')).text();
      const form = (fields: string) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' }, body: fields });
      const refused = await b.fetch('/note', form('note=hi'));
      assert.equal(refused.status, 403);
      const ok = await b.fetch('/note', form(`note=hi&_csrf=${encodeURIComponent(token)}`));
      assert.equal(ok.status, 200, await ok.clone().text());
      assert.deepEqual(await ok.json(), { note: 'hi', _csrf: token }, 'the body is there for the route, parsed once');
      const viaHeader = await b.fetch('/note', { method: 'POST', headers: { 'x-csrf-token': token, 'content-type': 'application/x-www-form-urlencoded' }, body: 'note=again' });
      assert.equal(viaHeader.status, 200, 'express.urlencoded() parses a body tessera did not need to read');
      assert.deepEqual(await viaHeader.json(), { note: 'again' });
    });

    it('counts views on a store that answers with promises too (the route runs once the session is read)', async () => {
      const inner = new MemoryStore();
      const promisesOnly: SessionStore = { name: 'promises-only', get: (k, c) => inner.get(k, c), set: (k, r, v, c) => inner.set(k, r, v, c), delete: (k, c) => inner.delete(k, c) };
      const { browser, tessera } = await start(
        (app) => {
          app.get('/', (req, res) => {
            req.session.views = (req.session.views ?? 0) + 1;
            res.json(req.session.views);
          });
        },
        { store: promisesOnly as never },
      );
      assert.equal(tessera.loadsSynchronously, false);
      const b = browser();
      for (const views of [1, 2, 3]) assert.equal(await b.json<number>('/'), views);
    });

    it('counts views across requests with a signed cookie (the express-session demo)', async () => {
      const { browser, tessera } = await start((app, sessions) => {
        app.get('/', (req, res) => {
          if (req.session.views) req.session.views++;
          else req.session.views = 1;
          res.json({ views: req.session.views, id: req.sessionID, sameId: req.session.id === req.sessionID, store: req.sessionStore === sessions.tessera.store });
        });
      });
      const b = browser();
      const first = await b.fetch('/');
      const [line] = sessionCookies(first, 'connect.sid');
      assert.match(line!, /^connect\.sid=[^;]+; Path=\/; HttpOnly; SameSite=Lax$/);
      assert.match(b.cookie!.slice('connect.sid='.length), COOKIE_VALUE);
      const one = (await first.json()) as { views: number; id: string; sameId: boolean; store: boolean };
      assert.deepEqual({ views: one.views, sameId: one.sameId, store: one.store }, { views: 1, sameId: true, store: true });
      assert.equal(tessera.verifyCookie(b.cookie!.slice('connect.sid='.length)), one.id, 'the cookie carries req.sessionID');

      const second = await b.fetch('/');
      assert.deepEqual(sessionCookies(second, 'connect.sid'), [], 'no new cookie for an existing session');
      assert.deepEqual(await second.json(), { views: 2, id: one.id, sameId: true, store: true });
      assert.equal((await b.json<{ views: number }>('/')).views, 3);
      const other = await browser().json<{ views: number; id: string }>('/');
      assert.equal(other.views, 1, 'another browser has its own session');
      assert.notEqual(other.id, one.id);
    });

    it('req.sessionID follows regenerate(), can be assigned, and is undefined on a route the middleware does not serve', async () => {
      const { browser } = await start((app) => {
        app.get('/ids', async (req, res) => {
          const before = req.sessionID;
          req.session.views = 1;
          await req.session.regenerate();
          const after = req.sessionID;
          req.sessionID = 'assigned by the app';
          res.json({ changed: before !== after, afterIsNew: after === req.session.id, assigned: req.sessionID });
        });
      });
      assert.deepEqual(await browser().json('/ids'), { changed: true, afterIsNew: true, assigned: 'assigned by the app' });
      // Another app on the same Express without the middleware: no session, no sessionID.
      const other = express();
      other.get('/', (req, res) => res.json({ id: req.sessionID ?? null }));
      const server = other.listen(0, '127.0.0.1');
      servers.push(server);
      await once(server, 'listening');
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      assert.deepEqual(await res.json(), { id: null });
    });

    it('saveUninitialized: false sends no cookie and writes nothing for an untouched session, even when its ID is read', async () => {
      const store = new CountingStore(new MemoryStore());
      const { browser } = await start(
        (app) => {
          app.get('/peek', (req, res) => res.json({ id: req.sessionID, views: req.session.views ?? null }));
          app.get('/write', (req, res) => {
            const id = req.sessionID;
            req.session.views = 1;
            res.json({ id });
          });
        },
        { store },
      );
      const b = browser();
      const peek = await b.fetch('/peek');
      assert.deepEqual(sessionCookies(peek, 'connect.sid'), []);
      assert.equal(((await peek.json()) as { views: null }).views, null);
      assert.equal(store.calls.set, 0, 'nothing stored');

      const { id } = await b.json<{ id: string }>('/write');
      assert.ok(b.cookie?.startsWith(`connect.sid=${id}.`), 'the first write sends the cookie of the ID read before it');
      assert.equal(store.calls.set, 1);
    });

    it("saveUninitialized and resave default to true like express-session's, with a warning", async () => {
      const warnings: string[] = [];
      const { browser, store } = await start(
        (app) => {
          app.get('/', (req, res) => res.send(req.sessionID));
        },
        { resave: undefined, saveUninitialized: undefined, logger: { warn: (_fields, m) => warnings.push(m) } },
      );
      assert.ok(warnings.some((w) => /saveUninitialized/.test(w)) && warnings.some((w) => /resave/.test(w)), warnings.join('\n'));
      const b = browser();
      const id = await (await b.fetch('/')).text();
      assert.ok(b.cookie?.startsWith(`connect.sid=${id}.`), 'an untouched new session gets a cookie');
      assert.equal(store.size, 1, 'and is stored');
      assert.equal(await (await b.fetch('/')).text(), id, 'and is found again');
    });

    for (const resave of [true, false]) {
      it(`resave: ${resave} ${resave ? 'writes an unchanged session back, extending its life' : 'leaves an unchanged session alone'}`, async () => {
        const store = new CountingStore(new MemoryStore());
        const { browser, clock } = await start(
          (app) => {
            app.get('/set', (req, res) => {
              req.session.views = 1;
              res.end();
            });
            app.get('/get', (req, res) => res.json(req.session.views ?? null));
          },
          // The session lives an hour after its last write; no throttled touch within 54 minutes.
          { resave, store, cookie: { maxAge: HOUR }, touchAfter: 0.9 },
        );
        const b = browser();
        await b.fetch('/set');
        const writes = store.calls.set;
        clock.advance(40 * MINUTE);
        assert.equal(await b.json('/get'), 1);
        assert.equal(store.calls.set - writes, resave ? 1 : 0, 'store writes for the unchanged request');
        clock.advance(40 * MINUTE);
        assert.equal(await b.json('/get'), resave ? 1 : null, resave ? 'written back at 40 min: alive at 80' : 'expired an hour after its write');
      });
    }

    it('regenerate() starts a new, empty session; the old cookie no longer works (callback and promise)', async () => {
      const { browser, tessera } = await start((app) => {
        app.get('/visit', (req, res) => {
          req.session.views = (req.session.views ?? 0) + 1;
          res.json({ id: req.sessionID });
        });
        app.get('/login', (req, res, next) => {
          const previous = req.session;
          req.session.regenerate((err) => {
            if (err) return next(err);
            req.session.user = 'ada';
            req.session.save((err2) => {
              if (err2) return next(err2);
              res.json({ id: req.sessionID, views: req.session.views ?? null, previousViews: previous.views ?? null, replaced: previous !== req.session });
            });
          });
        });
        app.get(
          '/login-promise',
          route(async (req, res) => {
            await req.session.regenerate();
            req.session.user = 'bob';
            await req.session.save();
            res.json({ id: req.sessionID, views: req.session.views ?? null });
          }),
        );
        app.get('/whoami', (req, res) => res.json({ id: req.sessionID, user: req.session.user ?? null, views: req.session.views ?? null }));
      });
      for (const [path, user] of [['/login', 'ada'], ['/login-promise', 'bob']] as const) {
        const b = browser();
        const { id: oldId } = await b.json<{ id: string }>('/visit');
        const stolen = b.copy();
        const login = await b.json<{ id: string; views: number | null; previousViews?: number; replaced?: boolean }>(path);
        assert.notEqual(login.id, oldId, 'a new ID');
        assert.equal(login.views, null, 'an empty session');
        if (path === '/login') assert.deepEqual([login.previousViews, login.replaced], [1, true], 'the replaced object keeps the old data, like express-session');
        assert.ok(b.cookie?.startsWith(`connect.sid=${login.id}.`), 'the new cookie was sent');
        assert.deepEqual(await b.json('/whoami'), { id: login.id, user, views: null });
        const replay = await stolen.json<{ id: string; user: string | null; views: number | null }>('/whoami');
        assert.deepEqual([replay.user, replay.views], [null, null], 'the old cookie opens nothing');
        assert.notEqual(replay.id, oldId);
        assert.equal(await tessera.isValid(oldId), false, 'the old session is gone from the store');
      }
    });

    it("regenerate() works with passport's keepSessionInfo: the replaced object's data is copied over", async () => {
      const { browser } = await start((app) => {
        app.get('/visit', (req, res) => {
          req.session.views = 3;
          req.session.cookie.maxAge = 2 * DAY;
          res.send(req.sessionID);
        });
        // What passport 0.6+ does on logIn with keepSessionInfo: true.
        app.get('/login', (req, res, next) => {
          const previous = req.session as unknown as Record<string, unknown>;
          req.session.regenerate((err) => {
            if (err) return next(err);
            const current = req.session as unknown as Record<string, unknown>;
            for (const key in previous) current[key] = previous[key];
            req.session.user = 'ada';
            req.session.save((err2) => (err2 ? next(err2) : res.send(req.sessionID)));
          });
        });
        app.get('/me', (req, res) => res.json({ id: req.sessionID, user: req.session.user, views: req.session.views, maxAge: req.session.cookie.originalMaxAge }));
      });
      const b = browser();
      const oldId = await (await b.fetch('/visit')).text();
      const newId = await (await b.fetch('/login')).text();
      assert.notEqual(newId, oldId);
      assert.deepEqual(await b.json('/me'), { id: newId, user: 'ada', views: 3, maxAge: 2 * DAY });
    });

    it('destroy() deletes the session, clears the cookie and leaves req.session undefined (callback and promise)', async () => {
      const { browser, tessera } = await start((app) => {
        app.get('/visit', (req, res) => {
          req.session.views = 1;
          res.json({ id: req.sessionID });
        });
        app.get('/logout', (req, res, next) => {
          req.session.destroy((err) => (err ? next(err) : res.json({ gone: req.session === undefined })));
        });
        app.get(
          '/logout-promise',
          route(async (req, res) => {
            await req.session.destroy();
            res.json({ gone: req.session === undefined });
          }),
        );
        app.get('/views', (req, res) => res.json(req.session.views ?? null));
      });
      for (const path of ['/logout', '/logout-promise']) {
        const b = browser();
        const { id } = await b.json<{ id: string }>('/visit');
        const stolen = b.copy();
        const res = await b.fetch(path);
        assert.deepEqual(await res.json(), { gone: true });
        assert.match(sessionCookies(res, 'connect.sid')[0]!, /^connect\.sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=\//);
        assert.equal(b.cookie, undefined, 'the browser dropped the cookie');
        assert.equal(await tessera.isValid(id), false, 'the store no longer has it');
        assert.equal(await stolen.json('/views'), null, 'a copy of the cookie opens nothing');
      }
    });

    it('save() calls back (or resolves) once the store has the session, nested changes included', async () => {
      const { browser } = await start((app, { tessera }) => {
        app.get('/save', (req, res, next) => {
          req.session.views = 7;
          req.session.save(async (err) => {
            if (err) return next(err);
            res.json(await tessera.get(req.sessionID, 'views'));
          });
        });
        app.get(
          '/save-promise',
          route(async (req, res) => {
            req.session.cart = { items: ['a'] };
            req.session.cart.items.push('b');
            await req.session.save();
            res.json(await tessera.get(req.sessionID, 'cart'));
          }),
        );
      });
      assert.equal(await browser().json('/save'), 7);
      assert.deepEqual(await browser().json('/save-promise'), { items: ['a', 'b'] });
    });

    it('reload() picks up what another request changed meanwhile (callback and promise)', async () => {
      const g = gate();
      const { browser } = await start((app) => {
        app.get('/set/:n', (req, res) => {
          req.session.views = Number(req.params.n);
          res.end();
        });
        app.get(
          '/reload',
          route(async (req, res, next) => {
            const before = req.session.views;
            g.arrive();
            await g.opened;
            req.session.reload((err) => (err ? next(err) : res.json({ before, after: req.session.views })));
          }),
        );
        app.get(
          '/reload-promise',
          route(async (req, res) => {
            const before = req.session.views;
            req.session.views = 5; // saved before the re-read
            await req.session.reload();
            res.json({ before, after: req.session.views });
          }),
        );
      });
      const b = browser();
      await b.fetch('/set/1');
      const slow = b.json('/reload');
      await g.arrived;
      await b.copy().fetch('/set/2');
      g.open();
      assert.deepEqual(await slow, { before: 1, after: 2 });
      assert.deepEqual(await b.json('/reload-promise'), { before: 2, after: 5 });
    });

    it('touch() extends the session now (callback and promise)', async () => {
      const { browser, clock } = await start(
        (app) => {
          app.get('/set', (req, res) => {
            req.session.views = 1;
            res.end();
          });
          app.get('/touch', (req, res, next) => {
            req.session.touch((err) => (err ? next(err) : res.end()));
          });
          app.get(
            '/touch-promise',
            route(async (req, res) => {
              await req.session.touch();
              res.end();
            }),
          );
          app.get('/get', (req, res) => res.json(req.session.views ?? null));
        },
        { cookie: { maxAge: HOUR }, touchAfter: 0.9 },
      );
      const [a, b, idle] = [browser(), browser(), browser()];
      for (const x of [a, b, idle]) await x.fetch('/set');
      clock.advance(40 * MINUTE);
      const touched = await a.fetch('/touch');
      assert.match(sessionCookies(touched, 'connect.sid')[0]!, /Max-Age=3600;/, 'the persistent cookie is renewed too');
      await b.fetch('/touch-promise');
      clock.advance(40 * MINUTE);
      assert.equal(await a.json('/get'), 1);
      assert.equal(await b.json('/get'), 1);
      assert.equal(await idle.json('/get'), null, 'untouched, it expired an hour after its write');
    });

    it('rolling: true sends the cookie with a fresh expiry on every response', async () => {
      const routes = (app: Express): void => {
        app.get('/set', (req, res) => {
          req.session.views = 1;
          res.end();
        });
        app.get('/get', (req, res) => res.json(req.session.views ?? null));
      };
      const rolling = await start(routes, { rolling: true, cookie: { maxAge: HOUR } });
      const b = rolling.browser();
      await b.fetch('/set');
      const cookie = b.cookie;
      rolling.clock.advance(MINUTE);
      const res = await b.fetch('/get');
      const [line] = sessionCookies(res, 'connect.sid');
      assert.ok(line, 'a Set-Cookie on an unchanged request');
      assert.ok(line.startsWith(`${cookie};`), 'for the same session');
      assert.match(line, new RegExp(`Max-Age=3600; Expires=${new Date(rolling.clock.time + HOUR).toUTCString()};`));

      const fixed = await start(routes, { cookie: { maxAge: HOUR } });
      const c = fixed.browser();
      await c.fetch('/set');
      fixed.clock.advance(MINUTE);
      assert.deepEqual(sessionCookies(await c.fetch('/get'), 'connect.sid'), [], 'without rolling, no cookie on an unchanged request');
    });

    it('cookie.maxAge per session: remember me outlives the default; expires = false ends with the browser', async () => {
      const routes = (app: Express): void => {
        app.get('/login', (req, res) => {
          req.session.user = 'ada';
          if (req.query.remember) req.session.cookie.maxAge = 30 * DAY;
          res.json(req.session.cookie);
        });
        app.get('/me', (req, res) => res.json({ user: req.session.user ?? null, cookie: req.session.cookie }));
      };
      // By default the absolute timeout (7 days) holds for a session with its own maxAge too.
      const capped = await start(routes);
      assert.match(sessionCookies(await capped.browser().fetch('/login?remember=1'), 'connect.sid')[0]!, /; Max-Age=604800; Expires=/);
      // rememberMeExtendsAbsolute: a 30-day maxAge outlives it, as in express-session (which has no absolute timeout).
      const { browser, clock } = await start(routes, { rememberMeExtendsAbsolute: true });
      const remembered = browser();
      const res = await remembered.fetch('/login?remember=1');
      assert.match(sessionCookies(res, 'connect.sid')[0]!, /; Max-Age=2592000; Expires=/);
      assert.deepEqual(await res.json(), {
        originalMaxAge: 30 * DAY,
        expires: new Date(clock.time + 30 * DAY).toISOString(),
        secure: false,
        httpOnly: true,
        path: '/',
        sameSite: 'lax',
        partitioned: false,
      });
      const forgotten = browser();
      const plain = await forgotten.fetch('/login');
      assert.doesNotMatch(sessionCookies(plain, 'connect.sid')[0]!, /Max-Age|Expires/, 'the default is a browser-session cookie');
      assert.deepEqual(((await plain.json()) as { originalMaxAge: null; expires: null }).originalMaxAge, null);

      clock.advance(2 * DAY); // past the default 24-hour idle timeout
      const me = await remembered.json<{ user: string; cookie: { originalMaxAge: number } }>('/me');
      assert.equal(me.user, 'ada');
      assert.equal(me.cookie.originalMaxAge, 30 * DAY, 'the per-session maxAge was saved with the session');
      assert.equal((await forgotten.json<{ user: null }>('/me')).user, null, 'the session without remember me expired');
    });

    it('cookie.expires = false makes one session end with the browser when the default cookie is persistent', async () => {
      const { browser, clock } = await start(
        (app) => {
          app.get('/login', (req, res) => {
            req.session.user = 'ada';
            if (!req.query.remember) req.session.cookie.expires = false;
            res.end();
          });
          app.get('/remember', (req, res) => {
            req.session.cookie.maxAge = 2 * HOUR;
            res.end();
          });
          app.get('/me', (req, res) =>
            res.json({ user: req.session.user ?? null, keys: Object.keys(req.session), stored: tesseraSession(req).keys(), cookie: req.session.cookie }),
          );
        },
        { cookie: { maxAge: HOUR } },
      );
      const b = browser();
      const login = await b.fetch('/login');
      assert.doesNotMatch(sessionCookies(login, 'connect.sid')[0]!, /Max-Age|Expires/);
      clock.advance(10 * MINUTE); // a throttled touch re-sends the cookie: still a browser-session one
      const me = await b.fetch('/me');
      assert.doesNotMatch(sessionCookies(me, 'connect.sid')[0] ?? '', /Max-Age|Expires/);
      assert.deepEqual(await me.json(), {
        user: 'ada',
        keys: ['cookie', 'user'],
        stored: ['user'], // the choice is kept with the session's metadata, not in its data
        cookie: { originalMaxAge: null, expires: null, secure: false, httpOnly: true, path: '/', sameSite: 'lax', partitioned: false },
      });
      const again = await b.fetch('/remember');
      assert.match(sessionCookies(again, 'connect.sid')[0]!, /; Max-Age=7200; /, 'a maxAge makes it persistent again');
      assert.equal((await browser().fetch('/login?remember=1')).headers.getSetCookie().some((l) => /Max-Age=3600/.test(l)), true, 'other sessions keep the default');
    });

    it('saveUninitialized: false: setting cookie.maxAge or expires on an untouched session stores nothing and sends no cookie; the first write does, with that lifetime', async () => {
      for (const cookie of [{}, { maxAge: HOUR }]) {
        const store = new CountingStore(new MemoryStore());
        const { browser } = await start(
          (app) => {
            app.get('/remember', (req, res) => {
              req.session.cookie.maxAge = 30 * DAY;
              res.json(req.session.cookie.originalMaxAge);
            });
            app.get('/forget', (req, res) => {
              req.session.cookie.expires = false;
              res.json(req.session.cookie.originalMaxAge);
            });
            app.get(
              '/remember-then-write',
              route(async (req, res) => {
                req.session.cookie.maxAge = 30 * DAY;
                await new Promise((r) => setImmediate(r)); // a later tick: the lifetime was kept for the write
                req.session.views = 1;
                await req.session.save();
                res.end();
              }),
            );
            app.get('/forget-then-write', (req, res) => {
              req.session.cookie.expires = false;
              req.session.views = 1;
              res.end();
            });
          },
          // A 30-day maxAge is kept whole past the 7-day absolute timeout.
          { store, cookie, rememberMeExtendsAbsolute: true },
        );
        const label = JSON.stringify(cookie);
        for (const [path, originalMaxAge] of [['/remember', 30 * DAY], ['/forget', null]] as const) {
          const res = await browser().fetch(path);
          assert.equal(res.status, 200);
          assert.deepEqual(res.headers.getSetCookie(), [], `${label} ${path}: no cookie`);
          assert.equal(await res.json(), originalMaxAge, `${label} ${path}: req.session.cookie shows the new lifetime`);
        }
        assert.equal(store.calls.set, 0, `${label}: nothing stored`);
        assert.equal(store.keys.size, 0);

        const remembered = await browser().fetch('/remember-then-write');
        assert.match(sessionCookies(remembered, 'connect.sid')[0] ?? '', /; Max-Age=2592000; Expires=/, `${label}: the first write sends the cookie with that Max-Age`);
        const forgotten = await browser().fetch('/forget-then-write');
        assert.match(sessionCookies(forgotten, 'connect.sid')[0] ?? '', /^connect\.sid=/);
        assert.doesNotMatch(sessionCookies(forgotten, 'connect.sid')[0]!, /Max-Age|Expires/, `${label}: a browser-session cookie`);
        assert.equal(store.calls.set, 2);
      }
    });

    it('a synchronous route: its changes, inside objects too, are stored in one write by the time it returns', async () => {
      const store = new CountingSyncStore(new MemoryStore());
      let writesAtReturn = -1;
      const { browser } = await start(
        (app) => {
          app.get('/add/:item', (req, res) => {
            const before = store.calls.set;
            req.session.cart ??= { items: [] };
            req.session.cart.items.push(req.params.item!);
            res.end();
            // Runs once the middleware's next() has returned, before any promise job.
            process.nextTick(() => (writesAtReturn = store.calls.set - before));
          });
          app.get('/cart', (req, res) => res.json(req.session.cart?.items ?? []));
        },
        { store },
      );
      const b = browser();
      await b.fetch('/add/a'); // a new session: the cart assigned, then changed inside
      assert.equal(writesAtReturn, 1);
      await b.fetch('/add/b'); // an existing one: changed inside only
      assert.equal(writesAtReturn, 1);
      assert.equal(store.calls.set, 2, 'one write per request');
      assert.deepEqual(await b.json('/cart'), ['a', 'b']);
    });

    it('saves changes made inside nested objects, also after an await', async () => {
      const { browser } = await start((app) => {
        app.get('/add/:item', (req, res) => {
          req.session.cart ??= { items: [] };
          req.session.cart.items.push(req.params.item!);
          res.json(req.session.cart.items);
        });
        app.get(
          '/add-later/:item',
          route(async (req, res) => {
            const cart = req.session.cart!;
            await new Promise((r) => setImmediate(r));
            cart.items.push(String(req.params.item));
            res.end();
          }),
        );
        app.get('/drop-first', (req, res) => {
          req.session.cart!.items.shift();
          res.end();
        });
        app.get('/cart', (req, res) => res.json(req.session.cart?.items ?? []));
      });
      const b = browser();
      await b.fetch('/add/a');
      await b.fetch('/add/b');
      await b.fetch('/add-later/c');
      assert.deepEqual(await b.json('/cart'), ['a', 'b', 'c']);
      await b.fetch('/drop-first');
      assert.deepEqual(await b.json('/cart'), ['b', 'c']);
    });

    it('two concurrent requests on one session changing different keys both survive', async () => {
      const g = gate();
      const { browser } = await start((app) => {
        app.get('/init', (req, res) => {
          req.session.prefs = { theme: 'light' };
          req.session.count = 0;
          res.end();
        });
        app.get(
          '/slow',
          route(async (req, res) => {
            g.arrive();
            await g.opened; // loaded before /count wrote
            req.session.prefs!.theme = 'dark';
            req.session.a = 1;
            res.end();
          }),
        );
        app.get('/count', (req, res) => {
          req.session.count = 2;
          res.end();
        });
        app.get('/state', (req, res) => res.json({ prefs: req.session.prefs, a: req.session.a, count: req.session.count }));
      });
      const b = browser();
      await b.fetch('/init');
      const slow = b.fetch('/slow');
      await g.arrived;
      assert.equal((await b.copy().fetch('/count')).status, 200);
      g.open();
      assert.equal((await slow).status, 200);
      assert.deepEqual(await b.json('/state'), { prefs: { theme: 'dark' }, a: 1, count: 2 });
    });

    it('streams: the cookie goes out with the first chunk, the whole body follows, res.end is not wrapped', async () => {
      const g = gate();
      let wrapped: boolean | undefined;
      const { browser } = await start((app) => {
        app.get(
          '/stream',
          route(async (req, res) => {
            req.session.streamed = true;
            wrapped = Object.hasOwn(res, 'end') || Object.hasOwn(res, 'write') || res.end !== ServerResponse.prototype.end;
            res.setHeader('content-type', 'text/plain');
            res.write('chunk1\n');
            await g.opened;
            res.write('chunk2\n');
            res.end('end\n');
          }),
        );
        app.get('/streamed', (req, res) => res.json(req.session.streamed ?? false));
      });
      const b = browser();
      const res = await b.fetch('/stream');
      assert.ok(b.cookie, 'Set-Cookie arrived with the head');
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      assert.equal(decoder.decode((await reader.read()).value), 'chunk1\n', 'the first chunk arrives while the handler waits');
      g.open();
      let rest = '';
      for (let r = await reader.read(); !r.done; r = await reader.read()) rest += decoder.decode(r.value);
      assert.equal(rest, 'chunk2\nend\n');
      assert.equal(wrapped, false);
      assert.equal(await b.json('/streamed'), true);
    });

    it('a store failure reaches next(err) as StoreUnavailableError: 503', async () => {
      const { base, tessera } = await start(
        (app) => {
          app.get('/read', (req, res) => res.send(String(req.session.views)));
          app.get('/save', (req, res, next) => {
            req.session.views = 1;
            req.session.save((err) => (err ? next(err) : res.send('saved')));
          });
          app.get(
            '/save-promise',
            route(async (req, res) => {
              req.session.views = 1;
              await req.session.save();
              res.send('saved');
            }),
          );
          app.get('/plain', (_req, res) => res.send('ok'));
        },
        { store: brokenStore() },
      );
      const cookie = `connect.sid=${tessera.signCookie(generateId())}`;
      assert.equal((await fetch(`${base}/read`, { headers: { cookie } })).status, 503, 'loading failed');
      assert.equal((await fetch(`${base}/save`)).status, 503, 'save(cb) failed');
      assert.equal((await fetch(`${base}/save-promise`)).status, 503, 'await save() failed');
      assert.equal((await fetch(`${base}/plain`)).status, 200, 'a request that only needs no stored session still works');

      const custom = await start(
        (app) => {
          app.get('/read', (req, res) => res.send(String(req.session.views)));
          app.use((err: { status: number; code: string }, _req: Req, res: Res, _next: NextFunction) => {
            res.status(err.status).json({ code: err.code, typed: err instanceof StoreUnavailableError });
          });
        },
        { store: brokenStore() },
      );
      const res = await fetch(`${custom.base}/read`, { headers: { cookie: `connect.sid=${custom.tessera.signCookie(generateId())}` } });
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), { code: 'ERR_STORE_UNAVAILABLE', typed: true });
    });

    for (const unset of ['destroy', 'keep'] as const) {
      it(`unset: '${unset}' ${unset === 'destroy' ? 'destroys' : 'keeps'} the session when req.session is unset`, async () => {
        const { browser, tessera } = await start(
          (app) => {
            app.get('/visit', (req, res) => {
              req.session.views = 1;
              res.send(req.sessionID);
            });
            app.get('/unset', (req, res) => {
              req.session = null as never;
              res.end();
            });
          },
          { unset },
        );
        const b = browser();
        const id = await (await b.fetch('/visit')).text();
        await b.fetch('/unset');
        assert.equal(await tessera.isValid(id), unset === 'keep');
      });
    }

    it('secure cookies: never over plain HTTP; behind a trusted proxy with X-Forwarded-Proto; "auto" follows the request', async () => {
      const routes = (app: Express): void => {
        app.get('/set', (req, res) => {
          req.session.views = 1;
          res.json(req.session.cookie.secure);
        });
      };
      const https = { 'x-forwarded-proto': 'https' };
      const warnings: string[] = [];
      const strict = await start(routes, { cookie: { secure: true }, proxy: true, logger: { warn: (_fields, m) => warnings.push(m) } });
      assert.equal(strict.tessera.cookieName, '__Host-connect.sid', 'no name chosen: the __Host- prefix');
      assert.deepEqual(sessionCookies(await fetch(`${strict.base}/set`), '__Host-connect.sid'), [], 'no Secure cookie over HTTP (it would expose the ID)');
      await fetch(`${strict.base}/set`);
      assert.equal(warnings.length, 1, 'a warning says why, once');
      assert.match(warnings[0]!, /not sent over plain HTTP/);
      assert.match(sessionCookies(await fetch(`${strict.base}/set`, { headers: https }), '__Host-connect.sid')[0]!, /; HttpOnly; Secure; SameSite=Lax$/);
      const untrusted = await start(routes, { cookie: { secure: true }, proxy: false });
      assert.deepEqual(sessionCookies(await fetch(`${untrusted.base}/set`, { headers: https }), '__Host-connect.sid'), [], 'proxy: false ignores the header');

      const auto = await start(routes, { name: 'connect.sid', cookie: { secure: 'auto' }, proxy: true });
      const plain = await fetch(`${auto.base}/set`);
      assert.doesNotMatch(sessionCookies(plain, 'connect.sid')[0]!, /Secure/);
      assert.equal(await plain.json(), false);
      const secure = await fetch(`${auto.base}/set`, { headers: https });
      assert.match(sessionCookies(secure, 'connect.sid')[0]!, /; Secure;/);
      assert.equal(await secure.json(), true);
    });

    it('"auto" with a __Host- cookie keeps Secure over plain HTTP (a browser rejects the prefix without it) and warns once', async () => {
      const routes = (app: Express): void => {
        app.get('/set', (req, res) => {
          req.session.views = 1;
          res.json(req.session.cookie.secure);
        });
      };
      for (const name of [undefined, '__Host-sid', '__Secure-sid']) {
        const warnings: string[] = [];
        const auto = await start(routes, { name, cookie: { secure: 'auto' }, proxy: true, logger: { warn: (_fields, m) => warnings.push(m) } });
        const cookieName = name ?? '__Host-connect.sid';
        assert.equal(auto.tessera.cookieName, cookieName);
        for (let i = 0; i < 2; i++) {
          const plain = await fetch(`${auto.base}/set`);
          assert.match(sessionCookies(plain, cookieName)[0]!, /; HttpOnly; Secure; SameSite=Lax$/, `${cookieName}: sent, Secure kept`);
          assert.equal(await plain.json(), true, 'req.session.cookie.secure says so');
        }
        assert.equal(warnings.length, 1, `${cookieName}: one warning, ${JSON.stringify(warnings)}`);
        assert.match(warnings[0]!, /Secure session cookie \(__(Host|Secure)-[a-z.]+\) went out over plain HTTP/);
        assert.match(warnings[0]!, /proxy: true/);
        const secure = await fetch(`${auto.base}/set`, { headers: { 'x-forwarded-proto': 'https' } });
        assert.match(sessionCookies(secure, cookieName)[0]!, /; Secure;/);
        assert.equal(warnings.length, 1, 'none over HTTPS');
      }
    });

    it("without proxy, Express's trust proxy setting decides the client IP and HTTPS", async () => {
      const routes = (app: Express): void => {
        app.set('trust proxy', 'loopback');
        app.get(
          '/ip',
          route(async (req, res) => {
            req.session.views = 1;
            await req.session.save();
            res.json({ ip: tesseraSession(req).meta.ip, secure: req.session.cookie.secure });
          }),
        );
      };
      const headers = { 'x-forwarded-for': '203.0.113.7, 10.0.0.1', 'x-forwarded-proto': 'https' };
      // A name without a prefix, so `cookie.secure` follows the request.
      const trusting = await start(routes, { name: 'sid', cookie: { secure: 'auto' } });
      assert.deepEqual(await trusting.browser().json('/ip', { headers }), { ip: '10.0.0.1', secure: true }, 'req.ip: the last untrusted hop');
      const direct = await start(routes, { name: 'sid', cookie: { secure: 'auto' }, proxy: false });
      assert.deepEqual(await direct.browser().json('/ip', { headers }), { ip: '127.0.0.1', secure: false });
      const proxied = await start(routes, { name: 'sid', cookie: { secure: 'auto' }, proxy: true });
      assert.deepEqual(await proxied.browser().json('/ip', { headers }), { ip: '10.0.0.1', secure: true }, 'proxy: true: HTTPS from the header, the IP still req.ip');
    });

    it('bindIp behind proxies: a client cannot pass for another IP by sending X-Forwarded-For itself', async () => {
      // [options, the app's trust proxy, proxies in front]: the client IP is the entry the outermost proxy appended.
      const setups: [ExpressSessionOptions, number | undefined, number][] = [
        [{ proxy: true }, undefined, 1], // proxy: true alone trusts one proxy
        [{}, 2, 2], // Express's trust proxy decides
        [{ proxy: true }, 2, 2], // proxy: true does not override a trust proxy setting
      ];
      for (const [options, trust, hops] of setups) {
        const { browser } = await start(
          (app) => {
            if (trust !== undefined) app.set('trust proxy', trust);
            app.get('/login', (req, res) => {
              req.session.user = 'ada';
              res.end();
            });
            app.get('/me', (req, res) => res.json(req.session.user ?? null));
          },
          { bindIp: true, ...options },
        );
        // What the app receives from `client`, through `hops` proxies, each appending the address it saw.
        const from = (client: string, sent?: string): RequestInit => {
          const proxies = Array.from({ length: hops - 1 }, (_, i) => `10.0.0.${i + 2}`);
          return { headers: { 'x-forwarded-for': [...(sent ? [sent] : []), client, ...proxies].join(', ') } };
        };
        const label = JSON.stringify({ options, trust });
        const victim = browser();
        await victim.fetch('/login', from('203.0.113.7'));
        assert.equal(await victim.json('/me', from('203.0.113.7')), 'ada', `${label}: the victim's own IP`);
        assert.equal(await victim.json('/me', from('203.0.113.7', '192.0.2.1')), 'ada', `${label}: whatever the victim's browser sent`);
        assert.equal(await victim.copy().json('/me', from('198.51.100.9')), null, `${label}: the thief's IP`);
        assert.equal(await victim.copy().json('/me', from('198.51.100.9', '203.0.113.7')), null, `${label}: the thief sending the victim's IP`);
      }
    });

    it("name and cookie options keep express-session's meaning; only paths under cookie.path get a session", async () => {
      const { base, browser } = await start(
        (app) => {
          app.get('/app/set', (req, res) => {
            req.session.views = 1;
            res.json(req.session.cookie);
          });
          app.get('/elsewhere', (req, res) => res.json(req.session === undefined));
        },
        { name: 'sid', cookie: { path: '/app', domain: 'example.test', sameSite: true, httpOnly: false } },
      );
      const res = await browser().fetch('/app/set');
      assert.match(sessionCookies(res, 'sid')[0]!, /^sid=[^;]+; Path=\/app; Domain=example\.test; SameSite=Strict$/);
      assert.deepEqual(await res.json(), {
        originalMaxAge: null,
        expires: null,
        secure: false,
        httpOnly: false,
        domain: 'example.test',
        path: '/app',
        sameSite: 'strict',
        partitioned: false,
      });
      assert.equal(await (await fetch(`${base}/elsewhere`)).json(), true);
    });

    it('secret: an array rotates — the first signs, every one verifies', async () => {
      const store = new MemoryStore();
      const routes = (app: Express): void => {
        app.get('/', (req, res) => {
          req.session.views = (req.session.views ?? 0) + 1;
          res.json(req.session.views);
        });
      };
      const before = await start(routes, { secret: OLD_SECRET, store });
      const after = await start(routes, { secret: [SECRET, OLD_SECRET], store });
      const b = before.browser();
      assert.equal(await b.json('/'), 1);
      const moved = new Browser(after.base, 'connect.sid');
      moved.cookie = b.cookie;
      assert.equal(await moved.json('/'), 2, 'a cookie signed with the old secret still opens the session');
      const fresh = new Browser(after.base, 'connect.sid');
      await fresh.json('/');
      const stranger = new Browser(before.base, 'connect.sid');
      stranger.cookie = fresh.cookie;
      assert.equal(await stranger.json('/'), 1, 'new cookies are signed with the new secret');
    });

    it('req.session behaves like a plain object: keys, JSON, in, delete, undefined; reserved names and functions are refused', async () => {
      const { browser } = await start((app) => {
        app.get('/object', (req, res) => {
          const s = req.session as unknown as Record<string, unknown>;
          s.a = 1;
          s.b = { c: 2 };
          s.gone = 'x';
          delete s.gone;
          s.nothing = undefined;
          const errors: string[] = [];
          for (const attempt of [() => (s.save = 1), () => delete s.id, () => (s.fn = () => 1)]) {
            try {
              attempt();
            } catch (error) {
              errors.push((error as { code?: string }).code ?? (error as Error).name);
            }
          }
          res.json({
            keys: Object.keys(s),
            json: JSON.parse(JSON.stringify(s)),
            spread: Object.keys({ ...s }),
            in: ['a' in s, 'gone' in s, 'save' in s, 'cookie' in s],
            own: [Object.hasOwn(s, 'a'), Object.hasOwn(s, 'cookie'), Object.hasOwn(s, 'save')],
            errors,
          });
        });
        app.get('/again', (req, res) => res.json(Object.keys(req.session)));
      });
      const b = browser();
      const body = await b.json<{ json: { cookie: object; a: number; b: object }; [k: string]: unknown }>('/object');
      assert.deepEqual(body.keys, ['cookie', 'a', 'b']);
      assert.deepEqual({ ...body.json, cookie: typeof body.json.cookie }, { cookie: 'object', a: 1, b: { c: 2 } });
      assert.deepEqual(body.spread, ['cookie', 'a', 'b']);
      assert.deepEqual(body.in, [true, false, true, true]);
      assert.deepEqual(body.own, [true, true, false]);
      assert.deepEqual(body.errors, ['TypeError', 'TypeError', 'ERR_SESSION_STATE']);
      assert.deepEqual(await b.json('/again'), ['cookie', 'a', 'b']);
    });

    it('regenerate() in the same synchronous code as a read of an object value: no spurious commitError, the data is right', async () => {
      const { browser, tessera } = await start((app) => {
        app.get('/set', (req, res) => {
          req.session.prefs = { theme: 'dark' };
          res.end();
        });
        app.get('/login', (req, res, next) => {
          const prefs = req.session.prefs; // an object: watched for changes inside it
          req.session.regenerate((err) => (err ? next(err) : res.end()));
          req.session.prefs = prefs; // into the new session, in the same tick
          req.session.prefs!.theme = 'light'; // and changed inside, through the new session
        });
        app.get('/show', (req, res) => res.json(req.session));
      });
      const errors: unknown[] = [];
      tessera.on('commitError', (error) => errors.push(error));
      const b = browser();
      await b.fetch('/set');
      const before = b.cookie;
      assert.equal((await b.fetch('/login')).status, 200);
      assert.notEqual(b.cookie, before, 'a new ID');
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(errors, []);
      const shown = await b.json<{ prefs: unknown }>('/show');
      assert.deepEqual(shown.prefs, { theme: 'light' });
    });

    it('a data key named like a reserved property (set through tesseraSession) does not break listing req.session', async () => {
      const { browser } = await start((app) => {
        app.get('/set', (req, res) => {
          req.session.a = 1;
          tesseraSession(req).set('cookie', 'data');
          tesseraSession(req).set('id', 'data');
          res.end();
        });
        app.get('/list', (req, res) => {
          const s = req.session as unknown as Record<string, unknown>;
          const forIn: string[] = [];
          for (const key in s) forIn.push(key);
          res.json({
            keys: Object.keys(s),
            json: JSON.parse(JSON.stringify(s)),
            spread: Object.keys({ ...s }),
            forIn,
            cookie: typeof (s.cookie as { originalMaxAge?: unknown }).originalMaxAge,
            id: s.id === req.sessionID,
            stored: [tesseraSession(req).get('cookie'), tesseraSession(req).get('id')],
          });
        });
      });
      const b = browser();
      await b.fetch('/set');
      const body = await b.json<{ json: Record<string, unknown>; [k: string]: unknown }>('/list');
      assert.deepEqual(body.keys, ['cookie', 'a']);
      assert.deepEqual(Object.keys(body.json), ['cookie', 'a']);
      assert.equal(typeof body.json.cookie, 'object', 'req.session.cookie is the session cookie');
      assert.equal((body.json.cookie as { path: string }).path, '/');
      assert.deepEqual(body.spread, ['cookie', 'a']);
      assert.deepEqual(body.forIn, ['cookie', 'a']);
      assert.equal(body.cookie, 'object');
      assert.equal(body.id, true);
      assert.deepEqual(body.stored, ['data', 'data'], 'the data keys are kept, reachable through tesseraSession()');
    });

    it('shares an existing tessera instance: its options, by-ID operations and userId through tesseraSession()', async () => {
      const tessera = createTessera({ secrets: [SECRET], store: new MemoryStore(), cookie: { name: 'tsid', secure: false }, cleanupInterval: 0, logger: {} });
      const { browser } = await start(
        (app) => {
          app.get('/peek', (req, res) => res.json(req.session.views ?? null));
          app.get('/login', (req, res) => {
            req.session.user = 'ada';
            tesseraSession(req).userId = 'u1';
            res.send(req.sessionID);
          });
        },
        { tessera, secret: undefined, store: undefined, now: undefined, logger: undefined, cleanupInterval: undefined, saveUninitialized: undefined, csrf: undefined },
      );
      const b = browser();
      assert.deepEqual(sessionCookies(await b.fetch('/peek'), 'tsid'), [], "the instance's saveUninitialized (false) applies");
      const id = await (await b.fetch('/login')).text();
      assert.ok(b.cookie?.startsWith(`tsid=${id}.`));
      assert.equal(await tessera.get(id, 'user'), 'ada');
      assert.equal((await tessera.listByUser('u1')).length, 1);
    });

    it('works with sessions sealed in the cookie (CookieStore): save() seals a nested change before the response', async () => {
      const errors: unknown[] = [];
      const { browser, tessera } = await start(
        (app) => {
          app.get(
            '/',
            route(async (req, res) => {
              req.session.views = (req.session.views ?? 0) + 1;
              req.session.cart ??= { items: [] };
              req.session.cart.items.push(String(req.session.views));
              await req.session.save();
              res.json(req.session.cart.items);
            }),
          );
          app.get('/too-late', (req, res) => {
            res.flushHeaders(); // the head goes out before the change is made
            req.session.cart!.items.push('lost');
            res.end();
          });
          app.get('/in-place-then-end', (req, res) => {
            req.session.cart!.items.push('3');
            res.end(); // the end sees the change first, and seals it in the cookie
          });
          app.get('/cart', (req, res) => res.json(req.session.cart?.items));
        },
        { store: new CookieStore({ revocation: new MemoryStore() }) as never },
      );
      tessera.on('commitError', (e) => errors.push(e));
      const b = browser();
      assert.deepEqual(await b.json('/'), ['1']);
      assert.deepEqual(await b.json('/'), ['1', '2']);
      await b.fetch('/too-late');
      assert.deepEqual(await b.json('/cart'), ['1', '2']);
      assert.match(String(errors[0]), /req\.session\.cart was changed in place after the response head was sent/, 'reported, not silently lost');
      await b.fetch('/in-place-then-end');
      assert.deepEqual(await b.json('/cart'), ['1', '2', '3']);
    });
  });
}

suite('Express 5', express5);
suite('Express 4', express4);

describe('tessera/express options', () => {
  const base = { secret: SECRET, store: new MemoryStore(), logger: {}, cleanupInterval: 0, resave: false, saveUninitialized: false };

  it('keeps an express-session store (issue 12: accepted through the adapter), and refuses what is no store', () => {
    const connectRedis = { get(_sid: string, _cb: unknown) {}, set(_sid: string, _s: unknown, _cb: unknown) {}, destroy(_sid: string, _cb: unknown) {} };
    assert.match(session({ ...base, store: connectRedis }).tessera.store.name, /^express-session store/);
    assert.throws(() => session({ ...base, store: { get() {}, set() {} } as never }), (e: unknown) => e instanceof ConfigError && /express-session store \(get, set, destroy\)/.test(e.message));
  });

  it("refuses express-session's short demo secrets and manager options next to an instance", () => {
    assert.throws(() => session({ ...base, secret: 'SuperSecretSessionKey' }), SecretError);
    const tessera = createTessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, logger: {} });
    assert.throws(() => session({ tessera, secret: SECRET }), (e: unknown) => e instanceof ConfigError && /`secret`/.test(e.message));
    assert.equal(session({ tessera, resave: false }).tessera, tessera);
  });

  it("takes rolling from a shared instance: refuses a different one, since it is the instance's cookie policy", () => {
    const plain = createTessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, logger: {} });
    assert.throws(() => session({ tessera: plain, rolling: true, resave: false }), (e: unknown) => e instanceof ConfigError && /`rolling`.*createTessera/.test(e.message));
    const rolling = createTessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, logger: {}, rolling: true });
    assert.equal(session({ tessera: rolling, rolling: true, resave: false }).tessera, rolling, 'the same setting is accepted');
    assert.equal(session({ ...base, rolling: true }).tessera.options.rolling, true, 'without an instance, rolling is passed to the manager');
  });

  it('takes genid (issue 12: no longer ignored; its IDs are checked as they are made, see express/dropin.test.ts), and refuses one that is no function', () => {
    const warnings: string[] = [];
    session({ ...base, genid: () => 'predictable', logger: { warn: (_fields, m) => warnings.push(m) } });
    assert.equal(warnings.length, 0);
    assert.throws(() => session({ ...base, genid: 'predictable' as never }), ConfigError);
  });

  it('offers session.MemoryStore, the tessera store', () => {
    assert.ok(new session.MemoryStore() instanceof MemoryStore);
  });
});
