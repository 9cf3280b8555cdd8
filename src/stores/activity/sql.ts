/**
 * What the SQL stores' activity share: the rows a listing query returns, grouped into sessions.
 *
 * @module
 * @internal
 */
import type { SessionActivity } from '../store.js';

/** One row of a listing: a tab of a session, with the session's user and tenant. */
export interface ActivityRow {
  key: string;
  tab: string;
  at: number | string;
  user_id: string | null;
  tenant: string | null;
}

/**
 * Rows ordered by the session's last activity (most recent first), grouped into sessions in that order.
 *
 * @example
 * ```ts
 * const sessions = groupActivity(rows); // [{ key, userId, tenant, tabs: { tab: at } }, ...]
 * ```
 */
export function groupActivity(rows: readonly ActivityRow[]): SessionActivity[] {
  const out: Array<SessionActivity & { tabs: Record<string, number> }> = [];
  let current: (SessionActivity & { tabs: Record<string, number> }) | null = null;
  for (const row of rows) {
    if (current === null || current.key !== row.key) {
      current = { key: row.key, userId: row.user_id, tenant: row.tenant, tabs: {} };
      out.push(current);
    }
    // bigint columns may arrive as strings; millisecond times are far below 2^53.
    current.tabs[row.tab] = Number(row.at);
  }
  return out;
}
