/**
 * PostgresStore against the real PostgreSQL at PG_URL (skipped with a reason when it is not
 * reachable, a failure with TESSERA_REQUIRE_SERVICES=1). Every store gets its own table, named
 * after this process, and every table is dropped at the end: other test processes may share the
 * database. Fault tests put a TCP proxy between the store and the server.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { nodeSessions } from '../../src/adapters/node.js';
import { generateId } from '../../src/crypto/ids.js';
import { ConfigError, SessionStateError, StoreUnavailableError } from '../../src/errors.js';
import { Tessera } from '../../src/manager.js';
import { storeConformance } from '../../src/stores/conformance.js';
import { PostgresStore, postgresMigrationSql, type PostgresStoreOptions } from '../../src/stores/postgres.js';
import type { StoreRecord } from '../../src/stores/store.js';
import { FaultProxy } from '../helpers/proxy.js';
import { PG_URL, serviceSkip } from '../helpers/services.js';

const skip = await serviceSkip('PostgreSQL', PG_URL);
const HOUR = 3_600_000;
/** Upper bound for "fails quickly" in the fault tests (the stores there use 1 s connection timeouts). */
const QUICK_MS = 3_000;

// ------------------------------------------------------------------ tables of this process

const admin = skip ? null : new pg.Pool({ connectionString: PG_URL, max: 3, allowExitOnIdle: true });
const tables = new Set<string>();
const schemas = new Set<string>();
let counter = 0;

/** A table name no other test process uses; dropped after the file. */
function uniqueTable(label = 't'): string {
  const name = `tessera_${label}${process.pid}_${counter++}`;
  tables.add(name);
  return name;
}

after(async () => {
  if (!admin) return;
  for (const table of tables) await admin.query(`DROP TABLE IF EXISTS "${table}", "${table}_act" CASCADE`);
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

function store(options: PostgresStoreOptions = {}): PostgresStore {
  return new PostgresStore({ connectionString: PG_URL, table: uniqueTable(), connectionTimeout: 1_000, ...options });
}

function record(over: Partial<StoreRecord> = {}, now = Date.now()): StoreRecord {
  return { data: '{"d":{}}', version: 1, expiresAt: now + HOUR, userId: null, tenant: null, ...over };
}

async function sql<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  return (await admin!.query<R>(text, values)).rows;
}

/** Resolve when `check` holds, polling; reject after `ms` so no test waits forever. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * How `promise` settled and how long it took. Gives up after `limit` ms (reported as an error), so a
 * call that hangs fails its test, and the test's `finally` still closes everything.
 */
async function timed<T>(promise: Promise<T>, limit = 5_000): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const giveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${limit} ms`)), limit);
  });
  try {
    const value = await Promise.race([promise, giveUp]);
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  } finally {
    clearTimeout(timer);
  }
}

// ------------------------------------------------------------------ conformance

storeConformance({ name: 'postgres', skip, create: () => store() });
storeConformance({ name: 'postgres (preparedStatements: false)', skip, create: () => store({ preparedStatements: false }) });

// ------------------------------------------------------------------ store

describe('PostgresStore', () => {
  it('refuses bad options at construction', () => {
    const bad: [PostgresStoreOptions, RegExp][] = [
      [{ table: 'x; DROP TABLE y' }, /table/],
      [{ table: 'sessions"--' }, /table/],
      [{ table: '1sessions' }, /table/],
      [{ table: 'a'.repeat(56) }, /table/],
      [{ schema: 'my-schema' }, /schema/],
      [{ cleanupBatch: 0 }, /cleanupBatch/],
      [{ cleanupBatch: 1.5 }, /cleanupBatch/],
      [{ connectionTimeout: -1 }, /connectionTimeout/],
      [{ queryTimeout: -1 }, /queryTimeout/],
      [{ preparedStatements: 'false' as unknown as boolean }, /preparedStatements/],
    ];
    for (const [options, message] of bad) {
      assert.throws(() => new PostgresStore({ connectionString: 'postgres://nobody@127.0.0.1:1/x', ...options }), (e: unknown) => e instanceof ConfigError && message.test(e.message), JSON.stringify(options));
    }
    const pool = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/x' });
    assert.throws(() => new PostgresStore({ pool, connectionString: 'postgres://nobody@127.0.0.1:1/x' }), ConfigError);
    assert.throws(() => postgresMigrationSql({ table: 'drop table' }), ConfigError);
    void pool.end();
  });

  it('loads pg only when a store is made', { timeout: 20_000 }, async () => {
    const script = `
      import { createRequire } from 'node:module';
      const mod = await import(${JSON.stringify(fileURLToPath(new URL('../../src/stores/postgres.ts', import.meta.url)))});
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => /[\\\\/]node_modules[\\\\/]pg[\\\\/]/.test(k));
      const before = loaded();
      const store = new mod.PostgresStore({ connectionString: 'postgres://nobody@127.0.0.1:1/x' });
      console.log(JSON.stringify({ before, after: loaded() }));
      await store.close();
    `;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 15_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
      );
    });
    assert.deepEqual(JSON.parse(out.trim()), { before: false, after: true });
  });

  it('creates the table and its indexes on first use, not at construction', { skip }, async () => {
    const table = uniqueTable('schema');
    const s = new PostgresStore({ connectionString: PG_URL, table });
    try {
      assert.equal((await sql<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table]))[0]!.t, null, 'nothing is created by the constructor');
      assert.equal(await s.get('k', { now: Date.now() }), null);

      const columns = await sql<{ column_name: string; data_type: string; is_nullable: string }>(
        `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
        [table],
      );
      assert.deepEqual(
        columns.map((c) => `${c.column_name} ${c.data_type} ${c.is_nullable === 'YES' ? 'null' : 'not null'}`),
        ['key text not null', 'data text not null', 'version bigint not null', 'expires_at bigint not null', 'user_id text null', 'tenant text null'],
      );
      const primary = await sql<{ column: string }>(
        `SELECT a.attname AS column FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
         WHERE i.indrelid = $1::regclass AND i.indisprimary`,
        [table],
      );
      assert.deepEqual(primary.map((r) => r.column), ['key']);

      const indexes = new Map((await sql<{ indexname: string; indexdef: string }>('SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1', [table])).map((r) => [r.indexname, r.indexdef]));
      assert.match(indexes.get(`${table}_expires`) ?? '', /\(expires_at\)/);
      assert.match(indexes.get(`${table}_user`) ?? '', /\(user_id, tenant\) WHERE \(user_id IS NOT NULL\)/);
      assert.match(indexes.get(`${table}_tenant`) ?? '', /\(tenant\) WHERE \(tenant IS NOT NULL\)/);
    } finally {
      await s.close();
    }
  });

  it('serves by-user listing and cleanup from the indexes', { skip }, async () => {
    const table = uniqueTable('plan');
    const s = new PostgresStore({ connectionString: PG_URL, table });
    const client = await admin!.connect();
    try {
      await s.migrate();
      await client.query('BEGIN');
      // With sequential scans priced out, the planner shows which index a lookup can use.
      await client.query('SET LOCAL enable_seqscan = off');
      const plan = async (text: string, values: unknown[]) =>
        (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values)).rows.map((r) => r['QUERY PLAN']).join('\n');
      assert.match(await plan(`SELECT key FROM "${table}" WHERE user_id = $1 AND expires_at > $2`, ['u', 0]), new RegExp(`${table}_user`));
      assert.match(await plan(`SELECT key FROM "${table}" WHERE user_id = $1 AND tenant = $2 AND expires_at > $3`, ['u', 't', 0]), new RegExp(`${table}_user`));
      assert.match(await plan(`SELECT key FROM "${table}" WHERE expires_at <= $1 LIMIT 500`, [0]), new RegExp(`${table}_expires`));
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
      await s.close();
    }
  });

  it('puts the table in the configured schema', { skip }, async () => {
    const schema = `tessera_schema${process.pid}_${counter++}`;
    schemas.add(schema);
    await sql(`CREATE SCHEMA "${schema}"`);
    const s = new PostgresStore({ connectionString: PG_URL, schema, table: 'sessions' });
    const now = Date.now();
    try {
      assert.equal(await s.set('k', record({ data: 'in schema' }, now), 0, { now }), true);
      assert.deepEqual(await sql(`SELECT key, data FROM "${schema}".sessions`), [{ key: 'k', data: 'in schema' }]);
      const indexes = await sql<{ indexname: string }>('SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname', [schema]);
      assert.deepEqual(indexes.map((r) => r.indexname), ['sessions_act_at', 'sessions_act_exp', 'sessions_act_pkey', 'sessions_expires', 'sessions_pkey', 'sessions_tenant', 'sessions_user']);
    } finally {
      await s.close();
    }
  });

  it('migrate() is idempotent, keeps data, and concurrent migrations of one table do not collide', { skip, timeout: 20_000 }, async () => {
    const table = uniqueTable('migrate');
    // Several servers starting at once against an empty database.
    const racers = Array.from({ length: 6 }, () => new PostgresStore({ connectionString: PG_URL, table, poolConfig: { max: 1 } }));
    try {
      await Promise.all(racers.map((r) => r.migrate()));
      const now = Date.now();
      const s = racers[0]!;
      await s.set('kept', record({ data: 'before' }, now), 0, { now });
      await s.migrate();
      await s.migrate();
      assert.equal((await s.get('kept', { now }))?.data, 'before');
      const indexes = await sql<{ n: string }>('SELECT count(*)::text AS n FROM pg_indexes WHERE tablename = $1', [table]);
      assert.equal(indexes[0]!.n, '4', 'primary key + expires + user + tenant, no duplicates');
    } finally {
      await Promise.all(racers.map((r) => r.close()));
    }
  });

  it('runs on a schema made by an operator from postgresMigrationSql(), with createTable: false', { skip }, async () => {
    const table = uniqueTable('ops');
    const text = postgresMigrationSql({ table });
    assert.match(text, /^BEGIN;/);
    assert.match(text, /COMMIT;\s*$/);
    await admin!.query(text);
    await admin!.query(text); // running it twice is harmless
    const s = new PostgresStore({ connectionString: PG_URL, table, createTable: false });
    const now = Date.now();
    try {
      assert.equal(await s.set('k', record({ userId: 'u' }, now), 0, { now }), true);
      assert.deepEqual((await s.listByUser('u', null, { now })).map((r) => r.key), ['k']);
    } finally {
      await s.close();
    }
  });

  it('passes SQL errors on unchanged: a missing table with createTable: false is not "unavailable"', { skip }, async () => {
    const s = new PostgresStore({ connectionString: PG_URL, table: uniqueTable('missing'), createTable: false });
    try {
      await assert.rejects(s.get('k', { now: Date.now() }), (e: unknown) => !(e instanceof StoreUnavailableError) && (e as { code?: string }).code === '42P01');
    } finally {
      await s.close();
    }
  });

  it('uses one query per read and per write once the table is known', { skip }, async () => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    const s = new PostgresStore({ pool, table: uniqueTable('trips') });
    let queries = 0;
    pool.on('acquire', () => queries++);
    const now = Date.now();
    const ctx = { now };
    const count = async (fn: () => Promise<unknown>): Promise<number> => {
      const start = queries;
      await fn();
      return queries - start;
    };
    try {
      await s.get('warm-up', ctx);
      assert.equal(await count(() => s.get('k', ctx)), 1, 'get');
      assert.equal(await count(() => s.set('k', record({ userId: 'u' }, now), 0, ctx)), 1, 'create');
      assert.equal(await count(() => s.set('k', record({ version: 2, userId: 'u' }, now), 1, ctx)), 1, 'update');
      assert.equal(await count(() => s.set('k', record({ version: 2 }, now), 1, ctx)), 1, 'conflicting update');
      assert.equal(await count(() => s.listByUser('u', null, ctx)), 1, 'listByUser');
      assert.equal(await count(() => s.delete('k', ctx)), 1, 'delete');
    } finally {
      await s.close();
      await pool.end();
    }
  });

  it('cleans up exactly the expired rows, in batches, skipping rows another transaction holds', { skip, timeout: 20_000 }, async () => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    const table = uniqueTable('cleanup');
    const s = new PostgresStore({ pool, table, cleanupBatch: 7 });
    const now = Date.now();
    const client = await admin!.connect();
    try {
      for (let i = 0; i < 50; i++) {
        await s.set(`k${i}`, record({ expiresAt: i < 30 ? now + 10 : now + 10_000 + i }, now), 0, { now });
      }
      // Exactly at its expiry a row is expired; one millisecond later than "now" is not.
      await s.set('edge', record({ expiresAt: now + 100 }, now), 0, { now });
      await s.set('edge-live', record({ expiresAt: now + 101 }, now), 0, { now });

      // Another transaction holds one expired row: cleanup must skip it, not wait for it.
      await client.query('BEGIN');
      await client.query(`SELECT key FROM "${table}" WHERE key = 'k0' FOR UPDATE`);
      let statements = 0;
      pool.on('acquire', () => statements++);
      const first = await timed(s.deleteExpired({ now: now + 100 }));
      assert.equal(first.error, undefined);
      assert.equal(first.value, 30, '29 expired rows + edge; k0 is held');
      assert.ok(first.ms < QUICK_MS, `did not wait for the held row (${Math.round(first.ms)} ms)`);
      assert.equal(statements, 6, 'one for the (empty) activity table, then 30 rows in batches of 7: 7 + 7 + 7 + 7 + 2');
      await client.query('COMMIT');

      assert.equal(await s.deleteExpired({ now: now + 100 }), 1, 'k0, once released');
      assert.equal(await s.deleteExpired({ now: now + 100 }), 0);
      const left = (await sql<{ key: string }>(`SELECT key FROM "${table}" ORDER BY key`)).map((r) => r.key);
      const live = ['edge-live', ...Array.from({ length: 20 }, (_, i) => `k${i + 30}`)].sort();
      assert.deepEqual(left, live);
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
      await s.close();
      await pool.end();
    }
  });

  it('accepts a clock with fractions of a millisecond and draws the expiry line exactly', { skip }, async () => {
    const s = store();
    const now = Date.now();
    try {
      assert.equal(await s.set('k', record({ expiresAt: now + 1_000 }, now), 0, { now: now + 0.25 }), true);
      assert.notEqual(await s.get('k', { now: now + 999.75 }), null);
      assert.equal(await s.get('k', { now: now + 1_000 }), null);
      assert.equal(await s.deleteExpired({ now: now + 999.9 }), 0);
      assert.equal(await s.deleteExpired({ now: now + 1_000.1 }), 1);
    } finally {
      await s.close();
    }
  });

  it('leaves a pool it was given open, and rejects calls once closed', { skip }, async () => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
    const s = new PostgresStore({ pool, table: uniqueTable('pool') });
    try {
      assert.equal(pool.listenerCount('error'), 1, 'the store guards the pool against idle-connection errors');
      await s.get('k', { now: Date.now() });
      await s.close();
      await s.close(); // idempotent
      assert.equal(pool.listenerCount('error'), 0, 'and stops when closed');
      assert.deepEqual((await pool.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'the pool still works');
      await assert.rejects(s.get('k', { now: Date.now() }), SessionStateError);
    } finally {
      await pool.end();
    }
  });
});

// ------------------------------------------------------------------ prepared statements

interface Prepared {
  name: string;
  statement: string;
  /** Executions since it was prepared (PostgreSQL 14+ counts each as a generic or a custom plan). */
  runs: number;
  from_sql: boolean;
}

/**
 * The prepared statements of the connection `pool.query` runs on: with `max: 1`, the one
 * connection the store used. (`pg_prepared_statements` lists only the asking session's statements.)
 */
async function preparedOn(pool: pg.Pool): Promise<Prepared[]> {
  assert.equal(pool.totalCount, 1, 'one connection: the store and this query share it');
  return (
    await pool.query<Prepared>('SELECT name, statement, (generic_plans + custom_plans)::int AS runs, from_sql FROM pg_prepared_statements ORDER BY name')
  ).rows;
}

/** Which of the store's statements `text` is, and on which table. */
function kindOf(text: string): string {
  // The delete removes the session's activity rows in the same statement, first.
  text = text.replace(/^\s*WITH a AS \(DELETE FROM "[^"]+_act" WHERE key = \$1\)\s*/, '');
  const match = /^\s*(SELECT data|INSERT INTO|UPDATE|DELETE FROM) "([^"]+)"|^\s*SELECT data, version, expires_at, user_id, tenant FROM "([^"]+)"/.exec(text);
  assert.ok(match, `an unexpected prepared statement: ${text}`);
  const verb = { 'INSERT INTO': 'insert', UPDATE: 'update', 'DELETE FROM': 'delete' }[match[1] ?? ''] ?? 'get';
  return `${verb} ${match[2] ?? match[3]}`;
}

/**
 * The same calls in both modes: get (7 times), insert (once won, once lost), update (once won,
 * once lost on the version), delete, and the rare listByUser and deleteExpired. Checks every answer.
 */
async function exercise(s: PostgresStore, now: number): Promise<void> {
  const ctx = { now };
  assert.equal(await s.get('k', ctx), null);
  assert.equal(await s.set('k', record({ userId: 'u' }, now), 0, ctx), true);
  assert.equal(await s.set('k', record({ data: 'lost' }, now), 0, ctx), false, 'a live row is a conflict');
  assert.equal(await s.set('k', record({ data: 'two', version: 2, userId: 'u' }, now), 1, ctx), true);
  assert.equal(await s.set('k', record({ data: 'stale', version: 2 }, now), 1, ctx), false, 'a stale version is a conflict');
  for (let i = 0; i < 5; i++) assert.deepEqual(await s.get('k', ctx), record({ data: 'two', version: 2, userId: 'u' }, now));
  assert.deepEqual((await s.listByUser('u', null, ctx)).map((r) => r.key), ['k']);
  assert.equal(await s.deleteExpired(ctx), 0);
  await s.delete('k', ctx);
  assert.equal(await s.get('k', ctx), null);
}

describe('PostgresStore prepared statements', () => {
  it('by default prepares get, insert, update and delete once per connection, then only executes them', { skip }, async () => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
    const table = uniqueTable('named');
    const s = new PostgresStore({ pool, table });
    try {
      await exercise(s, Date.now());
      const prepared = await preparedOn(pool);
      for (const p of prepared) {
        assert.match(p.name, /^tessera_[0-9a-f]{16}$/);
        assert.equal(p.from_sql, false, 'prepared by the protocol (Parse), not by a PREPARE statement');
      }
      assert.equal(new Set(prepared.map((p) => p.name)).size, prepared.length, 'one name per statement');
      // One entry per statement, and its count is every call: each was parsed once and then reused
      // (a second Parse of the same name would have failed with "already exists").
      assert.deepEqual(
        Object.fromEntries(prepared.map((p) => [kindOf(p.statement), p.runs])),
        { [`get ${table}`]: 7, [`insert ${table}`]: 2, [`update ${table}`]: 2, [`delete ${table}`]: 1 },
        'listByUser and deleteExpired stay unnamed',
      );
    } finally {
      await s.close();
      await pool.end();
    }
  });

  it('with preparedStatements: false prepares nothing', { skip }, async () => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
    const s = new PostgresStore({ pool, table: uniqueTable('unnamed'), preparedStatements: false });
    try {
      await exercise(s, Date.now());
      assert.deepEqual(await preparedOn(pool), []);
    } finally {
      await s.close();
      await pool.end();
    }
  });

  it('stores on different tables share one pool (and one connection) without their names colliding', { skip }, async () => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
    const [tableA, tableB] = [uniqueTable('shareA'), uniqueTable('shareB')];
    const a = new PostgresStore({ pool, table: tableA });
    const b = new PostgresStore({ pool, table: tableB });
    // A second store on A's table: the same SQL text, so the same names, reused.
    const a2 = new PostgresStore({ pool, table: tableA });
    const now = Date.now();
    const ctx = { now };
    try {
      assert.equal(await a.set('k', record({ data: 'in a' }, now), 0, ctx), true);
      assert.equal(await b.set('k', record({ data: 'in b' }, now), 0, ctx), true);
      assert.equal(await a2.set('k', record({ data: 'in a, again' }, now), 0, ctx), false, 'A already holds k');
      const [readA, readB, readA2] = await Promise.all([a.get('k', ctx), b.get('k', ctx), a2.get('k', ctx)]);
      assert.deepEqual([readA?.data, readB?.data, readA2?.data], ['in a', 'in b', 'in a']);
      assert.equal(await b.set('k', record({ data: 'b2', version: 2 }, now), 1, ctx), true);
      assert.equal(await a2.set('k', record({ data: 'a2', version: 2 }, now), 1, ctx), true);
      assert.equal(await a.set('k', record({ data: 'lost', version: 2 }, now), 1, ctx), false, "a2's write moved A's version on");
      assert.deepEqual([(await a.get('k', ctx))?.data, (await b.get('k', ctx))?.data], ['a2', 'b2']);
      await b.delete('k', ctx);
      assert.equal(await b.get('k', ctx), null);
      assert.equal((await a.get('k', ctx))?.data, 'a2', "deleting B's k leaves A's");

      const prepared = await preparedOn(pool);
      assert.equal(new Set(prepared.map((p) => p.name)).size, prepared.length);
      assert.deepEqual(
        Object.fromEntries(prepared.map((p) => [kindOf(p.statement), p.runs])),
        {
          [`get ${tableA}`]: 4, [`insert ${tableA}`]: 2, [`update ${tableA}`]: 2,
          [`get ${tableB}`]: 3, [`insert ${tableB}`]: 1, [`update ${tableB}`]: 1, [`delete ${tableB}`]: 1,
        },
      );
    } finally {
      await Promise.all([a.close(), b.close(), a2.close()]);
      await pool.end();
    }
  });

  it('a statement that failed to prepare (its table was missing) works once the table exists', { skip }, async () => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
    const table = uniqueTable('late');
    const s = new PostgresStore({ pool, table, createTable: false });
    const now = Date.now();
    try {
      await assert.rejects(s.get('k', { now }), (e: unknown) => !(e instanceof StoreUnavailableError) && (e as { code?: string }).code === '42P01');
      // (pg-pool discards a connection after any error of pool.query, so the retry runs on a new one.)
      await admin!.query(postgresMigrationSql({ table }));
      assert.equal(await s.set('k', record({ data: 'late' }, now), 0, { now }), true);
      assert.equal((await s.get('k', { now }))?.data, 'late');
      assert.deepEqual((await preparedOn(pool)).map((p) => [kindOf(p.statement), p.runs]).sort(), [[`get ${table}`, 1], [`insert ${table}`, 1]]);
    } finally {
      await s.close();
      await pool.end();
    }
  });
});

// ------------------------------------------------------------------ faults

/** A TCP server that accepts connections and never answers: a host that black-holes traffic. */
async function blackHole(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `postgres://root@127.0.0.1:${port}/test`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A proxy that can go silent (`stall()`: bytes are swallowed, connections stay open) and come back. */
class StallProxy {
  readonly #sockets = new Set<Socket>();
  readonly #server: TcpServer;
  stalled = false;
  port = 0;

  constructor(target: URL) {
    this.#server = createTcpServer((client) => {
      const upstream = connect({ host: target.hostname, port: Number(target.port) });
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.on('data', (chunk) => void (this.stalled || upstream.write(chunk)));
      upstream.on('data', (chunk) => void (this.stalled || client.write(chunk)));
      client.on('end', () => upstream.end());
      upstream.on('end', () => client.end());
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as AddressInfo).port;
    const url = new URL(PG_URL);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

interface Reply {
  status: number;
  body: string;
  retryAfter: string | null;
  cookie: string | undefined;
  ms: number;
}

/** A real node:http server with tessera in front of `store`: /health does not touch the session. */
async function serve(s: PostgresStore): Promise<{ tessera: Tessera; request: (path: string, cookie?: string) => Promise<Reply>; stop: () => Promise<void> }> {
  const tessera = new Tessera({ store: s, secrets: ['x'.repeat(32)], cleanupInterval: 0, logger: {} });
  const sessions = nodeSessions(tessera);
  const server: HttpServer = createHttpServer(
    sessions.wrap(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === '/health') return void res.end('up');
      const session = await sessions.load(req, res);
      if (url.pathname === '/login') session.set('name', url.searchParams.get('name'));
      if (url.pathname === '/login' || url.pathname === '/visit') {
        session.set('visits', (session.get<number>('visits') ?? 0) + 1);
        await session.save();
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(session.toJSON()));
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const request = async (path: string, cookie?: string): Promise<Reply> => {
    const started = performance.now();
    const res = await fetch(base + path, { headers: cookie ? { cookie } : {}, signal: AbortSignal.timeout(10_000) });
    const body = await res.text();
    return { status: res.status, body, retryAfter: res.headers.get('retry-after'), cookie: res.headers.getSetCookie()[0]?.split(';')[0], ms: performance.now() - started };
  };
  const stop = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { tessera, request, stop };
}

function assertUnavailable(reply: Reply, what: string): void {
  assert.equal(reply.status, 503, `${what}: ${reply.status} ${reply.body}`);
  assert.match(reply.body, /session store "postgres" is unavailable; try again shortly/, what);
  assert.equal(reply.retryAfter, '1', what);
  assert.ok(reply.ms < QUICK_MS, `${what} answered quickly (${Math.round(reply.ms)} ms)`);
}

describe('PostgresStore faults', () => {
  it('answers 503 while PostgreSQL is unreachable from the start, stays up, and works once it is back', { skip, timeout: 30_000 }, async () => {
    const proxy = await FaultProxy.start(PG_URL);
    proxy.drop();
    const app = await serve(store({ connectionString: proxy.url(PG_URL) }));
    try {
      assert.equal((await app.request('/health')).status, 200);
      assertUnavailable(await app.request('/visit'), 'a new session that writes');
      const cookie = `${app.tessera.cookieName}=${app.tessera.signCookie(generateId())}`;
      assertUnavailable(await app.request('/', cookie), 'a request with a session cookie');
      assertUnavailable(await app.request('/login?name=bob', cookie), 'a login');
      assert.equal((await app.request('/health')).status, 200, 'the process is still up and serving');

      proxy.restore();
      const visit = await app.request('/login?name=bob');
      assert.equal(visit.status, 200, visit.body);
      assert.deepEqual(JSON.parse(visit.body), { name: 'bob', visits: 1 });
      const again = await app.request('/visit', visit.cookie);
      assert.deepEqual(JSON.parse(again.body), { name: 'bob', visits: 2 });
    } finally {
      // The proxy first: it cuts any connection still stuck, so closing the store cannot wait on it.
      await app.stop();
      await proxy.close();
      await app.tessera.close();
    }
  });

  it('answers 503 within 1 s by default when PostgreSQL goes silent (a partition), and recovers by itself once the network is back', { skip, timeout: 30_000 }, async () => {
    const proxy = await FaultProxy.start(PG_URL);
    // The defaults: no timeouts given.
    const app = await serve(new PostgresStore({ connectionString: proxy.url(PG_URL), table: uniqueTable('part') }));
    const within1s = (reply: Reply, what: string) => {
      assertUnavailable(reply, what);
      assert.ok(reply.ms < 1_000, `${what}: 503 in ${Math.round(reply.ms)} ms`);
    };
    try {
      const login = await app.request('/login?name=carol');
      assert.equal(login.status, 200, login.body);
      const cookie = login.cookie!;
      // Several pooled connections, idle when the network goes silent.
      await Promise.all(Array.from({ length: 4 }, () => app.request('/', cookie)));
      proxy.partition();
      const inFlight = await Promise.all(Array.from({ length: 6 }, () => app.request('/visit', cookie)));
      inFlight.forEach((reply, i) => within1s(reply, `request ${i} on a silent connection`));
      // Later requests: new connections get no answer either.
      for (let i = 0; i < 3; i++) within1s(await app.request('/', cookie), `request ${i} while partitioned`);
      assert.equal((await app.request('/health')).status, 200, 'the process is still up');

      proxy.heal();
      let back: Reply | undefined;
      for (const deadline = Date.now() + 5_000; back?.status !== 200 && Date.now() < deadline; ) back = await app.request('/', cookie);
      assert.equal(back?.status, 200, back?.body);
      const { name, visits } = JSON.parse(back!.body) as { name: string; visits: number };
      assert.equal(name, 'carol', 'the session from before the partition');
      // The six writes were held in the network, not lost: delivered when it heals, they reach the
      // server after their callers got 503. All six expected the same version, so compare-and-set
      // lets at most one of them land.
      assert.ok(visits === 1 || visits === 2, `visits ${visits}`);
      assert.deepEqual(JSON.parse((await app.request('/visit', cookie)).body), { name: 'carol', visits: visits + 1 });
    } finally {
      await app.stop();
      await proxy.close();
      await app.tessera.close();
    }
  });

  it('answers 503 when PostgreSQL drops mid-load, and recovers by itself with the data intact', { skip, timeout: 30_000 }, async () => {
    const proxy = await FaultProxy.start(PG_URL);
    const app = await serve(store({ connectionString: proxy.url(PG_URL) }));
    try {
      const login = await app.request('/login?name=alice');
      assert.equal(login.status, 200, login.body);
      const cookie = login.cookie!;
      for (let i = 2; i <= 3; i++) assert.deepEqual(JSON.parse((await app.request('/visit', cookie)).body), { name: 'alice', visits: i });

      // Load: new visitors writing and alice reading, with the database going away in the middle.
      const load = Array.from({ length: 60 }, (_, i) =>
        new Promise((r) => setTimeout(r, i)).then(() => app.request(i % 2 ? '/visit' : '/', i % 2 ? undefined : cookie)),
      );
      setTimeout(() => proxy.drop(), 25);
      const replies = await Promise.all(load);
      const statuses = new Set(replies.map((r) => r.status));
      assert.deepEqual([...statuses].filter((s) => s !== 200 && s !== 503), [], 'only successes and 503s, no 500s');
      for (const reply of replies.filter((r) => r.status === 503)) assertUnavailable(reply, 'a request during the outage');

      assertUnavailable(await app.request('/', cookie), 'reading alice during the outage');
      assertUnavailable(await app.request('/visit'), 'a new visitor during the outage');
      assert.equal((await app.request('/health')).status, 200, 'the process is still up');

      proxy.restore();
      // No reconnect call: the very next request works.
      const back = await app.request('/', cookie);
      assert.equal(back.status, 200, back.body);
      assert.deepEqual(JSON.parse(back.body), { name: 'alice', visits: 3 }, 'data written before the outage is still there');
      assert.deepEqual(JSON.parse((await app.request('/visit', cookie)).body), { name: 'alice', visits: 4 });
      assert.equal((await app.request('/visit')).status, 200, 'new sessions work again');
    } finally {
      // The proxy first: it cuts any connection still stuck, so closing the store cannot wait on it.
      await app.stop();
      await proxy.close();
      await app.tessera.close();
    }
  });

  it('survives pooled connections breaking while idle, and reports them to onError', { skip, timeout: 20_000 }, async () => {
    const proxy = await FaultProxy.start(PG_URL);
    const pool = new pg.Pool({ connectionString: proxy.url(PG_URL), max: 3, connectionTimeoutMillis: 1_000 });
    const idleErrors: Error[] = [];
    const s = new PostgresStore({ pool, table: uniqueTable('idle'), onError: (e) => idleErrors.push(e) });
    const now = Date.now();
    try {
      await Promise.all([s.set('a', record({}, now), 0, { now }), s.set('b', record({}, now), 0, { now })]);
      assert.ok(pool.idleCount >= 1, 'idle connections in the pool');
      // Without the store's listener, the pool's 'error' event would crash this process here.
      proxy.drop();
      await until(() => idleErrors.length > 0 && pool.idleCount === 0, 5_000, 'the idle connections to report their error');
      assert.match(idleErrors[0]!.message, /Connection terminated/);
      await assert.rejects(s.get('a', { now }), StoreUnavailableError);
      proxy.restore();
      assert.notEqual(await s.get('a', { now }), null);
    } finally {
      await proxy.close();
      await s.close();
      await pool.end();
    }
  });

  it('gives up on a server that accepts but never answers after connectionTimeout', { skip, timeout: 20_000 }, async () => {
    const hole = await blackHole();
    const s = new PostgresStore({ connectionString: hole.url, table: uniqueTable('hole'), connectionTimeout: 300 });
    try {
      for (let i = 0; i < 2; i++) {
        const { ms, error } = await timed(s.get('k', { now: Date.now() }));
        assert.ok(error instanceof StoreUnavailableError, `rejects with StoreUnavailableError, got ${String(error)}`);
        assert.ok(ms < 2_000, `within the timeout (${Math.round(ms)} ms)`);
      }
    } finally {
      await hole.close();
      await s.close();
    }
  });

  it('gives up on a query that gets no answer after queryTimeout, and recovers when the server answers again', { skip, timeout: 20_000 }, async () => {
    const proxy = new StallProxy(new URL(PG_URL));
    const url = await proxy.start();
    const s = new PostgresStore({ connectionString: url, table: uniqueTable('stall'), connectionTimeout: 500, queryTimeout: 300 });
    const now = Date.now();
    try {
      assert.equal(await s.set('k', record({ data: 'saved' }, now), 0, { now }), true);
      proxy.stalled = true;
      const { ms, error } = await timed(s.get('k', { now }));
      assert.ok(error instanceof StoreUnavailableError, `rejects with StoreUnavailableError, got ${String(error)}`);
      assert.ok(ms < 2_000, `within the timeout (${Math.round(ms)} ms)`);
      proxy.stalled = false;
      assert.equal((await s.get('k', { now }))?.data, 'saved');
    } finally {
      await proxy.close();
      await s.close();
    }
  });

  it('keeps a call whose answer arrived while the process was blocked for longer than queryTimeout', { skip, timeout: 20_000 }, async () => {
    const s = store({ queryTimeout: 200 });
    const now = Date.now();
    try {
      assert.equal(await s.set('k', record({ data: 'saved' }, now), 0, { now }), true);
      for (let round = 0; round < 2; round++) {
        const reading = s.get('k', { now });
        // pg-pool hands the idle connection out on the next tick, and the query is written then;
        // this tick comes after it. Block the process past the timeout while the answer arrives.
        await new Promise((resolve) => process.nextTick(resolve));
        const until = performance.now() + 1_000;
        while (performance.now() < until);
        const { error } = await timed(reading);
        assert.equal(error, undefined, `round ${round}: the answer that arrived during the block is used, not a timeout`);
      }
      // A call that really gets no answer still times out: see the stalled proxy above.
    } finally {
      await s.close();
    }
  });

  it('a write that hits queryTimeout is cancelled by the server too, and does not land once the lock is released', { skip, timeout: 20_000 }, async () => {
    const table = uniqueTable('cancel');
    const s = new PostgresStore({ connectionString: PG_URL, table, connectionTimeout: 1_000, queryTimeout: 300 });
    const locker = new pg.Client({ connectionString: PG_URL });
    await locker.connect();
    const now = Date.now();
    const running = async (): Promise<number> =>
      (await sql<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE $1`, [`UPDATE "${table}"%`]))[0]!.n;
    try {
      assert.equal(await s.set('k', record({ data: 'before' }, now), 0, { now }), true);
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM "${table}" WHERE key = 'k' FOR UPDATE`);
      const { error } = await timed(s.set('k', record({ data: 'after', version: 2 }, now), 1, { now }));
      assert.ok(error instanceof StoreUnavailableError, `rejects with StoreUnavailableError, got ${String(error)}`);
      // The lock is still held: only a server-side timeout can have ended the blocked UPDATE.
      let left = await running();
      for (const deadline = Date.now() + 2_000; left > 0 && Date.now() < deadline; left = await running()) await new Promise((r) => setTimeout(r, 20));
      assert.equal(left, 0, 'the server cancelled the statement the store gave up on');
      await locker.query('ROLLBACK');
      assert.deepEqual(await sql(`SELECT data, version FROM "${table}" WHERE key = 'k'`), [{ data: 'before', version: '1' }], 'the timed-out write never lands');
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
      await s.close();
    }
  });
});
