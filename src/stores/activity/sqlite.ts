/**
 * The activity of {@link SqliteStore}: a table `<table>_activity` beside the sessions, one row per
 * tab (`key`, `tab`, `at`, `expires_at`), created with the session table.
 *
 * @module
 * @internal
 */
import type { SqliteDatabase, SqliteStatement } from '../sqlite.js';
import type { ActivityQuery, SessionActivity, StoreContext } from '../store.js';
import { groupActivity, type ActivityRow } from './sql.js';

interface ListParams {
  since: number;
  before: number;
  now: number;
  tenant: string | null;
  limit: number;
}

/**
 * Per-tab activity in SQLite. The store calls {@link SqliteActivity.forget} from `delete` and
 * {@link SqliteActivity.deleteExpired} from its cleanup.
 *
 * @example
 * ```ts
 * const activity = new SqliteActivity(db, 'tessera_sessions');
 * activity.record(key, tab, now, now + 3_600_000);
 * ```
 */
export class SqliteActivity {
  readonly #upsert: SqliteStatement<[string, string, number, number]>;
  readonly #of: SqliteStatement<[string, number], { tab: string; at: number }>;
  readonly #list: SqliteStatement<[ListParams], ActivityRow>;
  readonly #forget: SqliteStatement<[string]>;
  readonly #deleteExpired: SqliteStatement<[number, number]>;

  /** Creates the table if missing. `table`: the session table (a checked identifier). */
  constructor(db: SqliteDatabase, table: string) {
    const act = `${table}_activity`;
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${act} (
        key TEXT NOT NULL,
        tab TEXT NOT NULL,
        at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (key, tab)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS ${act}_at ON ${act} (at);
      CREATE INDEX IF NOT EXISTS ${act}_expires ON ${act} (expires_at);
    `);
    this.#upsert = db.prepare(
      `INSERT INTO ${act} (key, tab, at, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key, tab) DO UPDATE SET at = max(at, excluded.at), expires_at = max(expires_at, excluded.expires_at)`,
    ) as SqliteStatement<[string, string, number, number]>;
    this.#of = db.prepare(`SELECT tab, at FROM ${act} WHERE key = ? AND expires_at > ?`) as SqliteStatement<[string, number], { tab: string; at: number }>;
    // The sessions last active in [since, before) with a live record (of the tenant), most recent
    // first; then every live tab of each. A session's last activity is in range exactly when its
    // latest tab is, so the inner query reads only rows from `since` on (the `at` index).
    this.#list = db.prepare(
      `WITH recent AS (
         SELECT a.key, max(a.at) AS last FROM ${act} a JOIN ${table} s ON s.key = a.key
         WHERE a.at >= @since AND a.expires_at > @now AND s.expires_at > @now AND (@tenant IS NULL OR s.tenant = @tenant)
         GROUP BY a.key HAVING max(a.at) < @before ORDER BY last DESC, a.key LIMIT @limit)
       SELECT r.key, a.tab, a.at, s.user_id, s.tenant FROM recent r
       JOIN ${act} a ON a.key = r.key AND a.expires_at > @now
       JOIN ${table} s ON s.key = r.key
       ORDER BY r.last DESC, r.key`,
    ) as SqliteStatement<[ListParams], ActivityRow>;
    this.#forget = db.prepare(`DELETE FROM ${act} WHERE key = ?`) as SqliteStatement<[string]>;
    // At most `limit` (-1: no limit) rows per statement, through the expiry index.
    this.#deleteExpired = db.prepare(
      `DELETE FROM ${act} WHERE (key, tab) IN (SELECT key, tab FROM ${act} WHERE expires_at <= ? LIMIT ?)`,
    ) as SqliteStatement<[number, number]>;
  }

  record(key: string, tab: string, at: number, expiresAt: number): void {
    this.#upsert.run(key, tab, at, expiresAt);
  }

  of(key: string, ctx: StoreContext): Record<string, number> {
    const out: Record<string, number> = {};
    for (const row of this.#of.all(key, ctx.now)) out[row.tab] = row.at;
    return out;
  }

  list(query: ActivityQuery, ctx: StoreContext): SessionActivity[] {
    const before = query.before === Infinity ? Number.MAX_SAFE_INTEGER : query.before;
    const since = query.since === -Infinity ? Number.MIN_SAFE_INTEGER : query.since;
    return groupActivity(this.#list.all({ since, before, now: ctx.now, tenant: query.tenant, limit: query.limit }));
  }

  forget(key: string): void {
    this.#forget.run(key);
  }

  /** Remove at most `limit` expired entries (`-1`: all of them); how many were removed. */
  deleteExpired(ctx: StoreContext, limit = -1): number {
    return this.#deleteExpired.run(ctx.now, limit).changes;
  }
}
