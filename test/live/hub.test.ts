import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTessera } from '../../src/index.js';
import { BusUnavailableError, LiveError, NotSupportedError } from '../../src/errors.js';
import { LocalBus, type LiveBus } from '../../src/live/bus.js';
import { nodeSessions } from '../../src/adapters/node.js';
import type { Tessera } from '../../src/manager.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { CookieStore } from '../../src/stores/cookie.js';
import { FakeClock } from '../helpers/clock.js';
import { SseClient } from '../helpers/sse.js';

const SECRET = 'live-hub-test-secret-0123456789abcdef';
const TAB_A = 'tabAAAAAAAAAAAAAAAAAAA';
const TAB_B = 'tabBBBBBBBBBBBBBBBBBBB';

interface App {
  tessera: Tessera;
  base: string;
  server: Server;
  close(): Promise<void>;
}

/** An app on a real socket: the live routes, and a few routes to act on the session. */
async function startApp(options: { clock?: FakeClock; bus?: LiveBus; store?: MemoryStore | CookieStore; live?: object } = {}): Promise<App> {
  const tessera = createTessera({
    secrets: [SECRET],
    store: options.store ?? new MemoryStore(),
    cookie: { secure: false },
    csrf: false,
    now: options.clock?.now,
    live: { bus: options.bus, ...options.live },
  });
  const sessions = nodeSessions(tessera);
  const server = createServer(
    sessions.wrap(async (req, res) => {
      const session = await sessions.load(req, res);
      if (req.url === '/write') session.set('n', 1);
      else if (req.url === '/destroy') session.destroy();
      else if (req.url === '/regenerate') session.regenerate();
      else if (req.url!.startsWith('/sign-in')) await session.signIn({ sub: new URL(req.url!, 'http://x').searchParams.get('u') ?? 'u1' });
      else if (req.url === '/sign-out') session.signOut();
      else if (req.url === '/id') return void res.end(session.id);
      else if (req.url === '/user') return void res.end(JSON.stringify({ userId: session.userId, sub: (await session.user())?.sub ?? null }));
      res.end(session.isDestroyed ? 'gone' : session.handle);
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    tessera,
    base,
    server,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await tessera.close();
    },
  };
}

/** A browser: one cookie jar. */
class Browser {
  cookie = '';
  constructor(readonly app: App) {}
  #keep(setCookie: string[]): void {
    const jar = new Map(this.cookie ? this.cookie.split('; ').map((c) => c.split('=', 2) as [string, string]) : []);
    for (const line of setCookie) {
      const [pair] = line.split(';', 1);
      const [name, value] = pair!.split('=', 2) as [string, string];
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    this.cookie = [...jar].map(([n, v]) => `${n}=${v}`).join('; ');
  }
  async get(path: string): Promise<string> {
    const res = await fetch(this.app.base + path, { headers: this.cookie ? { cookie: this.cookie } : {} });
    this.#keep(res.headers.getSetCookie());
    return res.text();
  }
  /** Post a cookie ticket back, as the client does; keeps the cookies it sets. */
  async redeem(ticket: string, tab: string): Promise<{ status: number; setCookie: string[] }> {
    const res = await fetch(this.app.base + '/tessera/live/cookie', {
      method: 'POST',
      body: ticket,
      headers: { 'x-tessera-tab': tab, 'sec-fetch-site': 'same-origin', 'content-type': 'text/plain', ...(this.cookie ? { cookie: this.cookie } : {}) },
    });
    const setCookie = res.headers.getSetCookie();
    this.#keep(setCookie);
    return { status: res.status, setCookie };
  }
  async stream(tab: string, headers: Record<string, string> = {}, query = ''): Promise<SseClient> {
    const client = await SseClient.open(`${this.app.base}/tessera/live?tab=${tab}${query}`, { 'sec-fetch-site': 'same-origin', ...(this.cookie ? { cookie: this.cookie } : {}), ...headers });
    const set = client.header('set-cookie');
    if (set !== undefined) this.#keep(Array.isArray(set) ? set : [set]);
    return client;
  }
}

describe('live hub on node:http', () => {
  let app: App;
  before(async () => {
    app = await startApp();
  });
  after(() => app.close());

  it('opens a stream for a first visit: SSE head, hello with the tab, and a session cookie', async () => {
    const browser = new Browser(app);
    const stream = await browser.stream(TAB_A);
    assert.equal(stream.status, 200);
    assert.match(String(stream.header('content-type')), /^text\/event-stream/);
    assert.equal(stream.header('cache-control'), 'no-store, no-transform');
    const hello = await stream.next('hello');
    assert.equal(JSON.parse(hello.data).tab, TAB_A);
    assert.match(browser.cookie, /tessera=/, 'the browser now holds a session cookie naming the stream');
    assert.equal(app.tessera.live.streams, 1);
    stream.close();
  });

  it('a push reaches one tab only; a broadcast reaches every tab of the session, and no other session', async () => {
    const alice = new Browser(app);
    await alice.get('/write');
    const handle = await alice.get('/');
    const a = await alice.stream(TAB_A);
    const b = await alice.stream(TAB_B);
    const bob = new Browser(app);
    await bob.get('/write');
    const other = await bob.stream(TAB_A);
    await Promise.all([a.next('hello'), b.next('hello'), other.next('hello')]);

    await app.tessera.live.pushHtml(handle, TAB_A, '#status', 'Saved');
    const html = await a.next('html');
    assert.deepEqual(JSON.parse(html.data), { type: 'html', target: '#status', html: 'Saved', mode: 'inner' });
    await b.quiet();

    await app.tessera.live.broadcast(handle, { type: 'reload' });
    assert.equal((await a.next()).event, 'reload');
    assert.equal((await b.next()).event, 'reload');
    await other.quiet();
    for (const s of [a, b, other]) s.close();
  });

  it('broadcastAll reaches every open tab; broadcastUser the tabs of the user’s sessions', async () => {
    const alice = new Browser(app);
    await alice.get('/sign-in');
    const a = await alice.stream(TAB_A);
    const anon = new Browser(app);
    const b = await anon.stream(TAB_B);
    await Promise.all([a.next('hello'), b.next('hello')]);
    await app.tessera.live.broadcastAll({ type: 'event', name: 'notice', detail: { text: 'maintenance' } });
    assert.deepEqual(JSON.parse((await a.next('event')).data).detail, { text: 'maintenance' });
    assert.equal((await b.next('event')).event, 'event');
    assert.equal(await app.tessera.live.broadcastUser('u1', { type: 'navigate', path: '/inbox' }), 1);
    assert.equal(JSON.parse((await a.next('navigate')).data).path, '/inbox');
    await b.quiet();
    a.close();
    b.close();
  });

  it('a tab that reconnects with Last-Event-ID gets the events it missed, in order, and no others', async () => {
    const browser = new Browser(app);
    await browser.get('/write');
    const handle = await browser.get('/');
    const first = await browser.stream(TAB_A);
    await first.next('hello');
    await app.tessera.live.pushHtml(handle, TAB_A, '#a', '1');
    const seen = await first.next('html');
    first.close();
    await first.ended();
    await app.tessera.live.pushHtml(handle, TAB_A, '#a', '2');
    await app.tessera.live.pushHtml(handle, TAB_A, '#a', '3');
    const again = await browser.stream(TAB_A, { 'last-event-id': seen.id! });
    await again.next('hello');
    const two = await again.next();
    assert.deepEqual([JSON.parse(two.data).html, JSON.parse((await again.next()).data).html], ['2', '3']);
    await again.quiet();
    // The client's own reconnects say it in the query.
    again.close();
    const third = await browser.stream(TAB_A, {}, `&last=${two.id}`);
    await third.next('hello');
    assert.equal(JSON.parse((await third.next()).data).html, '3');
    third.close();
  });

  it('destroying the session tells its streams why and closes them; so does signing out', async () => {
    const browser = new Browser(app);
    await browser.get('/write');
    const stream = await browser.stream(TAB_A);
    await stream.next('hello');
    await browser.get('/destroy');
    assert.deepEqual(JSON.parse((await stream.next('end')).data), { reason: 'destroyed' });
    await stream.ended();

    const user = new Browser(app);
    await user.get('/sign-in');
    const signedIn = await user.stream(TAB_B);
    await signedIn.next('hello');
    await user.get('/sign-out');
    assert.deepEqual(JSON.parse((await signedIn.next('end')).data), { reason: 'signed-out' });
    await signedIn.ended();
  });

  it('a new ID (sign-in) drops the streams: the tab comes back with the new cookie and gets what was pushed meanwhile; the old cookie opens none', async () => {
    const browser = new Browser(app);
    await browser.get('/write');
    const stream = await browser.stream(TAB_A);
    const hello = JSON.parse((await stream.next('hello')).data) as { last: string };
    const planted = browser.cookie; // what someone who knew the pre-sign-in cookie holds
    await browser.get('/sign-in');
    await stream.ended();
    assert.equal(stream.messages.some((m) => m.event === 'end'), false, 'dropped, not ended: the client reconnects');
    const handle = await browser.get('/');
    await app.tessera.live.pushReload(handle, TAB_A);
    const back = await browser.stream(TAB_A, {}, `&last=${hello.last}`); // as the client reconnects
    await back.next('hello');
    assert.equal((await back.next()).event, 'reload', 'kept for the tab under its new handle');
    back.close();
    // A stream opened with the pre-sign-in cookie hears nothing of the signed-in session: it is told to reload.
    const stale = await SseClient.open(`${app.base}/tessera/live?tab=${TAB_B}`, { cookie: planted, 'sec-fetch-site': 'same-origin' });
    assert.deepEqual(JSON.parse((await stale.next('end')).data), { reason: 'expired' });
    assert.equal(stale.header('set-cookie'), undefined, 'and gets no cookie that could replace the signed-in one');
    await stale.ended();
  });

  it('destroying by handle (an operator, sign out everywhere) ends the streams too', async () => {
    const browser = new Browser(app);
    await browser.get('/sign-in?u=u7');
    const stream = await browser.stream(TAB_A);
    await stream.next('hello');
    assert.equal(await app.tessera.signOutEverywhere('u7'), 1);
    assert.equal(JSON.parse((await stream.next('end')).data).reason, 'destroyed');
  });

  it('refuses streams from other sites, without a tab ID, or not GET', async () => {
    const cross = await SseClient.open(`${app.base}/tessera/live?tab=${TAB_A}`, { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' });
    assert.equal(cross.status, 403);
    const noTab = await SseClient.open(`${app.base}/tessera/live?tab=%3Cx%3E`, {});
    assert.equal(noTab.status, 400);
    const post = await fetch(`${app.base}/tessera/live?tab=${TAB_A}`, { method: 'POST' });
    assert.equal(post.status, 405);
    // Other paths are the app's.
    assert.match(await (await fetch(`${app.base}/tessera/liveX`)).text(), /^[A-Za-z0-9_-]{43}$/);
  });

  it('refuses bad pushes with LiveError', async () => {
    const handle = (await app.tessera.create({ data: { a: 1 } })).session.handle;
    await assert.rejects(app.tessera.live.push(handle, 'bad tab!', { type: 'reload' }), LiveError);
    await assert.rejects(app.tessera.live.push(handle, TAB_A, { type: 'nope' } as never), LiveError);
    await assert.rejects(app.tessera.live.pushPath(handle, TAB_A, 'https://evil.example/'), LiveError);
    await assert.rejects(app.tessera.live.push('not-a-handle', TAB_A, { type: 'reload' }), LiveError);
    await assert.rejects(app.tessera.live.pushHtml(handle, TAB_A, '#x', 'y'.repeat(300_000)), (e: LiveError) => e.status === 413);
  });

  it('a closed tab removes its stream', async () => {
    const browser = new Browser(app);
    const before = app.tessera.live.streams;
    const stream = await browser.stream(TAB_A);
    await stream.next('hello');
    assert.equal(app.tessera.live.streams, before + 1);
    stream.close();
    for (let i = 0; i < 50 && app.tessera.live.streams !== before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(app.tessera.live.streams, before);
  });
});

describe('cookies from pushes: tickets, live sign-in and sign-out', () => {
  let app: App;
  let clock: FakeClock;
  before(async () => {
    clock = new FakeClock(Date.now());
    app = await startApp({ clock });
  });
  after(() => app.close());

  it('setCookie pushes a one-time ticket; posting it back sets the cookie, once, for that tab only', async () => {
    const browser = new Browser(app);
    await browser.get('/write');
    const handle = await browser.get('/');
    const stream = await browser.stream(TAB_A);
    await stream.next('hello');
    await app.tessera.live.setCookie(handle, TAB_A, 'theme=dark; Path=/; HttpOnly; SameSite=Lax');
    const { ticket } = JSON.parse((await stream.next('cookie')).data) as { ticket: string };
    assert.ok(!ticket.includes('theme'), 'the cookie is sealed in the ticket');
    assert.equal((await browser.redeem(ticket, TAB_B)).status, 403, 'another tab cannot use it');
    const used = await browser.redeem(ticket, TAB_A);
    assert.equal(used.status, 204);
    assert.deepEqual(used.setCookie, ['theme=dark; Path=/; HttpOnly; SameSite=Lax']);
    assert.equal((await browser.redeem(ticket, TAB_A)).status, 403, 'used once');
    assert.equal((await browser.redeem(ticket.slice(0, -2) + 'AA', TAB_A)).status, 403, 'forged');
    await app.tessera.live.setCookie(handle, TAB_A, ['a=1; Path=/']);
    const late = JSON.parse((await stream.next('cookie')).data).ticket as string;
    clock.advance(61_000);
    assert.equal((await browser.redeem(late, TAB_A)).status, 403, 'expired');
    await assert.rejects(app.tessera.live.setCookie(handle, TAB_A, 'not a cookie'), LiveError);
    stream.close();
  });

  it('signIn by handle: the tab gets the ticket on its stream, then the stream drops; the ticket gives the new session and HttpOnly auth cookies', async () => {
    const browser = new Browser(app);
    await browser.get('/write');
    const waiting = await browser.get('/');
    const stream = await browser.stream(TAB_A);
    await stream.next('hello');
    const handle = await app.tessera.live.signIn(waiting, TAB_A, { sub: 'u9' });
    assert.notEqual(handle, waiting, 'a new ID');
    const { ticket } = JSON.parse((await stream.next('cookie')).data) as { ticket: string };
    await stream.ended();
    // Someone who saw the ticket (on the bus, say) but holds no cookie of the session gets nothing.
    assert.equal((await new Browser(app).redeem(ticket, TAB_A)).status, 403);
    const { status, setCookie } = await browser.redeem(ticket, TAB_A);
    assert.equal(status, 204);
    const auth = setCookie.find((line) => line.startsWith('tessera-auth=') || line.startsWith('__Host-tessera-auth='));
    assert.ok(auth, `an auth cookie in ${JSON.stringify(setCookie)}`);
    assert.match(auth!, /HttpOnly/);
    assert.deepEqual(JSON.parse(await browser.get('/user')), { userId: 'u9', sub: 'u9' });
    assert.equal(await browser.get('/'), handle);
    const back = await browser.stream(TAB_A);
    await back.next('hello');
    await app.tessera.live.pushReload(handle, TAB_A);
    assert.equal((await back.next()).event, 'reload', 'the tab is back, on the signed-in session');
    back.close();
  });

  it('signOut by handle: the ticket clears the cookies, the streams end with signed-out, the session is gone', async () => {
    const browser = new Browser(app);
    await browser.get('/sign-in?u=u10');
    const handle = await browser.get('/');
    const stream = await browser.stream(TAB_A);
    await stream.next('hello');
    await app.tessera.live.signOut(handle, TAB_A);
    const { ticket } = JSON.parse((await stream.next('cookie')).data) as { ticket: string };
    assert.deepEqual(JSON.parse((await stream.next('end')).data), { reason: 'signed-out' });
    const { setCookie } = await browser.redeem(ticket, TAB_A);
    assert.ok(setCookie.length >= 2 && setCookie.every((line) => /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(line)), JSON.stringify(setCookie));
    assert.equal(await app.tessera.isValid('x'.repeat(43)), false);
    assert.deepEqual(JSON.parse(await browser.get('/user')), { userId: null, sub: null });
  });
});

describe('live hub: expiry, processes, outages', () => {
  it('a session that expires ends its streams at the next heartbeat (fake clock)', async () => {
    const clock = new FakeClock(Date.now());
    const app = await startApp({ clock });
    try {
      const browser = new Browser(app);
      await browser.get('/write');
      const stream = await browser.stream(TAB_A);
      await stream.next('hello');
      await app.tessera.live.tick();
      assert.equal(stream.closed, false);
      clock.advance(25 * 3_600_000);
      await app.tessera.live.tick();
      assert.deepEqual(JSON.parse((await stream.next('end')).data), { reason: 'expired' });
      await stream.ended();
    } finally {
      await app.close();
    }
  });

  it('heartbeats are comments on every open stream; tabs past the reconnect window are forgotten', async () => {
    const clock = new FakeClock(Date.now());
    const app = await startApp({ clock });
    try {
      const browser = new Browser(app);
      await browser.get('/write');
      const stream = await browser.stream(TAB_A);
      await stream.next('hello');
      await app.tessera.live.tick();
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(stream.comments.includes('ping'));
      stream.close();
      for (let i = 0; i < 50 && app.tessera.live.streams !== 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(app.tessera.live.sessions, 1, 'kept for its reconnect');
      clock.advance(31_000);
      await app.tessera.live.tick();
      assert.equal(app.tessera.live.sessions, 0);
    } finally {
      await app.close();
    }
  });

  it('a push made in one process reaches a tab connected to another over the bus', async () => {
    const bus = new LocalBus();
    const store = new MemoryStore();
    const a = await startApp({ bus, store });
    const b = await startApp({ bus, store });
    try {
      const browser = new Browser(b);
      await browser.get('/write');
      const handle = await browser.get('/');
      const stream = await browser.stream(TAB_A);
      await stream.next('hello');
      await a.tessera.live.pushPath(handle, TAB_A, '/next');
      assert.equal(JSON.parse((await stream.next('navigate')).data).path, '/next');
      // A destroy in A closes the stream held by B.
      await a.tessera.destroyByHandle(handle, { anyUser: true });
      assert.equal(JSON.parse((await stream.next('end')).data).reason, 'destroyed');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a bus that is down: pushes reject with BusUnavailableError, streams stay open, delivery resumes', async () => {
    let down = false;
    const local = new LocalBus();
    const flaky: LiveBus = {
      name: 'flaky',
      subscribe: (deliver) => local.subscribe(deliver),
      publish: (message) => (down ? Promise.reject(new BusUnavailableError('down')) : local.publish(message)),
      close: () => local.close(),
    };
    const app = await startApp({ bus: flaky });
    try {
      const browser = new Browser(app);
      await browser.get('/write');
      const handle = await browser.get('/');
      const stream = await browser.stream(TAB_A);
      await stream.next('hello');
      down = true;
      await assert.rejects(app.tessera.live.pushReload(handle, TAB_A), BusUnavailableError);
      down = false;
      await app.tessera.live.pushReload(handle, TAB_A);
      assert.equal(stream.closed, false);
      assert.equal((await stream.next()).event, 'reload');
      stream.close();
    } finally {
      await app.close();
    }
  });

  it('with CookieStore: streams work, and revoking the session ends them', async () => {
    const app = await startApp({ store: new CookieStore({ revocation: new MemoryStore() }) });
    try {
      const browser = new Browser(app);
      await browser.get('/write');
      const id = await browser.get('/id');
      const handle = await browser.get('/');
      const stream = await browser.stream(TAB_A);
      await stream.next('hello');
      await app.tessera.live.pushHtml(handle, TAB_A, '#x', 'y');
      assert.equal((await stream.next()).event, 'html');
      assert.equal(await app.tessera.destroy(id), true);
      assert.deepEqual(JSON.parse((await stream.next('end')).data), { reason: 'destroyed' });
      await assert.rejects(app.tessera.live.broadcastUser('u1', { type: 'reload' }), NotSupportedError);
    } finally {
      await app.close();
    }
  });

  it('a process at maxStreams answers further streams 503 (Retry-After), and takes them again once one closed', async () => {
    const app = await startApp({ live: { maxStreams: 1 } });
    try {
      const one = await new Browser(app).stream(TAB_A);
      await one.next('hello');
      const two = await new Browser(app).stream(TAB_B);
      assert.equal(two.status, 503);
      assert.equal(two.header('retry-after'), '1');
      one.close();
      for (let i = 0; i < 50 && app.tessera.live.streams !== 0; i++) await new Promise((r) => setTimeout(r, 10));
      const three = await new Browser(app).stream(TAB_B);
      assert.equal(three.status, 200);
      three.close();
    } finally {
      await app.close();
    }
  });

  it('streams over HTTP/2 (node:http2 compatibility API) keep its framing, and carry pushes', async () => {
    const { createServer: createH2, connect } = await import('node:http2');
    const tessera = createTessera({ secrets: [SECRET], store: new MemoryStore(), cookie: { secure: false }, csrf: false, live: {} });
    const sessions = nodeSessions(tessera);
    const server = createH2(sessions.wrap((_req, res) => void res.end('app')) as never);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const stream = client.request({ ':path': `/tessera/live?tab=${TAB_A}`, 'sec-fetch-site': 'same-origin' });
      let text = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (text += chunk));
      const head = await new Promise<Record<string, unknown>>((resolve) => stream.once('response', resolve));
      assert.equal(head[':status'], 200);
      assert.equal(head.connection, undefined, 'no connection-specific header on HTTP/2');
      for (let i = 0; i < 100 && !text.includes('event: hello'); i++) await new Promise((r) => setTimeout(r, 10));
      await tessera.live.broadcastAll({ type: 'reload' });
      for (let i = 0; i < 100 && !text.includes('event: reload'); i++) await new Promise((r) => setTimeout(r, 10));
      assert.match(text, /event: hello[\s\S]*event: reload/);
      stream.close();
    } finally {
      client.close();
      await tessera.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('live tabs are off unless asked for', async () => {
    const tessera = createTessera({ secrets: [SECRET], store: new MemoryStore() });
    assert.throws(() => tessera.live, NotSupportedError);
    await tessera.close();
  });
});
