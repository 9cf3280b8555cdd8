/**
 * The manager: the one object an app makes (`createTessera`) and shares. It puts the core's parts
 * together at construction — options, store driver, record codec, backend, lifecycle, loader —
 * and offers what an app calls: `begin` for a request, operations by ID and by user, events,
 * cleanup and `close`. The work is done by the parts in `core/`.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { ActivityTracker } from './activity.js';
import { SessionAdmin } from './admin.js';
import type { AuthTokens } from './auth/tokens.js';
import { ValidAfter } from './auth/valid-after.js';
import { storeKey } from './crypto/ids.js';
import { Sealer } from './crypto/seal.js';
import type { CsrfProtection } from './csrf.js';
import type { LiveHub } from './live/hub.js';
import { liveHubOf } from './live/assemble.js';
import { ConfigError, NotSupportedError, SessionNotFoundError, SessionStateError, TenantError, type CsrfError } from './errors.js';
import { TesseraMetrics } from './metrics/metrics.js';
import { isDefaultLogger, resolveOptions, type ResolvedOptions, type TesseraOptions } from './options.js';
import { Session, type SessionData } from './session.js';
import { CookieStore } from './stores/cookie.js';
import type { SessionStore } from './stores/store.js';
import type { Backend } from './core/backend.js';
import { CookieBackend } from './core/backends/cookie.js';
import { ServerBackend } from './core/backends/server.js';
import { RecordCodec } from './core/codec.js';
import { Committer } from './core/commit.js';
import { Cleaner, type CleanupOptions } from './core/cleanup.js';
import { checkCsrf, type CsrfRequest } from './core/csrf-check.js';
import { SessionContext } from './core/context.js';
import { StoreDriver } from './core/driver.js';
import { Events } from './core/events.js';
import { Lifecycle } from './core/lifecycle.js';
import { RequestLoader } from './core/loader.js';
import { policyFor, policyOf, type Policy } from './core/policy.js';
import { ACCEPT_APP_IDS, type CookieSink, type RequestInput } from './core/request.js';
import { SealedCookies } from './core/sealed.js';
import { SignedCookies } from './core/signed.js';
import { freshState } from './core/state.js';
import type { Step } from './core/queue.js';

export { SessionContext } from './core/context.js';
export type { CleanupOptions, CleanupProgress } from './core/cleanup.js';
export type { RequestInput, CookieSink } from './core/request.js';
export type { CsrfRequest } from './core/csrf-check.js';
export type { AuditEvent, AuditEventType, SessionEvent, TesseraEventName } from './core/events.js';

/**
 * Options of the by-ID operations.
 *
 * @example
 * ```ts
 * await tessera.get(id, 'cart', { tenant: 'acme' } satisfies ByIdOptions);
 * ```
 */
export interface ByIdOptions {
  /** The tenant the session belongs to. */
  tenant?: string | null;
}

/**
 * Options of {@link Tessera.create}.
 *
 * @example
 * ```ts
 * await tessera.create({ data: { cart: [] }, userId: 'u1' } satisfies CreateOptions);
 * ```
 */
export interface CreateOptions extends ByIdOptions {
  data?: SessionData;
  userId?: string | null;
  lifetime?: number | null;
  ip?: string | null;
  userAgent?: string | null;
}

/**
 * Whose session {@link Tessera.destroyByHandle} may destroy: the user's own (in `tenant`; none
 * given: a session without a tenant), or anyone's (`anyUser: true`, for admin tools).
 *
 * @example
 * ```ts
 * const mine: DestroyByHandleOptions = { userId: 'u1', tenant: 'acme' };
 * const admin: DestroyByHandleOptions = { anyUser: true };
 * ```
 */
export type DestroyByHandleOptions = { readonly userId: string; readonly tenant?: string | null; readonly anyUser?: never } | { readonly anyUser: true; readonly userId?: never };

/**
 * A session as listed for its user: metadata only, no data and no session ID. `handle` identifies
 * it for {@link Tessera.destroyByHandle} (it is a hash, not a usable token, and destroys only with
 * the owner's `userId`).
 *
 * @example
 * ```ts
 * const [latest]: SessionInfo[] = await tessera.listByUser('u1');
 * ```
 */
export interface SessionInfo {
  readonly handle: string;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  readonly expiresAt: number;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly userId: string | null;
  readonly tenant: string | null;
}

/** Cookie stores whose missing revocation was warned about: once per store, however many managers share it. */
const warnedNoRevocation = new WeakSet<CookieStore>();

/** The options {@link Tessera}'s constructor takes: a store is required (`createTessera` gives the default). */
type ManagerOptions = TesseraOptions & { store: SessionStore | CookieStore; encryptData?: boolean };

/**
 * The session manager. Make one per app with {@link createTessera} and share it.
 *
 * @example
 * ```ts
 * const tessera = createTessera({ secrets: [process.env.SESSION_SECRET!] });
 * await tessera.set(sessionId, 'flash', 'Saved'); // by ID, without a request
 * tessera.on('expired', (e) => log.info('session expired', e));
 * ```
 */
export class Tessera extends EventEmitter {
  /** The validated options. */
  readonly options: ResolvedOptions;
  /** The store sessions are kept in. */
  readonly store: SessionStore | CookieStore;
  /**
   * Sessions are sealed into the cookie (`CookieStore`): changes are written into the response's
   * cookie at once, and operations by ID are limited to `destroy` (revocation).
   */
  readonly sealsIntoCookie: boolean;
  /** Per-tab activity: who is online, and idle sign-out (the `activity` option; docs/activity.md). */
  readonly activity: ActivityTracker;
  /** Operator functions over every session: list, show, revoke, count (see {@link SessionAdmin}). */
  readonly admin: SessionAdmin;
  readonly #backend: Backend;
  readonly #signed: SignedCookies;
  readonly #loader: RequestLoader;
  readonly #lifecycle: Lifecycle;
  readonly #events: Events;
  readonly #policy: Policy;
  /** Users' "sign out everywhere" times: in the session store, or a cookie store's revocation store; `null` without one. */
  readonly #validAfter: ValidAfter | null;
  readonly #live: LiveHub | null = null;
  readonly #metrics: TesseraMetrics | null;
  #timer: NodeJS.Timeout | null = null;
  readonly #cleaner: Cleaner;
  #closed = false;

  /**
   * Prefer {@link createTessera}.
   *
   * @throws {@link ConfigError}, {@link SecretError} or {@link CookieConfigError} on bad options.
   */
  constructor(options: ManagerOptions) {
    super();
    this.options = resolveOptions(options);
    const store = options.store;
    if (store === undefined || store === null) throw new ConfigError('a store is required (createTessera() gives SQLite by default)');
    this.store = store;
    const policy = (this.#policy = policyOf(this.options));
    let validAfter: ValidAfter | null = null;
    let driver: StoreDriver | null = null;
    const metrics = (this.#metrics = this.#makeMetrics(() => driver));
    const recorder = metrics?.recorder ?? null;
    const events = (this.#events = new Events(this, this.options.logger, this.options.now, recorder, !isDefaultLogger(this.options.logger)));
    const dataKeys = this.options.keyring.keys('data');
    this.#signed = new SignedCookies(this.options.keyring, this.options.cookie.name);
    let backend: Backend;
    if (store instanceof CookieStore) {
      const sealed = new SealedCookies(new Sealer(dataKeys), this.options.cookie, policy, store.maxBytes, this.options.maxDataBytes);
      if (store.revocation === null && !warnedNoRevocation.has(store)) {
        warnedNoRevocation.add(store);
        this.options.logger.warn?.(
          {},
          'tessera: CookieStore({ revocation: false }): a copy of a session cookie taken before sign-out or regenerate() ' +
            'keeps working until the session would have expired (CVE-2024-31999). Remove `revocation: false` to revoke them.',
        );
      }
      const revocation = store.revocation === null ? null : new StoreDriver(store.revocation, this.options.storeTimeout, recorder);
      validAfter = revocation === null ? null : new ValidAfter(revocation);
      backend = new CookieBackend({ options: this.options, policy, sealed, revocation, validAfter, events });
    } else {
      driver = new StoreDriver(store, this.options.storeTimeout, recorder);
      validAfter = new ValidAfter(driver);
      const codec = new RecordCodec(policy, options.encryptData ? new Sealer(dataKeys) : null, driver.retainsRecords, this.options.maxDataBytes);
      backend = new ServerBackend({ options: this.options, policy, driver, codec, signed: this.#signed, events });
    }
    this.#backend = backend;
    this.sealsIntoCookie = store instanceof CookieStore;
    this.#validAfter = validAfter;
    this.#lifecycle = new Lifecycle(this.options, policy, backend, events, new Committer(backend, events), validAfter);
    const assertOpen = () => this.#assertOpen();
    const { now, logger, idleTimeout, cleanupInterval } = this.options;
    const destroy = (handle: string) => {
      // Its streams are told why first (`idle`), then closed with the session.
      this.#live?.ended(handle, 'idle');
      return this.destroyByHandle(handle, { anyUser: true });
    };
    const activity = (this.activity = new ActivityTracker({ driver, options: options.activity, now, logger, idleTimeout, cleanupInterval, destroy }));
    this.admin = new SessionAdmin({ backend, activity, events, now, assertOpen, destroy: (handle) => this.destroyByHandle(handle, { anyUser: true }) });
    this.#loader = new RequestLoader({ options: this.options, policy, backend, lifecycle: this.#lifecycle, events, assertOpen, activity }, store.name);
    if (this.options.live !== null) {
      const hub = (this.#live = liveHubOf(this.options, this.options.live, backend, (state) => new Session(state, this.#lifecycle), this));
      events.sessions = hub;
    }
    const interval = this.options.cleanupInterval;
    const cleaner = (this.#cleaner = new Cleaner(backend, now));
    if (interval > 0 && backend.cleansUp) {
      const failed = (error: unknown) => this.options.logger.warn?.({ error: String(error) }, 'tessera: cleanup failed');
      this.#timer = setInterval(() => cleaner.tick(failed), interval);
      this.#timer.unref();
    }
  }

  /**
   * Whether {@link Tessera.close} was called: operations then throw `SessionStateError`.
   *
   * @example
   * ```ts
   * if (!tessera.closed) await tessera.cleanupExpired();
   * ```
   */
  get closed(): boolean {
    return this.#closed;
  }

  /** The session cookie's name. */
  get cookieName(): string {
    return this.options.cookie.name;
  }

  /**
   * Whether sessions can be loaded without a promise ({@link SessionContext.loadSync}): the store
   * (with a cookie store, its revocation store, if any) answers synchronously.
   *
   * @example
   * ```ts
   * createTessera({ secrets, store: new MemoryStore() }).loadsSynchronously; // true
   * ```
   */
  get loadsSynchronously(): boolean {
    return this.#backend.synchronous;
  }

  /**
   * Live tabs: pushes and broadcasts to the browser tabs of a session or a user (see docs/live.md).
   *
   * @throws {@link NotSupportedError} when live tabs are off (`createTessera({ live: {} })` turns them on).
   * @example
   * ```ts
   * await tessera.live.pushHtml(session, tab, '#status', 'Saved');
   * ```
   */
  get live(): LiveHub {
    if (this.#live === null) throw new NotSupportedError('live tabs are off: pass live: {} (or live options) to createTessera');
    return this.#live;
  }

  /**
   * Metrics: the Prometheus text and its `node:http` handler (see docs/observability.md); with
   * OpenTelemetry, the same instruments are recorded on the meter given.
   *
   * @throws {@link NotSupportedError} when metrics are off (`createTessera({ metrics: {} })` turns them on).
   * @example
   * ```ts
   * const text = await tessera.metrics.prometheus();
   * ```
   */
  get metrics(): TesseraMetrics {
    if (this.#metrics === null) throw new NotSupportedError('metrics are off: pass metrics: {} (Prometheus) or metrics: { otel } to createTessera');
    return this.#metrics;
  }

  /** The metrics of the `metrics` option, or `null`; the gauges read the store (through `driver()`) and the live hub. */
  #makeMetrics(driver: () => StoreDriver | null): TesseraMetrics | null {
    const options = this.options;
    if (options.metrics === null) return null;
    const countsLive = !(this.store instanceof CookieStore) && typeof this.store.countLive === 'function';
    return new TesseraMetrics(options.metrics, {
      activeSessions: countsLive ? () => driver()!.countLive({ now: options.now() }) : null,
      openStreams: options.live === null ? null : () => this.#live?.streams ?? 0,
    });
  }

  // ---------------------------------------------------------------- requests

  /**
   * Start handling one request. Nothing is read until {@link SessionContext.load}.
   *
   * @example
   * ```ts
   * const ctx = tessera.begin({ cookieHeader: req.headers.cookie, ip, userAgent }, sink);
   * ```
   */
  begin(input: RequestInput, sink: CookieSink): SessionContext {
    return new SessionContext(this.#loader, input, sink);
  }

  /** @internal See {@link ACCEPT_APP_IDS}: for express-session's `genid`. */
  [ACCEPT_APP_IDS](): void {
    if (this.store instanceof CookieStore) throw new ConfigError('app-chosen session IDs (genid) need a server-side store, not CookieStore');
    this.#signed.acceptAppIds();
  }

  /**
   * The value of the session cookie for `id`: `id.signature`. For tests and tools that need to
   * act as a browser holding that session.
   *
   * @example
   * ```ts
   * const { id } = await tessera.create({ data: { a: 1 } });
   * fetch(url, { headers: { cookie: `${tessera.cookieName}=${tessera.signCookie(id)}` } });
   * ```
   */
  signCookie(id: string): string {
    return this.#signed.sign(id);
  }

  /**
   * The session ID a cookie value carries, if its signature verifies under any secret; else `null`.
   *
   * @example
   * ```ts
   * tessera.verifyCookie(tessera.signCookie(id)); // id
   * ```
   */
  verifyCookie(value: string): string | null {
    return this.#signed.verify(value)?.id ?? null;
  }

  /**
   * CSRF tokens and the checks' configuration (the `csrf` option).
   *
   * @example
   * ```ts
   * tessera.csrf.enforced; // false with createTessera({ csrf: false })
   * ```
   */
  get csrf(): CsrfProtection {
    return this.options.csrf;
  }

  /**
   * The CSRF check of one request, which every adapter runs before an unsafe request's handler:
   * `null` when it may go on, otherwise the {@link CsrfError} to answer with (403; a
   * `csrfRejected` event was emitted). Safe methods, exempt routes and `csrf: false` pass at once.
   * Loads the request's session to check its token (so it may return a promise, which rejects
   * when the store fails).
   *
   * @example
   * ```ts
   * const refused = await tessera.checkCsrf(ctx, {
   *   method: req.method!, path: '/transfer', host: req.headers.host, origin: req.headers.origin,
   *   secFetchSite: req.headers['sec-fetch-site'] as string | undefined,
   *   token: req.headers['x-csrf-token'] as string | undefined,
   * });
   * if (refused) { res.statusCode = 403; res.end(refused.message); }
   * ```
   */
  checkCsrf(ctx: SessionContext, request: CsrfRequest): Step<CsrfError | null> {
    return checkCsrf(this.options.csrf, this.#events, ctx, request, this.#backend.synchronous);
  }

  /**
   * The auth cookie's tokens and configuration (the `auth` option), or `null` with `auth: false`.
   *
   * @example
   * ```ts
   * tessera.auth?.cookie.name; // '__Host-tessera-auth' in production
   * ```
   */
  get auth(): AuthTokens | null {
    return this.options.auth;
  }

  /**
   * Sign a user out everywhere: every session of theirs ends (server stores: destroyed, as
   * {@link Tessera.destroyByUser}), and a "valid after" time is recorded for them, so every auth
   * cookie issued before now and — with `CookieStore` — every sealed session they signed in to
   * before now is refused from now on, wherever it is. Resolves how many server sessions were
   * destroyed (`0` with `CookieStore`, whose sessions live in browsers). The request's own session
   * is one of them: sign it out too (`session.signOut()`), or sign in again for a fresh one.
   *
   * @throws {@link NotSupportedError} with `CookieStore({ revocation: false })` (nowhere to record
   * the time), or a server store without a by-user index (the time is recorded first).
   * @example
   * ```ts
   * // "Sign out everywhere" on a password change:
   * await tessera.signOutEverywhere(user.id, { tenant: session.meta.tenant });
   * ```
   */
  async signOutEverywhere(userId: string, options: ByIdOptions = {}): Promise<number> {
    this.#assertOpen();
    if (typeof userId !== 'string' || userId === '') throw new TypeError('signOutEverywhere(userId): userId must be a non-empty string');
    const tenant = tenantOf(options);
    if (this.#validAfter === null) throw new NotSupportedError('signOutEverywhere needs a place to record the time: CookieStore without `revocation: false`');
    const now = this.options.now();
    // Kept while anything issued before now could still be presented: no session, sealed cookie
    // or auth token lives longer than maxLifetime (plus the allowed clock skew).
    await this.#validAfter.raise(userId, tenant, now, now + policyFor(this.#policy, tenant).maxLifetime + 300_000);
    return this.sealsIntoCookie ? 0 : this.destroyByUser(userId, { tenant });
  }

  // ---------------------------------------------------------------- by ID

  async #openById(id: string, options: ByIdOptions | undefined): Promise<Session | null> {
    this.#assertOpen();
    this.#backend.assertById('sessions cannot be read or changed by ID');
    if (typeof id !== 'string') throw new TypeError('session id must be a string');
    if (!this.#signed.isId(id)) return null;
    const state = await this.#backend.openById(id, tenantOf(options));
    return state && new Session(state, this.#lifecycle);
  }

  async #mustOpen(id: string, options: ByIdOptions | undefined): Promise<Session> {
    const session = await this.#openById(id, options);
    if (session === null) throw new SessionNotFoundError();
    return session;
  }

  /**
   * Create a session without a request, for example for an API client or a test.
   * Returns its ID and the cookie value that carries it.
   *
   * @throws {@link NotSupportedError} with `CookieStore` (such sessions are made by a request).
   * @example
   * ```ts
   * const { id, cookie } = await tessera.create({ data: { cart: [] }, userId: 'u1' });
   * ```
   */
  async create(options: CreateOptions = {}): Promise<{ id: string; cookie: string; session: Session }> {
    this.#assertOpen();
    this.#backend.assertById('sessions cannot be created without a request');
    const state = freshState(tenantOf(options), null, this.options.now(), options.ip ?? null, options.userAgent ?? null);
    const session = new Session(state, this.#lifecycle);
    const id = session.id;
    // Through the Session API, so values, user and lifetime are validated as in a request. The
    // lifetime first: on a session holding nothing it is only remembered, so a refused one stores nothing.
    if (options.lifetime != null) session.setLifetime(options.lifetime);
    for (const [k, v] of Object.entries(options.data ?? {})) session.set(k, v);
    if (options.userId != null) session.userId = options.userId;
    state.touchDue = true;
    await session.save();
    state.loaded = true;
    return { id, cookie: this.signCookie(id), session };
  }

  /**
   * Open the live session `id` without a request, or `null` when it does not exist or expired.
   * Writes to the returned session are committed like a request's (`await session.save()`).
   *
   * @example
   * ```ts
   * const session = await tessera.load(id);
   * session?.get('cart');
   * ```
   */
  load(id: string, options?: ByIdOptions): Promise<Session | null> {
    return this.#openById(id, options);
  }

  /**
   * The value under `key` in session `id`, or `undefined` (also when the session does not exist).
   *
   * @example
   * ```ts
   * const cart = await tessera.get(id, 'cart');
   * ```
   */
  async get<T = unknown>(id: string, key: string, options?: ByIdOptions): Promise<T | undefined> {
    return (await this.#openById(id, options))?.get<T>(key);
  }

  /**
   * Set `key` in session `id`, merging with concurrent writers.
   *
   * @throws {@link SessionNotFoundError} when the session does not exist or expired.
   * @example
   * ```ts
   * await tessera.set(id, 'flash', 'Your export is ready');
   * ```
   */
  async set(id: string, key: string, value: unknown, options?: ByIdOptions): Promise<void> {
    const session = await this.#mustOpen(id, options);
    session.set(key, value);
    await session.save();
  }

  /**
   * Change `key` in session `id` with `fn`, atomically (see {@link Session.update}): `fn` runs
   * again on the fresh value whenever another writer got there first. Resolves the value stored.
   *
   * @throws {@link SessionNotFoundError} when the session does not exist or expired.
   * @example
   * ```ts
   * const credits = await tessera.update<number>(id, 'credits', (n) => (n ?? 0) - 1);
   * ```
   */
  async update<T = unknown>(id: string, key: string, fn: (current: T | undefined) => T | undefined, options?: ByIdOptions): Promise<T | undefined> {
    const session = await this.#mustOpen(id, options);
    session.update<T>(key, fn);
    await session.save();
    return session.get<T>(key);
  }

  /**
   * Delete `key` from session `id`. Resolves whether it was there.
   *
   * @throws {@link SessionNotFoundError} when the session does not exist or expired.
   * @example
   * ```ts
   * await tessera.delete(id, 'flash');
   * ```
   */
  async delete(id: string, key: string, options?: ByIdOptions): Promise<boolean> {
    const session = await this.#mustOpen(id, options);
    const had = session.delete(key);
    await session.save();
    return had;
  }

  /**
   * Remove every key of session `id` (the session stays).
   *
   * @throws {@link SessionNotFoundError} when the session does not exist or expired.
   * @example
   * ```ts
   * await tessera.clear(id);
   * ```
   */
  async clear(id: string, options?: ByIdOptions): Promise<void> {
    const session = await this.#mustOpen(id, options);
    session.clear();
    await session.save();
  }

  /**
   * Extend the expiry of session `id` now.
   *
   * @throws {@link SessionNotFoundError} when the session does not exist or expired.
   * @example
   * ```ts
   * await tessera.refresh(id);
   * ```
   */
  async refresh(id: string, options?: ByIdOptions): Promise<void> {
    const session = await this.#mustOpen(id, options);
    session.refresh();
    await session.save();
  }

  /**
   * Delete session `id`. Resolves whether it existed. Idempotent. With `CookieStore` and a
   * revocation store, revokes it (every copy of its cookie stops working).
   *
   * @example
   * ```ts
   * await tessera.destroy(id); // sign this session out everywhere
   * ```
   */
  destroy(id: string, options?: ByIdOptions): Promise<boolean> {
    this.#assertOpen();
    if (typeof id !== 'string') return Promise.reject(new TypeError('session id must be a string'));
    let tenant: string | null;
    try {
      tenant = tenantOf(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#backend.destroyById(id, tenant);
  }

  /**
   * Whether session `id` exists and has not expired.
   *
   * @example
   * ```ts
   * if (!(await tessera.isValid(id))) closeConnection();
   * ```
   */
  async isValid(id: string, options?: ByIdOptions): Promise<boolean> {
    return (await this.#openById(id, options)) !== null;
  }

  /**
   * Whether session `id` can no longer be used: past its idle or absolute expiry, or gone from the
   * store (stores drop expired records, so "expired" and "removed" cannot be told apart).
   *
   * @example
   * ```ts
   * if (await tessera.isExpired(id)) redirectToSignIn();
   * ```
   */
  async isExpired(id: string, options?: ByIdOptions): Promise<boolean> {
    return !(await this.isValid(id, options));
  }

  // ---------------------------------------------------------------- users

  /**
   * The live sessions of a user, with their metadata, from the store's by-user index, most
   * recently used first.
   *
   * @throws {@link NotSupportedError} when the store has no by-user index.
   * @example
   * ```ts
   * const devices = await tessera.listByUser('u1');
   * ```
   */
  async listByUser(userId: string, options?: ByIdOptions): Promise<SessionInfo[]> {
    this.#assertOpen();
    return this.#backend.listByUser(userId, tenantOf(options));
  }

  /**
   * Destroy every session of a user, except the one with ID `except` ("sign out my other devices").
   * Resolves how many were destroyed.
   *
   * @example
   * ```ts
   * await tessera.destroyByUser(user.id, { except: session.id });
   * ```
   */
  async destroyByUser(userId: string, options: ByIdOptions & { except?: string } = {}): Promise<number> {
    let count = 0;
    for (const info of await this.listByUser(userId, options)) {
      if (options.except !== undefined && info.handle === storeKey(options.except, info.tenant)) continue;
      // Still the user's: a session that signed in as someone else meanwhile is theirs now.
      if (await this.destroyByHandle(info.handle, { userId, tenant: info.tenant })) count++;
    }
    return count;
  }

  /**
   * Destroy a session by the `handle` from {@link Tessera.listByUser} ("sign out this device").
   * A handle comes from the client, so say whose session it must be: `{ userId, tenant }` destroys
   * it only when it belongs to that user in that tenant (no `tenant`: a session without one);
   * `{ anyUser: true }` destroys whoever's it is, for admin tools. Resolves whether a live session
   * was destroyed: `false` for one that does not exist, has expired, or is someone else's (the
   * caller cannot tell which, so it learns nothing about other users' sessions).
   *
   * @throws {@link NotSupportedError} with `CookieStore`; `TypeError` without `userId` or `anyUser`.
   * @example
   * ```ts
   * // POST /devices/:handle/sign-out, for the signed-in user:
   * const done = await tessera.destroyByHandle(req.params.handle, { userId: session.userId!, tenant: session.meta.tenant });
   * if (!done) res.statusCode = 404;
   * // An admin tool:
   * for (const s of await tessera.listByUser('u1')) if (s.ip === badIp) await tessera.destroyByHandle(s.handle, { anyUser: true });
   * ```
   */
  async destroyByHandle(handle: string, options: DestroyByHandleOptions): Promise<boolean> {
    this.#assertOpen();
    if (typeof handle !== 'string') throw new TypeError('destroyByHandle(handle, options): handle must be a string');
    const o = (options ?? {}) as Partial<{ userId: unknown; tenant: unknown; anyUser: unknown }>;
    if (o.anyUser === true && o.userId === undefined) return this.#backend.destroyByHandle(handle, null);
    if (typeof o.userId !== 'string' || o.userId === '' || o.anyUser !== undefined) {
      throw new TypeError('destroyByHandle(handle, options): pass { userId } (the session must be that user\'s) or { anyUser: true } (admin tools)');
    }
    if (o.tenant !== undefined && o.tenant !== null && typeof o.tenant !== 'string') throw new TypeError('destroyByHandle: tenant must be a string or null');
    return this.#backend.destroyByHandle(handle, { userId: o.userId, tenant: tenantOf({ tenant: o.tenant as string | null | undefined }) });
  }

  // ---------------------------------------------------------------- upkeep

  /**
   * Report a session failure that has no caller to reject (a commit that failed after the response
   * was sent): to `commitError` listeners if there are any, otherwise to the logger. For adapters.
   *
   * @example
   * ```ts
   * session.save().catch((error) => tessera.reportError(error));
   * ```
   */
  reportError(error: unknown): void {
    this.#events.reportError(error);
  }

  /**
   * Remove expired sessions now, as the cleanup timer does. Resolves how many were removed; `0`
   * for stores that expire records themselves. The work goes in short batches with pauses between
   * them, so a large backlog never holds the event loop or the store for long and requests keep
   * being served (see `core/cleanup.ts`); `onProgress` is told after each batch. The timer skips
   * its turn while its previous run is still going; `close()` stops a run after its current batch.
   *
   * @example
   * ```ts
   * const removed = await tessera.cleanupExpired({
   *   onProgress: ({ removed, done }) => process.stderr.write(`\r${removed} removed${done ? '\n' : ''}`),
   * });
   * ```
   */
  async cleanupExpired(options?: CleanupOptions): Promise<number> {
    this.#assertOpen();
    return this.#cleaner.run(options);
  }

  /**
   * Stop the cleanup timer and close the store. Idempotent.
   *
   * @example
   * ```ts
   * process.on('SIGTERM', () => tessera.close().then(() => server.close()));
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#cleaner.close();
    await this.#live?.close();
    this.activity.close();
    await this.#backend.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new SessionStateError('tessera was closed');
  }
}

/**
 * The tenant an operation by ID names: `null` for none. An empty name is refused, never taken as
 * "no tenant" (it would reach the sessions without one).
 */
function tenantOf(options: { readonly tenant?: string | null } | undefined): string | null {
  const tenant = options?.tenant ?? null;
  if (tenant === '') throw new TenantError('the tenant name is empty: pass null (or leave it out) for sessions without a tenant');
  return tenant;
}

