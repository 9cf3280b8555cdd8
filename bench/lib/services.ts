/**
 * The networked services some scenarios need (Redis, PostgreSQL): where they are, whether they
 * answer, and the client settings the bench's raw baselines share with tessera's stores.
 *
 * The URLs are the tests' (`TESSERA_REDIS_URL`, `TESSERA_PG_URL`, defaulting to the local
 * servers). The probes run in the bench process before any server starts, so a scenario whose
 * service is down is skipped with the reason instead of failing the whole run.
 *
 * @module
 */
import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';
import type * as Pg from 'pg';

/**
 * Redis for the bench: `TESSERA_REDIS_URL`, default `redis://127.0.0.1:6379`.
 *
 * @example
 * ```ts
 * const store = new RedisStore({ url: REDIS_URL, prefix: `${benchName('store')}:` });
 * ```
 */
export const REDIS_URL = process.env.TESSERA_REDIS_URL ?? 'redis://127.0.0.1:6379';
/**
 * PostgreSQL for the bench: `TESSERA_PG_URL`, default `postgres://root@127.0.0.1:5432/test`.
 *
 * @example
 * ```ts
 * const store = new PostgresStore({ connectionString: PG_URL, table: benchName('store') });
 * ```
 */
export const PG_URL = process.env.TESSERA_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';

/**
 * Pool size of both PostgreSQL servers (tessera's store and the raw baseline): pg's default, and
 * the bench's default number of connections.
 *
 * @example
 * ```ts
 * new PostgresStore({ connectionString: PG_URL, poolConfig: { max: PG_POOL_SIZE } });
 * ```
 */
export const PG_POOL_SIZE = 10;
/**
 * Per-query timeout (ms) both PostgreSQL servers set: `PostgresStore`'s default `queryTimeout`.
 *
 * @example
 * ```ts
 * await pool.query({ text, values, query_timeout: PG_QUERY_TIMEOUT } as pg.QueryConfig);
 * ```
 */
export const PG_QUERY_TIMEOUT = 500;

/**
 * Every key and table the bench makes starts with this, then the owning process's PID (see
 * {@link benchName}), so what a killed bench left behind can be found and removed.
 *
 * @example
 * ```ts
 * await client.scan('0', 'MATCH', `${BENCH_PREFIX}*`);
 * ```
 */
export const BENCH_PREFIX = 'tessera_bench_';

const require = createRequire(import.meta.url);

/**
 * The ioredis options `RedisStore` uses for a client it makes from `url` (src/stores/redis-connection.ts),
 * so the raw baseline has the same queueing. No per-command timeout: the store times its calls with
 * one silence check per connection of its own, whose cost is part of the store's overhead.
 *
 * @example
 * ```ts
 * const client = new Redis(REDIS_URL, redisClientOptions());
 * ```
 */
export function redisClientOptions(timeout = 500): IORedis.RedisOptions {
  return {
    enableOfflineQueue: true,
    maxRetriesPerRequest: 0,
    connectTimeout: timeout,
    retryStrategy: (attempt: number) => Math.min(attempt * 100, 1_000),
  };
}

/**
 * The pool settings `PostgresStore` uses for a pool it makes (src/stores/postgres-options.ts), with the
 * bench's pool size, so the raw baseline has the same connections: the same server-side
 * `statement_timeout` and `lock_timeout` (the store's `queryTimeout`) included.
 *
 * @example
 * ```ts
 * const pool = new pg.Pool(pgPoolConfig());
 * ```
 */
export function pgPoolConfig(): Pg.PoolConfig {
  return {
    fallback_application_name: 'tessera',
    connectionTimeoutMillis: 500,
    statement_timeout: PG_QUERY_TIMEOUT,
    lock_timeout: PG_QUERY_TIMEOUT,
    keepAlive: true,
    allowExitOnIdle: true,
    max: PG_POOL_SIZE,
    connectionString: PG_URL,
  };
}

/** `redis://user:secret@host` → `host:port`, for messages (never print a password). */
function where(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol.startsWith('postgres') ? 5432 : 6379)}`;
  } catch {
    return 'an unparsable URL';
  }
}

function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0]);
  return error instanceof Error ? error.message || error.name : String(error);
}

const probes = new Map<string, Promise<string | undefined>>();

/** The result of `probe` for `service`, run once per bench process. */
function probeOnce(service: string, probe: () => Promise<string | undefined>): Promise<string | undefined> {
  let result = probes.get(service);
  if (result === undefined) probes.set(service, (result = probe()));
  return result;
}

/**
 * `undefined` when Redis at {@link REDIS_URL} answers a PING within a second, otherwise why not
 * (the reason a scenario is skipped). Probed once per run.
 *
 * @example
 * ```ts
 * { name: 'redis-raw', ..., skip: redisUnavailable }
 * ```
 */
export function redisUnavailable(): Promise<string | undefined> {
  return probeOnce('redis', async () => {
    let ioredis: typeof IORedis;
    try {
      ioredis = require('ioredis') as typeof IORedis;
    } catch {
      return 'the ioredis package is not installed';
    }
    const client = new ioredis.Redis(REDIS_URL, {
      lazyConnect: true,
      connectTimeout: 1_000,
      commandTimeout: 1_000,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    let cause: unknown = null; // the connection's own error says more than "Connection is closed."
    client.on('error', (error: unknown) => {
      cause ??= error;
    });
    try {
      await client.connect();
      await client.ping();
      return undefined;
    } catch (error) {
      return `Redis not reachable at ${where(REDIS_URL)} (${describe(cause ?? error)}); set TESSERA_REDIS_URL to use another server`;
    } finally {
      client.disconnect();
    }
  });
}

/**
 * `undefined` when PostgreSQL at {@link PG_URL} accepts a connection and a `SELECT 1` within a
 * second or two, otherwise why not. Probed once per run.
 *
 * @example
 * ```ts
 * { name: 'pg-raw', ..., skip: postgresUnavailable }
 * ```
 */
export function postgresUnavailable(): Promise<string | undefined> {
  return probeOnce('postgres', async () => {
    let pg: typeof Pg;
    try {
      pg = require('pg') as typeof Pg;
    } catch {
      return 'the pg package is not installed';
    }
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 1_500, query_timeout: 1_500 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      return undefined;
    } catch (error) {
      return `PostgreSQL not reachable at ${where(PG_URL)} (${describe(error)}); set TESSERA_PG_URL to use another server`;
    } finally {
      await client.end().catch(() => {});
    }
  });
}

/** Whether process `pid` is alive on this machine. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The name of a PostgreSQL table (or a Redis key prefix) owned by this process, e.g.
 * `tessera_bench_4242_raw`. {@link dropStaleTables} removes those of processes that died.
 *
 * @example
 * ```ts
 * const table = benchName('store'); // 'tessera_bench_4242_store'
 * ```
 */
export function benchName(role: string): string {
  return `${BENCH_PREFIX}${process.pid}_${role}`;
}

/**
 * Drop the bench tables of bench servers that are no longer running (killed before they could
 * clean up). Tables of live processes, another engineer's bench run included, are left alone.
 *
 * @example
 * ```ts
 * await dropStaleTables(pool);
 * ```
 */
export async function dropStaleTables(pool: Pg.Pool | Pg.Client): Promise<void> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE '${BENCH_PREFIX}%'`,
  );
  for (const { name } of rows) {
    const pid = Number(/^tessera_bench_(\d+)_/.exec(name)?.[1]);
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) await pool.query(`DROP TABLE IF EXISTS "${name}"`);
  }
}

/**
 * Delete the bench keys of bench servers that are no longer running (their keys expire by
 * themselves, but a day later). Keys of live processes are left alone.
 *
 * @example
 * ```ts
 * await deleteStaleKeys(client);
 * ```
 */
export async function deleteStaleKeys(client: IORedis.Redis): Promise<void> {
  const dead = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${BENCH_PREFIX}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const pid = Number(/^tessera_bench_(\d+)_/.exec(key)?.[1]);
      if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) dead.add(key);
    }
  } while (cursor !== '0');
  if (dead.size > 0) await client.unlink(...dead);
}

/**
 * Delete every Redis key starting with `prefix` (SCAN, then UNLINK in batches).
 *
 * @example
 * ```ts
 * await deleteKeys(client, `${benchName('store')}:`);
 * ```
 */
export async function deleteKeys(client: IORedis.Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) count += await client.unlink(...keys);
  } while (cursor !== '0');
  return count;
}
