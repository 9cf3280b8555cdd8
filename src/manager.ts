/**
 * The manager: the one object an app makes (`createTessera`) and shares. It puts the core's parts
 * together at construction — options, store driver, record codec, backend, lifecycle, loader —
 * and offers what an app calls: `begin` for a request, operations by ID and by user, events,
 * cleanup and `close`. The work is done by the parts in `core/`.
 *
 * @module
 */
import { ActivityTracker } from './activity.js';
import { SessionAdmin } from './admin.js';
import type { AuthTokens } from './auth/tokens.js';
import { ValidAfter } from './auth/valid-after.js';
import { Sealer } from './crypto/seal.js';
import type { CsrfProtection } from './csrf.js';
import type { LiveHub } from './live/hub.js';
import { liveHubOf } from './live/assemble.js';
import { ConfigError, NotSupportedError, SessionStateError, type CsrfError } from './errors.js';
import { TesseraMetrics } from './metrics/metrics.js';
import { countByWalking, WALK_INTERVAL, WalkedCount } from './metrics/walked-count.js';
import { isDefaultLogger, resolveOptions, type ResolvedOptions, type TesseraOptions } from './options.js';
import { Session } from './session.js';
import { CookieStore } from './stores/cookie.js';
import { COUNTED_BY_WALKING, type SessionStore } from './stores/store.js';
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
import { policyOf } from './core/policy.js';
import { ACCEPT_APP_IDS, type CookieSink, type RequestInput } from './core/request.js';
import { SealedCookies } from './core/sealed.js';
import { SignedCookies } from './core/signed.js';
import type { Step } from './core/queue.js';

export { SessionContext } from './core/context.js';
export type { CleanupOptions, CleanupProgress } from './core/cleanup.js';
export type { RequestInput, CookieSink } from './core/request.js';
export type { CsrfRequest } from './core/csrf-check.js';
export type { AuditEvent, AuditEventType, SessionEvent, TesseraEventName } from './core/events.js';
export type { ByIdOptions } from './operation-parts.js';
export type { CreateOptions } from './operations.js';
export type { DestroyByHandleOptions, SessionInfo } from './user-operations.js';
import type { ByIdOptions } from './operation-parts.js';
import { SessionOperations } from './operations.js';


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
export class Tessera extends SessionOperations {
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
    const policy = policyOf(this.options);
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
    this.#lifecycle = new Lifecycle(this.options, policy, backend, events, new Committer(backend, events), validAfter);
    const assertOpen = () => this.#assertOpen();
    this.parts = { backend, signed: this.#signed, lifecycle: this.#lifecycle, policy, validAfter, assertOpen };
    const { now, logger, idleTimeout, cleanupInterval } = this.options;
    const destroy = (handle: string) => {
      // Its streams are told why first (`idle`), then closed with the session.
      this.#live?.ended(handle, 'idle');
      return this.destroyByHandle(handle, { anyUser: true });
    };
    const activity = (this.activity = new ActivityTracker({ driver, options: options.activity, now, logger, idleTimeout, cleanupInterval, destroy }));
    this.admin = new SessionAdmin({ backend, activity, events, now, assertOpen });
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
    const server = !(this.store instanceof CookieStore);
    let activeSessions: (() => number | Promise<number>) | null = null;
    if (server && typeof this.store.countLive === 'function') activeSessions = () => driver()!.countLive({ now: options.now() });
    else if (server && (this.store as { [COUNTED_BY_WALKING]?: boolean })[COUNTED_BY_WALKING] === true) {
      const walk = () => countByWalking((query, ctx) => driver()!.listSessions(query, ctx), options.now);
      const walked = new WalkedCount(walk, WALK_INTERVAL, options.now, (error) => this.reportError(error));
      activeSessions = () => walked.read();
    }
    return new TesseraMetrics(options.metrics, {
      activeSessions,
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
