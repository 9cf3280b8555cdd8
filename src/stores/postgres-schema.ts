/**
 * The schema of {@link PostgresStore}: checked table and schema names, the names of its indexes
 * and of the activity table, and the migration SQL (also public as `postgresMigrationSql`).
 *
 * @module
 * @internal
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { activityMigrationSql, activityNames, type ActivityNames } from './activity/postgres.js';

/** Options of {@link postgresMigrationSql}. */
export interface PostgresMigrationOptions {
  /** Table name, as in `PostgresStoreOptions.table`. Default `tessera_sessions`. */
  table?: string;
  /** Schema of the table, as in `PostgresStoreOptions.schema`. Default: the `search_path`. */
  schema?: string;
}

const DEFAULT_TABLE = 'tessera_sessions';
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** PostgreSQL truncates identifiers at 63 bytes; the table leaves room for the `_expires` suffix. */
const MAX_TABLE = 55;
const MAX_SCHEMA = 63;

function quote(identifier: string): string {
  return `"${identifier}"`;
}

/**
 * The quoted names of a store's table, its indexes and its activity table.
 *
 * @example
 * ```ts
 * const n: Names = names({ table: 'sessions' }, 'PostgresStore');
 * ```
 */
export interface Names {
  /** The table, quoted and schema-qualified when a schema is set. */
  table: string;
  /** The three index names, quoted (an index lives in its table's schema). */
  expires: string;
  user: string;
  tenant: string;
  /** The same four and the activity table, qualified, as text for `to_regclass`. */
  regclasses: [string, string, string, string, string];
  /** The activity table (`<table>_act`) and its indexes. */
  activity: ActivityNames;
  /** Key of the advisory lock that serialises concurrent migrations of this table. */
  lockKey: bigint;
}

/**
 * The names of the table `options` give (checked: a {@link ConfigError} names `owner`).
 *
 * @example
 * ```ts
 * const n = names({ table: 'sessions', schema: 'app' }, 'PostgresStore'); // n.table === '"app"."sessions"'
 * ```
 */
export function names(options: PostgresMigrationOptions, owner: string): Names {
  const table = options.table ?? DEFAULT_TABLE;
  const schema = options.schema;
  if (typeof table !== 'string' || !IDENTIFIER.test(table) || table.length > MAX_TABLE) {
    throw new ConfigError(`${owner} table ${JSON.stringify(table)} is not a valid identifier (letters, digits and _, not starting with a digit, at most ${MAX_TABLE} characters)`);
  }
  if (schema !== undefined && (typeof schema !== 'string' || !IDENTIFIER.test(schema) || schema.length > MAX_SCHEMA)) {
    throw new ConfigError(`${owner} schema ${JSON.stringify(schema)} is not a valid identifier (letters, digits and _, not starting with a digit, at most ${MAX_SCHEMA} characters)`);
  }
  const prefix = schema === undefined ? '' : `${quote(schema)}.`;
  const qualified = (name: string): string => `${prefix}${quote(name)}`;
  const activity = activityNames(table, prefix);
  const lockKey = createHash('sha256').update(`tessera migration ${schema ?? ''}.${table}`).digest().readBigInt64BE(0);
  return {
    table: qualified(table),
    expires: quote(`${table}_expires`),
    user: quote(`${table}_user`),
    tenant: quote(`${table}_tenant`),
    regclasses: [qualified(table), qualified(`${table}_expires`), qualified(`${table}_user`), qualified(`${table}_tenant`), activity.regclass],
    activity,
    lockKey,
  };
}

/**
 * The migration of the tables named `n`: one transaction, idempotent, serialised by an advisory lock.
 *
 * @example
 * ```ts
 * await client.query(migrationSql(names({}, 'PostgresStore')));
 * ```
 */
export function migrationSql(n: Names): string {
  return `BEGIN;
-- Serialise concurrent migrations of this table (several app servers starting at once).
SELECT pg_advisory_xact_lock(${n.lockKey});
CREATE TABLE IF NOT EXISTS ${n.table} (
  key        text   PRIMARY KEY,
  data       text   NOT NULL,
  version    bigint NOT NULL,
  expires_at bigint NOT NULL,
  user_id    text,
  tenant     text
);
CREATE INDEX IF NOT EXISTS ${n.expires} ON ${n.table} (expires_at);
CREATE INDEX IF NOT EXISTS ${n.user} ON ${n.table} (user_id, tenant) WHERE user_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS ${n.tenant} ON ${n.table} (tenant) WHERE tenant IS NOT NULL;
${activityMigrationSql(n.activity)}COMMIT;
`;
}

/**
 * The SQL that creates the session table and its indexes: a transaction, idempotent (`IF NOT
 * EXISTS` throughout) and safe to run from several processes at once. Operators can run it
 * themselves (`psql -f`) and give the store `createTable: false`; it is the same SQL the store
 * runs on first use and in {@link PostgresStore.migrate}.
 *
 * Columns: `key` (text, primary key), `data` (text), `version` (bigint), `expires_at` (bigint,
 * milliseconds since the epoch), `user_id` and `tenant` (text, nullable). Indexes: on
 * `expires_at` for cleanup, on `(user_id, tenant)` for listing a user's sessions, on `tenant`.
 * Throws {@link ConfigError} for a table or schema name that is not a plain identifier.
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { postgresMigrationSql } from 'tessera/stores/postgres';
 * writeFileSync('migrations/001_sessions.sql', postgresMigrationSql({ table: 'sessions', schema: 'app' }));
 * // then: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f migrations/001_sessions.sql
 * ```
 */
export function postgresMigrationSql(options: PostgresMigrationOptions = {}): string {
  return migrationSql(names(options, 'postgresMigrationSql'));
}
