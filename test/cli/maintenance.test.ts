/**
 * `tessera keygen`, `tessera cleanup` and `tessera migrate`, run as a child process. Cleanup works
 * on records the app wrote already expired (its clock set back a month): the CLI uses the real clock.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { Keyring } from '../../src/crypto/keyring.js';
import { Tessera } from '../../src/manager.js';
import { tessera, tesseraJson } from '../helpers/cli.js';
import { STORE_KINDS, dropAll, tempPath, uniqueTable, type CliStore } from '../helpers/cli-stores.js';
import { PG_URL, REDIS_URL } from '../helpers/services.js';

const SECRET = 'cli-test-secret-0123456789abcdefghijklmnop';
const DAY = 86_400_000;

after(dropAll);

/** `expired` sessions written a month ago (long expired now) and `live` ones written now. */
async function populate(place: CliStore, expired: number, live: number): Promise<void> {
  const old = new Tessera({ secrets: [SECRET], store: place.open(), cleanupInterval: 0, logger: {}, csrf: false, now: () => Date.now() - 30 * DAY });
  const now = new Tessera({ secrets: [SECRET], store: place.open(), cleanupInterval: 0, logger: {}, csrf: false });
  try {
    for (let i = 0; i < expired; i++) await old.create({ userId: `old${i % 3}`, data: { i } });
    for (let i = 0; i < live; i++) await now.create({ userId: `new${i}`, data: { i } });
  } finally {
    await old.close();
    await now.close();
  }
}

describe('tessera keygen', () => {
  it('prints a new secret that the keyring takes, and how to rotate on standard error', async () => {
    const [a, b] = await Promise.all([tessera(['keygen']), tessera(['keygen'])]);
    assert.equal(a.code, 0);
    assert.match(a.stdout, /^[A-Za-z0-9_-]{43}\n$/);
    assert.notEqual(a.stdout, b.stdout);
    const secret = a.stdout.trim();
    assert.doesNotThrow(() => Keyring.from([secret]));
    assert.match(a.stderr, /TESSERA_SECRETS="<this one>,<the current one>"/);
  });
});

describe('tessera cleanup', () => {
  for (const kind of STORE_KINDS.filter((k) => k.name !== 'redis')) {
    it(`removes the expired sessions of a ${kind.name} store and keeps the live ones`, { skip: kind.skip }, async () => {
      const place = kind.fresh();
      await populate(place, 25, 2);
      const run = await tessera(['cleanup', '--store', place.url]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, 'removed 25 expired sessions\n');
      // Not a terminal: plain lines, and the total where the store can count it.
      assert.match(run.stderr, kind.name === 'file' ? /^removing expired sessions: 25 {2}[\d.]+s done$/m : /^removing expired sessions: 100% {2}25\/25 {2}[\d.]+s done$/m);

      if (kind.name === 'sqlite') {
        const db = new Database(place.url.slice('sqlite:'.length), { readonly: true });
        assert.equal((db.prepare('SELECT count(*) AS n FROM tessera_sessions').get() as { n: number }).n, 2);
        db.close();
      }
      if (kind.name === 'postgres') {
        const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
        const table = new URL(place.url).searchParams.get('table')!;
        assert.equal((await pool.query(`SELECT count(*)::int AS n FROM "${table}"`)).rows[0].n, 2);
        await pool.end();
      }
      const stats = await tesseraJson<{ sessions: number }>(['stats', '--store', place.url, '--json']);
      assert.equal(stats.sessions, 2);
      const again = await tesseraJson<{ removed: number }>(['cleanup', '--store', place.url, '--json', '--quiet']);
      assert.deepEqual(again, { removed: 0 });
    });
  }

  it('says there is nothing to clean up in Redis, which expires sessions itself', { skip: STORE_KINDS.find((k) => k.name === 'redis')!.skip }, async () => {
    const run = await tessera(['cleanup', '--store', `${REDIS_URL}?prefix=tessera-cli-nothing:`]);
    assert.equal(run.code, 0);
    assert.match(run.stderr, /Redis expires sessions itself: nothing to clean up/);
  });
});

describe('tessera migrate', () => {
  const postgres = STORE_KINDS.find((k) => k.name === 'postgres')!;

  it('creates a PostgreSQL table and its indexes, which the other commands need, and can run again', { skip: postgres.skip }, async () => {
    const table = uniqueTable();
    const store = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}table=${table}`;
    const before = await tessera(['sessions', 'list', '--store', store]);
    assert.equal(before.code, 1);
    assert.match(before.stderr, /does not exist.*tessera migrate/);

    const run = await tessera(['migrate', '--store', store]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `PostgreSQL: table ${table} and its indexes are in place\n`);
    const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
    try {
      const names = [table, `${table}_expires`, `${table}_user`, `${table}_tenant`];
      const found = await pool.query<{ name: string | null }>('SELECT to_regclass(n)::text AS name FROM unnest($1::text[]) AS n', [names]);
      assert.deepEqual(found.rows.map((r) => r.name), names);
    } finally {
      await pool.end();
    }
    assert.equal((await tessera(['migrate', '--store', store])).code, 0);
    const after = await tessera(['sessions', 'list', '--store', store]);
    assert.equal(after.code, 0, after.stderr);
    assert.equal(after.stdout, 'no sessions\n');
  });

  it('creates a SQLite database and a store folder, and has nothing to do for Redis', async () => {
    const file = tempPath('new.db');
    const sqlite = await tessera(['migrate', '--store', `sqlite:${file}?table=app_sessions`]);
    assert.equal(sqlite.code, 0, sqlite.stderr);
    assert.equal(sqlite.stdout, `SQLite: table app_sessions in ${file} is in place\n`);
    assert.equal((await tessera(['sessions', 'list', '--store', `sqlite:${file}?table=app_sessions`])).stdout, 'no sessions\n');

    const folder = tempPath('folder');
    const files = await tessera(['migrate', '--store', `file:${folder}`]);
    assert.equal(files.code, 0, files.stderr);
    assert.ok(existsSync(folder));

    if (!STORE_KINDS.find((k) => k.name === 'redis')!.skip) {
      const redis = await tessera(['migrate', '--store', REDIS_URL]);
      assert.equal(redis.code, 0, redis.stderr);
      assert.match(redis.stdout, /Redis: nothing to migrate/);
    }
  });
});
