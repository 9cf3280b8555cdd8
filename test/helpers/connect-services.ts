/**
 * The real services behind express-session's own stores (connect-redis on a `redis` v5 client,
 * connect-pg-simple on a `pg` pool), for the tests that run them: each skipped, saying why, when
 * its service is down. {@link ConnectServices.cleanup} removes what a run left: its Redis keys
 * (under its prefix) and its tables.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createClient } from 'redis';
import { PG_URL, REDIS_URL, serviceSkip } from './services.js';

export interface ConnectServices {
  readonly redisSkip: string | false;
  readonly pgSkip: string | false;
  /** A connected client, or `null` when Redis is down. */
  readonly redis: ReturnType<typeof createClient> | null;
  readonly pool: pg.Pool | null;
  /** This run's key prefix: give it to every connect-redis store. */
  readonly run: string;
  /** Tables to drop at the end: push the name of each connect-pg-simple table made. */
  readonly tables: string[];
  cleanup(): Promise<void>;
}

/** Connect to the services; `name` goes into the run's key prefix. */
export async function connectServices(name: string): Promise<ConnectServices> {
  const redisSkip = await serviceSkip('Redis', REDIS_URL);
  const pgSkip = await serviceSkip('PostgreSQL', PG_URL);
  const run = `tessera-${name}:${process.pid}-${randomUUID().slice(0, 8)}:`;
  const redis = redisSkip ? null : createClient({ url: REDIS_URL });
  if (redis) await redis.connect();
  const pool = pgSkip ? null : new pg.Pool({ connectionString: PG_URL, max: 4, allowExitOnIdle: true });
  const tables: string[] = [];
  return {
    redisSkip,
    pgSkip,
    redis,
    pool,
    run,
    tables,
    async cleanup() {
      if (redis) {
        const keys: string[] = [];
        for await (const batch of redis.scanIterator({ MATCH: `${run}*`, COUNT: 1_000 })) keys.push(...batch);
        if (keys.length > 0) await redis.del(keys);
        await redis.quit();
      }
      if (pool) {
        for (const table of tables) await pool.query(`DROP TABLE IF EXISTS "${table}"`);
        await pool.end();
      }
    },
  };
}
