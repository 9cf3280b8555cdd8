/**
 * The admin page mounted in every adapter — node:http (`adminPage(sessions, …)` in the wrapped
 * handler), Express 5 and 4 (middleware), Fastify (a plugin, through `inject`) and Hono
 * (middleware, through `app.request`) — with one case list: the mount refuses to start without a
 * guard, answers its paths behind the guard and leaves the others to the app, serves its script
 * with an ETag, and revokes a session only with the operator's CSRF token (CSRF protection on, as
 * by default), after which the revoked cookie no longer signs anyone in.
 *
 * Each app has `POST /sign-in?user=U` (sets `session.userId`) and `GET /me` (the session's
 * `userId` as JSON); the guard lets in the user `root`.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, describe, it } from 'node:test';
import express5 from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { ConfigError } from '../../src/errors.js';
import { Tessera } from '../../src/manager.js';
import { adminPage as nodeAdminPage, nodeSessions } from '../../src/adapters/node.js';
import session, { adminPage as expressAdminPage, tesseraSession } from '../../src/adapters/express.js';
import fastifySessions, { adminPage as fastifyAdminPage } from '../../src/adapters/fastify.js';
import { adminPage as honoAdminPage, sessions as honoSessions } from '../../src/adapters/hono.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { AdminGuard } from '../../src/admin-page/router.js';
import { injectedReply, readReply, serveOnLoopback } from './http-client.js';
import type { HarnessApp, Reply } from './suite.js';

const express4 = createRequire(import.meta.url)('express4') as typeof express5;
const SECRET = 'admin-mount-test-secret-0123456789abcdef-xyz';
const guard: AdminGuard<unknown> = (_req, s) => s.userId === 'root';

interface Mount {
  readonly name: string;
  /** The app with the admin page at `/admin` (`guard` given as is: undefined to check the refusal). */
  start(tessera: Tessera, guard: AdminGuard<never> | undefined): Promise<HarnessApp>;
}

const mounts: Mount[] = [
  {
    name: 'node:http',
    async start(tessera, guard) {
      const sessions = nodeSessions(tessera);
      const admin = nodeAdminPage(sessions, { guard: guard as AdminGuard<unknown> });
      return serveOnLoopback(
        sessions.wrap(async (req, res) => {
          if (await admin(req, res)) return;
          const url = new URL(req.url ?? '/', 'http://x');
          const s = await sessions.load(req, res);
          if (url.pathname === '/sign-in') s.userId = url.searchParams.get('user');
          res.end(JSON.stringify(s.userId));
        }),
      );
    },
  },
  ...[
    ['Express 5', express5],
    ['Express 4', express4],
  ].map(([name, express]) => ({
    name: name as string,
    async start(tessera: Tessera, guard: AdminGuard<never> | undefined) {
      const app = (express as typeof express5)();
      app.set('env', 'test');
      const sessions = session({ tessera, resave: false });
      app.use(sessions);
      app.use(expressAdminPage(sessions, { guard: guard as AdminGuard<unknown> }));
      app.post('/sign-in', (req, res) => {
        tesseraSession(req).userId = String(req.query.user);
        res.send(JSON.stringify(tesseraSession(req).userId));
      });
      app.get('/me', (req, res) => res.send(JSON.stringify(tesseraSession(req).userId)));
      return serveOnLoopback(app);
    },
  })),
  {
    name: 'Fastify (inject)',
    async start(tessera, guard) {
      const app = Fastify();
      await app.register(fastifySessions, { tessera });
      await app.register(fastifyAdminPage, { guard: guard as AdminGuard<unknown> });
      app.post<{ Querystring: { user: string } }>('/sign-in', async (request) => {
        request.session.userId = request.query.user;
        return JSON.stringify(request.session.userId);
      });
      app.get('/me', async (request) => JSON.stringify(request.session.userId));
      await app.ready();
      return {
        request: async (method, path, headers = {}, _first, body) => injectedReply(await app.inject({ method, url: path, headers, payload: body })),
        close: () => app.close(),
      };
    },
  },
  {
    name: 'Hono (app.request)',
    async start(tessera, guard) {
      const app = new Hono();
      const sessions = honoSessions({ tessera });
      app.use(sessions);
      app.use(honoAdminPage(sessions, { guard: guard as AdminGuard<unknown> }));
      app.post('/sign-in', (c) => {
        c.get('session').userId = c.req.query('user') ?? null;
        return c.text(JSON.stringify(c.get('session').userId));
      });
      app.get('/me', (c) => c.text(JSON.stringify(c.get('session').userId)));
      return {
        request: async (method, path, headers = {}, _first, body) => readReply(await app.request(`http://localhost${path}`, { method, headers, body })),
        close: async () => {},
      };
    },
  },
];

/** A browser's cookie jar, as far as these tests go. */
class Browser {
  cookie = '';
  constructor(readonly app: HarnessApp) {}
  async send(method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
    const reply = await this.app.request(method, path, { 'sec-fetch-site': 'same-origin', ...(this.cookie ? { cookie: this.cookie } : {}), ...headers }, undefined, body);
    for (const line of reply.setCookies) {
      const pair = line.split(';', 1)[0]!;
      if (pair.startsWith('tessera=')) this.cookie = pair;
    }
    return reply;
  }
  post(path: string, form: Record<string, string>): Promise<Reply> {
    // A Host header: the loopback client then uses node:http, which leaves a 303 unfollowed, as fetch would not.
    return this.send('POST', path, { host: 'localhost', 'content-type': 'application/x-www-form-urlencoded' }, new URLSearchParams(form).toString());
  }
}

for (const mount of mounts) {
  describe(`admin page on ${mount.name}`, () => {
    const opened: Tessera[] = [];
    const apps: HarnessApp[] = [];
    after(async () => {
      for (const app of apps) await app.close();
      for (const t of opened) await t.close();
    });
    async function start(): Promise<HarnessApp> {
      const tessera = new Tessera({ secrets: [SECRET], store: new MemoryStore(), cookie: { secure: false }, csrf: { exempt: ['/sign-in'] }, cleanupInterval: 0, logger: {} });
      opened.push(tessera);
      const app = await mount.start(tessera, guard);
      apps.push(app);
      return app;
    }

    it('refuses to start without a guard (ConfigError)', async () => {
      const tessera = new Tessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, logger: {} });
      opened.push(tessera);
      await assert.rejects(async () => apps.push(await mount.start(tessera, undefined)), ConfigError);
    });

    it('answers /admin behind the guard and leaves the other paths to the app', async () => {
      const app = await start();
      const visitor = new Browser(app);
      assert.equal((await visitor.send('GET', '/admin')).status, 403, 'no session');
      const eve = new Browser(app);
      await signIn(eve, 'eve');
      assert.equal((await eve.send('GET', '/admin')).status, 403, 'a user the guard refuses');
      assert.equal((await eve.send('GET', '/admin/admin.js')).status, 403);
      const root = new Browser(app);
      await signIn(root, 'root');
      const page = await root.send('GET', '/admin');
      assert.equal(page.status, 200, page.body);
      assert.match(page.headers['content-type']!, /^text\/html/);
      assert.match(page.headers['content-security-policy']!, /script-src 'self'/);
      assert.match(page.body, /<td class="user"><a [^>]*>eve<\/a>/);
      assert.equal((await root.send('GET', '/me')).body, '"root"', 'the app still answers its own paths');
      assert.equal((await root.send('GET', '/admin/nothing-here')).status, 404);
    });

    it('serves its script with an ETag, 304 when unchanged', async () => {
      const app = await start();
      const root = new Browser(app);
      await signIn(root, 'root');
      const script = await root.send('GET', '/admin/admin.js');
      assert.equal(script.status, 200);
      assert.match(script.headers['content-type']!, /^text\/javascript/);
      assert.match(script.body, /chart/);
      assert.equal((await root.send('GET', '/admin/admin.js', { 'if-none-match': script.headers.etag! })).status, 304);
    });

    it("revokes a session with the page's CSRF token, not without; the revoked cookie signs no one in", async () => {
      const app = await start();
      const victim = new Browser(app);
      await signIn(victim, 'victim');
      const root = new Browser(app);
      await signIn(root, 'root');
      const list = await root.send('GET', '/admin?user=victim');
      const handle = /<tr data-handle="([^"]+)"/.exec(list.body)![1]!;
      const token = /name="_csrf" value="([^"]+)"/.exec(list.body)![1]!;
      const url = `/admin/sessions/${handle}/revoke`;
      assert.equal((await root.post(url, {})).status, 403, 'without a token');
      assert.equal((await victim.send('GET', '/me')).body, '"victim"', 'still signed in');
      const done = await root.post(url, { _csrf: token });
      assert.equal(done.status, 303, done.body);
      assert.equal(done.headers.location, '/admin?done=revoked');
      assert.equal((await victim.send('GET', '/me')).body, 'null', 'the revoked cookie starts a new, signed-out session');
      assert.equal((await root.send('GET', '/me')).body, '"root"');
    });
  });
}

/** Sign `browser` in as `user` (the test apps exempt /sign-in from CSRF: it is not what is tested here). */
async function signIn(browser: Browser, user: string): Promise<void> {
  const reply = await browser.send('POST', `/sign-in?user=${user}`);
  assert.equal(reply.status, 200, `${user} signed in: ${reply.status} ${reply.body}`);
}
