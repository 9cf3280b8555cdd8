/**
 * The demo app (examples/demo) over real HTTP: a browser-like client with a cookie jar against
 * `startDemo` on a free port, with a temporary data folder and SQLite store; then the counter on
 * every other store `STORE=` can pick (Redis and PostgreSQL skipped, saying so, when down).
 * Signing in and the devices list: demo-accounts.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { storeKey } from '../src/crypto/ids.js';
import { startDemo, type Demo } from '../examples/demo/app.js';
import { demoSecret, pickStore } from '../examples/demo/config.js';
import { Client, ENV, STORE_CASES } from './helpers/demo.js';
import { parseExposition } from './helpers/prometheus.js';

describe('demo app', () => {
  let dataDir: string;
  let demo: Demo;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tessera-demo-'));
    demo = await startDemo({ port: 0, host: '127.0.0.1', dataDir, env: ENV, log: () => {} });
  });
  after(async () => {
    await demo?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves a home page that explains the demo and links to /increment and /clear', async () => {
    const client = new Client(demo.url);
    const { status, body, headers } = await client.get('/');
    assert.equal(status, 200);
    assert.match(headers.get('content-type')!, /^text\/html; charset=utf-8/);
    assert.match(body, /href="\/increment"/);
    assert.match(body, /href="\/clear"/);
    assert.match(body, /SQLite/);
    assert.match(body, /HttpOnly/);
    assert.equal(headers.get('cache-control'), 'no-store');
    assert.deepEqual(client.lastSetCookie, [], 'visiting the home page starts no session');
  });

  it('counts 1, 2, 3 with the cookie, and starts again at 1 without it', async () => {
    const client = new Client(demo.url);
    assert.equal(await client.increment(), 1);
    const cookie = client.lastSetCookie[0]!;
    assert.match(cookie, /^tessera=[\w-]{43}\.[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax$/, 'signed, HttpOnly, not Secure on plain http');
    assert.equal(await client.increment(), 2);
    assert.deepEqual(client.lastSetCookie, [], 'an existing session needs no new cookie');
    assert.equal(await client.increment(), 3);
    assert.equal(await new Client(demo.url).increment(), 1, 'no cookie: a new session');

    const home = await client.get('/');
    assert.match(home.body, /counter is at <strong>3<\/strong>/);
  });

  it('gives two clients separate counters', async () => {
    const a = new Client(demo.url);
    const b = new Client(demo.url);
    assert.equal(await a.increment(), 1);
    assert.equal(await a.increment(), 2);
    assert.equal(await b.increment(), 1);
    assert.equal(await a.increment(), 3);
    assert.equal(await b.increment(), 2);
    assert.notEqual(a.cookie, b.cookie);
  });

  it('ignores a tampered cookie', async () => {
    const client = new Client(demo.url);
    await client.increment();
    await client.increment();
    // Change one character in the middle of the signature (the last one carries padding bits).
    const at = client.cookie!.indexOf('.') + 10;
    const c = client.cookie![at] === 'A' ? 'B' : 'A';
    client.cookie = client.cookie!.slice(0, at) + c + client.cookie!.slice(at + 1);
    assert.equal(await client.increment(), 1, 'a bad signature starts a fresh session');
  });

  it('/clear destroys the session: the cookie is cleared and the record deleted', async () => {
    const client = new Client(demo.url);
    await client.increment();
    await client.increment();
    const oldCookie = client.cookie!;
    const key = storeKey(client.sessionId, null);
    const db = new Database(join(dataDir, 'sessions.db'), { readonly: true });
    try {
      const row = () => db.prepare('SELECT data FROM tessera_sessions WHERE key = ?').get(key) as { data: string } | undefined;
      assert.ok(row(), 'stored before /clear');

      const cleared = await client.get('/clear');
      assert.equal(cleared.status, 200);
      assert.match(cleared.body, /session was destroyed/);
      assert.equal(client.lastSetCookie.length, 1);
      assert.match(client.lastSetCookie[0]!, /^tessera=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=\/; HttpOnly; SameSite=Lax$/);
      assert.equal(client.cookie, undefined, 'the browser drops the cookie');
      assert.equal(row(), undefined, 'the record is gone from SQLite');
    } finally {
      db.close();
    }

    assert.equal(await client.increment(), 1, 'the next /increment starts at 1');
    const replay = new Client(demo.url);
    replay.cookie = oldCookie;
    assert.equal(await replay.increment(), 1, 'the old cookie no longer opens the destroyed session');

    const again = await new Client(demo.url).get('/clear');
    assert.match(again.body, /no session to clear/);
  });

  it('keeps the session in the SQLite file in the data folder, under a hash of its ID', async () => {
    const client = new Client(demo.url);
    for (let i = 0; i < 4; i++) await client.increment();
    const file = join(dataDir, 'sessions.db');
    assert.ok((await stat(file)).isFile());
    const db = new Database(file, { readonly: true });
    try {
      const row = db.prepare('SELECT data, version, expires_at FROM tessera_sessions WHERE key = ?').get(storeKey(client.sessionId, null)) as
        | { data: string; version: number; expires_at: number }
        | undefined;
      assert.ok(row, 'a row under storeKey(id)');
      assert.equal((JSON.parse(row.data) as { d: { count: number } }).d.count, 4);
      assert.equal(row.version, 4);
      assert.ok(row.expires_at > Date.now());
      const raw = db.prepare('SELECT count(*) AS n FROM tessera_sessions WHERE key = ? OR instr(data, ?) > 0').get(client.sessionId, client.sessionId) as { n: number };
      assert.equal(raw.n, 0, 'the raw session ID is nowhere in the database');
    } finally {
      db.close();
    }
  });

  it('keeps the generated secret in the data folder (owner-only), so sessions survive a restart', async () => {
    const client = new Client(demo.url);
    assert.equal(await client.increment(), 1);
    assert.equal(await client.increment(), 2);
    const secretFile = join(dataDir, 'demo-secret');
    assert.equal((await stat(secretFile)).mode & 0o777, 0o600);

    await demo.close();
    demo = await startDemo({ port: 0, host: '127.0.0.1', dataDir, env: ENV, log: () => {} });
    assert.equal(demo.secretSource, 'file');
    const restarted = new Client(demo.url);
    restarted.cookie = client.cookie;
    assert.equal(await restarted.increment(), 3, 'same secret, same SQLite file: the session goes on');
  });

  it('answers 404 for unknown paths, 405 for other methods, 204 for the favicon', async () => {
    const client = new Client(demo.url);
    assert.equal((await client.get('/nope')).status, 404);
    const post = await client.get('/increment', { method: 'POST' });
    assert.equal(post.status, 403, 'a POST without a CSRF token is refused before routing');
    assert.match(post.body, /CSRF/);
    const options = await client.get('/increment', { method: 'OPTIONS' });
    assert.equal(options.status, 405);
    assert.equal(options.headers.get('allow'), 'GET, HEAD');
    assert.equal((await client.get('/favicon.ico')).status, 204);
    assert.equal(client.cookie, undefined, 'none of these started a session');
  });

  it('serves its session metrics at /metrics, as Prometheus text, without a session', async () => {
    const scrape = async () => {
      const client = new Client(demo.url);
      const res = await client.get('/metrics');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
      assert.deepEqual(client.lastSetCookie, [], 'no session for a scrape');
      return parseExposition(res.body).samples;
    };
    const before = await scrape();
    const client = new Client(demo.url);
    await client.increment();
    await client.increment();
    const now = await scrape();
    const delta = (name: string) => now.get(name)! - (before.get(name) ?? 0);
    assert.equal(delta('tessera_sessions_created_total'), 1);
    assert.equal(delta('tessera_commits_total'), 2);
    assert.equal(delta('tessera_sessions_active'), 1, 'one more session in the SQLite store');
    assert.ok(delta('tessera_store_duration_seconds_count{operation="set"}') >= 2);
    assert.equal(now.get('tessera_live_streams'), 0);
  });

  it('escapes the path it echoes', async () => {
    // fetch() would percent-encode the path; node:http sends it as written.
    const body = await new Promise<string>((resolve, reject) => {
      get(new URL(demo.url), { path: '/<script>alert(1)</script>' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    assert.doesNotMatch(body, /<script>/);
    assert.match(body, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  });
});

describe('demo configuration', () => {
  it('picks SQLite in the data folder by default, memory with STORE=memory, and refuses unknown stores', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-demo-config-'));
    try {
      const sqlite = pickStore({}, dir);
      assert.equal(sqlite.label, 'SQLite');
      assert.equal(sqlite.where, `in the SQLite file ${join(dir, 'sessions.db')}`);
      await sqlite.store.close?.();
      const memory = pickStore({ STORE: 'memory' }, dir);
      assert.equal(memory.label, 'memory');
      assert.equal(memory.durable, false);
      assert.throws(
        () => pickStore({ STORE: 'mongodb://x' }, dir),
        /^Error: STORE=mongodb:\/\/x is not supported by the demo; use one of: sqlite\[:<file>\], memory, file\[:<dir>\], redis:\/\/.*, postgres:\/\/.*, cookie \(default sqlite\)$/,
      );
      assert.throws(() => pickStore({ STORE: 'redis' }, dir), /STORE=redis is not a URL with a host; for example STORE=redis:\/\/127\.0\.0\.1:6379/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('picks file, cookie, Redis and PostgreSQL stores from STORE, showing no password', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-demo-config-'));
    const opened: { store: { close?: () => unknown } }[] = [];
    const pick = (STORE: string) => {
      const choice = pickStore({ STORE }, dir);
      opened.push(choice);
      return choice;
    };
    try {
      assert.equal(pick('file').where, `in one file per session under ${join(dir, 'sessions')}`);
      assert.equal(pick(`file:${join(dir, 'other')}`).where, `in one file per session under ${join(dir, 'other')}`);
      const cookie = pick('cookie');
      assert.equal(cookie.label, 'encrypted cookie');
      assert.equal(cookie.serverSide, false);
      const redis = pick('redis://:hunter2@127.0.0.1:6390/3?prefix=demo:');
      assert.equal(redis.label, 'Redis');
      assert.equal(redis.where, 'in Redis at 127.0.0.1:6390/3 (keys under demo:)');
      const postgres = pick('postgresql://app:hunter2@db.internal/sessions?table=demo_sessions');
      assert.equal(postgres.label, 'PostgreSQL');
      assert.equal(postgres.where, 'in the PostgreSQL table demo_sessions at db.internal:5432/sessions');
      assert.throws(() => pick('postgres://db.internal/app?table=no-dashes'), /table/);
    } finally {
      for (const choice of opened) await choice.store.close?.();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('uses SESSION_SECRET when set, and requires it in production', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-demo-config-'));
    try {
      const given = 'a-session-secret-of-at-least-32-bytes!!';
      assert.deepEqual(demoSecret({ SESSION_SECRET: given }, dir), { secret: given, source: 'SESSION_SECRET' });
      assert.throws(() => demoSecret({ NODE_ENV: 'production' }, dir), /set SESSION_SECRET/);
      const first = demoSecret({}, dir);
      assert.equal(first.source, 'generated');
      assert.ok(Buffer.byteLength(first.secret) >= 32);
      assert.equal(demoSecret({}, dir).secret, first.secret, 'read back on the next start');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('sends a Secure __Host- cookie when NODE_ENV=production', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-demo-prod-'));
    const demo = await startDemo({
      port: 0,
      host: '127.0.0.1',
      dataDir: dir,
      env: { NODE_ENV: 'production', SESSION_SECRET: 'a-session-secret-of-at-least-32-bytes!!', STORE: 'memory' },
      log: () => {},
    });
    try {
      const client = new Client(demo.url);
      await client.increment();
      assert.match(client.lastSetCookie[0]!, /^__Host-tessera=.*; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    } finally {
      await demo.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('demo on every store', () => {
  for (const c of STORE_CASES) {
    it(`STORE=${c.name}: names the store, counts 1, 2, and /clear starts again at 1`, { skip: c.skip }, async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'tessera-demo-store-'));
      let demo: Demo | undefined;
      try {
        demo = await startDemo({ port: 0, host: '127.0.0.1', dataDir, env: { NODE_ENV: 'test', STORE: c.store(dataDir) }, log: () => {} });
        const client = new Client(demo.url);
        const home = await client.get('/');
        assert.equal(home.status, 200);
        assert.match(home.body, new RegExp(`Session store in use: ${c.label.source}`));
        assert.equal(await client.increment(), 1);
        assert.equal(await client.increment(), 2);
        assert.match((await client.get('/')).body, /counter is at <strong>2<\/strong>/);
        const copy = client.cookie;

        const cleared = await client.get('/clear');
        assert.equal(cleared.status, 200);
        assert.match(cleared.body, /session was destroyed/);
        assert.equal(client.cookie, undefined, 'the cookie is cleared');
        assert.equal(await client.increment(), 1, 'a new session after /clear');
        const replay = new Client(demo.url);
        replay.cookie = copy;
        assert.equal(await replay.increment(), 1, 'a copy of the cleared cookie opens nothing (the sealed cookie: revoked)');
        await client.get('/clear');
      } finally {
        await demo?.close();
        await c.cleanup?.();
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  }
});
