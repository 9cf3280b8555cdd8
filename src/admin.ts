/**
 * The operators' view of the sessions, as `tessera.admin`: list them (by user, tenant, recent
 * activity), look one up by handle with its tabs, revoke one or all of a user's, count them, and
 * clean up. The CLI (`tessera sessions …`) and the admin page are built on it. Sessions are named
 * by their handle (the store key, a hash of the ID): nothing here sees or gives a session ID.
 *
 * @module
 */
import type { ActivityTracker } from './activity.js';
import type { Backend } from './core/backend.js';
import { subjectOf, type Events } from './core/events.js';
import type { SessionInfo } from './manager.js';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1_000;
/** Page size of the passes that walk every session (`stats`). */
const PASS_PAGE = 500;

/**
 * What {@link SessionAdmin.list} filters on. Every field is optional; filters combine.
 *
 * @example
 * ```ts
 * const query: AdminListQuery = { userId: 'u1', activeSince: Date.now() - 5 * 60_000 };
 * ```
 */
export interface AdminListQuery {
  /** Only this user's sessions (from the store's by-user index). */
  readonly userId?: string;
  /** Only this tenant's sessions; not given: every tenant's. */
  readonly tenant?: string;
  /** Only sessions with a tab active at or after this time (ms since the epoch, or a `Date`): needs a store that keeps activity. */
  readonly activeSince?: number | Date;
  /** At most this many sessions per page. Default 50; at most 1 000. */
  readonly limit?: number;
  /** The `next` of the page before; not given: the first page. */
  readonly cursor?: string | null;
}

/**
 * A page of {@link SessionAdmin.list}.
 *
 * @example
 * ```ts
 * const page: AdminPage = await tessera.admin.list();
 * for (const s of page.sessions) console.log(s.handle, s.userId, s.lastActiveAt);
 * ```
 */
export interface AdminPage {
  readonly sessions: AdminSession[];
  /** Pass it as `cursor` for the next page; `null` when there is none. */
  readonly next: string | null;
}

/**
 * A session as operators see it: its metadata, and its last activity when the store keeps
 * activity (docs/activity.md).
 *
 * @example
 * ```ts
 * const s: AdminSession | null = await tessera.admin.show(handle);
 * if (s) console.log(Object.keys(s.tabs).length, 'tabs');
 * ```
 */
export interface AdminSession extends SessionInfo {
  /** The latest activity of its tabs (ms since the epoch); `null` when none was recorded or the store keeps none. */
  readonly lastActiveAt: number | null;
  /** Tab → last activity (ms since the epoch); `{}` when none. */
  readonly tabs: Readonly<Record<string, number>>;
}

/**
 * Counts from {@link SessionAdmin.stats}.
 *
 * @example
 * ```ts
 * const { sessions, users, activeLast5Minutes } = await tessera.admin.stats();
 * ```
 */
export interface AdminStats {
  /** Live sessions. */
  readonly sessions: number;
  /** Live sessions that are signed in. */
  readonly signedIn: number;
  /** Distinct users signed in. */
  readonly users: number;
  /** Live sessions per tenant (`''`: sessions without a tenant). */
  readonly byTenant: Readonly<Record<string, number>>;
  /** Sessions with a tab active in the last 5 minutes; `null` when the store keeps no activity. */
  readonly activeLast5Minutes: number | null;
}

/** What {@link SessionAdmin} is made of (by the manager). */
export interface AdminParts {
  readonly backend: Backend;
  readonly activity: ActivityTracker;
  readonly events: Events;
  readonly now: () => number;
  readonly assertOpen: () => void;
}

/**
 * Operator functions over every session: `tessera.admin`. Not for request handlers acting for
 * a user — those use `listByUser` and `destroyByHandle({ userId })`, which check ownership.
 * Needs a server store; with `CookieStore` each call rejects with `NotSupportedError` (its
 * sessions live in the browsers).
 *
 * @example
 * ```ts
 * const { sessions } = await tessera.admin.list({ activeSince: Date.now() - 60_000 });
 * for (const s of sessions) if (s.ip === '203.0.113.9') await tessera.admin.revoke(s.handle);
 * ```
 */
export class SessionAdmin {
  readonly #parts: AdminParts;

  /** Made by the manager: use `tessera.admin`. */
  constructor(parts: AdminParts) {
    this.#parts = parts;
  }

  /**
   * A page of live sessions, filtered by user, tenant and recent activity. Without filters, in
   * the store's order; with `activeSince`, the most recently active first; a user's sessions all
   * in one page, the most recently used first.
   *
   * @throws `TypeError` on a malformed query; `NotSupportedError` when the store cannot answer
   * it (no listing, no by-user index, no activity).
   * @example
   * ```ts
   * let page = await tessera.admin.list({ tenant: 'acme', limit: 100 });
   * while (page.next !== null) page = await tessera.admin.list({ tenant: 'acme', limit: 100, cursor: page.next });
   * ```
   */
  async list(query: AdminListQuery = {}): Promise<AdminPage> {
    this.#parts.assertOpen();
    const q = checkQuery(query);
    if (q.userId !== undefined) {
      const infos = await this.#parts.backend.listByUser(q.userId, q.tenant);
      const sessions = await this.#withActivity(infos);
      return { sessions: q.since === undefined ? sessions : sessions.filter((s) => s.lastActiveAt !== null && s.lastActiveAt >= q.since!), next: null };
    }
    if (q.since !== undefined) return this.#active(q.since, q.tenant, q.limit, q.cursor);
    const page = await this.#parts.backend.listSessions(q.tenant, q.cursor, q.limit);
    return { sessions: await this.#withActivity(page.sessions), next: page.next };
  }

  /**
   * The live session under `handle` with its tabs, or `null` (none, expired, or not a handle).
   *
   * @example
   * ```ts
   * const s = await tessera.admin.show(handle);
   * console.log(s?.userId, s?.ip, s?.tabs);
   * ```
   */
  async show(handle: string): Promise<AdminSession | null> {
    this.#parts.assertOpen();
    if (typeof handle !== 'string') throw new TypeError('admin.show(handle): handle must be a string');
    const info = await this.#parts.backend.infoByHandle(handle);
    return info === null ? null : (await this.#withActivity([info]))[0]!;
  }

  /**
   * Revoke (destroy) the session under `handle`, whoever's it is: its next request starts a new
   * session, and its live streams end. Emits `revoked`. Resolves whether a live session was there.
   *
   * @example
   * ```ts
   * if (!(await tessera.admin.revoke(handle))) console.log('already gone');
   * ```
   */
  async revoke(handle: string): Promise<boolean> {
    this.#parts.assertOpen();
    if (typeof handle !== 'string') throw new TypeError('admin.revoke(handle): handle must be a string');
    // One read and one delete; the `destroyed` event it emits ends the session's live streams.
    const gone = await this.#parts.backend.destroyByHandle(handle, null);
    if (gone === null) return false;
    // With the session's user and tenant: an operator's action is audited with whose session it ended.
    this.#parts.events.emit('revoked', subjectOf(handle, null, gone), 'operator');
    return true;
  }

  /**
   * Revoke every session of a user (within `tenant` when given), each as by {@link SessionAdmin.revoke}.
   * Resolves how many were revoked.
   *
   * @example
   * ```ts
   * const n = await tessera.admin.revokeUser('u1');
   * ```
   */
  async revokeUser(userId: string, options: { tenant?: string } = {}): Promise<number> {
    this.#parts.assertOpen();
    if (typeof userId !== 'string' || userId === '') throw new TypeError('admin.revokeUser(userId): userId must be a non-empty string');
    let count = 0;
    for (const info of await this.#parts.backend.listByUser(userId, checkTenant(options.tenant))) {
      if (info.userId === userId && (await this.revoke(info.handle))) count++;
    }
    return count;
  }

  /**
   * Count the live sessions, signed-in users and tenants — a walk over every session, page by
   * page (`onProgress` is told how many were counted so far) — and the recently active ones.
   *
   * @example
   * ```ts
   * const stats = await tessera.admin.stats({ onProgress: (n) => process.stderr.write(`\r${n}`) });
   * ```
   */
  async stats(options: { tenant?: string; onProgress?: (counted: number) => void } = {}): Promise<AdminStats> {
    this.#parts.assertOpen();
    const tenant = checkTenant(options.tenant);
    let sessions = 0;
    let signedIn = 0;
    const users = new Set<string>();
    const byTenant: Record<string, number> = {};
    let cursor: string | null = null;
    do {
      const page: { sessions: SessionInfo[]; next: string | null } = await this.#parts.backend.listSessions(tenant, cursor, PASS_PAGE);
      for (const s of page.sessions) {
        sessions++;
        if (s.userId !== null) {
          signedIn++;
          users.add(`${s.tenant ?? ''}\0${s.userId}`);
        }
        byTenant[s.tenant ?? ''] = (byTenant[s.tenant ?? ''] ?? 0) + 1;
      }
      options.onProgress?.(sessions);
      cursor = page.next;
    } while (cursor !== null);
    let activeLast5Minutes: number | null = null;
    if (this.#parts.activity.enabled) {
      const since = this.#parts.now() - 5 * 60_000;
      activeLast5Minutes = (await this.#parts.activity.activeSessions({ since, tenant, limit: 10_000 })).length;
    }
    return { sessions, signedIn, users: users.size, byTenant, activeLast5Minutes };
  }

  /**
   * Sessions active since `since`, the most recent first. The cursor is the page's last time and
   * the handles of that page last active in that very millisecond: the next page starts at that
   * time, without them.
   */
  async #active(since: number, tenant: string | null, limit: number, cursor: string | null): Promise<AdminPage> {
    let before = Infinity;
    let seen = new Set<string>();
    if (cursor !== null) {
      const [time, handles = ''] = cursor.split(':', 2);
      before = Number(time) + 1;
      if (!Number.isSafeInteger(before)) throw new TypeError('admin.list: this cursor does not come from a listing by activeSince');
      seen = new Set(handles.split(',').filter(Boolean));
    }
    const listed = await this.#parts.activity.activeSessions({ since, before, tenant, limit: Math.min(limit + seen.size + 1, 10_000) });
    const page = listed.filter((a) => !seen.has(a.handle));
    const shown = page.slice(0, limit);
    const sessions: AdminSession[] = [];
    for (const a of shown) {
      const info = await this.#parts.backend.infoByHandle(a.handle);
      if (info !== null) sessions.push({ ...info, lastActiveAt: a.lastActiveAt, tabs: a.tabs });
    }
    if (page.length <= limit) return { sessions, next: null };
    const last = shown[shown.length - 1]!.lastActiveAt;
    const tied = [...(last === before - 1 ? seen : []), ...shown.filter((a) => a.lastActiveAt === last).map((a) => a.handle)];
    return { sessions, next: `${last}:${tied.join(',')}` };
  }

  async #withActivity(infos: SessionInfo[]): Promise<AdminSession[]> {
    if (!this.#parts.activity.enabled) return infos.map((info) => ({ ...info, lastActiveAt: null, tabs: {} }));
    return Promise.all(
      infos.map(async (info) => {
        const tabs = await this.#parts.activity.sessionActivity(info.handle);
        const times = Object.values(tabs);
        return { ...info, lastActiveAt: times.length === 0 ? null : Math.max(...times), tabs };
      }),
    );
  }
}

interface CheckedQuery {
  readonly userId: string | undefined;
  readonly tenant: string | null;
  readonly since: number | undefined;
  readonly limit: number;
  readonly cursor: string | null;
}

function checkQuery(query: AdminListQuery): CheckedQuery {
  if (query === null || typeof query !== 'object') throw new TypeError('admin.list(query): query must be an object');
  const { userId, activeSince, limit = DEFAULT_LIMIT, cursor = null } = query;
  if (userId !== undefined && (typeof userId !== 'string' || userId === '')) throw new TypeError('admin.list: userId must be a non-empty string');
  const since = activeSince instanceof Date ? activeSince.getTime() : activeSince;
  if (since !== undefined && (typeof since !== 'number' || !Number.isFinite(since))) throw new TypeError('admin.list: activeSince must be a time in ms or a valid Date');
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new TypeError(`admin.list: limit must be an integer from 1 to ${MAX_LIMIT}`);
  if (cursor !== null && typeof cursor !== 'string') throw new TypeError('admin.list: cursor must be the `next` of a page');
  return { userId, tenant: checkTenant(query.tenant), since, limit, cursor };
}

function checkTenant(tenant: string | undefined): string | null {
  if (tenant === undefined) return null;
  if (typeof tenant !== 'string' || tenant === '') throw new TypeError('admin: tenant must be a non-empty string (leave it out for every tenant)');
  return tenant;
}
