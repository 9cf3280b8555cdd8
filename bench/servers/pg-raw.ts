/**
 * Baseline for the PostgreSQL scenarios: a bare node:http server doing one raw `SELECT` per
 * request with pg, then answering "hello". The pool has the settings and size `PostgresStore`'s
 * pool has in `pg-read` (see `pgPoolConfig`), each query the same 10 s timeout, and the table is
 * tessera's own schema (`postgresMigrationSql`) holding one session-shaped row per connection of
 * the load generator, read by primary key:
 *
 *   SELECT data FROM tessera_bench_<pid>_raw WHERE key = $1
 *
 * The difference between this and `pg-read` is what tessera adds on top of the database round
 * trip. The table is dropped when the bench ends.
 *
 * `--query=store` runs `PostgresStore.get`'s statement instead (five columns, and the expiry in
 * the WHERE clause, unnamed as the store sends it). A reference point (`pg-raw-store-query`): it
 * separates the cost of the store's query from the cost of tessera's code.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { postgresMigrationSql } from '../../src/stores/postgres.js';
import { serveBench } from '../lib/serve.js';
import { benchName, dropStaleTables, PG_QUERY_TIMEOUT, pgPoolConfig } from '../lib/services.js';

serveBench(async ({ args, connections, anomaly }) => {
  const storeQuery = args.query === 'store';
  if (!storeQuery && (args.query ?? 'raw') !== 'raw') throw new Error(`bench/servers/pg-raw.ts: unknown --query=${args.query}`);
  const pool = new pg.Pool(pgPoolConfig());
  pool.on('error', () => {}); // an idle connection that broke; the pool replaces it
  await dropStaleTables(pool);
  const table = benchName('raw');
  await pool.query(postgresMigrationSql({ table }));
  const now = Date.now();
  const data = JSON.stringify({ d: { n: 1 }, c: now, s: now, l: null, ip: '127.0.0.1', ua: null });
  const headerSets: Record<string, string>[] = [];
  for (let i = 0; i < connections; i++) {
    const key = createHash('sha256').update(String(i)).digest('hex');
    await pool.query(`INSERT INTO "${table}" (key, data, version, expires_at) VALUES ($1, $2, 1, $3)`, [key, data, now + 86_400_000]);
    headerSets.push({ 'x-bench-key': key });
  }
  const text = storeQuery
    ? `SELECT data, version, expires_at, user_id, tenant FROM "${table}" WHERE key = $1 AND expires_at > $2`
    : `SELECT data FROM "${table}" WHERE key = $1`;

  return {
    description: `node:http + pg ${storeQuery ? "PostgresStore.get's SELECT" : 'SELECT data … WHERE key = $1'} (PostgresStore's pool settings, ${pgPoolConfig().max} connections), ${connections} rows`,
    handler: async (req, res) => {
      try {
        const key = req.headers['x-bench-key'];
        const values = storeQuery ? [key, Date.now()] : [key];
        const { rows } = await pool.query({ text, values, query_timeout: PG_QUERY_TIMEOUT } as pg.QueryConfig);
        if (rows.length === 0) anomaly();
        res.end('hello');
      } catch {
        res.statusCode = 500;
        res.end();
      }
    },
    headerSets,
    close: async () => {
      try {
        await pool.query(`DROP TABLE IF EXISTS "${table}"`);
      } finally {
        await pool.end();
      }
    },
  };
});
