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
import type * as Pg from 'pg';
import { SessionStateError, StoreUnavailableError } from '../errors.js';
import { PostgresActivity } from './activity/postgres.js';
import { isConnectionError } from './postgres-errors.js';
import { timedQuery } from './postgres-query.js';
import { resolvePostgresOptions, type PostgresStoreOptions } from './postgres-options.js';
import { migrationSql, type Names } from './postgres-schema.js';
import { sessionStatements, statementMaker, toRecord, whole, type Query, type Row, type SessionStatements, type Statement } from './postgres-statements.js';
import type { ActivityQuery, DeleteExpiredOptions, KeyedRecord, ListQuery, SessionActivity, SessionPage, SessionStore, StoreContext, StoreRecord } from './store.js';

export { postgresMigrationSql } from './postgres-schema.js';
export type { PostgresMigrationOptions } from './postgres-schema.js';
export type { PostgresStoreOptions } from './postgres-options.js';

/** The least time (ms) a migration is given (see {@link PostgresStoreOptions.queryTimeout}). */
const MIGRATION_TIMEOUT = 60_000;

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
  readonly #batch: number;
  readonly #queryTimeout: number;
  readonly #onPoolError: (error: Error) => void;
  /** The table check of the first calls, shared while it runs; reset on failure so the next call tries again. */
  #ready: Promise<void> | null = null;
  /** Set once the table is known to exist (or `createTable: false`): calls then skip the check without an `await`. */
  #tableReady: boolean;
  #closed = false;
  readonly #sql: SessionStatements;
  readonly #activity: PostgresActivity;
  /** Rejects with the error {@link PostgresStore.#translate} makes of a failed query (one function, not one per call). */
  readonly #fail = (error: unknown): never => {
    throw this.#translate(error);
  };

  constructor(options: PostgresStoreOptions = {}) {
    const resolved = resolvePostgresOptions(options);
    this.#names = resolved.names;
    this.#batch = resolved.batch;
    this.#queryTimeout = resolved.queryTimeout;
    this.#tableReady = !resolved.createTable;
    this.#pool = resolved.pool;
    this.#owned = resolved.owned;
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

    const statement = statementMaker(resolved.prepared);
    this.#sql = sessionStatements(this.#names, statement);
    const run = <R extends Pg.QueryResultRow>(statement: Statement, values: unknown[]) => this.#query<R>(statement, values);
    this.#activity = new PostgresActivity(this.#names.activity, this.#names.table, statement, run, this.#batch);
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
   * known, this is one timed query ({@link timedQuery}) and nothing else: no `await` on the settled
   * check, no query object per call. Only called from `async` methods, so the closed-store error
   * still rejects.
   */
  #query<R extends Pg.QueryResultRow = Pg.QueryResultRow>(statement: Statement, values: unknown[]): Promise<Pg.QueryResult<R>> {
    this.#assertOpen();
    if (!this.#tableReady) return this.#queryOnFirstUse<R>(statement, values);
    return timedQuery<R>(this.#pool, statement, values, this.#queryTimeout).then(undefined, this.#fail);
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
    return timedQuery<R>(this.#pool, statement, values, this.#queryTimeout).then(undefined, this.#fail);
  }

  /**
   * Create the table if it or an index is missing. The check reads the catalog only, so a store
   * whose table exists takes no lock and needs no right to create tables.
   */
  async #ensureTable(): Promise<void> {
    let ready: boolean;
    try {
      const { rows } = await timedQuery<{ ready: boolean }>(this.#pool, this.#sql.exists, this.#names.regclasses, this.#queryTimeout);
      ready = rows[0]?.ready === true;
    } catch (error) {
      throw this.#translate(error);
    }
    if (!ready) await this.migrate();
    this.#tableReady = true;
  }
}
