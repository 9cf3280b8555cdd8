/**
 * Live tabs in a real browser: headless Chromium (test/helpers/chromium.ts) on the test app of
 * test/helpers/live-app.ts, whose pages load the client tessera serves. One browser context is
 * one browser (one cookie jar, one session); its pages are the tabs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromiumSkip, launchChromium, openLive, seen, until } from '../helpers/chromium.js';
import { startLiveApp, type LiveApp } from '../helpers/live-app.js';

// Page script below runs in the browser; the repo's types have no DOM.
declare const document: any;
declare const sessionStorage: any;
declare const XMLHttpRequest: any;
declare const location: any;

const skip = chromiumSkip();

describe('live tabs in Chromium', { skip }, () => {
  let browser: Browser;
  let app: LiveApp;
  const contexts: BrowserContext[] = [];

  before(async () => {
    [browser, app] = await Promise.all([launchChromium(), startLiveApp()]);
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  /** A new browser (cookie jar) with one tab on `path`; the tab's page, ID and session handle. */
  async function visit(path = '/', context?: BrowserContext): Promise<{ page: Page; tab: string; handle: string; context: BrowserContext }> {
    if (!context) contexts.push((context = await browser.newContext()));
    const page = await context.newPage();
    const tab = await openLive(page, app.base + path);
    const handle = (await page.getAttribute('body', 'data-handle'))!;
    return { page, tab, handle, context };
  }
  const text = (page: Page, selector: string) => page.locator(selector).allTextContents();

  it('gives each tab its own ID; a push reaches that tab only, a broadcast every tab of the session and no other', async () => {
    const one = await visit();
    const two = await visit('/', one.context);
    const stranger = await visit();
    assert.match(one.tab, /^[\w-]{22}$/);
    assert.notEqual(one.tab, two.tab);
    assert.equal(one.handle, two.handle, 'one session');

    await app.tessera.live.pushHtml(one.handle, one.tab, '#status', 'for one');
    await one.page.waitForFunction(() => document.querySelector('#status').textContent === 'for one');
    await app.tessera.live.broadcastHtml(one.handle, '#status', 'for all');
    await one.page.waitForFunction(() => document.querySelector('#status').textContent === 'for all');
    await two.page.waitForFunction(() => document.querySelector('#status').textContent === 'for all');
    assert.deepEqual(await text(two.page, '#status'), ['for all'], 'the push to tab one never reached tab two');
    assert.deepEqual(await text(stranger.page, '#status'), ['initial']);
  });

  it('connects by itself when loaded with data-auto; connect() then returns that client', async () => {
    const streams = app.tessera.live.streams;
    const { page, tab, handle } = await visit('/?auto');
    assert.equal(app.tessera.live.streams, streams + 1, 'one stream for the tab');
    await app.tessera.live.pushHtml(handle, tab, '#status', 'auto');
    await page.waitForFunction(() => document.querySelector('#status').textContent === 'auto');
    assert.equal((await seen(page, 'tessera:open')).length, 1);
  });

  it('applies html in every mode on every match, dispatches app events, and follows navigate', async () => {
    const { page, tab, handle } = await visit();
    const push = (event: Parameters<LiveApp['tessera']['live']['push']>[2]) => app.tessera.live.push(handle, tab, event);
    await push({ type: 'html', target: '.item', html: '<b>x</b>', mode: 'append' });
    await push({ type: 'html', target: '#list', html: '<li class="item">zero</li>', mode: 'prepend' });
    await push({ type: 'html', target: '.box', html: '<span class="new">n</span>', mode: 'replace' });
    await push({ type: 'html', target: '#status', html: '<em>inner</em>' });
    await push({ type: 'event', name: 'app:ping', detail: { n: 1 } });
    await page.waitForFunction(() => document.querySelectorAll('.item b').length === 2 && document.querySelector('#status em'));
    assert.deepEqual(await text(page, '.item'), ['zero', 'onex', 'twox']);
    assert.deepEqual(await text(page, '.new'), ['n', 'n']);
    assert.equal(await page.locator('.box').count(), 0);
    assert.deepEqual(await seen(page, 'app:ping'), [{ name: 'app:ping', detail: { n: 1 } }]);
    await push({ type: 'html', target: '.item', mode: 'remove' });
    await page.waitForFunction(() => document.querySelectorAll('.item').length === 0);

    await app.tessera.live.pushPath(handle, tab, '/elsewhere?from=push');
    await page.waitForURL(`${app.base}/elsewhere?from=push`);
    await page.waitForFunction(() => (globalThis as any).seen?.some((e: { name: string }) => e.name === 'tessera:open'));
    assert.equal(await page.evaluate(() => (globalThis as any).live.tab), tab, 'the tab keeps its ID across navigation');
  });

  it('sends the CSRF token and the tab ID on same-origin fetch and form posts; a POST without the token gets 403', async () => {
    const { page, tab } = await visit();
    const xhr = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const request = new XMLHttpRequest();
          request.open('POST', '/api/echo');
          request.onload = () => resolve(request.status);
          request.send();
        }),
    );
    assert.equal(xhr, 403, 'a request the client does not wrap carries no token');
    const fetched = await page.evaluate(async () => {
      const res = await fetch('/api/echo', { method: 'POST' });
      return { status: res.status, body: await res.json() };
    });
    assert.deepEqual(fetched, { status: 200, body: { tab, user: null } });
    const own = await page.evaluate(async () => ((await (await fetch('/api/echo', { method: 'POST', headers: { 'x-tessera-tab': 'mine-0123456789' } })).json()) as { tab: string }).tab);
    assert.equal(own, 'mine-0123456789', 'a header the app set is left alone');
    const [request] = await Promise.all([page.waitForRequest(`${app.base}/form`), page.click('#form button')]);
    const fields = new URLSearchParams(request.postData() ?? '');
    assert.equal(fields.get('_tab'), tab);
    assert.ok(fields.get('_csrf'));
    assert.equal(await page.textContent('body'), `posted tab=${tab}`);
  });

  it('a tab whose stream dropped reconnects and gets the events pushed meanwhile, once each', async () => {
    const { page, tab, handle } = await visit('/?retry=400');
    await app.tessera.live.pushHtml(handle, tab, '#list', '<li class="item">before</li>', 'append');
    await page.waitForFunction(() => document.querySelectorAll('.item').length === 3);
    const streams = app.tessera.live.streams;
    app.dropStreams();
    await until('the stream to drop', () => app.tessera.live.streams < streams);
    await app.tessera.live.pushHtml(handle, tab, '#list', '<li class="item">meanwhile 1</li>', 'append');
    await app.tessera.live.pushHtml(handle, tab, '#list', '<li class="item">meanwhile 2</li>', 'append');
    await page.waitForFunction(() => document.querySelectorAll('.item').length === 5);
    assert.deepEqual(await text(page, '.item'), ['one', 'two', 'before', 'meanwhile 1', 'meanwhile 2']);
    assert.equal((await seen(page, 'tessera:open')).length >= 2, true, 'the stream opened again');
  });

  it('closing a tab closes its stream', async () => {
    const { page } = await visit();
    const streams = app.tessera.live.streams;
    await page.close();
    await until('the stream to close', () => app.tessera.live.streams === streams - 1);
  });

  it('keeps the tab ID across a reload, and gives a duplicated tab (a copy of its sessionStorage) an ID of its own', async () => {
    const { page, tab, context } = await visit();
    await page.reload();
    assert.equal(await openLive(page, page.url()), tab);
    await page.evaluate(() => sessionStorage.setItem('probe', 'copied'));
    const [copy] = await Promise.all([context.waitForEvent('page'), page.evaluate(() => void (globalThis as any).open(location.href))]);
    const copyTab = await openLive(copy, copy.url());
    assert.equal(await copy.evaluate(() => sessionStorage.getItem('probe')), 'copied', 'the copy got the storage');
    assert.notEqual(copyTab, tab);
    assert.equal(await page.evaluate(() => (globalThis as any).live.tab), tab);
  });

  it('signs a tab in live: the HttpOnly auth cookie lands in the browser, out of reach of page script', async () => {
    const { page, tab, handle, context } = await visit();
    const authName = app.tessera.options.auth!.cookie.name;
    await app.tessera.live.signIn(handle, tab, { sub: 'alice' });
    await until('the auth cookie', async () => (await context.cookies()).some((c) => c.name === authName));
    const auth = (await context.cookies()).find((c) => c.name === authName)!;
    assert.equal(auth.httpOnly, true);
    const visible = await page.evaluate(() => document.cookie as string);
    assert.ok(!visible.split('; ').some((pair) => pair.startsWith(`${authName}=`)), `document.cookie lacks ${authName}: ${visible}`);
    // The next request of the tab is alice's, with the new session's CSRF token (from its cookie).
    const echo = await page.evaluate(async () => (await fetch('/api/echo', { method: 'POST' })).json());
    assert.deepEqual(echo, { tab, user: 'alice' });
  });

  it('when the session ends: tessera:end with the reason, no reconnect; by default the page reloads', async () => {
    const stay = await visit('/?reload=0');
    await stay.page.evaluate(() => fetch('/destroy', { method: 'POST' }));
    await stay.page.waitForFunction(() => (globalThis as any).seen.some((e: { name: string }) => e.name === 'tessera:end'));
    assert.deepEqual(await seen(stay.page, 'tessera:end'), [{ name: 'tessera:end', detail: { reason: 'destroyed' } }]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal((await seen(stay.page, 'tessera:open')).length, 1, 'no reconnect after end');

    const reloads = await visit();
    const other = await reloads.context.newPage();
    await openLive(other, `${app.base}/?reload=0`); // this tab stays, to see its request through
    const loaded = reloads.page.waitForEvent('load');
    await other.evaluate(() => fetch('/destroy', { method: 'POST' }));
    await loaded;
    assert.equal(await openLive(reloads.page, reloads.page.url()), reloads.tab, 'the reloaded page connects again, same tab');
  });

  it('a tab evicted for maxTabsPerSession is told so and stops: no reload, no reconnect; the newer tab keeps its stream', async () => {
    const small = await startLiveApp({ live: { maxTabsPerSession: 1 } });
    const context = await browser.newContext();
    try {
      const older = await context.newPage();
      await openLive(older, `${small.base}/`);
      let reloaded = false;
      older.on('load', () => (reloaded = true));
      const newer = await context.newPage();
      await openLive(newer, `${small.base}/`);
      await older.waitForFunction(() => (globalThis as any).seen.some((e: { name: string }) => e.name === 'tessera:end'));
      assert.deepEqual(await seen(older, 'tessera:end'), [{ name: 'tessera:end', detail: { reason: 'evicted' } }]);
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal(reloaded, false, 'the evicted page did not reload');
      assert.equal((await seen(older, 'tessera:open')).length, 1, 'nor reconnect (which would evict the newer tab)');
      assert.equal(small.tessera.live.streams, 1);
    } finally {
      await context.close();
      await small.close();
    }
  });
});
