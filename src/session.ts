/**
 * The Session object a handler sees. It records which keys the request changed, so a commit can
 * re-apply exactly those on top of a concurrent writer's version (no lost updates).
 *
 * @module
 */
import type { AuthClaims } from './auth/tokens.js';
import { SessionStateError } from './errors.js';
import type { Lifetimes } from './options.js';
import { assertStorable, DELETED, NO_CHANGES, Update, type SessionState } from './core/state.js';

/** Session data: JSON-serialisable values by key. */
export type SessionData = Record<string, unknown>;

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

/** @internal What a Session needs from the core (its lifecycle). */
export interface SessionRuntime {
  readonly now: () => number;
  /** The cap on session data as JSON, in bytes: a value alone over it is refused at once. */
  readonly maxDataBytes: number;
  /** The lifetimes that apply to the session (its tenant's, or the defaults). */
  lifetimes(state: SessionState): Pick<Lifetimes, 'rememberMeLifetime' | 'maxLifetime'>;
  /**
   * Make sure the session has an ID; with `withCookie`, also that the response carries its cookie
   * (throws if the headers went out). Reading `id` assigns one without a cookie: the cookie goes
   * out with the first write, so a session that is never written leaves no cookie behind.
   */
  materialize(state: SessionState, withCookie: boolean): void;
  /** The state changed: queue a commit (runs after the current synchronous code). May throw (a cookie too large). */
  schedule(state: SessionState): void;
  /** Wait for every queued commit, rethrowing a failure nobody has seen yet. */
  settle(state: SessionState): Promise<void>;
  regenerate(state: SessionState, keepData: boolean): void;
  destroy(state: SessionState): void;
  ignore(state: SessionState): void;
  reload(state: SessionState): Promise<void>;
  expiresAt(state: SessionState): number;
  /** Re-send the cookie (if the browser has one): always with `force`, else only a persistent one. */
  refreshCookie(state: SessionState, force: boolean): void;
  /** Max-Age (ms) the cookie gets now, or `null` for a browser-session cookie. */
  cookieMaxAge(state: SessionState): number | null;
  /** The form field that carries the CSRF token. */
  readonly csrfFieldName: string;
  /** A freshly masked CSRF token; issues the session's ID cookie first if the browser has none. */
  csrfToken(state: SessionState): string;
  /** Whether `token` is a CSRF token of this session. */
  verifyCsrfToken(state: SessionState, token: unknown): boolean;
  /** Sign the session in: a new ID, the user, the time; the auth cookie's `Set-Cookie` line. */
  signIn(state: SessionState, claims: AuthClaims): Promise<string>;
  /** Sign the session out: the auth cookie's clearing line. */
  signOut(state: SessionState): string;
  /** The request's verified auth claims, or `null`. */
  user(state: SessionState): Promise<AuthClaims | null>;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

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
export class Session<Data extends SessionData = SessionData> {
  readonly #state: SessionState;
  readonly #rt: SessionRuntime;

  /** @internal Sessions are made by the manager. */
  constructor(state: SessionState, runtime: SessionRuntime) {
    this.#state = state;
    this.#rt = runtime;
  }

  /**
   * The session ID (the raw token; treat it as a secret). A new session gets its ID the first time
   * this is read; its cookie goes out with the first write, so reading alone leaves no cookie.
   */
  get id(): string {
    this.#rt.materialize(this.#state, false);
    return this.#state.id!;
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
    this.#rt.materialize(this.#state, false);
    return this.#state.key!;
  }

  /** True when the session was not found in the store for this request (new or replaced). */
  get isNew(): boolean {
    return !this.#state.loaded;
  }

  /** True once {@link Session.destroy} was called. */
  get isDestroyed(): boolean {
    return this.#state.destroyed;
  }

  /** Metadata: created, last seen, expires, IP, user agent, user, tenant, lifetime. */
  get meta(): SessionMeta {
    const s = this.#state;
    return {
      createdAt: s.createdAt,
      lastSeenAt: s.lastSeenAt,
      expiresAt: this.#rt.expiresAt(s),
      ip: s.ip,
      userAgent: s.userAgent,
      userId: s.userId,
      tenant: s.tenant,
      lifetime: s.lifetime,
      cookieMaxAge: this.#rt.cookieMaxAge(s),
      authenticatedAt: s.authenticatedAt,
    };
  }

  /** The value under `key`, or `undefined`. */
  get<K extends keyof Data & string>(key: K): Data[K] | undefined;
  get<T = unknown>(key: string): T | undefined;
  get(key: string): unknown {
    return Object.hasOwn(this.#state.data, key) ? this.#state.data[key] : undefined;
  }

  /** Whether `key` holds a value. */
  has(key: string): boolean {
    return Object.hasOwn(this.#state.data, key);
  }

  /**
   * Store `value` under `key`. Setting `undefined` deletes the key.
   *
   * @throws {@link SessionStateError} if the session was destroyed, or the value is not JSON-serialisable.
   * @throws {@link PayloadTooLargeError} if the value alone is over `maxDataBytes` as JSON.
   */
  set<K extends keyof Data & string>(key: K, value: Data[K]): this;
  set(key: string, value: unknown): this;
  set(key: string, value: unknown): this {
    if (value === undefined) {
      this.delete(key);
      return this;
    }
    this.#writable();
    assertStorable(key, value, this.#rt.maxDataBytes);
    this.#rt.materialize(this.#state, true);
    this.#change(key, value);
    return this;
  }

  /**
   * Change `key` from its current value with `fn`, atomically: if another request changes the
   * session before this one is committed, `fn` runs again on the value that request left, so
   * concurrent updates of one key all count (100 concurrent increments end at exactly 100, on any
   * server store and across processes). `fn` gets `undefined` when the key is unset, must return
   * a new value rather than change its argument in place, and may run more than once; returning
   * `undefined` deletes the key. Returns the new value as of now (`get` gives the committed one
   * after `await session.save()`).
   *
   * With `CookieStore`, concurrent requests cannot be merged (the browser keeps the last cookie),
   * so there `update` is a `set` of `fn(current)`.
   *
   * @throws {@link SessionStateError} if the session was destroyed, or the new value is not JSON-serialisable.
   * @throws {@link PayloadTooLargeError} if the new value alone is over `maxDataBytes` as JSON.
   * @example
   * ```ts
   * const views = session.update<number>('views', (n) => (n ?? 0) + 1);
   * ```
   */
  update<K extends keyof Data & string>(key: K, fn: (current: Data[K] | undefined) => Data[K] | undefined): Data[K] | undefined;
  update<T = unknown>(key: string, fn: (current: T | undefined) => T | undefined): T | undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the overloads type `fn`
  update(key: string, fn: (current: any) => unknown): unknown {
    this.#writable();
    if (typeof fn !== 'function') throw new TypeError('session.update(key, fn): fn must be a function');
    const state = this.#state;
    const value = fn(Object.hasOwn(state.data, key) ? state.data[key] : undefined);
    if (value !== undefined) {
      assertStorable(key, value, this.#rt.maxDataBytes);
      this.#rt.materialize(state, true);
    } else if (key === '__proto__') {
      assertStorable(key, null);
    }
    const applied = value === undefined ? DELETED : value;
    const prior = state.changes.has(key) ? state.changes.get(key) : undefined;
    // After an update of the same key: both run again on conflict. After a set or delete of it:
    // the outcome no longer depends on what is stored, so it is a plain value.
    const change = prior === undefined ? new Update(fn) : prior instanceof Update ? prior.then(fn) : applied;
    this.#change(key, applied, change);
    return value;
  }

  /** Remove `key`. Returns whether it was there. */
  delete(key: string): boolean {
    this.#writable();
    if (!Object.hasOwn(this.#state.data, key)) return false;
    this.#change(key, DELETED);
    return true;
  }

  /** Remove every key. The session itself (ID, metadata, user) stays. */
  clear(): void {
    this.#writable();
    const s = this.#state;
    const { data, changes, cleared } = s;
    s.data = {};
    s.changes = NO_CHANGES;
    s.cleared = true;
    this.#scheduleOrUndo(() => {
      s.data = data;
      s.changes = changes;
      s.cleared = cleared;
    });
  }

  /** The keys held. */
  keys(): string[] {
    return Object.keys(this.#state.data);
  }

  /** A shallow copy of the data. */
  toJSON(): Data {
    return { ...this.#state.data } as Data;
  }

  /**
   * The signed-in user for this session, or `null`. Setting it indexes the session under that user.
   *
   * Changing it (signing in, out, or as someone else) on a session the request's cookie named also
   * gives the session a new ID, keeping its data, as {@link Session.regenerate} does — unless it
   * was regenerated in this request already: an ID a client brought (one an attacker may have
   * planted: session fixation) never becomes a signed-in user's. A session opened by ID has no
   * cookie and keeps its ID.
   *
   * @throws {@link SessionStateError} for a value that is not a non-empty string or `null`, and
   * when the ID must change but the response headers were already sent.
   * @example
   * ```ts
   * session.userId = user.id; // sign-in: a new session ID, the old cookie no longer loads it
   * ```
   */
  get userId(): string | null {
    return this.#state.userId;
  }
  set userId(value: string | null) {
    this.#writable();
    if (value !== null && (typeof value !== 'string' || value === '')) {
      throw new SessionStateError('userId must be a non-empty string or null');
    }
    if (value === this.#state.userId) return;
    const s = this.#state;
    // The ID came with the request — a stored session's (`loaded`; regenerate() clears it), or a
    // provisional one a CSRF token was issued with — so it may be known to someone else: a new
    // one. A new session's ID is this request's own.
    if ((s.loaded || (s.provisional && s.cookieSent)) && s.sink !== null) this.#rt.regenerate(s, true);
    this.#rt.materialize(s, true);
    const { userId, metaChanged } = s;
    s.userId = value;
    s.metaChanged = true;
    this.#scheduleOrUndo(() => {
      s.userId = userId;
      s.metaChanged = metaChanged;
    });
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
    this.#writable();
    if (ms !== null && !(Number.isFinite(ms) && ms > 0)) throw new SessionStateError('lifetime must be a positive number of ms or null');
    const { maxLifetime } = this.#rt.lifetimes(this.#state);
    if (ms !== null && ms > maxLifetime) throw new SessionStateError(`lifetime ${ms} ms is over maxLifetime (${maxLifetime} ms)`);
    const persistent = options.persistentCookie ?? null;
    const s = this.#state;
    if (ms === s.lifetime && persistent === s.persistent) return this;
    if (!s.cookieIssued && !s.loaded && s.version === 0 && s.userId === null && Object.keys(s.data).length === 0) {
      // Nothing stored and no cookie yet: remember the lifetime for the first write, which sends
      // the cookie with it. A lifetime alone does not start a session (nor set a cookie).
      s.lifetime = ms;
      s.persistent = persistent;
      return this;
    }
    this.#rt.materialize(s, true);
    const { lifetime, persistent: wasPersistent, metaChanged, touchDue } = s;
    s.lifetime = ms;
    s.persistent = persistent;
    s.metaChanged = true;
    s.touchDue = true;
    this.#scheduleOrUndo(() => {
      s.lifetime = lifetime;
      s.persistent = wasPersistent;
      s.metaChanged = metaChanged;
      s.touchDue = touchDue;
    });
    this.#rt.refreshCookie(s, true);
    return this;
  }

  /** "Remember me": {@link Session.setLifetime} with `ms`, default the `rememberMeLifetime` option (30 days; the tenant's, if it has its own). */
  rememberMe(ms?: number): this {
    return this.setLifetime(ms ?? this.#rt.lifetimes(this.#state).rememberMeLifetime);
  }

  /** Extend the session's expiry now, regardless of the touch throttle. */
  refresh(): void {
    this.#writable();
    if (!this.#state.loaded && this.#state.version === 0 && Object.keys(this.#state.data).length === 0) return;
    this.#state.touchDue = true;
    this.#rt.refreshCookie(this.#state, false);
    this.#rt.schedule(this.#state);
  }

  /**
   * Give the session a new ID and delete the record under the old one, to prevent session fixation
   * (call it when a user signs in or gains privileges). Data and user are kept unless
   * `keepData: false`.
   */
  regenerate(options: { keepData?: boolean } = {}): void {
    this.#writable();
    this.#rt.regenerate(this.#state, options.keepData ?? true);
  }

  /** Delete the session from the store and clear its cookie. Later writes throw. */
  destroy(): void {
    if (this.#state.destroyed) return;
    this.#rt.destroy(this.#state);
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
    this.#rt.ignore(this.#state);
  }

  /**
   * A CSRF token of this session, for the page to send back with its unsafe requests (in the
   * `x-csrf-token` header or the `_csrf` form field). Each call gives a freshly masked token (no
   * two responses carry the same bytes, the BREACH defence); every one is valid until the session's
   * ID changes (regenerate, sign-in, destroy). A new session gets its ID cookie now, though nothing
   * is stored until it is written, so a form works from the first visit.
   *
   * @throws {@link SessionStateError} if the session was destroyed, or is new and the response
   * headers already went out (its ID cookie could not be sent).
   * @example
   * ```ts
   * res.end(`<form method="post"><input type="hidden" name="_csrf" value="${session.csrfToken()}">…</form>`);
   * // or in page script: fetch('/api', { method: 'POST', headers: { 'x-csrf-token': token } })
   * ```
   */
  csrfToken(): string {
    return this.#rt.csrfToken(this.#state);
  }

  /**
   * A hidden form field holding a fresh CSRF token: `<input type="hidden" name="_csrf" value="…">`
   * (the field name is the `csrf.field` option). See {@link Session.csrfToken}.
   *
   * @example
   * ```ts
   * res.end(`<form method="post" action="/transfer">${session.csrfField()}<button>Send</button></form>`);
   * ```
   */
  csrfField(): string {
    const escape = (text: string) => text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
    return `<input type="hidden" name="${escape(this.#rt.csrfFieldName)}" value="${this.csrfToken()}">`;
  }

  /**
   * Whether `token` is a CSRF token of this session (any mask, any configured secret), in
   * constant time. Adapters check unsafe requests by themselves; this is for checks of your own,
   * for example on a WebSocket upgrade.
   *
   * @example
   * ```ts
   * if (!session.verifyCsrfToken(message.csrf)) socket.close(1008, 'bad CSRF token');
   * ```
   */
  verifyCsrfToken(token: unknown): boolean {
    return this.#rt.verifyCsrfToken(this.#state, token);
  }

  /**
   * Sign the user in, as the Weave seed's `session/sign-in`: the session gets a new ID (keeping its
   * data; the old ID, and any cookie naming it, stops working), `userId` becomes `claims.sub`, the
   * time is recorded ({@link Session.authenticatedAt}), and the auth cookie — a JWT of `claims`,
   * HttpOnly, bound to this session and tenant — goes on the response. Resolves its `Set-Cookie`
   * line (already set: returned for frameworks that set cookies themselves). Await it before
   * responding. `iss`, `aud`, `exp`, `nbf`, `iat`, `jti`, `sid` and `tid` are tessera's to set.
   *
   * @throws {@link SessionStateError} for claims without a `sub` (or with a reserved claim), a
   * destroyed session, one opened by ID, or after the response headers went out.
   * @throws {@link NotSupportedError} with `auth: false`.
   * @example
   * ```ts
   * if (await checkPassword(user, form.password)) await session.signIn({ sub: user.id, role: user.role });
   * ```
   */
  signIn(claims: AuthClaims): Promise<string> {
    return this.#rt.signIn(this.#state, claims);
  }

  /**
   * Sign the user out, as the Weave seed's `session/sign-out`: the auth cookie is cleared, and the
   * session starts over — a new ID, no data, no user (as `regenerate({ keepData: false })`); its
   * old record is deleted (revoked, with `CookieStore`), so a copy of the auth cookie no longer
   * verifies anywhere. Returns the clearing `Set-Cookie` line (already set). The session stays
   * usable in this request (a flash message can be written to it).
   *
   * @throws {@link SessionStateError} for a session opened by ID, or after the headers went out.
   * @throws {@link NotSupportedError} with `auth: false`.
   * @example
   * ```ts
   * session.signOut();
   * session.set('flash', 'Signed out');
   * ```
   */
  signOut(): string {
    return this.#rt.signOut(this.#state);
  }

  /**
   * The request's signed-in user: the auth cookie's claims (`sub` and what {@link Session.signIn}
   * was given, with `iat`, `exp` ...), verified — signature, algorithm, `exp`, `nbf`, `iss`, `aud`,
   * bound to this very session (loaded from the store, same user, same tenant), and issued after
   * the user's last `tessera.signOutEverywhere`. `null` when there is none or it does not verify
   * (then an `invalidAuth` event); never throws for a bad token. Cached for the request.
   * Rejects only when the store fails (checking "sign out everywhere" reads it once).
   *
   * @example
   * ```ts
   * const user = await session.user();
   * if (user === null) return redirect('/sign-in');
   * res.end(`Hello ${user.sub}`);
   * ```
   */
  user(): Promise<AuthClaims | null> {
    return this.#rt.user(this.#state);
  }

  /** When the user signed in ({@link Session.signIn}) on this session, in ms since the epoch; `null` if never. */
  get authenticatedAt(): number | null {
    return this.#state.authenticatedAt;
  }

  /**
   * Whether the user signed in within the last `ms` — for a "recent sign-in required" check before
   * a sensitive action (change the password, pay): if not, ask for the password again.
   *
   * @example
   * ```ts
   * if (!session.signedInWithin(10 * 60_000)) return redirect('/confirm-password');
   * ```
   */
  signedInWithin(ms: number): boolean {
    const at = this.#state.authenticatedAt;
    return at !== null && this.#state.userId !== null && this.#rt.now() - at <= ms;
  }

  /** Commit pending changes, then re-read the session from the store (picking up other requests' writes). */
  reload(): Promise<void> {
    return this.#rt.reload(this.#state);
  }

  /**
   * Commit now and wait for it. Rejects with the store's error (for example
   * `StoreUnavailableError`) or `WriteConflictError`.
   */
  async save(): Promise<void> {
    // A destroyed session commits again only to retry a delete (or revocation) that failed.
    if (!this.#state.destroyed || this.#state.retired.length > 0) this.#rt.schedule(this.#state);
    await this.#rt.settle(this.#state);
  }

  /**
   * Apply one change (`value`, or {@link DELETED}) and record it (as `change`: the value, or an
   * {@link Update} to re-run on conflict), then queue its commit; if the commit refuses at once,
   * undo it.
   */
  #change(key: string, value: unknown, change: unknown = value): void {
    const state = this.#state;
    const data = state.data;
    let changes = state.changes;
    if (changes === NO_CHANGES) state.changes = changes = new Map();
    const had = Object.hasOwn(data, key);
    const previous = data[key];
    const pending = changes.has(key);
    const previousChange = changes.get(key);
    if (value === DELETED) delete data[key];
    else data[key] = value;
    changes.set(key, change);
    // Undone inline rather than through #scheduleOrUndo: no closure on the path every write takes.
    try {
      this.#rt.schedule(state);
    } catch (error) {
      if (had) data[key] = previous;
      else delete data[key];
      if (pending) changes.set(key, previousChange);
      else changes.delete(key);
      throw error;
    }
  }

  /**
   * Queue the commit of a change just made. With sessions sealed in cookies the commit happens now
   * and may refuse (too large, headers gone): then `undo` puts the session back as it was.
   */
  #scheduleOrUndo(undo: () => void): void {
    try {
      this.#rt.schedule(this.#state);
    } catch (error) {
      undo();
      throw error;
    }
  }

  #writable(): void {
    if (this.#state.destroyed) throw new SessionStateError('the session was destroyed; it cannot be written');
  }
}
