/**
 * The Session object a handler sees: {@link Session}, its identity (ID, handle, metadata) and
 * lifecycle (lifetime, refresh, regenerate, destroy, ignore, reload, save). It extends
 * {@link SessionSecurity} (`session-security.ts`: the signed-in user, CSRF tokens), which extends
 * `SessionValues` (`session-values.ts`: the data and the change set that records it).
 *
 * @module
 */
import { SessionStateError } from './errors.js';
import { SessionSecurity } from './session-security.js';
import { assertWritable, runtimeOf, scheduleOrUndo, stateOf, type SessionData } from './session-values.js';

/** What tessera keeps about a session besides its data. Times are ms since the epoch. */
export interface SessionMeta {
  /** When the session was created. */
  readonly createdAt: number;
  /** The last time a request wrote or touched the session (updated at most once per touch window). */
  readonly lastSeenAt: number;
  /** When the session expires unless used again (idle) — never later than the absolute limit. */
  readonly expiresAt: number;
  /** IP address of the latest request that wrote the session. */
  readonly ip: string | null;
  /** User-Agent of the latest request that wrote the session. */
  readonly userAgent: string | null;
  /** The signed-in user, for "list / sign out my sessions". */
  readonly userId: string | null;
  /** The tenant the session belongs to. */
  readonly tenant: string | null;
  /** A per-session lifetime (remember me), replacing the idle timeout; `null` for the default. */
  readonly lifetime: number | null;
  /** Max-Age (ms) the session cookie gets now, or `null` for a browser-session cookie. */
  readonly cookieMaxAge: number | null;
  /** When the user signed in ({@link Session.signIn}), or `null`. */
  readonly authenticatedAt: number | null;
}

/**
 * A session, as a request handler sees it. Reads are synchronous; writes are recorded and committed
 * to the store right after the handler's current synchronous code (`await session.save()` waits for
 * it and surfaces errors). Values must be JSON-serialisable; a value changed in place (an array you
 * pushed to) must be `set` again to be saved.
 *
 * @example
 * ```ts
 * const session = await sessions.load(req, res);
 * session.set('views', (session.get<number>('views') ?? 0) + 1);
 * if (signedIn) { session.regenerate(); session.userId = user.id; }
 * ```
 */
export class Session<Data extends SessionData = SessionData> extends SessionSecurity<Data> {
  /**
   * The session ID (the raw token; treat it as a secret). A new session gets its ID the first time
   * this is read; its cookie goes out with the first write, so reading alone leaves no cookie.
   */
  get id(): string {
    runtimeOf(this).materialize(stateOf(this), false);
    return stateOf(this).id!;
  }

  /**
   * The session's handle: its store key, a hash of its ID (and tenant). It names the session in
   * live pushes, activity and listings without being a usable token: nothing can be loaded or
   * signed in with it. The same as {@link SessionInfo.handle} in `tessera.listByUser`.
   *
   * @example
   * ```ts
   * await tessera.live.pushHtml(session.handle, tab, '#status', 'Saved');
   * ```
   */
  get handle(): string {
    runtimeOf(this).materialize(stateOf(this), false);
    return stateOf(this).key!;
  }

  /** True when the session was not found in the store for this request (new or replaced). */
  get isNew(): boolean {
    return !stateOf(this).loaded;
  }

  /** True once {@link Session.destroy} was called. */
  get isDestroyed(): boolean {
    return stateOf(this).destroyed;
  }

  /** Metadata: created, last seen, expires, IP, user agent, user, tenant, lifetime. */
  get meta(): SessionMeta {
    const s = stateOf(this);
    return {
      createdAt: s.createdAt,
      lastSeenAt: s.lastSeenAt,
      expiresAt: runtimeOf(this).expiresAt(s),
      ip: s.ip,
      userAgent: s.userAgent,
      userId: s.userId,
      tenant: s.tenant,
      lifetime: s.lifetime,
      cookieMaxAge: runtimeOf(this).cookieMaxAge(s),
      authenticatedAt: s.authenticatedAt,
    };
  }

  /**
   * Give this session its own lifetime (ms): it stays valid that long after its last use, and its
   * cookie persists in the browser for as long. `null` returns to the defaults.
   * `persistentCookie` overrides whether the cookie outlives the browser session (default: it does
   * when the session has a lifetime or the `cookie.maxAge` option is set).
   *
   * The session still ends at its absolute limit (`absoluteTimeout` after it was created) unless
   * the `rememberMeExtendsAbsolute` option lets a longer lifetime move that limit.
   *
   * @throws {@link SessionStateError} when `ms` is not a positive number, or is over the
   * `maxLifetime` option (default 400 days; the session's tenant's, if it has its own).
   * @example
   * ```ts
   * session.setLifetime(14 * 86_400_000);                     // two weeks, persistent cookie
   * session.setLifetime(null, { persistentCookie: false });  // defaults, cookie ends with the browser
   * ```
   */
  setLifetime(ms: number | null, options: { persistentCookie?: boolean } = {}): this {
    assertWritable(this);
    if (ms !== null && !(Number.isFinite(ms) && ms > 0)) throw new SessionStateError('lifetime must be a positive number of ms or null');
    const { maxLifetime } = runtimeOf(this).lifetimes(stateOf(this));
    if (ms !== null && ms > maxLifetime) throw new SessionStateError(`lifetime ${ms} ms is over maxLifetime (${maxLifetime} ms)`);
    const persistent = options.persistentCookie ?? null;
    const s = stateOf(this);
    if (ms === s.lifetime && persistent === s.persistent) return this;
    if (!s.cookieIssued && !s.loaded && s.version === 0 && s.userId === null && Object.keys(s.data).length === 0) {
      // Nothing stored and no cookie yet: remember the lifetime for the first write, which sends
      // the cookie with it. A lifetime alone does not start a session (nor set a cookie).
      s.lifetime = ms;
      s.persistent = persistent;
      return this;
    }
    runtimeOf(this).materialize(s, true);
    const { lifetime, persistent: wasPersistent, metaChanged, touchDue } = s;
    s.lifetime = ms;
    s.persistent = persistent;
    s.metaChanged = true;
    s.touchDue = true;
    scheduleOrUndo(this, () => {
      s.lifetime = lifetime;
      s.persistent = wasPersistent;
      s.metaChanged = metaChanged;
      s.touchDue = touchDue;
    });
    runtimeOf(this).refreshCookie(s, true);
    return this;
  }

  /** "Remember me": {@link Session.setLifetime} with `ms`, default the `rememberMeLifetime` option (30 days; the tenant's, if it has its own). */
  rememberMe(ms?: number): this {
    return this.setLifetime(ms ?? runtimeOf(this).lifetimes(stateOf(this)).rememberMeLifetime);
  }

  /** Extend the session's expiry now, regardless of the touch throttle. */
  refresh(): void {
    assertWritable(this);
    if (!stateOf(this).loaded && stateOf(this).version === 0 && Object.keys(stateOf(this).data).length === 0) return;
    stateOf(this).touchDue = true;
    runtimeOf(this).refreshCookie(stateOf(this), false);
    runtimeOf(this).schedule(stateOf(this));
  }

  /**
   * Give the session a new ID and delete the record under the old one, to prevent session fixation
   * (call it when a user signs in or gains privileges). Data and user are kept unless
   * `keepData: false`.
   */
  regenerate(options: { keepData?: boolean } = {}): void {
    assertWritable(this);
    runtimeOf(this).regenerate(stateOf(this), options.keepData ?? true);
  }

  /** Delete the session from the store and clear its cookie. Later writes throw. */
  destroy(): void {
    if (stateOf(this).destroyed) return;
    runtimeOf(this).destroy(stateOf(this));
  }

  /**
   * Write nothing for this request — Phoenix's `configure_session(ignore: true)`: the changes made
   * so far and later are not committed, the store is not touched (no write, no expiry extension,
   * no delete), and no session cookie is set (one this response already carries is taken back).
   * Reads still see the request's own changes. A commit that already ran (after
   * `await session.save()`) stays.
   *
   * @example
   * ```ts
   * if (req.headers['x-prefetch']) session.ignore(); // a prefetch must not extend the session
   * ```
   */
  ignore(): void {
    runtimeOf(this).ignore(stateOf(this));
  }

  /** Commit pending changes, then re-read the session from the store (picking up other requests' writes). */
  reload(): Promise<void> {
    return runtimeOf(this).reload(stateOf(this));
  }

  /**
   * Commit now and wait for it. Rejects with the store's error (for example
   * `StoreUnavailableError`) or `WriteConflictError`.
   */
  async save(): Promise<void> {
    // A destroyed session commits again only to retry a delete (or revocation) that failed.
    if (!stateOf(this).destroyed || stateOf(this).retired.length > 0) runtimeOf(this).schedule(stateOf(this));
    await runtimeOf(this).settle(stateOf(this));
  }
}
