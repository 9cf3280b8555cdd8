/**
 * The admin page's views: the list of sessions (with the filters, paging, the chart and "who's
 * online") and one session's detail (metadata, tabs, the user's other sessions). Pure functions of
 * what the router read; every value goes through the escaping `html` tag.
 *
 * @module
 */
import type { AdminSession } from '../admin.js';
import { ago, frame, html, Markup, timeOf } from './html.js';
import type { Sample } from './sampler.js';

/** The list's filters, as read from the query. */
export interface ListFilters {
  readonly user: string;
  readonly tenant: string;
  /** Minutes; `null`: any time. */
  readonly active: number | null;
  readonly limit: number;
}

/** What every view needs: where the page is mounted, the time, and the operator's session. */
export interface ViewContext {
  readonly base: string;
  readonly now: number;
  /** The operator's own session handle (marked "you"). */
  readonly self: string;
  /** The hidden CSRF field for the revoke forms (`session.csrfField()`: markup tessera escaped). */
  readonly csrfField: string;
}

/** The chart and "who's online" as the list shows them. */
export interface OnlineView {
  readonly available: boolean;
  readonly latest: Sample | null;
  readonly every: number;
  readonly window: number;
}

/** Choices of the "active within" filter, in minutes. */
const ACTIVE_CHOICES: readonly (readonly [number | null, string])[] = [
  [null, 'any time'],
  [5, '5 minutes'],
  [15, '15 minutes'],
  [60, 'an hour'],
  [1440, 'a day'],
];

/**
 * A query string of the list (filters and cursor), for links.
 *
 * @example
 * ```ts
 * listHref('/admin', { user: 'ada', tenant: '', active: null, limit: 50 }); // '/admin?user=ada'
 * ```
 */
export function listHref(base: string, filters: Partial<ListFilters>, cursor?: string): string {
  const q = new URLSearchParams();
  if (filters.user) q.set('user', filters.user);
  if (filters.tenant) q.set('tenant', filters.tenant);
  if (filters.active != null) q.set('active', String(filters.active));
  if (filters.limit !== undefined && filters.limit !== 50) q.set('limit', String(filters.limit));
  if (cursor !== undefined) q.set('cursor', cursor);
  const text = q.toString();
  return text === '' ? base : `${base}?${text}`;
}

const detailHref = (base: string, handle: string) => `${base}/sessions/${encodeURIComponent(handle)}`;

function revokeForm(ctx: ViewContext, handle: string, label = 'Revoke'): Markup {
  return html`<form class="inline" method="post" action="${detailHref(ctx.base, handle)}/revoke">${new Markup(ctx.csrfField)}<button class="danger" name="revoke" value="${handle}">${label}</button></form>`;
}

function userCell(ctx: ViewContext, s: AdminSession): Markup {
  if (s.userId === null) return html`<span title="not signed in">—</span>`;
  return html`<a href="${listHref(ctx.base, { user: s.userId, tenant: s.tenant ?? '' })}">${s.userId}</a>`;
}

function sessionRows(ctx: ViewContext, sessions: readonly AdminSession[], tenants: boolean): Markup[] {
  return sessions.map(
    (s) => html`<tr data-handle="${s.handle}">
<td><a class="session" href="${detailHref(ctx.base, s.handle)}"><code>${s.handle.slice(0, 10)}…</code></a>${s.handle === ctx.self ? html` <span class="you">you</span>` : ''}</td>
<td class="user">${userCell(ctx, s)}</td>${tenants ? html`<td>${s.tenant ?? '—'}</td>` : ''}
<td>${ago(s.lastActiveAt ?? s.lastSeenAt, ctx.now)}</td>
<td>${Object.keys(s.tabs).length}</td>
<td>${s.ip ?? '—'}</td>
<td class="ua">${s.userAgent ?? '—'}</td>
<td>${revokeForm(ctx, s.handle)}</td>
</tr>`,
  );
}

function sessionTable(ctx: ViewContext, sessions: readonly AdminSession[], id: string): Markup {
  const tenants = sessions.some((s) => s.tenant !== null);
  return html`<table id="${id}">
<thead><tr><th>Session</th><th>User</th>${tenants ? html`<th>Tenant</th>` : ''}<th>Last active</th><th>Tabs</th><th>IP</th><th>User agent</th><th></th></tr></thead>
<tbody>${sessionRows(ctx, sessions, tenants)}</tbody>
</table>`;
}

function onlinePanel(ctx: ViewContext, online: OnlineView): Markup {
  const minutes = Math.round(online.window / 60_000);
  if (!online.available) {
    return html`<section class="online"><p class="error">This store keeps no activity: no "who's online" and no chart (docs/activity.md).</p></section>`;
  }
  const latest = online.latest;
  return html`<section class="online">
<div><div class="count" id="online-sessions">${latest?.sessions ?? '…'}</div>sessions active in the last ${minutes} min</div>
<div><div class="count" id="online-users">${latest?.users ?? '…'}</div>users among them</div>
<figure>
<svg id="chart" viewBox="0 0 600 160" preserveAspectRatio="none" role="img" aria-label="Active sessions over time" data-src="${ctx.base}/chart.json" data-every="${online.every}" data-points="0"><path class="area" d=""/><path class="line" d=""/></svg>
<figcaption>Active sessions (max <span id="chart-max">–</span>) from <span id="chart-from">–</span> to <span id="chart-to">–</span> UTC, a point every ${online.every / 1000} s</figcaption>
</figure>
</section>`;
}

/** Fixed texts the list shows after a revoke: the query names one, never supplies its words. */
function noticeOf(done: string | null, count: number | null): Markup {
  switch (done) {
    case 'revoked':
      return html`<p class="notice" role="status">Session revoked: its next request starts a new session.</p>`;
    case 'gone':
      return html`<p class="notice" role="status">That session was already gone.</p>`;
    case 'revoked-user':
      return html`<p class="notice" role="status">Revoked ${count ?? 0} session${count === 1 ? '' : 's'} of that user.</p>`;
    default:
      return html``;
  }
}

/**
 * The list of sessions: filters, "who's online" and the chart, a table with revoke buttons, and a
 * link to the next page.
 *
 * @example
 * ```ts
 * listPage(ctx, { filters, sessions: page.sessions, next: page.next, online, error: null, notice: null, count: null });
 * ```
 */
export function listPage(
  ctx: ViewContext,
  view: {
    filters: ListFilters;
    sessions: readonly AdminSession[];
    next: string | null;
    online: OnlineView;
    error: string | null;
    notice: string | null;
    count: number | null;
  },
): Markup {
  const { filters } = view;
  const choices = ACTIVE_CHOICES.map(([value, label]) =>
    value === filters.active ? html`<option value="${value ?? ''}" selected>${label}</option>` : html`<option value="${value ?? ''}">${label}</option>`,
  );
  const body = html`${noticeOf(view.notice, view.count)}
${onlinePanel(ctx, view.online)}
<h2>Sessions</h2>
<form class="filters" method="get" action="${ctx.base}">
<label>User <input type="text" name="user" value="${filters.user}" maxlength="256"></label>
<label>Tenant <input type="text" name="tenant" value="${filters.tenant}" maxlength="255"></label>
<label>Active within <select name="active">${choices}</select></label>
<button id="filter">Filter</button> <a href="${ctx.base}">clear</a>
</form>
${view.error === null ? '' : html`<p class="error" role="alert">${view.error}</p>`}
${view.sessions.length === 0 && view.error === null ? html`<p id="empty">No sessions match.</p>` : sessionTable(ctx, view.sessions, 'sessions')}
${view.next === null ? '' : html`<p><a id="next" href="${listHref(ctx.base, filters, view.next)}">Next page →</a></p>`}`;
  return frame({ base: ctx.base, title: 'Sessions', body });
}

/**
 * One session: its metadata, tabs with their last activity, a revoke button (and one for all of
 * its user's sessions), and the user's other sessions.
 *
 * @example
 * ```ts
 * detailPage(ctx, session, others);
 * ```
 */
export function detailPage(ctx: ViewContext, s: AdminSession, others: readonly AdminSession[]): Markup {
  const tabs = Object.entries(s.tabs).sort((a, b) => b[1] - a[1]);
  const body = html`<dl id="meta">
<dt>Handle</dt><dd><code>${s.handle}</code>${s.handle === ctx.self ? html` <span class="you">your own session</span>` : ''}</dd>
<dt>User</dt><dd>${userCell(ctx, s)}</dd>
<dt>Tenant</dt><dd>${s.tenant ?? '—'}</dd>
<dt>Created</dt><dd>${timeOf(s.createdAt)}</dd>
<dt>Last request</dt><dd>${timeOf(s.lastSeenAt)} (${ago(s.lastSeenAt, ctx.now)})</dd>
<dt>Last active</dt><dd>${timeOf(s.lastActiveAt)}</dd>
<dt>Expires</dt><dd>${timeOf(s.expiresAt)}</dd>
<dt>IP</dt><dd>${s.ip ?? '—'}</dd>
<dt>User agent</dt><dd class="ua">${s.userAgent ?? '—'}</dd>
</dl>
<p>${revokeForm(ctx, s.handle, 'Revoke this session')}
${s.userId === null ? '' : html`<form class="inline" method="post" action="${ctx.base}/users/revoke">${new Markup(ctx.csrfField)}<input type="hidden" name="user" value="${s.userId}">${s.tenant === null ? '' : html`<input type="hidden" name="tenant" value="${s.tenant}">`}<button class="danger">Revoke all of this user's sessions</button></form>`}</p>
<h2>Tabs</h2>
${
  tabs.length === 0
    ? html`<p id="no-tabs">No tab activity recorded.</p>`
    : html`<table id="tabs"><thead><tr><th>Tab</th><th>Last active</th></tr></thead><tbody>${tabs.map(
        ([tab, at]) => html`<tr><td><code>${tab}</code></td><td>${timeOf(at)} (${ago(at, ctx.now)})</td></tr>`,
      )}</tbody></table>`
}
${s.userId === null ? '' : html`<h2>The user's other sessions</h2>${others.length === 0 ? html`<p>None.</p>` : sessionTable(ctx, others, 'others')}`}`;
  return frame({ base: ctx.base, title: 'Session', body });
}

/**
 * A page with one message (refused, not found, a bad form).
 *
 * @example
 * ```ts
 * messagePage('/admin', 'Forbidden', 'This page is for operators.');
 * ```
 */
export function messagePage(base: string, title: string, message: string): Markup {
  return frame({ base, title, body: html`<p class="error">${message}</p><p><a href="${base}">Back to the sessions</a></p>` });
}
