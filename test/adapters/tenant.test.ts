/**
 * The `tenant` option of the adapters (src/adapters/tenant.ts): the rules and their checks at
 * start-up, on a plain request; then each adapter reading the path for `{ path }` its own way
 * (node's `req.url`, Express's `originalUrl`, Fastify's `request.url`, Hono's raw URL).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import session, { tesseraSession } from '../../src/adapters/express.js';
import { sessions as fastifySessions } from '../../src/adapters/fastify.js';
import { sessions as honoSessions } from '../../src/adapters/hono.js';
import { nodeSessions } from '../../src/adapters/node.js';
import { resolveTenant, type RequestParts, type TenantResolver } from '../../src/adapters/tenant.js';
import { ConfigError, TenantError } from '../../src/errors.js';
import { Tessera } from '../../src/manager.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { serveOnLoopback } from './http-client.js';

/** A request as the rules see it. */
interface Plain {
  headers: Record<string, string>;
  path: string;
}
const parts: RequestParts<Plain> = { header: (r, name) => r.headers[name], path: (r) => r.path };
const req = (headers: Record<string, string> = {}, path = '/'): Plain => ({ headers, path });
const tenantOf = (option: TenantResolver<Plain>) => resolveTenant(option, parts, 'test')!;
const isTenantError = (e: unknown) => e instanceof TenantError && e.code === 'ERR_TENANT' && e.status === 400;

describe('tenant rules', () => {
  it('refuses bad configuration at start-up with ConfigError', () => {
    const bad: unknown[] = [
      '',
      'acme',
      42,
      true,
      {},
      { host: false },
      { host: 'yes' },
      { header: '' },
      { header: 'x tenant' },
      { header: 7 },
      { path: false },
      { path: '/t/(.*)' },
      { path: /^\/t\/[^/]+/ },
      { host: true, header: 'x-tenant' },
      { subdomain: true },
    ];
    for (const option of bad) {
      assert.throws(() => resolveTenant(option as TenantResolver<Plain>, parts, 'test'), (e: unknown) => e instanceof ConfigError && e.code === 'ERR_CONFIG', JSON.stringify(String(option)));
    }
    assert.equal(resolveTenant(undefined, parts, 'test'), null, 'no option: no tenants');
  });

  it('{ host: true }: lower-cased, without port or trailing dot; none without a Host; 400 for an empty one', () => {
    const host = tenantOf({ host: true });
    assert.equal(host(req({ host: 'Acme.Example.COM:8443' })), 'acme.example.com');
    assert.equal(host(req({ host: 'acme.example.com.' })), 'acme.example.com');
    assert.equal(host(req({ host: '[::1]:3000' })), '[::1]');
    assert.equal(host(req()), null);
    assert.throws(() => host(req({ host: '' })), isTenantError);
    assert.throws(() => host(req({ host: ':8080' })), isTenantError);
  });

  it('{ header }: the header trimmed, named in any case; none when absent; 400 when empty or blank', () => {
    const header = tenantOf({ header: 'X-Tenant' });
    assert.equal(header(req({ 'x-tenant': ' acme ' })), 'acme');
    assert.equal(header(req()), null);
    assert.throws(() => header(req({ 'x-tenant': '' })), isTenantError);
    assert.throws(() => header(req({ 'x-tenant': '  ' })), isTenantError);
    assert.throws(() => header(req({ 'x-tenant': 'x'.repeat(256) })), isTenantError, 'over 255 characters');
    assert.equal(header(req({ 'x-tenant': 'x'.repeat(255) })), 'x'.repeat(255));
  });

  it('{ path: true }: the first segment, decoded; none for "/"; 400 for an empty segment or bad encoding', () => {
    const path = tenantOf({ path: true });
    assert.equal(path(req({}, '/acme/cart?x=1')), 'acme');
    assert.equal(path(req({}, '/Ac%6De')), 'Acme');
    assert.equal(path(req({}, '/acme?next=/globex')), 'acme');
    assert.equal(path(req({}, '/')), null);
    assert.equal(path(req({}, '/?tenant=acme')), null);
    assert.throws(() => path(req({}, '//acme')), isTenantError);
    assert.throws(() => path(req({}, '/%E0%A4%A/')), isTenantError);
  });

  it('{ path: RegExp }: the first capture (or the group named tenant), decoded; none without a match; g and y keep no state', () => {
    const orgs = tenantOf({ path: /^\/orgs\/([^/]+)/g });
    for (let i = 0; i < 3; i++) assert.equal(orgs(req({}, '/orgs/acme/cart')), 'acme', 'the same answer every time');
    assert.equal(orgs(req({}, '/orgs/a%20b')), 'a b');
    assert.equal(orgs(req({}, '/cart')), null);
    assert.equal(orgs(req({}, '/cart?/orgs/acme')), null, 'the query is not the path');
    const named = tenantOf({ path: /^\/(v\d)\/(?<tenant>[^/]*)/ });
    assert.equal(named(req({}, '/v1/globex/x')), 'globex');
    assert.throws(() => named(req({}, '/v1//x')), isTenantError, 'an empty capture');
    const optional = tenantOf({ path: /^\/x(?:\/(\w+))?/ });
    assert.equal(optional(req({}, '/x')), null, 'a group that took no part: no tenant');
  });

  it('a function: its answer, checked — "" is a 400, not "no tenant"; a non-string is a TypeError', () => {
    assert.equal(tenantOf((r) => r.headers.t)(req({ t: 'acme' })), 'acme');
    assert.equal(tenantOf(() => undefined)(req()), null);
    assert.throws(() => tenantOf(() => '')(req()), isTenantError);
    assert.throws(() => tenantOf(() => 42 as unknown as string)(req()), TypeError);
  });
});

describe('tenant rules in each adapter: bad configuration at start-up, { path } read the same way', () => {
  const SECRET = 'tenant-adapter-test-secret-0123456789abcdef';
  const manager = () => new Tessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, logger: {}, cookie: { secure: true } });

  it('every adapter refuses a bad tenant rule with ConfigError when it is made', async () => {
    const bad = { header: '' } as const;
    const isConfig = (e: unknown) => e instanceof ConfigError && e.code === 'ERR_CONFIG';
    assert.throws(() => nodeSessions(manager(), { tenant: bad }), isConfig);
    assert.throws(() => session({ tessera: manager(), resave: false, tenant: bad }), isConfig);
    assert.throws(() => honoSessions({ tessera: manager(), tenant: bad }), isConfig);
    await assert.rejects(async () => {
      await Fastify().register(fastifySessions, { tessera: manager(), tenant: bad });
    }, isConfig);
  });

  // Each app answers the tenant of its session at GET /<anything>: 'null' for none.
  const apps = {
    'node:http': async () => {
      const sessions = nodeSessions(manager(), { tenant: { path: true } });
      return serveOnLoopback(sessions.wrap(async (req, res) => res.end(String((await sessions.load(req, res)).meta.tenant))));
    },
    Express: async () => {
      const app = express();
      app.set('env', 'test');
      // Mounted under a router: the rule reads the whole path (originalUrl), not the router's rest.
      const router = express.Router();
      router.use(session({ tessera: manager(), resave: false, tenant: { path: true } }));
      router.use((req, res) => res.send(String(tesseraSession(req).meta.tenant)));
      app.use('/', router);
      return serveOnLoopback(app);
    },
    Fastify: async () => {
      const app = Fastify();
      await app.register(fastifySessions, { tessera: manager(), tenant: { path: true } });
      app.get('/*', async (request) => String(request.session.meta.tenant));
      await app.ready();
      const served = await serveOnLoopback((req, res) => app.routing(req, res));
      return { request: served.request, close: async () => (await served.close(), await app.close()) };
    },
    Hono: async () => {
      const app = new Hono();
      app.use(honoSessions({ tessera: manager(), tenant: { path: true } }));
      app.get('*', (c) => c.text(String(c.get('session').meta.tenant)));
      return serveOnLoopback(async (req, res) => {
        const response = await app.request(req.url!, { method: req.method, headers: req.headers as Record<string, string> });
        res.writeHead(response.status, Object.fromEntries(response.headers));
        res.end(await response.text());
      });
    },
  };
  for (const [name, make] of Object.entries(apps)) {
    it(`${name}: the first path segment as sent, decoded once; none for "/"; 400 for "//x"`, async () => {
      const app = await make();
      try {
        const tenant = async (path: string) => {
          const reply = await app.request('GET', path);
          return reply.status === 200 ? reply.body : reply.status;
        };
        assert.equal(await tenant('/Ac%6De/cart?x=1'), 'Acme');
        assert.equal(await tenant('/a%2525b/x'), 'a%25b', 'decoded once, not twice');
        assert.equal(await tenant('/'), 'null');
        assert.equal(await tenant('//acme'), 400);
      } finally {
        await app.close();
      }
    });
  }
});
