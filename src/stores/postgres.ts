/**
 * The PostgreSQL store, through `pg` (node-postgres): one table, compare-and-set on a version
 * column, batched cleanup that never waits on a lock, and a by-user index. Several app servers can
 * share one database.
 *
 * The table is created on first use; operators who manage the schema themselves run
 * {@link postgresMigrationSql} (or {@link PostgresStore.migrate}) and pass `createTable: false`.
 *
 * Failures: when PostgreSQL cannot be reached (refused, dropped, timed out, shutting down) every
 * call rejects with {@link StoreUnavailableError}, which adapters answer with 503, and the store
 * reconnects by itself when the server is back. Genuine SQL errors are passed on unchanged.
 *
 * @example
 * ```ts
 * import { createTessera } from 'tessera';
 * import { PostgresStore } from 'tessera/stores/postgres';
 * const tessera = createTessera({
 *   secrets: [process.env.SESSION_SECRET!],
 *   store: new PostgresStore({ connectionString: process.env.DATABASE_URL }),
 * });
 * ```
 * @module
 */
import { createHash } from 'node:crypto';
import type * as Pg from 'pg';
import { ConfigError, SessionStateError, StoreUnavailableError } from '../errors.js';
import { PostgresActivity } from './activity/postgres.js';
import { loadPeer } from './peer.js';
import { isConnectionError } from './postgres-errors.js';
import { migrationSql, names, type Names, type PostgresMigrationOptions } from './postgres-schema.js';

export { postgresMigrationSql } from './postgres-schema.js';
export type { PostgresMigrationOptions } from './postgres-schema.js';
import type { ActivityQuery, DeleteExpiredOptions, KeyedRecord, ListQuery, SessionActivity, SessionPage, SessionStore, StoreContext, StoreRecord } from './store.js';

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
   * {@link StoreUnavailableError}; the connection it was sent on is then discarded. Applies to a
   * given pool too. For a pool the store makes, the server is given the same limit
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

/** The least time (ms) a migration is given (see {@link PostgresStoreOptions.queryTimeout}). */
const MIGRATION_TIMEOUT = 60_000;

interface Row {
  data: string;
  version: string | number;
  expires_at: string | number;
  user_id: string | null;
  tenant: string | null;
}

function toRecord(row: Row): StoreRecord {
  // bigint columns arrive as strings; versions and millisecond times are far below 2^53.
  return { data: row.data, version: Number(row.version), expiresAt: Number(row.expires_at), userId: row.user_id, tenant: row.tenant };
}

type Query = Pg.QueryConfig & { query_timeout?: number };

/**
 * One statement's query config, built once per store and passed to every call with its values
 * (`pool.query(statement, values)`), so no query object is built per call. Recent pg copies the
 * config before adding the values; older pg sets `values` and `callback` on it and reads them back
 * in the same synchronous call (`new Query`), so one object serves concurrent calls either way.
 * Only `name` (when prepared) and `query_timeout` (when set) differ between statements.
 */
type Statement = Query;

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
 */
function whole(now: number): number {
  return Math.floor(now);
}

/**
 * Sessions in a PostgreSQL table. Every read and write is one statement and one round trip:
 * `set` is compare-and-set on the `version` column (`INSERT ... ON CONFLICT` that may only take
 * over an expired row for a new session, `UPDATE ... WHERE version = $expected` otherwise), so
 * concurrent writers from any number of servers never overwrite each other. Expiry is decided with
 * the caller's clock (`ctx.now`), never the database's. The statements of every request are named
 * statements, prepared once per connection (see {@link PostgresStoreOptions.preparedStatements}).
 *
 * `pg` is loaded when the first store is made, so apps using other stores never load it.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { createTessera } from 'tessera';
 * import { PostgresStore } from 'tessera/stores/postgres';
 *
 * // Its own pool, from a URL:
 * const store = new PostgresStore({ connectionString: process.env.DATABASE_URL, table: 'sessions' });
 * // Or the app's pool (the store will not end it), with the server-side limits the store cannot set:
 * const pool = new pg.Pool({
 *   connectionString: process.env.DATABASE_URL,
 *   connectionTimeoutMillis: 500,
 *   statement_timeout: 500, // = queryTimeout
 *   lock_timeout: 500,
 * });
 * const shared = new PostgresStore({ pool });
 *
 * const tessera = createTessera({ secrets: [process.env.SESSION_SECRET!], store });
 * ```
 */
export class PostgresStore implements SessionStore {
  readonly name = 'postgres';
  readonly #pool: Pg.Pool;
  readonly #owned: boolean;
  readonly #names: Names;
  readonly #createTable: boolean;
  readonly #batch: number;
  readonly #queryTimeout: number;
  readonly #onPoolError: (error: Error) => void;
  /** The table check of the first calls, shared while it runs; reset on failure so the next call tries again. */
  #ready: Promise<void> | null = null;
  /** Set once the table is known to exist (or `createTable: false`): calls then skip the check without an `await`. */
  #tableReady: boolean;
  #closed = false;
  readonly #sql: {
    get: Statement;
    insert: Statement;
    update: Statement;
    delete: Statement;
    deleteExpired: Statement;
    byUser: Statement;
    byUserTenant: Statement;
    page: Statement;
    countLive: Statement;
    exists: Statement;
  };
  readonly #activity: PostgresActivity;
  /** Rejects with the error {@link PostgresStore.#translate} makes of a failed query (one function, not one per call). */
  readonly #fail = (error: unknown): never => {
    throw this.#translate(error);
  };

  constructor(options: PostgresStoreOptions = {}) {
    this.#names = names(options, 'PostgresStore');
    this.#batch = options.cleanupBatch ?? 500;
    if (!Number.isInteger(this.#batch) || this.#batch < 1) throw new ConfigError('PostgresStore cleanupBatch must be a positive integer');
    const connectionTimeout = options.connectionTimeout ?? 500;
    if (!Number.isInteger(connectionTimeout) || connectionTimeout < 0) throw new ConfigError('PostgresStore connectionTimeout must be a non-negative integer (milliseconds)');
    this.#queryTimeout = options.queryTimeout ?? 500;
    if (!Number.isInteger(this.#queryTimeout) || this.#queryTimeout < 0) throw new ConfigError('PostgresStore queryTimeout must be a non-negative integer (milliseconds, 0 for none)');
    this.#createTable = options.createTable ?? true;
    this.#tableReady = !this.#createTable;
    const prepared = options.preparedStatements ?? true;
    if (typeof prepared !== 'boolean') throw new ConfigError('PostgresStore preparedStatements must be a boolean');

    if (options.pool) {
      if (options.connectionString !== undefined || options.poolConfig !== undefined) {
        throw new ConfigError('PostgresStore takes either `pool` or `connectionString`/`poolConfig`, not both');
      }
      this.#pool = options.pool;
      this.#owned = false;
    } else {
      // Loaded here, not at import, so apps using another store never load pg.
      const pg = loadPeer<typeof Pg>('pg', 'PostgresStore');
      // The server cancels a statement at the same limit the client waits for (a client that
      // gives up only drops its connection, and the server would finish, and commit, the
      // statement). Sent as connection settings, so they cost no round trip.
      const serverTimeouts = this.#queryTimeout > 0 ? { statement_timeout: this.#queryTimeout, lock_timeout: this.#queryTimeout } : {};
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
      this.#pool = new pg.Pool({
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
      this.#owned = true;
    }
    // An idle connection that breaks makes the pool emit 'error'; unhandled, that would crash the
    // process. The pool has already discarded the connection and opens a new one when needed.
    const onError = options.onError;
    this.#onPoolError = (error: Error) => {
      try {
        onError?.(error);
      } catch {
        // A failing log callback must not turn into an uncaught exception either.
      }
    };
    this.#pool.on('error', this.#onPoolError);

    const n = this.#names;
    const cols = 'data, version, expires_at, user_id, tenant';
    const timeout = this.#queryTimeout;
    /** A statement sent unnamed: parsed and planned by the server on every call. */
    const once = (text: string): Statement => (timeout > 0 ? { text, query_timeout: timeout } : { text });
    /** A hot statement: named, so pg prepares it once per connection (unless `preparedStatements: false`). */
    const hot = (text: string): Statement => (prepared ? { name: statementName(text), ...once(text) } : once(text));
    this.#sql = {
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
    const run = <R extends Pg.QueryResultRow>(statement: Statement, values: unknown[]) => this.#query<R>(statement, values);
    this.#activity = new PostgresActivity(n.activity, n.table, (text, isHot) => (isHot ? hot(text) : once(text)), run, this.#batch);
  }

  /**
   * Create the table and its indexes if missing ({@link postgresMigrationSql}). Idempotent and
   * safe to run from several processes at once. Not needed with the default `createTable: true`,
   * where the store does this on first use; useful in a deploy step or a migration script.
   *
   * @example
   * ```ts
   * const store = new PostgresStore({ connectionString: process.env.DATABASE_URL, createTable: false });
   * await store.migrate(); // in the release step, before the app starts serving
   * await store.close();
   * ```
   */
  async migrate(): Promise<void> {
    this.#assertOpen();
    let client: Pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw this.#translate(error);
    }
    // Creating a table and its indexes may wait on locks (another server migrating, a long
    // transaction on the table): the migration gets a longer limit than a request's statements.
    const limit = this.#queryTimeout > 0 ? Math.max(this.#queryTimeout, MIGRATION_TIMEOUT) : 0;
    const sql = migrationSql(this.#names).replace('BEGIN;\n', `BEGIN;\nSET LOCAL statement_timeout = ${limit};\nSET LOCAL lock_timeout = ${limit};\n`);
    const query: Query = { text: sql };
    if (limit > 0) query.query_timeout = limit;
    try {
      await client.query(query);
    } catch (error) {
      if (isConnectionError(error)) {
        // Discard the connection: it is dead, or stuck in a query that timed out.
        client.release(error instanceof Error ? error : true);
        throw this.#translate(error);
      }
      // A SQL error leaves the explicit transaction open (aborted): end it before the
      // connection goes back to the pool, or discard the connection if that fails too.
      const rolledBack = await client.query({ text: 'ROLLBACK', query_timeout: this.#queryTimeout || undefined } as Query).then(() => true, () => false);
      client.release(!rolledBack);
      throw error;
    }
    client.release();
    this.#ready = Promise.resolve();
    this.#tableReady = true;
  }

  async get(key: string, ctx: StoreContext): Promise<StoreRecord | null> {
    const { rows } = await this.#query<Row>(this.#sql.get, [key, whole(ctx.now)]);
    const row = rows[0];
    return row === undefined ? null : toRecord(row);
  }

  async set(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): Promise<boolean> {
    const { data, version, userId, tenant } = record;
    const expiresAt = Math.ceil(record.expiresAt);
    const now = whole(ctx.now);
    const result =
      expectedVersion === 0
        ? await this.#query(this.#sql.insert, [key, data, version, expiresAt, userId, tenant, now])
        : await this.#query(this.#sql.update, [data, version, expiresAt, userId, tenant, key, expectedVersion, now]);
    return result.rowCount === 1;
  }

  async delete(key: string, _ctx?: StoreContext): Promise<void> {
    await this.#query(this.#sql.delete, [key]);
  }

  /**
   * Remove the rows expired at `ctx.now` and resolve how many were removed: with `limit` (as the
   * manager's cleanup calls it, batch by batch) at most that many, in one short statement, after
   * one statement removing at most `limit` expired activity entries; without it every one, in
   * statements of `cleanupBatch` rows. Rows other transactions hold are skipped, not waited for,
   * so several servers may run it at once.
   *
   * @example
   * ```ts
   * const removed = await store.deleteExpired({ now: Date.now() }, { limit: 500 });
   * ```
   */
  async deleteExpired(ctx: StoreContext, options: DeleteExpiredOptions = {}): Promise<number> {
    const { limit } = options;
    if (limit !== undefined) {
      await this.#activity.deleteExpired(ctx, limit);
      const { rowCount } = await this.#query(this.#sql.deleteExpired, [whole(ctx.now), limit]);
      return rowCount ?? 0;
    }
    await this.#activity.deleteExpired(ctx);
    let total = 0;
    for (;;) {
      const { rowCount } = await this.#query(this.#sql.deleteExpired, [whole(ctx.now), this.#batch]);
      const removed = rowCount ?? 0;
      total += removed;
      if (removed < this.#batch) return total;
    }
  }

  async listByUser(userId: string, tenant: string | null, ctx: StoreContext): Promise<KeyedRecord[]> {
    const { rows } =
      tenant === null
        ? await this.#query<Row & { key: string }>(this.#sql.byUser, [userId, whole(ctx.now)])
        : await this.#query<Row & { key: string }>(this.#sql.byUserTenant, [userId, tenant, whole(ctx.now)]);
    return rows.map((row) => ({ key: row.key, record: toRecord(row) }));
  }

  /** Live session records: one COUNT over the expiry index (the `tessera.sessions.active` gauge). */
  async countLive(ctx: StoreContext): Promise<number> {
    const { rows } = await this.#query<{ n: string }>(this.#sql.countLive, [whole(ctx.now)]);
    return Number(rows[0]!.n);
  }

  /** A page of the live records, in key order (the cursor is the last key of the page before). */
  async listSessions(query: ListQuery, ctx: StoreContext): Promise<SessionPage> {
    const { rows } = await this.#query<Row & { key: string }>(this.#sql.page, [query.cursor ?? '', whole(ctx.now), query.tenant, query.limit + 1]);
    const more = rows.length > query.limit;
    const records = (more ? rows.slice(0, query.limit) : rows).map((row) => ({ key: row.key, record: toRecord(row) }));
    return { records, next: more ? records[records.length - 1]!.key : null };
  }

  /** Per-tab activity, in the table `<table>_act` (see docs/activity.md). */
  recordActivity(key: string, tab: string, at: number, expiresAt: number): Promise<void> {
    return this.#activity.record(key, tab, at, expiresAt);
  }

  activityOf(key: string, ctx: StoreContext): Promise<Record<string, number>> {
    return this.#activity.of(key, ctx);
  }

  listActivity(query: ActivityQuery, ctx: StoreContext): Promise<SessionActivity[]> {
    return this.#activity.list(query, ctx);
  }

  /**
   * End the pool the store made (a pool passed in as `pool` is left open for its owner) and stop
   * listening to its errors. Idempotent; later calls on the store reject.
   *
   * @example
   * ```ts
   * process.on('SIGTERM', () => void tessera.close()); // closes the store too
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#owned) await this.#pool.end();
    // After end(): connections closing during it may still report errors.
    this.#pool.off('error', this.#onPoolError);
  }

  #assertOpen(): void {
    if (this.#closed) throw new SessionStateError('the PostgreSQL session store was closed');
  }

  /** A connection-class failure as {@link StoreUnavailableError}; anything else unchanged. */
  #translate(error: unknown): unknown {
    if (error instanceof StoreUnavailableError) return error;
    return isConnectionError(error) ? new StoreUnavailableError(this.name, error) : error;
  }

  /**
   * Run one statement, after making sure the table exists (first calls only). Once the table is
   * known, this is the pool's query and nothing else: no `await` on the settled check, no query
   * object per call. Only called from `async` methods, so the closed-store error still rejects.
   */
  #query<R extends Pg.QueryResultRow = Pg.QueryResultRow>(statement: Statement, values: unknown[]): Promise<Pg.QueryResult<R>> {
    this.#assertOpen();
    if (!this.#tableReady) return this.#queryOnFirstUse<R>(statement, values);
    return this.#pool.query<R>(statement, values).then(undefined, this.#fail);
  }

  /** {@link PostgresStore.#query} while the table is not yet known to exist. */
  async #queryOnFirstUse<R extends Pg.QueryResultRow>(statement: Statement, values: unknown[]): Promise<Pg.QueryResult<R>> {
    const ready = (this.#ready ??= this.#ensureTable());
    try {
      await ready;
    } catch (error) {
      if (this.#ready === ready) this.#ready = null;
      throw error;
    }
    return this.#pool.query<R>(statement, values).then(undefined, this.#fail);
  }

  /**
   * Create the table if it or an index is missing. The check reads the catalog only, so a store
   * whose table exists takes no lock and needs no right to create tables.
   */
  async #ensureTable(): Promise<void> {
    let ready: boolean;
    try {
      const { rows } = await this.#pool.query<{ ready: boolean }>(this.#sql.exists, this.#names.regclasses);
      ready = rows[0]?.ready === true;
    } catch (error) {
      throw this.#translate(error);
    }
    if (!ready) await this.migrate();
    this.#tableReady = true;
  }
}
