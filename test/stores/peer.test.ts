/**
 * loadPeer: the drivers stores load when they are made. A missing one — simulated by pointing its
 * name at a package that does not exist — is a ConfigError naming the package and the command
 * that installs it, from every store that needs one.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { ConfigError } from '../../src/errors.js';
import { loadPeer, substitutePeer, type PeerName } from '../../src/stores/peer.js';
import { PostgresStore } from '../../src/stores/postgres.js';
import { RedisStore } from '../../src/stores/redis.js';
import { SqliteStore } from '../../src/stores/sqlite.js';

const NOT_INSTALLED = 'tessera-test-not-installed';
const BROKEN = fileURLToPath(new URL('../fixtures/broken-peer.cjs', import.meta.url));
const PEERS: PeerName[] = ['better-sqlite3', 'ioredis', 'pg'];

/** Runs `body` with `name` missing. */
function without<T>(name: PeerName, body: () => T): T {
  substitutePeer(name, NOT_INSTALLED);
  try {
    return body();
  } finally {
    substitutePeer(name, undefined);
  }
}

/** An assert.throws validator: the missing-package ConfigError for `name`, thrown by `store`. */
function missing(name: PeerName, store: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof ConfigError, `a ConfigError, not ${String(error)}`);
    assert.equal(error.code, 'ERR_CONFIG');
    assert.ok(error.message.includes(`${store} needs the ${name} package`), error.message);
    assert.ok(error.message.includes(`npm install ${name}`), error.message);
    return true;
  };
}

describe('loadPeer', () => {
  after(() => {
    for (const name of PEERS) substitutePeer(name, undefined);
  });

  it('loads an installed package from tessera’s folder', () => {
    const require = createRequire(import.meta.url);
    for (const name of PEERS) assert.equal(loadPeer(name, 'test'), require(name), name);
  });

  it('throws one ConfigError, naming the package and its install command, when it is missing', () => {
    for (const name of PEERS) {
      assert.throws(() => without(name, () => loadPeer(name, 'SomeStore')), missing(name, 'SomeStore'));
    }
  });

  it('passes on the error of a package that is there but broken', () => {
    substitutePeer('pg', BROKEN);
    try {
      assert.throws(
        () => loadPeer('pg', 'PostgresStore'),
        (error: unknown) => !(error instanceof ConfigError) && (error as { code?: string }).code === 'MODULE_NOT_FOUND',
      );
    } finally {
      substitutePeer('pg', undefined);
    }
  });

  it('is what RedisStore, PostgresStore and SqliteStore load their drivers with', () => {
    assert.throws(() => without('ioredis', () => new RedisStore({ url: 'redis://127.0.0.1:6379' })), missing('ioredis', 'RedisStore'));
    assert.throws(
      () => without('pg', () => new PostgresStore({ connectionString: 'postgres://127.0.0.1:5432/test' })),
      missing('pg', 'PostgresStore'),
    );
    assert.throws(() => without('better-sqlite3', () => new SqliteStore({ path: ':memory:' })), missing('better-sqlite3', 'SqliteStore'));
  });

  it('is not needed by a store given an open client', async () => {
    const db = new Database(':memory:');
    await without('better-sqlite3', () => new SqliteStore({ database: db })).close();
    assert.ok(db.open, 'the store leaves a database it was given open');
    db.close();
    const pool = new pg.Pool({ connectionString: 'postgres://127.0.0.1:1/none' });
    await without('pg', () => new PostgresStore({ pool })).close();
    await pool.end();
  });
});
