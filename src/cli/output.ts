/**
 * What the CLI prints: sessions as a table or as key–value lines for people, JSON for scripts
 * (`--json`). Times print in UTC (ISO 8601, to the second); JSON keeps them as ms since the epoch,
 * as `tessera.admin` gives them.
 *
 * @module
 */
import type { AdminSession, AdminStats } from '../admin.js';

/**
 * A time for people: `2026-12-04T21:54:05Z`; `-` for none.
 *
 * @example
 * ```ts
 * formatTime(0); // '1970-01-01T00:00:00Z'
 * ```
 */
export function formatTime(ms: number | null): string {
  return ms === null ? '-' : `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/**
 * JSON for `--json`: indented, one trailing newline.
 *
 * @example
 * ```ts
 * process.stdout.write(formatJson({ revoked: 2 }));
 * ```
 */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * Sessions as a table, one per line, the handle first (what `sessions show` and `revoke` take).
 *
 * @example
 * ```ts
 * process.stdout.write(formatSessionTable(page.sessions));
 * ```
 */
export function formatSessionTable(sessions: readonly AdminSession[]): string {
  const header = ['HANDLE', 'USER', 'TENANT', 'IP', 'LAST SEEN', 'LAST ACTIVE', 'EXPIRES', 'USER AGENT'];
  const rows = sessions.map((s) => [
    s.handle,
    printable(s.userId ?? '-'),
    printable(s.tenant ?? '-'),
    printable(s.ip ?? '-'),
    formatTime(s.lastSeenAt),
    formatTime(s.lastActiveAt),
    formatTime(s.expiresAt),
    shorten(printable(s.userAgent ?? '-'), 40),
  ]);
  return formatTable(header, rows);
}

/**
 * One session, field by field, then its tabs.
 *
 * @example
 * ```ts
 * process.stdout.write(formatSession(session));
 * ```
 */
export function formatSession(s: AdminSession): string {
  const lines: [string, string][] = [
    ['handle', s.handle],
    ['user', printable(s.userId ?? '-')],
    ['tenant', printable(s.tenant ?? '-')],
    ['ip', printable(s.ip ?? '-')],
    ['user agent', printable(s.userAgent ?? '-')],
    ['created', formatTime(s.createdAt)],
    ['last seen', formatTime(s.lastSeenAt)],
    ['last active', formatTime(s.lastActiveAt)],
    ['expires', formatTime(s.expiresAt)],
  ];
  const tabs = Object.entries(s.tabs).sort((a, b) => b[1] - a[1]);
  lines.push(['tabs', tabs.length === 0 ? '-' : String(tabs.length)]);
  const width = Math.max(...lines.map(([k]) => k.length));
  const out = lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  for (const [tab, at] of tabs) out.push(`  ${printable(tab)}  ${formatTime(at)}`);
  return `${out.join('\n')}\n`;
}

/**
 * Counts of `sessions stats` for people.
 *
 * @example
 * ```ts
 * process.stdout.write(formatStats(await tessera.admin.stats()));
 * ```
 */
export function formatStats(stats: AdminStats): string {
  const lines = [
    `sessions              ${stats.sessions}`,
    `signed in             ${stats.signedIn}`,
    `users                 ${stats.users}`,
    `active last 5 minutes ${stats.activeLast5Minutes ?? '- (the store keeps no activity)'}`,
  ];
  const tenants = Object.entries(stats.byTenant).sort((a, b) => b[1] - a[1]);
  if (tenants.length > 0 && !(tenants.length === 1 && tenants[0]![0] === '')) {
    lines.push('by tenant:');
    const width = Math.max(...tenants.map(([t]) => (t === '' ? 11 : t.length)));
    for (const [tenant, n] of tenants) lines.push(`  ${(tenant === '' ? '(no tenant)' : printable(tenant)).padEnd(width)}  ${n}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Rows under a header, each column as wide as its widest cell; the last column is not padded.
 *
 * @example
 * ```ts
 * formatTable(['A', 'B'], [['1', '2']]); // 'A  B\n1  2\n'
 * ```
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[header, ...rows].map(line).join('\n')}\n`;
}

/** `text` cut to `max` characters, ending in `…` when cut. */
function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** `text` with its control characters shown as `?`: what a client sent (a user agent) must not drive the terminal. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}
