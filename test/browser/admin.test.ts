/**
 * The admin page in a real browser: headless Chromium (test/helpers/chromium.ts) on the demo
 * (memory store, a chart point every second). Under the page's strict CSP (`script-src 'self'`)
 * its script draws the chart of active sessions and updates it as tabs become active; the
 * operator filters by user, clicks into a session, revokes it, and that browser's cookie no
 * longer signs anyone in. A screenshot of the page is taken; with TESSERA_UPDATE_SCREENSHOTS=1
 * it is written to docs/images/admin.png (what docs/admin.md shows).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startDemo, type Demo } from '../../examples/demo/app.js';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';

// Page script below runs in the browser; the repo's types have no DOM.
declare const document: any;

const skip = chromiumSkip();

describe('admin page in Chromium', { skip }, () => {
  let browser: Browser;
  let demo: Demo;
  let dataDir: string;
  const contexts: BrowserContext[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tessera-admin-browser-'));
    [browser, demo] = await Promise.all([
      launchChromium(),
      startDemo({ port: 0, host: '127.0.0.1', dataDir, env: { NODE_ENV: 'test', STORE: 'memory' } as NodeJS.ProcessEnv, log: () => {}, adminSampleEvery: 1_000 }),
    ]);
  });
  after(async () => {
    await browser?.close();
    await demo?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** A new browser signed in to the demo as `name` (through its form); its first page. */
  async function signedIn(name: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(new URL('/sign-in', demo.url).href);
    await page.fill('input[name=name]', name);
    await Promise.all([page.waitForURL(/\/account$/), page.click('form[action="/sign-in"] button')]);
    return { context, page };
  }

  /** Open the demo's live page in `page`: its tab's stream makes the session active. */
  async function goLive(page: Page): Promise<void> {
    await page.goto(new URL('/live', demo.url).href);
    await page.waitForFunction(() => document.querySelector('#tab').textContent !== '…');
  }

  it('draws the chart and updates it live; filter, click into a session, revoke it: its cookie is dead', async () => {
    const errors: string[] = [];
    const grace = await signedIn('Grace');
    await goLive(grace.page);

    const ada = await signedIn('Ada');
    const admin = ada.page;
    admin.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    admin.on('pageerror', (e) => errors.push(String(e)));
    await admin.goto(new URL('/admin', demo.url).href);
    assert.match((await admin.title()) ?? '', /Sessions/);

    // The chart: drawn by admin.js (an SVG path through the points), with Grace online.
    await admin.waitForFunction(() => Number(document.querySelector('#chart').dataset.points) >= 2 && document.querySelector('#chart').dataset.last === '1', undefined, { timeout: 10_000 });
    const d = (await admin.getAttribute('#chart .line', 'd'))!;
    assert.match(d, /^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)+$/, `a path through the points: ${d}`);
    assert.equal(await admin.textContent('#online-sessions'), '1');
    assert.equal(await admin.textContent('#online-users'), '1');

    // New activity: Hopper opens a live tab; the open page's chart and count follow, unreloaded.
    const hopper = await signedIn('Hopper');
    await goLive(hopper.page);
    await admin.waitForFunction(() => document.querySelector('#chart').dataset.last === '2', undefined, { timeout: 10_000 });
    assert.equal(await admin.textContent('#online-users'), '2');
    assert.notEqual(await admin.getAttribute('#chart .line', 'd'), d, 'the line was redrawn');

    // Reloaded, the list shows Hopper too: the screenshot shows three sessions and the chart.
    await admin.reload();
    await admin.waitForFunction(() => document.querySelector('#chart').dataset.last === '2', undefined, { timeout: 10_000 });
    const shot = await admin.screenshot({ fullPage: true });
    assert.ok(shot.length > 10_000 && shot.subarray(1, 4).toString() === 'PNG', 'a screenshot of the page');
    if (process.env.TESSERA_UPDATE_SCREENSHOTS === '1') {
      await mkdir(new URL('../../docs/images/', import.meta.url), { recursive: true });
      await writeFile(new URL('../../docs/images/admin.png', import.meta.url), shot);
    }

    // Filter by user: a GET form.
    await admin.fill('input[name=user]', 'Grace');
    await Promise.all([admin.waitForURL(/[?&]user=Grace/), admin.click('#filter')]);
    assert.deepEqual(await admin.locator('#sessions td.user').allTextContents(), ['Grace']);

    // Click into her session: metadata and her live tab.
    await Promise.all([admin.waitForURL(/\/admin\/sessions\/[\w-]+$/), admin.click('#sessions a.session')]);
    assert.match((await admin.textContent('#meta'))!, /Grace/);
    assert.equal(await admin.locator('#tabs tbody tr').count(), 1, 'her one live tab');

    // Revoke it (a POST form with the CSRF token, under the CSP's form-action 'self').
    const graceCookie = (await grace.context.cookies()).find((c) => c.name === 'tessera')!;
    await Promise.all([admin.waitForURL(/\/admin\?done=revoked$/), admin.click('text=Revoke this session')]);
    assert.match((await admin.textContent('.notice'))!, /Session revoked/);
    assert.deepEqual(await admin.locator('#sessions td.user').allTextContents().then((users) => users.filter((u) => u === 'Grace')), [], 'gone from the list');

    const replay = await fetch(new URL('/account', demo.url), { headers: { cookie: `tessera=${graceCookie.value}` }, redirect: 'manual' });
    assert.equal(replay.status, 303, 'her old cookie signs no one in');
    // (Her live tab reloads by itself when its stream ends: a tab of its own for the check.)
    const check = await grace.context.newPage();
    await check.goto(new URL('/account', demo.url).href, { waitUntil: 'domcontentloaded' });
    assert.match(check.url(), /\/sign-in$/, 'her browser is signed out');
    assert.deepEqual(errors, [], 'no script errors (nothing blocked by the CSP)');
  });
});
