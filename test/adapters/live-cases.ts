/**
 * Live tabs in the adapter suite: the live routes (the stream, cookie tickets, the client
 * script) as each adapter serves them, with `live: {}`. Run by {@link adapterSuite} for every adapter whose harness can
 * read a response as it streams (`HarnessApp.open`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { storeKey } from '../../src/crypto/ids.js';
import { CLIENT_SCRIPT } from '../../src/live/client-script.js';
import type { Tessera } from '../../src/manager.js';
import type { TesseraOptions } from '../../src/options.js';
import type { SessionStore } from '../../src/stores/store.js';
import { SseClient } from '../helpers/sse.js';
import type { AdapterHarness, HarnessApp } from './suite.js';

const TAB = 'suiteTabAAAAAAAAAAAAAA';
const OTHER_TAB = 'suiteTabBBBBBBBBBBBBBB';

type Start = (options?: Partial<TesseraOptions> & { store?: SessionStore }) => Promise<{ app: HarnessApp; tessera: Tessera }>;

const pair = (line: string): string => line.slice(0, line.indexOf(';'));

/** The handle of the session a cookie header names (what `session.handle` is in the app). */
function handleOf(tessera: Tessera, cookie: string): string {
  const value = cookie.split('; ').find((c) => c.startsWith('__Host-tessera='))!.slice('__Host-tessera='.length);
  return storeKey(tessera.verifyCookie(value)!, null);
}

export function liveCases(harness: AdapterHarness, storeTitle: string, start: Start): void {
  describe(`live tabs: ${harness.name}, on ${storeTitle}`, () => {
    /** Open a tab's stream as a page of the site would. */
    async function stream(app: HarnessApp, tab: string, cookie?: string): Promise<SseClient> {
      const headers: Record<string, string> = { 'sec-fetch-site': 'same-origin', accept: 'text/event-stream' };
      if (cookie !== undefined) headers.cookie = cookie;
      return SseClient.ofResponse(await app.open!(`/tessera/live?tab=${tab}`, headers));
    }
    const skip = (app: HarnessApp) => (app.open === undefined ? 'this harness only gets whole responses' : false);

    it('opens a stream (with a session cookie for a first visit); a push reaches its tab, a broadcast every tab', async (t) => {
      const { app, tessera } = await start({ live: {} });
      if (skip(app)) return t.skip(String(skip(app)));
      const first = await stream(app, TAB);
      assert.equal(first.status, 200);
      assert.match(String(first.header('content-type')), /^text\/event-stream/);
      const set = first.header('set-cookie');
      const lines = Array.isArray(set) ? set : set === undefined ? [] : [set];
      const sessionCookie = lines.find((l) => l.startsWith('__Host-tessera='));
      assert.ok(sessionCookie, `a session cookie on the stream's head: ${JSON.stringify(lines)}`);
      assert.equal(JSON.parse((await first.next('hello')).data).tab, TAB);
      const cookie = pair(sessionCookie!);
      const second = await stream(app, OTHER_TAB, cookie);
      await second.next('hello');
      await tessera.live.broadcastAll({ type: 'reload' });
      assert.equal((await first.next()).event, 'reload');
      assert.equal((await second.next()).event, 'reload');
      first.close();
      second.close();
    });

    it('pushes to one tab by the session signed in; destroying the session ends its streams', async (t) => {
      const { app, tessera } = await start({ live: {} });
      if (skip(app)) return t.skip(String(skip(app)));
      const signedIn = await app.request('POST', '/sign-in?user=live-u1');
      const cookie = signedIn.setCookies.map(pair).join('; ');
      const a = await stream(app, TAB, cookie);
      const b = await stream(app, OTHER_TAB, cookie);
      await Promise.all([a.next('hello'), b.next('hello')]);
      await tessera.live.pushHtml(handleOf(tessera, cookie), TAB, '#n', '1');
      assert.equal(JSON.parse((await a.next('html')).data).html, '1');
      await b.quiet(100);
      await app.request('POST', '/destroy', { cookie });
      assert.deepEqual(JSON.parse((await a.next('end')).data), { reason: 'destroyed' });
      assert.deepEqual(JSON.parse((await b.next('end')).data), { reason: 'destroyed' });
    });

    it('a cookie ticket posted back sets its cookie, with CSRF on and no token (the ticket is the proof), once', async (t) => {
      const { app, tessera } = await start({ live: {}, csrf: {} });
      if (skip(app)) return t.skip(String(skip(app)));
      const first = await stream(app, TAB);
      const set = first.header('set-cookie');
      const cookie = (Array.isArray(set) ? set : [String(set)]).map(pair).join('; ');
      await first.next('hello');
      await tessera.live.broadcastAll({ type: 'event', name: 'ping' });
      await first.next('event');
      const signed = await app.request('POST', '/sign-in?user=live-u2', { cookie, 'sec-fetch-site': 'same-origin', 'x-csrf-token': (await app.request('GET', '/token', { cookie })).body });
      assert.equal(signed.status, 200, signed.body);
      const jar = signed.setCookies.map(pair).join('; ');
      // The sign-in gave the session a new ID: the stream opened before it was dropped, and the tab comes back with the new cookie.
      await first.ended();
      const again = await stream(app, TAB, jar);
      await again.next('hello');
      await tessera.live.setCookie(handleOf(tessera, jar), TAB, 'theme=dark; Path=/; HttpOnly; Secure; SameSite=Lax');
      const { ticket } = JSON.parse((await again.next('cookie')).data) as { ticket: string };
      const post = (from: string, withCookie = jar) =>
        app.request('POST', '/tessera/live/cookie', { cookie: withCookie, 'sec-fetch-site': from, 'x-tessera-tab': TAB, 'content-type': 'text/plain' }, undefined, ticket);
      assert.equal((await post('cross-site')).status, 403, 'from another site');
      assert.equal((await post('same-origin', cookie)).status, 403, 'with the cookie of another session');
      const used = await post('same-origin');
      assert.equal(used.status, 204, used.body);
      assert.deepEqual(used.setCookies, ['theme=dark; Path=/; HttpOnly; Secure; SameSite=Lax']);
      assert.equal((await post('same-origin')).status, 403, 'used once');
      again.close();
    });

    it('serves the browser client script, revalidated by its ETag', async () => {
      const { app } = await start({ live: {} });
      const script = await app.request('GET', '/tessera/live/client.js');
      assert.equal(script.status, 200);
      assert.equal(script.headers['content-type'], 'text/javascript; charset=utf-8');
      assert.equal(script.body, CLIENT_SCRIPT);
      assert.deepEqual(script.setCookies, []);
      const again = await app.request('GET', '/tessera/live/client.js', { 'if-none-match': script.headers.etag! });
      assert.equal(again.status, 304);
    });

    it('refuses a stream from another site, or without a tab ID', async (t) => {
      const { app } = await start({ live: {} });
      if (skip(app)) return t.skip(String(skip(app)));
      const cross = await app.open!(`/tessera/live?tab=${TAB}`, { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' });
      assert.equal(cross.status, 403);
      await cross.body?.cancel();
      const bad = await app.open!('/tessera/live?tab=x', { 'sec-fetch-site': 'same-origin' });
      assert.equal(bad.status, 400);
      await bad.body?.cancel();
    });
  });
}
