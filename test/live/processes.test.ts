/**
 * Live tabs across three real server processes (test/fixtures/live-node.ts), sharing a store and
 * a bus — Redis store and RedisBus, PostgreSQL store and PostgresBus — as three servers behind a
 * load balancer without sticky sessions: a tab's stream is held by one process, and pushes made
 * in the others reach it; a destroy in another process ends it. Skipped, saying why, when the
 * service is down (a failure with TESSERA_REQUIRE_SERVICES=1).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { PG_URL, REDIS_URL, serviceSkip } from '../helpers/services.js';
import { SseClient } from '../helpers/sse.js';
import type { StoreSpec } from '../helpers/store-spec.js';
import type { BusSpec } from '../fixtures/live-node.js';

const NODE = join(import.meta.dirname, '../fixtures/live-node.ts');
const SECRET = 'live-processes-secret-0123456789abcdef';
const TAB = 'procTabAAAAAAAAAAAAAAA';

interface ServerProcess {
  child: ChildProcessWithoutNullStreams;
  base: string;
}

function startServer(store: StoreSpec, bus: BusSpec): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', NODE], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, LIVE_NODE: JSON.stringify({ store, bus, secret: SECRET }) },
  });
  let stderr = '';
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 20_000);
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve({ child, base: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}` });
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${stderr}`)));
  });
}

async function post(server: ServerProcess, path: string): Promise<string> {
  const res = await fetch(server.base + path, { method: 'POST' });
  const body = await res.text();
  assert.equal(res.status, 200, body);
  return body;
}

const cases: [string, string, (run: string) => { store: StoreSpec; bus: BusSpec }][] = [
  ['Redis', REDIS_URL, (run) => ({ store: { kind: 'redis', url: REDIS_URL, prefix: `tessera-live-${run}:` }, bus: { kind: 'redis', url: REDIS_URL, channel: `tessera-live-${run}` } })],
  ['PostgreSQL', PG_URL, (run) => ({ store: { kind: 'postgres', url: PG_URL, table: `tessera_live_${run}` }, bus: { kind: 'postgres', url: PG_URL, channel: `tessera_live_${run}` } })],
];

for (const [service, url, config] of cases) {
  const skip = await serviceSkip(service, url);
  describe(`live tabs across three processes on ${service}`, { skip }, () => {
    it('a push made in any process reaches the tab whose stream another holds; a destroy there ends it', async () => {
      const run = `${process.pid}_${randomBytes(4).toString('hex')}`;
      const { store, bus } = config(run);
      const servers = await Promise.all([0, 1, 2].map(() => startServer(store, bus)));
      try {
        const [a, b, c] = servers as [ServerProcess, ServerProcess, ServerProcess];
        // The browser's session, made through A; its stream held by B.
        const made = await fetch(`${a.base}/session`);
        const cookie = made.headers.getSetCookie().map((line) => line.slice(0, line.indexOf(';'))).join('; ');
        const handle = await made.text();
        const stream = await SseClient.open(`${b.base}/tessera/live?tab=${TAB}`, { cookie, 'sec-fetch-site': 'same-origin' });
        assert.equal(stream.status, 200);
        await stream.next('hello');
        await post(a, `/push?handle=${handle}&tab=${TAB}&html=from-a`);
        await post(c, `/push?handle=${handle}&tab=${TAB}&html=from-c`);
        await post(b, `/push?handle=${handle}&tab=${TAB}&html=from-b`);
        const got = [await stream.next('html', 10_000), await stream.next('html', 10_000), await stream.next('html', 10_000)].map((m) => JSON.parse(m.data).html as string);
        assert.deepEqual(got.sort(), ['from-a', 'from-b', 'from-c'], 'each push once');
        await stream.quiet(300);
        await post(c, `/destroy?handle=${handle}`);
        assert.deepEqual(JSON.parse((await stream.next('end', 10_000)).data), { reason: 'destroyed' });
        await stream.ended(10_000);
      } finally {
        for (const server of servers) server.child.kill('SIGTERM');
        await Promise.all(servers.map((s) => (s.child.exitCode !== null ? null : new Promise((resolve) => s.child.once('exit', resolve)))));
        await dropStore(store);
      }
    });
  });
}

/** Remove what the run left in the shared service. */
async function dropStore(store: StoreSpec): Promise<void> {
  if (store.kind === 'postgres') {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: store.url });
    await client.connect();
    try {
      for (const suffix of ['', '_act']) await client.query(`DROP TABLE IF EXISTS ${store.table}${suffix}`);
    } finally {
      await client.end();
    }
  } else if (store.kind === 'redis') {
    const { Redis } = await import('ioredis');
    const redis = new Redis(store.url);
    try {
      const keys = await redis.keys(`${store.prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
  }
}
