/**
 * The SQL of {@link PostgresStore}: every statement it sends, built once per store as a query
 * config (the hot ones named, so pg prepares them once per connection), and the row they read.
 *
 * @module
 * @internal
 */
import { createHash } from 'node:crypto';
import type * as Pg from 'pg';
import type { Names } from './postgres-schema.js';
import type { StoreRecord } from './store.js';

/**
 * A row of the session table, as pg returns it.
 *
 * @example
 * ```ts
 * const { rows } = await pool.query<Row>(sql.get, [key, whole(ctx.now)]);
 * ```
 */
export interface Row {
  data: string;
  version: string | number;
  expires_at: string | number;
  user_id: string | null;
  tenant: string | null;
}

/**
 * The record in a row.
 *
 * @example
 * ```ts
 * const record = row === undefined ? null : toRecord(row);
 * ```
 */
export function toRecord(row: Row): StoreRecord {
  // bigint columns arrive as strings; versions and millisecond times are far below 2^53.
  return { data: row.data, version: Number(row.version), expiresAt: Number(row.expires_at), userId: row.user_id, tenant: row.tenant };
}

/**
 * A query config with pg's client-side `query_timeout`, which its types leave out.
 *
 * @example
 * ```ts
 * const query: Query = { text: sql, query_timeout: 60_000 };
 * ```
 */
export type Query = Pg.QueryConfig & { query_timeout?: number };

/**
 * One statement's query config, built once per store and passed to every call with its values
 * (`pool.query(statement, values)`), so no query object is built per call. Recent pg copies the
 * config before adding the values; older pg sets `values` and `callback` on it and reads them back
 * in the same synchronous call (`new Query`), so one object serves concurrent calls either way.
 * Only `name` (when prepared) differs between statements.
 *
 * @example
 * ```ts
 * const statement: Statement = { text: 'SELECT 1' };
 * ```
 */
export type Statement = Query;

/**
 * The prepared-statement name of `text`: `tessera_` and 16 hex digits of its SHA-256. pg requires
 * one text per name on a connection, and the text holds the (qualified) table, so stores on
 * different tables that share a pool get different names, and stores on the same table the same.
 */
function statementName(text: string): string {
  return `tessera_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

/**
 * `now` as a whole millisecond for the bigint columns. Flooring keeps every comparison exact:
 * for a whole `expires_at`, `expires_at > now` exactly when `expires_at > floor(now)`. (A
 * fractional `expiresAt` is stored rounded up; the manager checks expiry from the payload anyway.)
 *
 * @example
 * ```ts
 * await pool.query(sql.get, [key, whole(ctx.now)]);
 * ```
 */
export function whole(now: number): number {
  return Math.floor(now);
}

/**
 * The query config of `text`: named when `hot` (pg prepares it once per connection) unless
 * prepared statements are off. Not timed here: the store times each call itself (`timedQuery`).
 *
 * @example
 * ```ts
 * const statement = statementMaker(true);
 * const get = statement('SELECT ...', true); // { name: 'tessera_…', text }
 * ```
 */
export type StatementMaker = (text: string, hot: boolean) => Statement;

/**
 * The {@link StatementMaker} of a store with `preparedStatements: prepared`.
 *
 * @example
 * ```ts
 * const statement = statementMaker(options.prepared);
 * ```
 */
export function statementMaker(prepared: boolean): StatementMaker {
  /** A statement sent unnamed: parsed and planned by the server on every call. */
  const once = (text: string): Statement => ({ text });
  /** A hot statement: named, so pg prepares it once per connection (unless `preparedStatements: false`). */
  const hot = (text: string): Statement => (prepared ? { name: statementName(text), text } : once(text));
  return (text, isHot) => (isHot ? hot(text) : once(text));
}

/**
 * The statements of the session table (the activity table's are in `activity/postgres.ts`).
 *
 * @example
 * ```ts
 * const sql: SessionStatements = sessionStatements(names({}, 'PostgresStore'), statementMaker(true));
 * ```
 */
export interface SessionStatements {
  readonly get: Statement;
  readonly insert: Statement;
  readonly update: Statement;
  readonly delete: Statement;
  readonly deleteExpired: Statement;
  readonly byUser: Statement;
  readonly byUserTenant: Statement;
  readonly page: Statement;
  readonly countLive: Statement;
  readonly exists: Statement;
}

/**
 * The statements of the session table named `n`, made by `statement`.
 *
 * @example
 * ```ts
 * const sql = sessionStatements(n, statementMaker(prepared));
 * const { rows } = await pool.query<Row>(sql.get, [key, whole(ctx.now)]);
 * ```
 */
export function sessionStatements(n: Names, statement: StatementMaker): SessionStatements {
  const cols = 'data, version, expires_at, user_id, tenant';
  const hot = (text: string): Statement => statement(text, true);
  const once = (text: string): Statement => statement(text, false);
  return {
    get: hot(`SELECT ${cols} FROM ${n.table} WHERE key = $1 AND expires_at > $2`),
    // Insert, or take over the key of an expired row: a live row makes it a conflict (0 rows).
    // Concurrent inserts of one key are serialised by the primary key; exactly one wins.
    insert: hot(`INSERT INTO ${n.table} AS t (key, ${cols}) VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (key) DO UPDATE SET data = excluded.data, version = excluded.version,
          expires_at = excluded.expires_at, user_id = excluded.user_id, tenant = excluded.tenant
        WHERE t.expires_at <= $7`),
    // Under READ COMMITTED a concurrent update makes this one re-check its WHERE on the new row:
    // the version no longer matches, so it changes nothing and reports 0 rows.
    update: hot(`UPDATE ${n.table} SET data = $1, version = $2, expires_at = $3, user_id = $4, tenant = $5
        WHERE key = $6 AND version = $7 AND expires_at > $8`),
    // The session's activity goes with it, in the same statement.
    delete: hot(`WITH a AS (DELETE FROM ${n.activity.table} WHERE key = $1) DELETE FROM ${n.table} WHERE key = $1`),
    // The rest run rarely, and their best plan may depend on the values (how many rows are
    // expired, how many sessions a user has): unnamed, so each call is planned for its values.
    // One short statement per batch; rows another transaction holds are skipped, not waited for.
    deleteExpired: once(`DELETE FROM ${n.table} WHERE key IN (
        SELECT key FROM ${n.table} WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`),
    byUser: once(`SELECT key, ${cols} FROM ${n.table} WHERE user_id = $1 AND expires_at > $2`),
    byUserTenant: once(`SELECT key, ${cols} FROM ${n.table} WHERE user_id = $1 AND tenant = $2 AND expires_at > $3`),
    page: once(`SELECT key, ${cols} FROM ${n.table} WHERE key > $1 AND expires_at > $2
        AND ($3::text IS NULL OR tenant = $3::text) ORDER BY key LIMIT $4`),
    // Sessions only: not a used live ticket (empty data) nor a "sign out everywhere" time (digits); see isSessionRecord.
    countLive: once(`SELECT COUNT(*) AS n FROM ${n.table} WHERE expires_at > $1 AND data <> '' AND data !~ '^[0-9]+$'`),
    exists: once(`SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL
        AND to_regclass($3) IS NOT NULL AND to_regclass($4) IS NOT NULL AND to_regclass($5) IS NOT NULL AS ready`),
  };
}
