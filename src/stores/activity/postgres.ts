/**
 * The activity of {@link PostgresStore}: a table `<table>_act` beside the sessions (`_act`, not
 * `_activity`: its index names must fit PostgreSQL's 63-byte identifiers), one row per tab
 * (`key`, `tab`, `at`, `expires_at`), created by the same migration as the session table.
 *
 * @module
 * @internal
 */
import type * as Pg from 'pg';
import type { ActivityQuery, SessionActivity, StoreContext } from '../store.js';
import { groupActivity, type ActivityRow } from './sql.js';

/** The activity table's names: quoted (the table schema-qualified), and the table as text for `to_regclass`. */
export interface ActivityNames {
  readonly table: string;
  readonly at: string;
  readonly expires: string;
  readonly regclass: string;
}

/**
 * The names of the activity table of session table `table` (unquoted) in `prefix` (`"schema".` or `''`).
 *
 * @example
 * ```ts
 * activityNames('tessera_sessions', ''); // { table: '"tessera_sessions_act"', ... }
 * ```
 */
export function activityNames(table: string, prefix: string): ActivityNames {
  const name = `${table}_act`;
  return { table: `${prefix}"${name}"`, at: `"${name}_at"`, expires: `"${name}_exp"`, regclass: `${prefix}"${name}"` };
}

/**
 * The DDL of the activity table (inside the store's migration transaction).
 *
 * @example
 * ```ts
 * const sql = activityMigrationSql(activityNames('tessera_sessions', ''));
 * ```
 */
export function activityMigrationSql(n: ActivityNames): string {
  return `CREATE TABLE IF NOT EXISTS ${n.table} (
  key        text   NOT NULL,
  tab        text   NOT NULL,
  at         bigint NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (key, tab)
);
CREATE INDEX IF NOT EXISTS ${n.at} ON ${n.table} (at);
CREATE INDEX IF NOT EXISTS ${n.expires} ON ${n.table} (expires_at);
`;
}

type Statement = Pg.QueryConfig & { query_timeout?: number };
/** The store's query runner: its table check, error translation and timeout. */
type Run = <R extends Pg.QueryResultRow>(statement: Statement, values: unknown[]) => Promise<Pg.QueryResult<R>>;

/** A millisecond time as a bigint parameter: whole, and within the column for unbounded ends. */
function bound(time: number): number {
  if (time === Infinity) return Number.MAX_SAFE_INTEGER;
  if (time === -Infinity) return Number.MIN_SAFE_INTEGER;
  return Math.floor(time);
}

/**
 * Per-tab activity in PostgreSQL. The store deletes a session's rows with the session (its delete
 * statement) and calls {@link PostgresActivity.deleteExpired} from its cleanup.
 *
 * @example
 * ```ts
 * const activity = new PostgresActivity(activityNames(table, prefix), sessionTable, statement, run, 500);
 * await activity.record(key, tab, now, now + 3_600_000);
 * ```
 */
export class PostgresActivity {
  readonly #run: Run;
  readonly #batch: number;
  readonly #upsert: Statement;
  readonly #of: Statement;
  readonly #list: Statement;
  readonly #deleteExpired: Statement;

  /** `statement(text, hot)`: the store's query config for `text` (named when `hot`). */
  constructor(n: ActivityNames, sessions: string, statement: (text: string, hot: boolean) => Statement, run: Run, batch: number) {
    this.#run = run;
    this.#batch = batch;
    this.#upsert = statement(
      `INSERT INTO ${n.table} AS t (key, tab, at, expires_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (key, tab) DO UPDATE SET at = GREATEST(t.at, excluded.at), expires_at = GREATEST(t.expires_at, excluded.expires_at)`,
      true,
    );
    this.#of = statement(`SELECT tab, at FROM ${n.table} WHERE key = $1 AND expires_at > $2`, false);
    // The sessions last active in [since, before) with a live record (of the tenant), most recent
    // first; then every live tab of each. A session's last activity is in range exactly when its
    // latest tab is, so the inner query reads only rows from `since` on (the `at` index).
    this.#list = statement(
      `WITH recent AS (
         SELECT a.key, max(a.at) AS last FROM ${n.table} a JOIN ${sessions} s ON s.key = a.key
         WHERE a.at >= $1 AND a.expires_at > $3 AND s.expires_at > $3 AND ($4::text IS NULL OR s.tenant = $4::text)
         GROUP BY a.key HAVING max(a.at) < $2 ORDER BY last DESC, a.key LIMIT $5)
       SELECT r.key, a.tab, a.at, s.user_id, s.tenant FROM recent r
       JOIN ${n.table} a ON a.key = r.key AND a.expires_at > $3
       JOIN ${sessions} s ON s.key = r.key
       ORDER BY r.last DESC, r.key`,
      false,
    );
    this.#deleteExpired = statement(
      `DELETE FROM ${n.table} WHERE (key, tab) IN (
         SELECT key, tab FROM ${n.table} WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      false,
    );
  }

  async record(key: string, tab: string, at: number, expiresAt: number): Promise<void> {
    await this.#run(this.#upsert, [key, tab, bound(at), Math.ceil(expiresAt)]);
  }

  async of(key: string, ctx: StoreContext): Promise<Record<string, number>> {
    const { rows } = await this.#run<{ tab: string; at: string }>(this.#of, [key, bound(ctx.now)]);
    const out: Record<string, number> = {};
    for (const row of rows) out[row.tab] = Number(row.at);
    return out;
  }

  async list(query: ActivityQuery, ctx: StoreContext): Promise<SessionActivity[]> {
    const values = [bound(query.since), bound(query.before), bound(ctx.now), query.tenant, query.limit];
    return groupActivity((await this.#run<ActivityRow & Pg.QueryResultRow>(this.#list, values)).rows);
  }

  /** Remove expired rows in batches (with `limit`: one batch of at most that many); not counted as sessions. */
  async deleteExpired(ctx: StoreContext, limit?: number): Promise<void> {
    if (limit !== undefined) {
      await this.#run(this.#deleteExpired, [bound(ctx.now), limit]);
      return;
    }
    for (;;) {
      const { rowCount } = await this.#run(this.#deleteExpired, [bound(ctx.now), this.#batch]);
      if ((rowCount ?? 0) < this.#batch) return;
    }
  }
}
