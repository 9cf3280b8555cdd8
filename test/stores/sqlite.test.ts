import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SqliteStore } from '../../src/stores/sqlite.js';
import { storeConformance } from '../../src/stores/conformance.js';
import { ConfigError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

storeConformance({ name: 'sqlite', create: () => new SqliteStore({ path: join(dir, `c${n++}.db`) }) });

describe('SqliteStore', () => {
  it('keeps sessions across a reopen of the file', async () => {
    const path = join(dir, 'reopen', 'sessions.db');
    const now = Date.now();
    const first = new SqliteStore({ path });
    await first.set('k', { data: 'kept', version: 1, expiresAt: now + 60_000, userId: 'u', tenant: null }, 0, { now });
    await first.close();
    const second = new SqliteStore({ path });
    assert.equal((await second.get('k', { now }))?.data, 'kept');
    await second.close();
  });

  it('uses WAL mode and indexes expiry, user and tenant', async () => {
    const path = join(dir, 'schema.db');
    const store = new SqliteStore({ path, table: 'sess' });
    await store.close();
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    const indexes = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sess'`).all() as { name: string }[]).map((r) => r.name);
    for (const name of ['sess_expires', 'sess_user', 'sess_tenant']) assert.ok(indexes.includes(name), `${name} exists`);
    db.close();
  });

  it('cleans expired rows in batches', async () => {
    const store = new SqliteStore({ path: join(dir, 'batch.db'), cleanupBatch: 7 });
    const now = Date.now();
    for (let i = 0; i < 50; i++) await store.set(`k${i}`, { data: 'x', version: 1, expiresAt: now + (i < 30 ? 10 : 60_000), userId: null, tenant: null }, 0, { now });
    assert.equal(await store.deleteExpired({ now: now + 100 }), 30);
    assert.equal(await store.deleteExpired({ now: now + 100 }), 0);
    await store.close();
  });

  it('creates its folder 0700 and its database, -wal and -shm files 0600, whatever the umask', { skip: process.platform === 'win32' }, async () => {
    const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8);
    const previous = process.umask(0); // the widest umask: nothing private comes from it
    try {
      const parent = join(dir, 'private');
      const path = join(parent, 'nested', 'sessions.db');
      const store = new SqliteStore({ path });
      const now = Date.now();
      await store.set('k', { data: 'x', version: 1, expiresAt: now + 60_000, userId: null, tenant: null }, 0, { now });
      assert.equal(mode(parent), '700');
      assert.equal(mode(join(parent, 'nested')), '700');
      for (const file of [path, `${path}-wal`, `${path}-shm`]) assert.equal(mode(file), '600', file);
      await store.close();
    } finally {
      process.umask(previous);
    }
  });

  it('leaves a folder and a database file that already exist as they are', { skip: process.platform === 'win32' }, async () => {
    const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8);
    const folder = join(dir, 'given');
    mkdirSync(folder, { mode: 0o750 });
    const path = join(folder, 'shared.db');
    writeFileSync(path, '', { mode: 0o640 });
    await new SqliteStore({ path }).close();
    assert.equal(mode(folder), '750');
    assert.equal(mode(path), '640');
  });

  it('refuses a table name that is not an identifier', () => {
    assert.throws(() => new SqliteStore({ path: ':memory:', table: 'x; DROP TABLE y' }), ConfigError);
  });
});
