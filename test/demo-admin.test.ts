/**
 * The demo's admin page at /admin over real HTTP, on the default SQLite store: any signed-in user
 * is an operator in the demo; visitors get 403. An operator filters by user and revokes another
 * user's session with the page's form, which signs that browser out.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDemo, type Demo } from '../examples/demo/app.js';
import { CHROME_LINUX, Client, ENV } from './helpers/demo.js';

describe('demo admin page (SQLite)', () => {
  let dataDir: string;
  let demo: Demo;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tessera-demo-admin-'));
    demo = await startDemo({ port: 0, host: '127.0.0.1', dataDir, env: ENV, log: () => {} });
  });
  after(async () => {
    await demo?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses visitors (403); a signed-in user sees the page, linked from the navigation', async () => {
    const visitor = new Client(demo.url);
    const refused = await visitor.get('/admin');
    assert.equal(refused.status, 403);
    assert.doesNotMatch((await visitor.get('/')).body, /href="\/admin"/);
    const ada = new Client(demo.url, CHROME_LINUX);
    await ada.signIn('Ada');
    assert.match((await ada.get('/account')).body, /<a href="\/admin">Admin<\/a>/);
    const page = await ada.get('/admin');
    assert.equal(page.status, 200);
    assert.match(page.body, /<td class="user"><a [^>]*>Ada<\/a>/);
    assert.match(page.body, /<span class="you">you<\/span>/);
  });

  it("filters by user and revokes another user's session; that browser is signed out", async () => {
    const ada = new Client(demo.url, CHROME_LINUX);
    await ada.signIn('Ada');
    const grace = new Client(demo.url, '<script>alert("ua")</script>');
    await grace.signIn('Grace');
    const filtered = await ada.get('/admin?user=Grace');
    assert.equal(filtered.status, 200);
    const rows = [...filtered.body.matchAll(/<tr data-handle="([^"]+)">/g)].map((m) => m[1]!);
    assert.equal(rows.length, 1, 'only Grace’s session');
    assert.ok(!filtered.body.includes('<script>alert'), 'her user agent is shown as text');
    assert.ok(filtered.body.includes('&lt;script&gt;alert(&quot;ua&quot;)&lt;/script&gt;'));

    const refused = await ada.get(`/admin/sessions/${rows[0]}/revoke`, { method: 'POST', body: new URLSearchParams({}) });
    assert.equal(refused.status, 403, 'no CSRF token');
    assert.equal((await grace.get('/account')).status, 200, 'still signed in');
    const revoked = await ada.post(`/admin/sessions/${rows[0]}/revoke`, {}, { from: '/admin?user=Grace' });
    assert.equal(revoked.status, 303);
    assert.equal(revoked.headers.get('location'), '/admin?done=revoked');
    assert.equal((await grace.get('/account')).status, 303, 'Grace’s cookie no longer signs her in');
    assert.match((await ada.get('/admin?done=revoked')).body, /Session revoked/);
  });
});
