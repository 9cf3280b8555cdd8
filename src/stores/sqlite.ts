/**
 * The embedded default store: SQLite through `better-sqlite3`, in WAL mode. One file, durable
 * across restarts, no server to run; several processes on one machine may share the file.
 *
 * @module
 */
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { loadPeer, resolvePeer } from './peer.js';
import { checkpointHooks, startCheckpointer, type Checkpointer } from './sqlite-checkpoint.js';
import { createPrivateFile, makePrivateDir } from './private.js';
import { SqliteActivity } from './activity/sqlite.js';
import { SynchronousStore, type ActivityQuery, type DeleteExpiredOptions, type KeyedRecord, type ListQuery, type SessionActivity, type SessionPage, type StoreContext, type StoreRecord } from './store.js';

/**
 * What {@link SqliteStore} uses of a `better-sqlite3` statement. Declared here, not taken from
 * `@types/better-sqlite3`, so that tessera's types need no package a TypeScript user may lack.
 */
export interface SqliteStatement<Params extends unknown[] = unknown[], Result = unknown> {
  get(...params: Params): Result | undefined;
  all(...params: Params): Result[];
  run(...params: Params): { changes: number };
}

/**
 * What {@link SqliteStore} uses of a `better-sqlite3` database: a `Database` of better-sqlite3
 * fits it (and so may any object with these methods that behaves the same).
 */
export interface SqliteDatabase {
  readonly open: boolean;
  pragma(source: string): unknown;
  exec(source: string): unknown;
  prepare(source: string): SqliteStatement;
  close(): unknown;
}

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * Database file. `:memory:` for a private in-memory database. Default `./data/sessions.db`.
   *
   * What the store creates is private to the process's user, whatever the umask: a missing folder
   * (and its missing parents) is made with mode 0700, and a missing database file with mode 0600 —
   * SQLite gives the `-wal` and `-shm` files it makes beside it the database file's mode. A folder
   * or database file that already exists is left as it is: its mode is its owner's choice.
   */
  path?: string;
  /** An open `better-sqlite3` database to use instead of `path` (the store will not close it). */
  database?: SqliteDatabase;
  /** Table name. Default `tessera_sessions`. */
  table?: string;
  /** Rows removed per statement by a `deleteExpired` called without a `limit` (tessera's cleanup gives one). Default 500. */
  cleanupBatch?: number;
  /**
   * Who copies the write-ahead log into the database file (a checkpoint), for a file the store
   * opens itself:
   *
   * - `'background'` (the default): a worker thread with a connection of its own, so that no
   *   request waits for a checkpoint's copy and fsync (15–20 ms on a slow disk, every thousand pages
   *   written). The store's connection checkpoints only when it closes. The thread never keeps the
   *   process alive; if it cannot start or stops, the store checkpoints as SQLite does by itself
   *   (below) and says so once through `logger`.
   * - `'inline'`: SQLite's own automatic checkpoint, in the commit that takes the log past 1,000
   *   pages, on the event loop.
   *
   * With `database` the connection is the app's: only `'inline'` (its settings are left as they
   * are). An in-memory database has no log: the option changes nothing there.
   */
  checkpoint?: 'background' | 'inline';
  /** Where the store reports that its checkpoint thread failed (`warn`). Default: a process warning. */
  logger?: Logger;
}

/** SQLite's default `wal_autocheckpoint`, restored when the checkpoint thread fails. */
const AUTOCHECKPOINT_PAGES = 1000;

interface Row {
  data: string;
  version: number;
  expires_at: number;
  user_id: string | null;
  tenant: string | null;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** A prepared statement, typed as the field it goes to: SQLite cannot tell the type system what its rows hold. */
function prepare<Params extends unknown[], Result>(db: SqliteDatabase, sql: string): SqliteStatement<Params, Result> {
  return db.prepare(sql) as SqliteStatement<Params, Result>;
}

function toRecord(row: Row): StoreRecord {
  return { data: row.data, version: row.version, expiresAt: row.expires_at, userId: row.user_id, tenant: row.tenant };
}

/**
 * Sessions in a SQLite table (schema created on first use, indexes on expiry, user and tenant).
 *
 * @example
 * ```ts
 * import { createTessera } from 'tessera';
 * import { SqliteStore } from 'tessera/stores/sqlite';
 * const tessera = createTessera({ secrets: [secret], store: new SqliteStore({ path: './data/sessions.db' }) });
 * ```
 */
export class SqliteStore extends SynchronousStore {
  readonly name = 'sqlite';
  readonly #db: SqliteDatabase;
  readonly #owned: boolean;
  readonly #batch: number;
  readonly #get: SqliteStatement<[string, number], Row>;
  readonly #insert: SqliteStatement<[string, string, number, number, string | null, string | null, number]>;
  readonly #update: SqliteStatement<[string, number, number, string | null, string | null, string, number, number]>;
  readonly #delete: SqliteStatement<[string]>;
  readonly #deleteExpired: SqliteStatement<[number, number]>;
  readonly #byUser: SqliteStatement<[string, number], Row & { key: string }>;
  readonly #byUserTenant: SqliteStatement<[string, string, number], Row & { key: string }>;
  readonly #page: SqliteStatement<[string, number, string | null, string | null, number], Row & { key: string }>;
  readonly #countLive: SqliteStatement<[number], { n: number }>;
  readonly #activity: SqliteActivity;
  readonly #checkpointer: Checkpointer | null = null;

  constructor(options: SqliteStoreOptions = {}) {
    super();
    const hooks = checkpointHooks();
    const table = options.table ?? 'tessera_sessions';
    if (!IDENTIFIER.test(table)) throw new ConfigError(`SqliteStore table ${JSON.stringify(table)} is not a valid identifier`);
    this.#batch = options.cleanupBatch ?? 500;
    if (!Number.isInteger(this.#batch) || this.#batch < 1) throw new ConfigError('SqliteStore cleanupBatch must be a positive integer');
    const { checkpoint } = options;
    if (checkpoint !== undefined && checkpoint !== 'background' && checkpoint !== 'inline') {
      throw new ConfigError(`SqliteStore checkpoint must be 'background' or 'inline', not ${JSON.stringify(checkpoint)}`);
    }
    if (checkpoint === 'background' && options.database) {
      throw new ConfigError("SqliteStore checkpoint 'background' needs a file the store opens (path), not a database of the app's");
    }
    let file: string | null = null;
    if (options.database) {
      this.#db = options.database;
      this.#owned = false;
    } else {
      const path = options.path ?? './data/sessions.db';
      // Loaded here, not at import, so apps using another store never load the native module.
      const Database = loadPeer<new (path: string) => SqliteDatabase>('better-sqlite3', 'SqliteStore');
      if (path !== ':memory:' && path !== '') {
        makePrivateDir(dirname(path));
        // Made here, not by SQLite (which would make it 0644 less the umask), so its mode is ours.
        createPrivateFile(path);
        file = path;
      }
      this.#db = new Database(path);
      this.#owned = true;
    }
    const db = this.#db;
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${table} (
        key TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        version INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        user_id TEXT,
        tenant TEXT
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS ${table}_expires ON ${table} (expires_at);
      CREATE INDEX IF NOT EXISTS ${table}_user ON ${table} (user_id, tenant) WHERE user_id IS NOT NULL;
      CREATE INDEX IF NOT EXISTS ${table}_tenant ON ${table} (tenant) WHERE tenant IS NOT NULL;
    `);
    const cols = 'data, version, expires_at, user_id, tenant';
    this.#get = prepare(db, `SELECT ${cols} FROM ${table} WHERE key = ? AND expires_at > ?`);
    // Insert, or take over the key of an expired record: a live record makes it a conflict.
    this.#insert = prepare(
      db,
      `INSERT INTO ${table} (key, ${cols}) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET data = excluded.data, version = excluded.version,
         expires_at = excluded.expires_at, user_id = excluded.user_id, tenant = excluded.tenant
       WHERE ${table}.expires_at <= ?`,
    );
    this.#update = prepare(
      db,
      `UPDATE ${table} SET data = ?, version = ?, expires_at = ?, user_id = ?, tenant = ?
       WHERE key = ? AND version = ? AND expires_at > ?`,
    );
    this.#delete = prepare(db, `DELETE FROM ${table} WHERE key = ?`);
    this.#deleteExpired = prepare(
      db,
      `DELETE FROM ${table} WHERE key IN (SELECT key FROM ${table} WHERE expires_at <= ? LIMIT ?)`,
    );
    this.#byUser = prepare(db, `SELECT key, ${cols} FROM ${table} WHERE user_id = ? AND expires_at > ?`);
    this.#byUserTenant = prepare(db, `SELECT key, ${cols} FROM ${table} WHERE user_id = ? AND tenant = ? AND expires_at > ?`);
    this.#page = prepare(
      db,
      `SELECT key, ${cols} FROM ${table} WHERE key > ? AND expires_at > ? AND (? IS NULL OR tenant = ?) ORDER BY key LIMIT ?`,
    );
    // Live sessions: not a used live ticket (empty data) nor a "sign out everywhere" time (digits); see isSessionRecord.
    this.#countLive = prepare(db, `SELECT COUNT(*) AS n FROM ${table} WHERE expires_at > ? AND data <> '' AND data GLOB '*[^0-9]*'`);
    this.#activity = new SqliteActivity(db, table);
    // Last, once nothing else here can throw: a store that failed to open leaves no thread behind.
    if (file !== null && checkpoint !== 'inline') {
      db.pragma('wal_autocheckpoint = 0');
      const logger = options.logger;
      this.#checkpointer = startCheckpointer({
        file: resolve(file),
        driver: resolvePeer('better-sqlite3'),
        timings: hooks.checkpointTimings,
        onCheckpoint: hooks.onCheckpoint,
        onFailure: (error) => {
          // Never an unbounded log: SQLite's own checkpoints again, on this connection.
          if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
          const message = `SqliteStore: the checkpoint thread failed (${error.message}); checkpoints run on the event loop from now on`;
          if (logger) logger.warn?.({ err: error }, message);
          else process.emitWarning(message, 'TesseraWarning');
        },
      });
    }
  }

  getSync(key: string, ctx: StoreContext): StoreRecord | null {
    const row = this.#get.get(key, ctx.now);
    return row === undefined ? null : toRecord(row);
  }

  setSync(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): boolean {
    const { data, version, expiresAt, userId, tenant } = record;
    const result =
      expectedVersion === 0
        ? this.#insert.run(key, data, version, expiresAt, userId, tenant, ctx.now)
        : this.#update.run(data, version, expiresAt, userId, tenant, key, expectedVersion, ctx.now);
    return result.changes === 1;
  }

  deleteSync(key: string): void {
    this.#delete.run(key);
    this.#activity.forget(key);
  }

  /**
   * With `limit` (as tessera's cleanup calls it), one statement: at most `limit` expired records,
   * and at most `limit` expired activity entries, through the expiry indexes; it holds the event
   * loop for as long as that takes (about 10 µs a row here), and tessera paces the calls. Without
   * it, every expired record, `cleanupBatch` rows per statement, yielding to the event loop between
   * statements.
   *
   * @example
   * ```ts
   * const removed = await store.deleteExpired({ now: Date.now() }, { limit: 200 });
   * ```
   */
  async deleteExpired(ctx: StoreContext, options: DeleteExpiredOptions = {}): Promise<number> {
    const { limit } = options;
    if (limit !== undefined) {
      this.#activity.deleteExpired(ctx, limit);
      return this.#deleteExpired.run(ctx.now, limit).changes;
    }
    this.#activity.deleteExpired(ctx);
    let total = 0;
    for (;;) {
      const { changes } = this.#deleteExpired.run(ctx.now, this.#batch);
      total += changes;
      if (changes < this.#batch) return total;
      // Let requests run between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Live session records: one COUNT over the expiry index. */
  async countLive(ctx: StoreContext): Promise<number> {
    return this.#countLive.get(ctx.now)!.n;
  }

  async listByUser(userId: string, tenant: string | null, ctx: StoreContext): Promise<KeyedRecord[]> {
    const rows = tenant === null ? this.#byUser.all(userId, ctx.now) : this.#byUserTenant.all(userId, tenant, ctx.now);
    return rows.map((row) => ({ key: row.key, record: toRecord(row) }));
  }

  /** A page of the live records, in key order (the cursor is the last key of the page before). */
  async listSessions(query: ListQuery, ctx: StoreContext): Promise<SessionPage> {
    const rows = this.#page.all(query.cursor ?? '', ctx.now, query.tenant, query.tenant, query.limit + 1);
    const more = rows.length > query.limit;
    const records = (more ? rows.slice(0, query.limit) : rows).map((row) => ({ key: row.key, record: toRecord(row) }));
    return { records, next: more ? records[records.length - 1]!.key : null };
  }

  /** Per-tab activity, in the table `<table>_activity` (see docs/activity.md). */
  async recordActivity(key: string, tab: string, at: number, expiresAt: number): Promise<void> {
    this.#activity.record(key, tab, at, expiresAt);
  }

  async activityOf(key: string, ctx: StoreContext): Promise<Record<string, number>> {
    return this.#activity.of(key, ctx);
  }

  async listActivity(query: ActivityQuery, ctx: StoreContext): Promise<SessionActivity[]> {
    return this.#activity.list(query, ctx);
  }

  /** Stops the checkpoint thread, then closes the connection (which checkpoints what is left). */
  async close(): Promise<void> {
    await this.#checkpointer?.stop();
    if (this.#owned && this.#db.open) this.#db.close();
  }
}
