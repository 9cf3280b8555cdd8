/**
 * The options of {@link PostgresStore}: {@link PostgresStoreOptions}, checked once with their
 * defaults filled in ({@link resolvePostgresOptions}), and the `pg.Pool` they name — the app's, or
 * one the store makes with the timeouts that fail a call quickly when the database is unreachable.
 *
 * @module
 * @internal
 */
import type * as Pg from 'pg';
import { ConfigError } from '../errors.js';
import { loadPeer } from './peer.js';
import { names, type Names } from './postgres-schema.js';

/** Options of {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /**
   * A `pg.Pool` to use. The store adds an `'error'` listener (removed again by `close()`) and never
   * ends the pool: its owner does. Set its `connectionTimeoutMillis`, and its `statement_timeout`
   * and `lock_timeout` to at most `queryTimeout`, because the store cannot: without a server-side
   * timeout, a statement the store gave up on keeps running on the server and may still commit
   * later (a write blocked on a row lock lands when the lock is released).
   * Not together with `connectionString` or `poolConfig`.
   */
  pool?: Pg.Pool;
  /**
   * `postgres://user:password@host:5432/database`. Without it and without `pool`, pg reads the
   * standard `PGHOST`, `PGUSER`, `PGDATABASE`, ... environment variables.
   */
  connectionString?: string;
  /** Further settings of the pool the store makes (`max`, `ssl`, `idleTimeoutMillis`, ...). */
  poolConfig?: Pg.PoolConfig;
  /** Table name: letters, digits and `_`, at most 55 characters (index names add a suffix). Default `tessera_sessions`. */
  table?: string;
  /** Schema of the table (it must exist). Default: the connection's `search_path` (usually `public`). */
  schema?: string;
  /**
   * Create the table and its indexes on first use when they are missing. Default `true`. Set
   * `false` when migrations are run by the operator (see {@link postgresMigrationSql}) and the
   * app's database user has no right to create tables.
   */
  createTable?: boolean;
  /** Rows removed per statement by `deleteExpired`, so cleanup never holds locks for long. Default 500. */
  cleanupBatch?: number;
  /**
   * Milliseconds to wait for a new connection to open before the call fails with
   * {@link StoreUnavailableError}. Only for a pool the store makes. Default 500. A call waiting
   * for a free connection of a busy pool is not timed by it (each busy connection is freed within
   * `queryTimeout`, so a burst larger than the pool queues rather than failing); the manager's
   * `storeTimeout` bounds the whole call.
   *
   * With `queryTimeout`, this is what answers 503 quickly when the database cannot be reached: a
   * silent network partition (packets dropped, nothing closed) shows only as silence, and the
   * defaults fail a call within about half a second (a second at worst: a wait for a connection,
   * then a query on it), drop the connections that went silent, and open new ones when the
   * network is back. Opening a connection takes a few round trips (TCP, TLS, authentication):
   * raise this for a server further away than about 50 ms.
   */
  connectionTimeout?: number;
  /**
   * Milliseconds to wait for the answer of one query before it fails with
   * {@link StoreUnavailableError}; the connection it was sent on is then discarded. An answer that
   * arrived while the process was busy for longer (a long garbage collection) is still used: the
   * store reads the socket before it gives up. Applies to a given pool too. For a pool the store
   * makes, the server is given the same limit
   * (`statement_timeout` and `lock_timeout`, unless `poolConfig` sets them), so it cancels the
   * statement too: a write that timed out is not applied later. The client only discards its
   * connection, which does not stop a statement already running on the server. `0` waits forever.
   * Default 500.
   *
   * Every statement of the store is short — one row by key, a user's rows by an index, a cleanup
   * batch the manager sizes to a few milliseconds — so half a second is far above a healthy answer.
   * The table's creation ({@link PostgresStore.migrate}, and on first use) is given at least
   * 60 seconds. Raise it for a database that is slow at times, knowing that requests then wait
   * that long before their 503.
   */
  queryTimeout?: number;
  /**
   * Called with the error of a pooled connection that broke while idle (the server restarted or
   * the network dropped it). The pool discards that connection and opens a new one when needed, so
   * this is for logging only. Default: ignored.
   */
  onError?: (error: Error) => void;
  /**
   * Send the hot statements — `get`, the `insert` and `update` of `set`, and `delete` — as named
   * (prepared) statements. pg then prepares each one once per connection and afterwards sends only
   * Bind and Execute, so the server neither parses nor plans it again: less work per call on both
   * sides. The names are `tessera_` and a hash of the SQL text, which contains the schema and table,
   * so stores on different tables can share one pool. Default `true`.
   *
   * Set `false` behind a pooler that does not carry named statements from one server connection to
   * another: PgBouncer in transaction (or statement) mode before 1.21, or 1.21+ with
   * `max_prepared_statements = 0`. There a named statement prepared on one server connection is
   * missing on the next, and calls fail (`prepared statement "tessera_..." does not exist`).
   * PgBouncer in session mode, and a direct connection, are fine with the default.
   *
   * @example
   * ```ts
   * // Behind PgBouncer < 1.21 in transaction mode:
   * const store = new PostgresStore({ connectionString: process.env.DATABASE_URL, preparedStatements: false });
   * ```
   */
  preparedStatements?: boolean;
}

/** {@link PostgresStoreOptions}, checked, with their defaults filled in, and the pool to use. */
export interface ResolvedPostgresOptions {
  /** The table's names (checked identifiers, quoted). */
  readonly names: Names;
  /** Rows removed per statement by `deleteExpired` without a limit. */
  readonly batch: number;
  /** Milliseconds a query may take (`0`: no limit). */
  readonly queryTimeout: number;
  /** Whether the table is created on first use. */
  readonly createTable: boolean;
  /** Whether the hot statements are named (prepared once per connection). */
  readonly prepared: boolean;
  /** The pool: the one passed in, or one made here. */
  readonly pool: Pg.Pool;
  /** Whether the pool was made here (so the store ends it on `close()`). */
  readonly owned: boolean;
}

/**
 * Check `options` (a {@link ConfigError} for anything wrong, at construction) and fill in the
 * defaults; make the pool unless one is given.
 *
 * @example
 * ```ts
 * const { pool, owned, names, queryTimeout } = resolvePostgresOptions({ connectionString: process.env.DATABASE_URL });
 * ```
 */
export function resolvePostgresOptions(options: PostgresStoreOptions): ResolvedPostgresOptions {
  const n = names(options, 'PostgresStore');
  const batch = options.cleanupBatch ?? 500;
  if (!Number.isInteger(batch) || batch < 1) throw new ConfigError('PostgresStore cleanupBatch must be a positive integer');
  const connectionTimeout = options.connectionTimeout ?? 500;
  if (!Number.isInteger(connectionTimeout) || connectionTimeout < 0) throw new ConfigError('PostgresStore connectionTimeout must be a non-negative integer (milliseconds)');
  const queryTimeout = options.queryTimeout ?? 500;
  if (!Number.isInteger(queryTimeout) || queryTimeout < 0) throw new ConfigError('PostgresStore queryTimeout must be a non-negative integer (milliseconds, 0 for none)');
  const createTable = options.createTable ?? true;
  const prepared = options.preparedStatements ?? true;
  if (typeof prepared !== 'boolean') throw new ConfigError('PostgresStore preparedStatements must be a boolean');

  if (options.pool) {
    if (options.connectionString !== undefined || options.poolConfig !== undefined) {
      throw new ConfigError('PostgresStore takes either `pool` or `connectionString`/`poolConfig`, not both');
    }
    return { names: n, batch, queryTimeout, createTable, prepared, pool: options.pool, owned: false };
  }
  const pool = makePool(options, connectionTimeout, queryTimeout);
  return { names: n, batch, queryTimeout, createTable, prepared, pool, owned: true };
}

/** The pool the store makes from `connectionString` and `poolConfig`, with the store's timeouts. */
function makePool(options: PostgresStoreOptions, connectionTimeout: number, queryTimeout: number): Pg.Pool {
  // Loaded here, not at import, so apps using another store never load pg.
  const pg = loadPeer<typeof Pg>('pg', 'PostgresStore');
  // The server cancels a statement at the same limit the client waits for (a client that
  // gives up only drops its connection, and the server would finish, and commit, the
  // statement). Sent as connection settings, so they cost no round trip.
  const serverTimeouts = queryTimeout > 0 ? { statement_timeout: queryTimeout, lock_timeout: queryTimeout } : {};
  // Opening a connection gives up after `connectionTimeout`; waiting for a free one of the pool
  // does not (pg-pool times both with one setting): a pool that is only busy frees a connection
  // within `queryTimeout`, so a burst larger than the pool queues instead of failing, while a
  // silent server still fails every call within a connect or a query. (A `connectionTimeoutMillis`
  // in `poolConfig` is pg's own, for both.)
  const timed = options.poolConfig?.connectionTimeoutMillis === undefined;
  const Client = timed
    ? class TimedClient extends pg.Client {
        constructor(config?: Pg.ClientConfig) {
          super({ ...config, connectionTimeoutMillis: connectionTimeout });
        }
      }
    : pg.Client;
  return new pg.Pool({
    fallback_application_name: 'tessera',
    Client,
    connectionTimeoutMillis: timed ? 0 : connectionTimeout,
    ...serverTimeouts,
    keepAlive: true,
    // Idle connections do not keep the process alive; a server is kept alive by its listener.
    allowExitOnIdle: true,
    ...options.poolConfig,
    ...(options.connectionString === undefined ? {} : { connectionString: options.connectionString }),
  });
}
