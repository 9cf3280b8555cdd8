/**
 * The Prometheus endpoint, scraped over HTTP after real requests: sessions created and active,
 * commits, conflicts, store latency by operation, open live streams, CSRF rejections.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { nodeSessions } from '../../src/adapters/node.js';
import { createTessera } from '../../src/index.js';
import type { Tessera } from '../../src/manager.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { FakeResponse } from '../helpers/browser.js';
import { parseExposition } from '../helpers/prometheus.js';
import { SseClient } from '../helpers/sse.js';

const SECRET = 'prometheus-metrics-test-secret-0123456789';
const TAB = 'metricsTabAAAAAAAAAAAAA';

describe('metrics: the Prometheus endpoint', () => {
  let tessera: Tessera;
  let server: Server;
  let base: string;
  before(async () => {
    tessera = createTessera({ secrets: [SECRET], store: new MemoryStore(), cookie: { secure: false }, live: {}, metrics: {}, logger: {} });
    const sessions = nodeSessions(tessera);
    const metrics = tessera.metrics.handler();
    const app = sessions.wrap(async (req, res) => {
      const session = await sessions.load(req, res);
      if (req.url === '/write') session.set('n', (session.get<number>('n') ?? 0) + 1);
      res.end(String(session.get('n') ?? 0));
    });
    server = createServer((req, res) => (req.url === '/metrics' ? metrics(req, res) : app(req, res)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await tessera.close();
  });

  async function scrape() {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    return parseExposition(await res.text());
  }

  async function get(path: string, cookie?: string): Promise<string | undefined> {
    const res = await fetch(base + path, { headers: cookie ? { cookie } : {} });
    await res.text();
    return res.headers.getSetCookie()[0]?.split(';', 1)[0] ?? cookie;
  }

  it('starts at zero, with every family typed', async () => {
    const { samples, types } = await scrape();
    assert.equal(samples.get('tessera_sessions_created_total'), 0);
    assert.equal(samples.get('tessera_commits_total'), 0);
    assert.equal(samples.get('tessera_commit_conflicts_total'), 0);
    assert.equal(samples.get('tessera_sessions_active'), 0);
    assert.equal(samples.get('tessera_live_streams'), 0);
    assert.deepEqual(Object.fromEntries(types), {
      tessera_sessions_created_total: 'counter',
      tessera_commits_total: 'counter',
      tessera_commit_conflicts_total: 'counter',
      tessera_csrf_rejections_total: 'counter',
      tessera_store_errors_total: 'counter',
      tessera_store_duration_seconds: 'histogram',
      tessera_sessions_active: 'gauge',
      tessera_live_streams: 'gauge',
    });
  });

  it('counts what real requests did', async () => {
    // Two browsers: one writes three times, the other once, and reads once.
    let ann = await get('/write');
    ann = await get('/write', ann);
    ann = await get('/write', ann);
    const bob = await get('/write');
    await get('/read', bob);
    // Two requests of ann's at once, each changing the session: the second commit meets the first's version.
    const sinks = [new FakeResponse(tessera.cookieName), new FakeResponse(tessera.cookieName)];
    const contexts = sinks.map((r) => tessera.begin({ cookieHeader: ann }, r.sink));
    const both = await Promise.all(contexts.map((ctx) => ctx.load()));
    both.forEach((s) => s.update<number>('n', (n) => (n ?? 0) + 1));
    await Promise.all(contexts.map((ctx) => ctx.settle()));
    // An unsafe request without the CSRF token: refused.
    const refused = await fetch(`${base}/write`, { method: 'POST', headers: { cookie: bob!, 'sec-fetch-site': 'same-origin' } });
    assert.equal(refused.status, 403);
    // A live stream held open.
    const stream = await SseClient.open(`${base}/tessera/live?tab=${TAB}`, { cookie: ann!, 'sec-fetch-site': 'same-origin' });
    await stream.next('hello');

    const { samples } = await scrape();
    assert.equal(samples.get('tessera_sessions_created_total'), 2, 'ann and bob');
    assert.equal(samples.get('tessera_sessions_active'), 2, 'both live in the store');
    // ann: 3 writes + 2 concurrent updates; bob: 1 write.
    assert.equal(samples.get('tessera_commits_total'), 6);
    assert.equal(samples.get('tessera_commit_conflicts_total'), 1);
    assert.equal(samples.get('tessera_csrf_rejections_total{reason="missing-token"}'), 1);
    assert.equal(samples.get('tessera_live_streams'), 1);
    // Every commit was one successful set, plus the one the conflict refused.
    assert.equal(samples.get('tessera_store_duration_seconds_count{operation="set"}'), 7);
    assert.equal(samples.get('tessera_store_duration_seconds_bucket{operation="set",le="+Inf"}'), 7);
    const buckets = [...samples].filter(([k]) => k.startsWith('tessera_store_duration_seconds_bucket{operation="set"')).map(([, v]) => v);
    assert.ok(buckets.length === 16 && buckets.every((v, i) => i === 0 || v >= buckets[i - 1]!), `cumulative buckets, +Inf last: ${buckets}`);
    const gets = samples.get('tessera_store_duration_seconds_count{operation="get"}')!;
    assert.ok(gets >= 6, `a read for each request that brought a cookie, and the conflict's re-read (${gets})`);
    assert.ok(samples.get('tessera_store_duration_seconds_sum{operation="get"}')! < 1, 'in memory, well under a second');
    assert.equal(samples.get('tessera_store_errors_total{operation="get"}'), undefined, 'no store call failed');

    stream.close();
    for (let i = 0; i < 50 && tessera.live.streams !== 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal((await scrape()).samples.get('tessera_live_streams'), 0, 'the gauge follows the stream closing');
  });

  it('answers only GET and HEAD', async () => {
    const res = await fetch(`${base}/metrics`, { method: 'POST' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });
});

describe('metrics: off, and misconfigured', () => {
  it('metrics off: tessera.metrics says how to turn them on', () => {
    const tessera = createTessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0 });
    assert.throws(() => tessera.metrics, { code: 'ERR_NOT_SUPPORTED', message: /metrics: \{\}/ });
  });

  it('refuses bad metrics options at start-up', () => {
    for (const metrics of [{ prometheus: 'yes' }, { prom: true }, { otel: {} }, { prometheus: false }, 1] as never[]) {
      assert.throws(() => createTessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, metrics }), { code: 'ERR_CONFIG' }, JSON.stringify(metrics));
    }
  });

  it('counts store errors by operation, and escapes label values', async () => {
    class Broken extends MemoryStore {
      override setSync(): boolean {
        throw new Error('disk full');
      }
    }
    const tessera = createTessera({ secrets: [SECRET], store: new Broken(), cleanupInterval: 0, metrics: { prometheus: true }, logger: {} });
    const ctx = tessera.begin({ cookieHeader: undefined }, new FakeResponse(tessera.cookieName).sink);
    (await ctx.load()).set('a', 1);
    await assert.rejects(ctx.settle(), /disk full/);
    const { samples } = parseExposition(await tessera.metrics.prometheus());
    assert.equal(samples.get('tessera_store_errors_total{operation="set"}'), 1);
    assert.equal(samples.get('tessera_store_duration_seconds_count{operation="set"}'), 1, 'a failed call is timed too');
    assert.equal(samples.get('tessera_commits_total'), 0);
    await tessera.close();
  });
});
