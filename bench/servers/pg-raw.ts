/**
 * Baseline for the PostgreSQL scenarios: a bare node:http server doing one raw `SELECT` per
 * request with pg, then answering "hello". The pool has the settings and size `PostgresStore`'s
 * pool has in `pg-read` (see `pgPoolConfig`), each query the same 0.5 s timeout, and the table is
 * tessera's own schema (`postgresMigrationSql`) holding one session-shaped row per connection of
 * the load generator, read by primary key with a named (prepared) statement, as `PostgresStore`
 * sends its own by default:
 *
 *   SELECT data FROM tessera_bench_<pid>_raw WHERE key = $1
 *
 * The difference between this and `pg-read` is what tessera adds on top of the database round
 * trip. The table is dropped when the bench ends.
 *
 * `--unnamed` sends the statement unnamed instead (parsed and planned by the server on every
 * request, as `PostgresStore` does with `preparedStatements: false`). A reference point
 * (`pg-raw-unnamed`): what preparing saves.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { postgresMigrationSql } from '../../src/stores/postgres.js';
import { serveBench } from '../lib/serve.js';
import { benchName, dropStaleTables, PG_QUERY_TIMEOUT, pgPoolConfig } from '../lib/services.js';

serveBench(async ({ args, connections, anomaly }) => {
  const unnamed = args.unnamed === 'true';
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
  const text = `SELECT data FROM "${table}" WHERE key = $1`;
  const name = unnamed ? undefined : 'tessera_bench_raw_get';

  return {
    description: `node:http + pg SELECT data … WHERE key = $1${unnamed ? ', unnamed' : ' (named statement)'} (PostgresStore's pool settings, ${pgPoolConfig().max} connections), ${connections} rows`,
    handler: async (req, res) => {
      try {
        const values = [req.headers['x-bench-key']];
        const { rows } = await pool.query({ name, text, values, query_timeout: PG_QUERY_TIMEOUT } as pg.QueryConfig);
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
