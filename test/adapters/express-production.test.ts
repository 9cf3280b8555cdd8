/**
 * tessera/express with `NODE_ENV=production`: the session cookie is `Secure` whenever the request
 * came over HTTPS (`secure: 'auto'` by default), carries the `__Host-` prefix where the app chose
 * no name and its options allow one, and a Secure cookie meeting plain HTTP is warned about once.
 * The variable is set for this file's tests only (each test file runs in a process of its own).
 */
import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import express from 'express';
import session, { type ExpressSessionOptions } from '../../src/adapters/express.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { serveOnLoopback } from './http-client.js';
import type { HarnessApp } from './suite.js';

const SECRET = 'express-production-test-secret-0123456789abcdef';
const HTTPS = { 'x-forwarded-proto': 'https' };
const HTTP = { 'x-forwarded-proto': 'http' };

const apps: HarnessApp[] = [];
after(() => Promise.all(apps.map((app) => app.close())));

/** An app behind a TLS-terminating proxy it trusts (`proxy: true`): `POST /write` writes the session. */
async function start(options: ExpressSessionOptions = {}) {
  const warnings: string[] = [];
  const sessions = session({
    secret: SECRET,
    store: new MemoryStore(),
    cleanupInterval: 0,
    resave: false,
    saveUninitialized: false,
    proxy: true,
    logger: { warn: (_fields, m) => warnings.push(m) },
    csrf: false,
    ...options,
  });
  const app = express();
  app.use(sessions);
  app.post('/write', (req, res) => {
    (req.session as unknown as Record<string, unknown>).a = 1;
    res.json(req.session.cookie.secure);
  });
  const served = await serveOnLoopback(app);
  apps.push(served);
  return { app: served, tessera: sessions.tessera, warnings };
}

describe('tessera/express in production (NODE_ENV=production)', () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = saved;
  });

  it('with no cookie options: __Host-connect.sid, Secure over HTTPS — never a session cookie without Secure there', async () => {
    const { app, tessera, warnings } = await start();
    assert.equal(tessera.cookieName, '__Host-connect.sid');
    const reply = await app.request('POST', '/write', HTTPS);
    assert.equal(reply.setCookies.length, 1);
    assert.match(reply.setCookies[0]!, /^__Host-connect\.sid=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    assert.equal(reply.body, 'true', 'req.session.cookie.secure');
    assert.deepEqual(warnings, []);
  });

  it('with no cookie options, over plain HTTP: the __Host- cookie keeps Secure (the browser rejects it without) and a warning says so, once', async () => {
    const { app, warnings } = await start();
    for (let i = 0; i < 2; i++) {
      const reply = await app.request('POST', '/write', HTTP);
      assert.match(reply.setCookies[0]!, /^__Host-connect\.sid=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    }
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]!, /tessera\/express: a Secure session cookie \(__Host-connect\.sid\) went out over plain HTTP/);
  });

  it('a name the app chose is kept: secure "auto" then follows the request, Secure over HTTPS, without it over HTTP', async () => {
    const { app, tessera, warnings } = await start({ name: 'connect.sid' });
    assert.equal(tessera.cookieName, 'connect.sid');
    assert.match((await app.request('POST', '/write', HTTPS)).setCookies[0]!, /^connect\.sid=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    const plain = await app.request('POST', '/write', HTTP);
    assert.match(plain.setCookies[0]!, /^connect\.sid=[^;]+; Path=\/; HttpOnly; SameSite=Lax$/);
    assert.equal(plain.body, 'false');
    assert.deepEqual(warnings, [], 'no Secure cookie went out over HTTP');
  });

  it('no __Host- prefix where the options forbid it (a domain, a path other than /); still Secure over HTTPS', async () => {
    for (const cookie of [{ domain: 'example.com' }, { path: '/app' }]) {
      const { tessera } = await start({ cookie });
      assert.equal(tessera.cookieName, 'connect.sid', JSON.stringify(cookie));
      assert.equal(tessera.options.cookie.secure, true);
    }
    const { app } = await start({ cookie: { domain: '127.0.0.1.nip.io' } });
    assert.match((await app.request('POST', '/write', HTTPS)).setCookies[0]!, /; Secure;/);
  });

  it('outside production the defaults stay express-session\'s: connect.sid, not Secure', async () => {
    process.env.NODE_ENV = 'development';
    const { app, tessera } = await start();
    assert.equal(tessera.cookieName, 'connect.sid');
    assert.doesNotMatch((await app.request('POST', '/write', HTTPS)).setCookies[0]!, /Secure/);
  });
});
