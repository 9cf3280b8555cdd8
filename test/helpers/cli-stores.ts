/**
 * Stores for the CLI's tests, each a fresh place the app (a Tessera in the test) and the CLI (by
 * its `--store` URL) both reach: a SQLite file, a store folder, a PostgreSQL table, a Redis key
 * prefix. PostgreSQL and Redis are the real servers (test/helpers/services.ts), skipped with a
 * reason when down; {@link dropAll} removes what the tests made.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { FileStore } from '../../src/stores/file.js';
import { PostgresStore } from '../../src/stores/postgres.js';
import { RedisStore } from '../../src/stores/redis.js';
import { SqliteStore } from '../../src/stores/sqlite.js';
import type { SessionStore } from '../../src/stores/store.js';
import { PG_URL, REDIS_URL, serviceSkip } from './services.js';

/** A place for sessions: its `--store` URL, and a store on it for the app's side. */
export interface CliStore {
  readonly url: string;
  open(): SessionStore;
}

/** A kind of store: a new place each call, or the reason its tests are skipped. */
export interface CliStoreKind {
  readonly name: 'sqlite' | 'file' | 'postgres' | 'redis';
  readonly skip: string | false;
  fresh(): CliStore;
}

const RUN = `${process.pid}_${randomUUID().slice(0, 8)}`;
const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
const tables = new Set<string>();
const prefixes = new Set<string>();
let counter = 0;

const pgSkip = await serviceSkip('PostgreSQL', PG_URL);
const redisSkip = await serviceSkip('Redis', REDIS_URL);

/** A PostgreSQL table name no other test process uses; dropped by {@link dropAll}. */
export function uniqueTable(): string {
  const table = `tessera_cli_${RUN}_${counter++}`;
  tables.add(table);
  return table;
}

/** A fresh path under this run's temporary folder. */
export function tempPath(name: string): string {
  return join(dir, `${counter++}-${name}`);
}

export const STORE_KINDS: readonly CliStoreKind[] = [
  {
    name: 'sqlite',
    skip: false,
    fresh() {
      const path = tempPath('sessions.db');
      return { url: `sqlite:${path}`, open: () => new SqliteStore({ path }) };
    },
  },
  {
    name: 'file',
    skip: false,
    fresh() {
      const folder = tempPath('sessions');
      return { url: `file:${folder}`, open: () => new FileStore({ dir: folder }) };
    },
  },
  {
    name: 'postgres',
    skip: pgSkip,
    fresh() {
      const table = uniqueTable();
      const separator = PG_URL.includes('?') ? '&' : '?';
      return { url: `${PG_URL}${separator}table=${table}`, open: () => new PostgresStore({ connectionString: PG_URL, table }) };
    },
  },
  {
    name: 'redis',
    skip: redisSkip,
    fresh() {
      const prefix = `tessera-cli-test:${RUN}:${counter++}:`;
      prefixes.add(prefix);
      return { url: `${REDIS_URL}?prefix=${encodeURIComponent(prefix)}`, open: () => new RedisStore({ url: REDIS_URL, prefix }) };
    },
  },
];

/** Remove the files, tables and keys the tests made. */
export async function dropAll(): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  if (tables.size > 0 && !pgSkip) {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 1, allowExitOnIdle: true });
    for (const table of tables) await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_act" CASCADE`);
    await pool.end();
  }
  if (prefixes.size > 0 && !redisSkip) {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    for (const prefix of prefixes) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    }
    await redis.quit();
  }
}
