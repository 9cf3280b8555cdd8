/**
 * The admin page's core, without a framework: the router answering the request shape the mounts
 * give it, on a memory store with a fake clock. What an operator sees (the list, filters, paging,
 * the detail), what a stranger gets (403 everywhere), and what an attacker cannot do (script in a
 * user agent or user ID stays text; a revoke without the token, or from another site, is refused).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { Tessera } from '../../src/manager.js';
import type { Session } from '../../src/session.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { SessionStore } from '../../src/stores/store.js';
import { AdminRouter, type AdminPageOptions, type AdminReply } from '../../src/admin-page/router.js';
import { FakeClock } from '../helpers/clock.js';

const SECRET = 'admin-page-test-secret-0123456789abcdef-42';
const MINUTE = 60_000;
const TAB = 'tabAAAAAAAAAAAAAAAAAAA';

function setup(options: Partial<AdminPageOptions<string>> = {}, csrf: false | undefined = undefined) {
  const clock = new FakeClock();
  const store = new MemoryStore();
  const tessera = new Tessera({ secrets: [SECRET], store, now: clock.now, cleanupInterval: 0, logger: {}, csrf, activity: { interval: 1_000 } });
  const router = new AdminRouter<string>(tessera, { guard: (_req, session) => session.userId === 'root', ...options }, 'test');
  const touch = (handle: string, at = clock.time, tab = TAB) => (store as SessionStore).recordActivity!(handle, tab, at, at + 60 * MINUTE, { now: at });
  return { clock, tessera, router, touch };
}

async function operator(tessera: Tessera, userId = 'root'): Promise<Session> {
  return (await tessera.create({ userId, ip: '198.51.100.1', userAgent: 'operator browser' })).session;
}

/** Ask the router, as a mount would. */
function ask(
  router: AdminRouter<string>,
  session: Session,
  method: string,
  url: string,
  options: { headers?: Record<string, string>; form?: Record<string, string> } = {},
): Promise<AdminReply> {
  const u = new URL(url, 'http://admin.test');
  const headers: Record<string, string> = { host: 'admin.test', 'sec-fetch-site': 'same-origin', ...options.headers };
  return router.handle(
    { method, path: u.pathname, query: u.searchParams, header: (name) => headers[name], form: async () => options.form ?? {}, session: () => session },
    'native request',
  );
}

/** The token of the first revoke form on a page. */
const tokenIn = (body: string) => /name="_csrf" value="([^"]+)"/.exec(body)![1]!;
/** The user cells of the list's table, in order. */
const usersIn = (body: string) => [...body.matchAll(/<td class="user">(?:<a [^>]*>)?([^<]*)/g)].map((m) => m[1]!);

describe('admin page router', () => {
  it('refuses to be made without a guard, or with a bad path', () => {
    const tessera = new Tessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, logger: {} });
    assert.throws(() => new AdminRouter(tessera, {} as AdminPageOptions<string>, 'test'), ConfigError);
    assert.throws(() => new AdminRouter(tessera, { guard: true } as unknown as AdminPageOptions<string>, 'test'), ConfigError);
    for (const path of ['/', 'admin', '/admin/', '/a b', '//admin']) {
      assert.throws(() => new AdminRouter(tessera, { guard: () => true, path }, 'test'), ConfigError, path);
    }
    assert.throws(() => new AdminRouter(tessera, { guard: () => true, sampler: { every: 10 } }, 'test'), ConfigError);
    void tessera.close();
  });

  it('answers 403 on every route unless the guard returns true; the guard sees the request and the session', async () => {
    const seen: unknown[] = [];
    const { tessera, router } = setup({
      guard: (req, session) => {
        seen.push([req, session.userId]);
        return (session.userId === 'root' ? Promise.resolve(true) : 1) as unknown as boolean;
      },
    });
    const visitor = await operator(tessera, 'mallory');
    const victim = (await tessera.create({ userId: 'victim' })).session;
    for (const [method, url] of [
      ['GET', '/admin'],
      ['GET', '/admin/admin.js'],
      ['GET', '/admin/chart.json'],
      ['GET', `/admin/sessions/${victim.handle}`],
      ['POST', `/admin/sessions/${victim.handle}/revoke`],
      ['POST', '/admin/users/revoke'],
    ] as const) {
      const reply = await ask(router, visitor, method, url, { form: { _csrf: visitor.csrfToken(), user: 'victim' } });
      assert.equal(reply.status, 403, `${method} ${url}`);
      assert.equal(reply.body, 'Forbidden');
    }
    assert.notEqual(await tessera.admin.show(victim.handle), null, 'nothing revoked');
    assert.deepEqual(seen[0], ['native request', 'mallory']);
    assert.equal((await ask(router, await operator(tessera), 'GET', '/admin')).status, 200);
    await tessera.close();
  });

  it('lists sessions with filters by user, tenant and recent activity, and pages with the next cursor', async () => {
    const { tessera, router, touch, clock } = setup();
    const me = await operator(tessera);
    for (let i = 0; i < 5; i++) await tessera.create({ userId: `user${i}`, tenant: i < 2 ? 'acme' : null });
    const ada = (await tessera.create({ userId: 'ada' })).session;
    await touch(ada.handle, clock.time - 2 * MINUTE);

    const all = await ask(router, me, 'GET', '/admin');
    assert.equal(all.status, 200);
    assert.equal(usersIn(all.body).length, 7);
    assert.match(all.body, new RegExp(`data-handle="${me.handle}">[\\s\\S]*?<span class="you">you</span>`), 'the operator’s own session is marked');
    assert.deepEqual(usersIn((await ask(router, me, 'GET', '/admin?user=ada')).body), ['ada']);
    assert.deepEqual(usersIn((await ask(router, me, 'GET', '/admin?tenant=acme')).body).sort(), ['user0', 'user1']);
    assert.deepEqual(usersIn((await ask(router, me, 'GET', '/admin?active=5')).body), ['ada']);
    assert.deepEqual(usersIn((await ask(router, me, 'GET', '/admin?active=1')).body), [], 'ada was active 2 minutes ago');
    assert.match((await ask(router, me, 'GET', '/admin?active=1')).body, /No sessions match/);

    const seen: string[] = [];
    let url: string | null = '/admin?limit=3';
    let pages = 0;
    while (url !== null) {
      const page = await ask(router, me, 'GET', url);
      seen.push(...usersIn(page.body));
      pages++;
      const next = /<a id="next" href="([^"]+)"/.exec(page.body);
      url = next === null ? null : next[1]!.replaceAll('&amp;', '&');
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen.sort(), ['ada', 'root', 'user0', 'user1', 'user2', 'user3', 'user4']);

    const bad = await ask(router, me, 'GET', '/admin?cursor=garbage&active=5');
    assert.equal(bad.status, 400);
    assert.match(bad.body, /That filter cannot be used/);
    await tessera.close();
  });

  it('renders hostile user agents, user IDs, tenants and IPs as inert text, in the list and the detail', async () => {
    const { tessera, router } = setup();
    const me = await operator(tessera);
    const hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>';
    const { session } = await tessera.create({ userId: '"><svg onload=alert(3)>', tenant: "t'><b>x</b>", ip: '<i>ip</i>', userAgent: hostile });
    for (const url of ['/admin', `/admin/sessions/${session.handle}`, `/admin?user=${encodeURIComponent('"><svg onload=alert(3)>')}`]) {
      const { body, status, headers } = await ask(router, me, 'GET', url);
      assert.equal(status, 200, url);
      assert.ok(!body.includes('<script>alert'), `no live script in ${url}`);
      assert.ok(!/<img|<svg onload|<b>x|<i>ip/.test(body), `no injected element in ${url}`);
      assert.ok(body.includes('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;'), `the user agent shown as text in ${url}`);
      assert.ok(!/<script(?![^>]*\ssrc=)/.test(body), 'no inline script at all');
      assert.match(headers['content-security-policy']!, /script-src 'self'/);
    }
    await tessera.close();
  });

  it('shows a session: metadata, tabs with their activity, revoke buttons, the user’s other sessions', async () => {
    const { tessera, router, touch, clock } = setup();
    const me = await operator(tessera);
    const one = (await tessera.create({ userId: 'ada', ip: '203.0.113.7', userAgent: 'Firefox' })).session;
    const other = (await tessera.create({ userId: 'ada' })).session;
    await touch(one.handle, clock.time - 30_000);
    const { status, body } = await ask(router, me, 'GET', `/admin/sessions/${one.handle}`);
    assert.equal(status, 200);
    assert.ok(body.includes(`<code>${one.handle}</code>`));
    assert.match(body, /203\.0\.113\.7/);
    assert.match(body, /Firefox/);
    assert.match(body, new RegExp(`<code>${TAB}</code></td><td><time[^>]*>[^<]*</time> \\(30 s ago\\)`));
    assert.match(body, new RegExp(`action="/admin/sessions/${one.handle}/revoke"`));
    assert.match(body, /action="\/admin\/users\/revoke"/);
    assert.match(body, new RegExp(`<table id="others">[\\s\\S]*data-handle="${other.handle}"`));
    assert.ok(!body.includes(one.id) && !body.includes(other.id), 'no session ID on the page');
    assert.equal((await ask(router, me, 'GET', '/admin/sessions/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).status, 404);
    assert.equal((await ask(router, me, 'GET', '/admin/sessions/<x>')).status, 404);
    assert.equal((await ask(router, me, 'DELETE', `/admin/sessions/${one.handle}`)).status, 405);
    await tessera.close();
  });

  for (const csrf of [undefined, false] as const) {
    it(`revokes only with the operator's CSRF token from this site (csrf option ${csrf === false ? 'off' : 'on'})`, async () => {
      const { tessera, router } = setup({}, csrf);
      const me = await operator(tessera);
      const target = await tessera.create({ userId: 'ada' });
      const url = `/admin/sessions/${target.session.handle}/revoke`;
      const page = (await ask(router, me, 'GET', '/admin')).body;
      assert.equal((await ask(router, me, 'POST', url)).status, 403, 'no token');
      assert.equal((await ask(router, me, 'POST', url, { form: { _csrf: 'x'.repeat(86) } })).status, 403, 'a forged token');
      const stranger = await operator(tessera, 'root');
      assert.equal((await ask(router, me, 'POST', url, { form: { _csrf: stranger.csrfToken() } })).status, 403, "another session's token");
      const crossSite = await ask(router, me, 'POST', url, { form: { _csrf: tokenIn(page) }, headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' } });
      assert.equal(crossSite.status, 403, 'from another site');
      assert.notEqual(await tessera.load(target.id), null, 'still there after the refusals');

      const done = await ask(router, me, 'POST', url, { form: { _csrf: tokenIn(page) } });
      assert.equal(done.status, 303);
      assert.equal(done.headers.location, '/admin?done=revoked');
      assert.equal(await tessera.load(target.id), null, 'revoked');
      assert.match((await ask(router, me, 'GET', '/admin?done=revoked')).body, /Session revoked/);
      const again = await ask(router, me, 'POST', url, { headers: { 'x-csrf-token': me.csrfToken() } });
      assert.equal(again.headers.location, '/admin?done=gone', 'the token in the header works too');
      await tessera.close();
    });
  }

  it("revokes all of a user's sessions from the detail page's form", async () => {
    const { tessera, router } = setup();
    const me = await operator(tessera);
    const a = await tessera.create({ userId: 'ada' });
    const b = await tessera.create({ userId: 'ada' });
    const c = await tessera.create({ userId: 'bob' });
    const reply = await ask(router, me, 'POST', '/admin/users/revoke', { form: { _csrf: me.csrfToken(), user: 'ada' } });
    assert.equal(reply.status, 303);
    assert.equal(reply.headers.location, '/admin?done=revoked-user&n=2');
    assert.equal(await tessera.load(a.id), null);
    assert.equal(await tessera.load(b.id), null);
    assert.notEqual(await tessera.load(c.id), null);
    assert.match((await ask(router, me, 'GET', reply.headers.location!)).body, /Revoked 2 sessions of that user/);
    assert.equal((await ask(router, me, 'POST', '/admin/users/revoke', { form: { _csrf: me.csrfToken() } })).status, 400);
    await tessera.close();
  });

  it('serves its script and stylesheet with an ETag (304 when unchanged), behind the guard', async () => {
    const { tessera, router } = setup();
    const me = await operator(tessera);
    const script = await ask(router, me, 'GET', '/admin/admin.js');
    assert.equal(script.status, 200);
    assert.equal(script.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(script.body, /chart\.json|data-src|svg\.dataset\.src/);
    const etag = script.headers.etag!;
    assert.equal((await ask(router, me, 'GET', '/admin/admin.js', { headers: { 'if-none-match': etag } })).status, 304);
    const css = await ask(router, me, 'GET', '/admin/admin.css');
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.notEqual(css.headers.etag, etag);
    assert.equal((await ask(router, me, 'HEAD', '/admin/admin.css')).body, '');
    await tessera.close();
  });

  it('samples the sessions active in the window and their distinct users into a bounded ring, served as chart.json', async () => {
    const { tessera, router, touch, clock } = setup({ sampler: { every: 1_000, window: 5 * MINUTE, keep: 3 } });
    const me = await operator(tessera);
    await router.sampler.sample(); // (the first, taken at start, may not have finished)
    const a = (await tessera.create({ userId: 'ada' })).session;
    const b = (await tessera.create({ userId: 'ada' })).session;
    const c = (await tessera.create({ userId: null })).session;
    for (const s of [a, b, c]) await touch(s.handle);
    clock.advance(1_000);
    assert.deepEqual(await router.sampler.sample(), { at: clock.time, sessions: 3, users: 1 });
    clock.advance(5 * MINUTE);
    await touch(a.handle);
    clock.advance(1_000);
    assert.deepEqual(await router.sampler.sample(), { at: clock.time, sessions: 1, users: 1 }, 'b and c left the window');
    clock.advance(1_000);
    await router.sampler.sample();

    const chart = await ask(router, me, 'GET', '/admin/chart.json');
    assert.equal(chart.headers['content-type'], 'application/json');
    const data = JSON.parse(chart.body) as { available: boolean; every: number; samples: { at: number; sessions: number }[] };
    assert.equal(data.available, true);
    assert.equal(data.every, 1_000);
    assert.deepEqual(data.samples.map((s) => s.sessions), [3, 1, 1], 'the oldest sample dropped: 3 kept');
    const list = await ask(router, me, 'GET', '/admin');
    assert.match(list.body, /<div class="count" id="online-sessions">1<\/div>/);
    assert.match(list.body, /<svg id="chart"[^>]*data-src="\/admin\/chart\.json"/);
    assert.throws(() => new AdminRouter(tessera, { guard: () => true, sampler: { every: 2_000 } }, 'test'), ConfigError, 'one sampler per manager');
    await tessera.close();
    assert.equal(await router.sampler.sample(), null, 'stops once the manager is closed');
  });
});
