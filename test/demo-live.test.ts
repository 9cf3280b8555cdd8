/**
 * The demo's live page (examples/demo/routes/live.ts): over HTTP with event streams read from
 * Node — its buttons push to one tab, broadcast to a user's tabs in every browser, sign other
 * sessions out (their streams end); the "who's online" panel lists each tab's activity and is
 * pushed to open pages — and in Chromium, as a user clicks it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startDemo, type Demo } from '../examples/demo/app.js';
import { pushOnline } from '../examples/demo/routes/live.js';
import { chromiumSkip, launchChromium } from './helpers/chromium.js';
import { Client, ENV } from './helpers/demo.js';
import { SseClient } from './helpers/sse.js';

declare const document: any;

const TAB_1 = 'demoTab1AAAAAAAAAAAAAA';
const TAB_2 = 'demoTab2BBBBBBBBBBBBBB';

/** A browser on the live page: its client, the page's CSRF token, and a stream for `tab`. */
async function onLivePage(demo: Demo, tab: string, client = new Client(demo.url)): Promise<{ client: Client; token: string; stream: SseClient }> {
  const page = await client.get('/live');
  assert.equal(page.status, 200);
  const token = /<meta name="csrf-token" content="([^"]+)">/.exec(page.body)![1]!;
  const cookie = [...client.jar].map(([n, v]) => `${n}=${v}`).join('; ');
  const stream = await SseClient.open(new URL(`/tessera/live?tab=${tab}`, demo.url).href, { cookie, 'sec-fetch-site': 'same-origin' });
  await stream.next('hello');
  return { client, token, stream };
}

/** A button's POST, as the page's script sends it (fetch, with the tab and the token). */
function press(client: Client, path: string, tab: string, token: string) {
  return client.get(path, { method: 'POST', headers: { 'x-tessera-tab': tab, 'x-csrf-token': token, 'sec-fetch-site': 'same-origin' } });
}

describe('demo: live tabs', () => {
  let dataDir: string;
  let demo: Demo;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tessera-demo-live-'));
    demo = await startDemo({ port: 0, host: '127.0.0.1', dataDir, env: ENV, log: () => {} });
  });
  after(async () => {
    await demo?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves the page with its scripts allowed (and only there), and the live client', async () => {
    const client = new Client(demo.url);
    const page = await client.get('/live');
    assert.match(page.headers.get('content-security-policy')!, /script-src 'self'; connect-src 'self'/);
    assert.match(page.body, /<script type="module" src="\/demo-live.js"><\/script>/);
    assert.match(page.body, /<div id="online">/);
    assert.doesNotMatch((await client.get('/')).headers.get('content-security-policy')!, /script-src/);
    assert.equal((await client.get('/tessera/live/client.js')).status, 200);
    assert.match((await client.get('/demo-live.js')).body, /from '\/tessera\/live\/client.js'/);
  });

  it('"Push to this tab" reaches that tab only; "Broadcast" reaches every tab of the session', async () => {
    const { client, token, stream: one } = await onLivePage(demo, TAB_1);
    const { stream: two } = await onLivePage(demo, TAB_2, client);
    assert.equal((await press(client, '/live/push-tab', TAB_1, token)).status, 204);
    const pushed = JSON.parse((await one.next('html')).data);
    assert.equal(pushed.target, '#messages');
    assert.match(pushed.html, /Pushed to tab demoTa only/);
    await two.quiet(150);
    assert.equal((await press(client, '/live/broadcast', TAB_2, token)).status, 204);
    assert.match(JSON.parse((await one.next('html')).data).html, /Broadcast from tab/);
    assert.match(JSON.parse((await two.next('html')).data).html, /Broadcast from tab/);
    assert.equal((await press(client, '/live/push-tab', 'bad', token)).status, 400);
    assert.equal((await client.get('/live/push-tab', { method: 'POST', headers: { 'x-tessera-tab': TAB_1 } })).status, 403, 'CSRF');
    one.close();
    two.close();
  });

  it('signed in: a broadcast reaches the user\'s other browsers; "Sign out my other sessions" ends their streams', async () => {
    const laptop = new Client(demo.url);
    await laptop.signIn('Grace');
    const phone = new Client(demo.url);
    await phone.signIn('Grace');
    const a = await onLivePage(demo, TAB_1, laptop);
    const b = await onLivePage(demo, TAB_2, phone);
    assert.equal((await press(laptop, '/live/broadcast', TAB_1, a.token)).status, 204);
    assert.match(JSON.parse((await b.stream.next('html')).data).html, /Broadcast from tab/, 'the phone got it');
    assert.equal((await press(laptop, '/live/sign-out-others', TAB_1, a.token)).status, 204);
    assert.deepEqual(JSON.parse((await b.stream.next('end')).data), { reason: 'destroyed' });
    assert.match(JSON.parse((await a.stream.next('html')).data).html, /Broadcast from tab/, 'the laptop got its own broadcast');
    assert.match(JSON.parse((await a.stream.next('html')).data).html, /Signed out 1 other session\./);
    assert.equal((await phone.get('/account')).status, 303, 'the phone is signed out');
    a.stream.close();
  });

  it('the "who\'s online" panel lists each active tab, and is pushed to open pages', async () => {
    const { client, stream } = await onLivePage(demo, TAB_1);
    await client.get('/live', { headers: { 'x-tessera-tab': TAB_2 } }); // a request naming another tab
    await pushOnline(demo.tessera);
    const panel = JSON.parse((await stream.next('html')).data) as { target: string; html: string };
    assert.equal(panel.target, '#online');
    assert.match(panel.html, /tab <code>demoTa<\/code>/);
    assert.match(panel.html, /Guest/);
    stream.close();
  });
});

const skip = chromiumSkip();

describe('demo: live tabs in Chromium', { skip }, () => {
  let dataDir: string;
  let demo: Demo;
  let browser: Browser;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tessera-demo-live-chromium-'));
    [demo, browser] = await Promise.all([startDemo({ port: 0, host: '127.0.0.1', dataDir, env: ENV, log: () => {} }), launchChromium()]);
  });
  after(async () => {
    await browser?.close();
    await demo?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a click pushes to this tab only; broadcast reaches both tabs; the panel shows this tab', async () => {
    const context = await browser.newContext();
    const [one, two] = [await context.newPage(), await context.newPage()];
    for (const page of [one, two]) {
      await page.goto(new URL('/live', demo.url).href);
      await page.waitForFunction(() => document.querySelector('#tab').textContent !== '…');
    }
    const streams = demo.tessera.live.streams;
    assert.ok(streams >= 2, `two streams open (${streams})`);
    await one.click('#push-tab');
    await one.waitForFunction(() => document.querySelectorAll('#messages li').length === 1);
    await two.click('#broadcast');
    await one.waitForFunction(() => document.querySelectorAll('#messages li').length === 2);
    await two.waitForFunction(() => document.querySelectorAll('#messages li').length === 1);
    assert.match((await two.textContent('#messages'))!, /Broadcast from tab/);
    const tab = (await one.textContent('#tab'))!;
    await pushOnline(demo.tessera);
    await one.waitForFunction((t: string) => document.querySelector('#online').textContent.includes(t), tab);
    await context.close();
  });
});

