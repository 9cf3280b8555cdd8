/**
 * Activity tracking: when each tab of each session was last active, in the store, so that every
 * process sees it. A request that names its tab (the `x-tessera-tab` header the live client sends)
 * and an event of a live stream record it, at most once per `activity.interval` per tab and
 * process; {@link ActivityTracker} reads it back by session handle and signs out idle sessions.
 * See docs/activity.md.
 *
 * @module
 */
import { GenerationalCache } from './cache.js';
import type { StoreDriver } from './core/driver.js';
import { isWellFormedId } from './crypto/ids.js';
import { ConfigError, NotSupportedError, TenantError } from './errors.js';
import type { Logger } from './options.js';
import type { Session } from './session.js';

const SECOND = 1_000;
/** The longest delay `setInterval` accepts. */
const MAX_TIMER = 2 ** 31 - 1;
/** Tabs whose last write time one process remembers for the throttle; past it, the oldest are forgotten (and written again). */
const THROTTLE_ENTRIES = 20_000;
/** Most sessions one listing returns. */
const MAX_LIMIT = 10_000;

/**
 * The `activity` option of `createTessera`.
 *
 * @example
 * ```ts
 * const activity: ActivityOptions = { interval: 60_000, signOutIdleAfter: 30 * 60_000 };
 * createTessera({ secrets, store: new MemoryStore(), activity });
 * ```
 */
export interface ActivityOptions {
  /**
   * Least time (ms) between two writes of one tab's activity by one process: a tab's time in the
   * store is at most this much behind. Default 30 000; at least 1 000.
   */
  interval?: number;
  /**
   * Sign out (destroy) sessions whose last activity, of any tab, is older than this (ms), on the
   * cleanup timer (`cleanupInterval`) and by {@link ActivityTracker.signOutIdle}. Sessions that
   * never named a tab are left to `idleTimeout`. Must exceed `interval`. Default: off.
   */
  signOutIdleAfter?: number | null;
}

/**
 * A session that is online, as {@link ActivityTracker.activeSessions} lists it.
 *
 * @example
 * ```ts
 * const [latest]: ActiveSession[] = await tessera.activity.activeSessions({ since: Date.now() - 5 * 60_000 });
 * latest?.handle; // as session.handle and listByUser's handle
 * ```
 */
export interface ActiveSession {
  /** The session's handle (its store key): as `session.handle` and `SessionInfo.handle`. */
  readonly handle: string;
  readonly userId: string | null;
  readonly tenant: string | null;
  /** The latest activity of its tabs (ms since the epoch). */
  readonly lastActiveAt: number;
  /** Tab → last activity (ms since the epoch). */
  readonly tabs: Readonly<Record<string, number>>;
}

/**
 * What {@link ActivityTracker.activeSessions} is asked.
 *
 * @example
 * ```ts
 * const query: ActiveSessionsQuery = { since: Date.now() - 60_000, tenant: 'acme', limit: 50 };
 * ```
 */
export interface ActiveSessionsQuery {
  /** Sessions active at or after this time (ms since the epoch). */
  since: number;
  /** ...and last active before this time (ms, exclusive): to page on from the last of a page. Default: no bound. */
  before?: number;
  /** Only this tenant's sessions; not given or `null`: every tenant's. */
  tenant?: string | null;
  /** At most this many, the most recent first. Default 100; at most 10 000. */
  limit?: number;
}

/** What the tracker is made of (the manager gives it). */
export interface ActivityParts {
  /** The session store's driver; `null` with `CookieStore` (sessions live in browsers). */
  readonly driver: StoreDriver | null;
  readonly options: ActivityOptions | undefined;
  readonly now: () => number;
  readonly logger: Logger;
  /** The default idle timeout: the window of `sessionActivities()` and the expiry of activity recorded without one. */
  readonly idleTimeout: number;
  /** How often the idle sign-out runs (`cleanupInterval`; `0`: never by itself). */
  readonly cleanupInterval: number;
  /** Destroy a session by handle, whoever's it is, through the manager (so the live hub closes its streams). */
  readonly destroy: (handle: string) => Promise<boolean>;
}

/**
 * Per-tab activity of sessions: `tessera.activity`. Every read takes a session (a `Session` or
 * its `handle`), never a session ID. Reads reject with {@link NotSupportedError} with
 * `CookieStore` and with stores without the activity ability.
 *
 * @example
 * ```ts
 * const tabs = await tessera.activity.sessionActivity(session); // { 'k3Jd9_aQ0xZ-7mNw1pLr2A': 1767225600000 }
 * const online = await tessera.activity.activeSessions({ since: Date.now() - 5 * 60_000 });
 * ```
 */
export class ActivityTracker {
  /** Least time (ms) between two writes of one tab's activity by this process. */
  readonly interval: number;
  /** Sessions idle longer than this (ms) are signed out; `null`: never. */
  readonly signOutIdleAfter: number | null;
  /** The store keeps activity (a server store with the ability). */
  readonly enabled: boolean;
  readonly #driver: StoreDriver | null;
  readonly #now: () => number;
  readonly #logger: Logger;
  readonly #idleTimeout: number;
  readonly #destroy: (handle: string) => Promise<boolean>;
  /** `key \0 tab` → when this process last wrote it. */
  readonly #written = new GenerationalCache<string, number>(THROTTLE_ENTRIES);
  #timer: NodeJS.Timeout | null = null;

  /** @throws {@link ConfigError} on a bad `activity` option. Made by the manager. */
  constructor(parts: ActivityParts) {
    const given = parts.options ?? {};
    if (given === null || typeof given !== 'object') throw new ConfigError('activity must be an object: { interval?, signOutIdleAfter? }');
    const interval = given.interval ?? 30 * SECOND;
    if (typeof interval !== 'number' || !Number.isFinite(interval) || interval < SECOND || interval > MAX_TIMER) {
      throw new ConfigError(`activity.interval must be a number of milliseconds from ${SECOND} to ${MAX_TIMER}`);
    }
    const idle = given.signOutIdleAfter ?? null;
    if (idle !== null && (typeof idle !== 'number' || !Number.isFinite(idle) || idle <= interval)) {
      throw new ConfigError(`activity.signOutIdleAfter must be a number of milliseconds greater than activity.interval (${interval} ms), or null`);
    }
    this.interval = interval;
    this.signOutIdleAfter = idle;
    this.#driver = parts.driver;
    this.enabled = parts.driver?.tracksActivity === true;
    if (idle !== null && !this.enabled) {
      throw new ConfigError(`activity.signOutIdleAfter needs a store that keeps activity; the ${parts.driver?.store.name ?? 'cookie'} store keeps none`);
    }
    this.#now = parts.now;
    this.#logger = parts.logger;
    this.#idleTimeout = parts.idleTimeout;
    this.#destroy = parts.destroy;
    if (idle !== null && parts.cleanupInterval > 0) {
      this.#timer = setInterval(() => {
        this.signOutIdle().catch((error) => this.#logger.warn?.({ error: String(error) }, 'tessera: idle sign-out failed'));
      }, parts.cleanupInterval);
      this.#timer.unref();
    }
  }

  /**
   * Note that tab `tab` of the session with store key `key` was active at `now`: written to the
   * store unless this process wrote that tab less than `interval` ago. Returns at once; a store
   * failure goes to the logger. For tessera's request loader and live hub: apps need not call it.
   * `expiresAt`: the session's expiry, when the caller knows it (the entry lives as long);
   * otherwise `now + idleTimeout`. A `tab` that is not a tab ID must be refused by the caller
   * (`isTabId`). Does nothing when the store keeps no activity.
   *
   * @example
   * ```ts
   * tessera.activity.record(session.handle, tab, Date.now(), session.meta.expiresAt);
   * ```
   */
  record(key: string, tab: string, now: number, expiresAt?: number): void {
    if (!this.enabled) return;
    const id = `${key}\0${tab}`;
    const last = this.#written.get(id);
    if (last !== undefined && now - last < this.interval && now >= last) return;
    this.#written.set(id, now);
    this.#driver!.recordActivity(key, tab, now, expiresAt ?? now + this.#idleTimeout, { now }).catch((error: unknown) => {
      this.#written.delete(id); // the next one tries again
      this.#logger.warn?.({ error: String(error) }, 'tessera: recording activity failed');
    });
  }

  /**
   * When tab `tab` of `session` was last active (ms since the epoch), or `null` when never (or
   * its activity expired).
   *
   * @example
   * ```ts
   * const at = await tessera.activity.lastActivity(session, tab);
   * ```
   */
  async lastActivity(session: Session | string, tab: string): Promise<number | null> {
    if (typeof tab !== 'string') throw new TypeError('lastActivity(session, tab): tab must be a string');
    return (await this.sessionActivity(session))[tab] ?? null;
  }

  /**
   * The tabs of `session` with their last activity: tab → ms since the epoch (`{}` for none).
   *
   * @example
   * ```ts
   * await tessera.activity.sessionActivity(session.handle); // { 'k3Jd9_aQ0xZ-7mNw1pLr2A': 1767225600000, ... }
   * ```
   */
  async sessionActivity(session: Session | string): Promise<Record<string, number>> {
    const handle = handleOf(session);
    const driver = this.#reader();
    if (!isWellFormedId(handle)) return {};
    return driver.activityOf(handle, { now: this.#now() });
  }

  /**
   * Activity by session: handle → tab → ms. With `session`, that session's alone (`{}` when it
   * has none); without, every session active within the idle window (`idleTimeout`), at most
   * 10 000, the most recent first.
   *
   * @example
   * ```ts
   * await tessera.activity.sessionActivities(); // { [handle]: { [tab]: ms } }
   * await tessera.activity.sessionActivities(session); // { [session.handle]: { [tab]: ms } }
   * ```
   */
  async sessionActivities(session?: Session | string): Promise<Record<string, Record<string, number>>> {
    if (session !== undefined) {
      const tabs = await this.sessionActivity(session);
      return Object.keys(tabs).length === 0 ? {} : { [handleOf(session)]: tabs };
    }
    const now = this.#now();
    const out: Record<string, Record<string, number>> = {};
    const listed = await this.#reader().listActivity({ since: now - this.#idleTimeout, before: Infinity, tenant: null, limit: MAX_LIMIT }, { now });
    for (const { key, tabs } of listed) out[key] = { ...tabs };
    return out;
  }

  /**
   * Who is online: the sessions active since `since` (of `tenant`, when given), the most recently
   * active first, with their user, tenant and tabs.
   *
   * @throws `TypeError` for a bad query; {@link TenantError} for an empty tenant name.
   * @example
   * ```ts
   * const online = await tessera.activity.activeSessions({ since: Date.now() - 5 * 60_000, tenant: 'acme' });
   * const users = new Set(online.map((s) => s.userId).filter(Boolean));
   * ```
   */
  async activeSessions(query: ActiveSessionsQuery): Promise<ActiveSession[]> {
    const { since, before = Infinity, tenant = null, limit = 100 } = query ?? ({} as ActiveSessionsQuery);
    if (typeof since !== 'number' || Number.isNaN(since)) throw new TypeError('activeSessions({ since }): since must be a time in ms');
    if (typeof before !== 'number' || Number.isNaN(before)) throw new TypeError('activeSessions({ before }): before must be a time in ms');
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new TypeError(`activeSessions: limit must be an integer from 1 to ${MAX_LIMIT}`);
    if (tenant !== null && typeof tenant !== 'string') throw new TypeError('activeSessions: tenant must be a string or null');
    if (tenant === '') throw new TenantError('the tenant name is empty: pass null (or leave it out) for every tenant');
    const driver = this.#reader();
    const listed = await driver.listActivity({ since, before, tenant, limit }, { now: this.#now() });
    return listed.map(({ key, userId, tenant: t, tabs }) => {
      let lastActiveAt = -Infinity;
      for (const tab in tabs) lastActiveAt = Math.max(lastActiveAt, tabs[tab]!);
      return { handle: key, userId, tenant: t, lastActiveAt, tabs: { ...tabs } };
    });
  }

  /**
   * Sign out every session whose last activity (of any tab) is older than `idleAfter` (default:
   * the `activity.signOutIdleAfter` option): each is destroyed as by
   * `tessera.destroyByHandle(handle, { anyUser: true })`, so a `destroyed` event goes out and the
   * live hub closes its streams. Sessions that never named a tab are left alone. Resolves how many
   * were signed out. The cleanup timer runs it when the option is set.
   *
   * @throws {@link ConfigError} with neither `idleAfter` nor the option; {@link NotSupportedError}
   * when the store keeps no activity.
   * @example
   * ```ts
   * const signedOut = await tessera.activity.signOutIdle(); // with activity: { signOutIdleAfter: 30 * 60_000 }
   * await tessera.activity.signOutIdle(15 * 60_000);
   * ```
   */
  async signOutIdle(idleAfter: number | null = this.signOutIdleAfter): Promise<number> {
    if (idleAfter === null) throw new ConfigError('signOutIdle() needs an idle limit: pass one, or set activity.signOutIdleAfter');
    if (typeof idleAfter !== 'number' || !(idleAfter > 0)) throw new TypeError('signOutIdle(idleAfter): idleAfter must be a positive number of ms');
    const driver = this.#reader();
    const before = this.#now() - idleAfter;
    let count = 0;
    for (;;) {
      const now = this.#now();
      const batch = await driver.listActivity({ since: -Infinity, before, tenant: null, limit: 100 }, { now });
      let destroyed = 0;
      for (const { key } of batch) if (await this.#destroy(key)) destroyed++;
      count += destroyed;
      // A destroyed session's activity goes with it; one that could not be destroyed is no longer live.
      if (batch.length < 100 || destroyed === 0) return count;
    }
  }

  /** Stop the idle sign-out timer. Called by `tessera.close()`. */
  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  #reader(): StoreDriver {
    if (this.#driver === null) throw new NotSupportedError('CookieStore keeps no activity: its sessions live in the browsers');
    if (!this.enabled) throw new NotSupportedError(`the ${this.#driver.store.name} store keeps no activity`);
    return this.#driver;
  }
}

function handleOf(session: Session | string): string {
  if (typeof session === 'string') return session;
  if (session === null || typeof session !== 'object' || typeof (session as Session).handle !== 'string') {
    throw new TypeError('pass a Session or its handle (session.handle)');
  }
  return session.handle;
}
