/**
 * The Session object a handler sees. It records which keys the request changed, so a commit can
 * re-apply exactly those on top of a concurrent writer's version (no lost updates).
 *
 * @module
 */
import { SessionStateError } from './errors.js';

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
  /** A per-session lifetime (remember me), overriding the idle timeout; `null` for the default. */
  readonly lifetime: number | null;
  /** Max-Age (ms) the session cookie gets now, or `null` for a browser-session cookie. */
  readonly cookieMaxAge: number | null;
}

/** @internal What a Session needs from the manager. */
export interface SessionRuntime {
  readonly now: () => number;
  readonly rememberMeLifetime: number;
  /**
   * Make sure the session has an ID; with `withCookie`, also that the response carries its cookie
   * (throws if the headers went out). Reading `id` assigns one without a cookie: the cookie goes
   * out with the first write, so a session that is never written leaves no cookie behind.
   */
  materialize(state: SessionState, withCookie: boolean): void;
  /** Queue a commit of the state's changes (runs after the current synchronous code). */
  schedule(state: SessionState): void;
  /** Wait for every queued commit, rethrowing a failure nobody has seen yet. */
  settle(state: SessionState): Promise<void>;
  regenerate(state: SessionState, keepData: boolean): void;
  destroy(state: SessionState): void;
  reload(state: SessionState): Promise<void>;
  expiresAt(state: SessionState): number;
  /** Re-send the cookie (if the browser has one): always with `force`, else only a persistent one. */
  refreshCookie(state: SessionState, force: boolean): void;
  /** Max-Age (ms) the cookie gets now, or `null` for a browser-session cookie. */
  cookieMaxAge(state: SessionState): number | null;
}

/**
 * Where an adapter lets the manager put the session cookie on the response.
 *
 * @example
 * ```ts
 * const sink: CookieSink = {
 *   writable: () => !res.headersSent,
 *   setCookie: (line) => { appendSetCookie(res, line); return true; },
 * };
 * ```
 */
export interface CookieSink {
  /** Whether response headers can still be set. */
  writable(): boolean;
  /**
   * Put `line` (a whole `Set-Cookie` value) on the response, replacing a session cookie this
   * request set earlier. Returns `false` when the headers already went out.
   */
  setCookie(line: string): boolean;
}

/** The one change set with nothing in it, shared: taking it costs nothing, writing to it throws. */
class NoChanges extends Map<string, unknown> {
  override set(): this {
    throw new Error('tessera: the shared empty change set cannot be written to (internal error)');
  }
}

/**
 * The empty change set a state starts with (and goes back to once its changes are taken): a
 * request that changes nothing allocates none. Code that records a change replaces it with a
 * `Map` of its own first.
 *
 * @example
 * ```ts
 * if (state.changes === NO_CHANGES) state.changes = new Map();
 * state.changes.set(key, value);
 * ```
 */
export const NO_CHANGES: Map<string, unknown> = new NoChanges();

/** Marks a key deleted in the change set. */
export const DELETED: unique symbol = Symbol('tessera.deleted');

/** @internal The mutable state behind a Session; owned by the manager. */
export interface SessionState {
  id: string | null;
  key: string | null;
  version: number;
  data: SessionData;
  changes: Map<string, unknown>;
  cleared: boolean;
  createdAt: number;
  lastSeenAt: number;
  ip: string | null;
  userAgent: string | null;
  userId: string | null;
  tenant: string | null;
  lifetime: number | null;
  /** Per-session cookie persistence: `null` follows the options, `true`/`false` overrides them. */
  persistent: boolean | null;
  /** The browser has, or this response gives it, a cookie naming this session. */
  cookieIssued: boolean;
  /** userId or lifetime changed: a write is due even with no data change. */
  metaChanged: boolean;
  /** Expiry is due to be extended (touch, refresh or resave). */
  touchDue: boolean;
  /** Records this request replaced (regenerate) and must delete or, with cookies, revoke. */
  retired: readonly { key: string; expiresAt: number }[];
  destroyed: boolean;
  /** The request arrived with a cookie for this session (so destroying must clear it). */
  cookieSent: boolean;
  /** The session came from the store (not fresh). */
  loaded: boolean;
  /** Where the cookie goes; `null` for a session opened by ID, which has no cookie. */
  sink: CookieSink | null;
  /** Input of the current request, recorded on the next write. */
  requestIp: string | null;
  requestUserAgent: string | null;
  /** Commit bookkeeping. */
  /** A commit is queued and has not started. */
  queued: boolean;
  /**
   * Commits wait for the adapter ({@link SessionContext.hold}): a queued commit is `deferred`
   * until {@link SessionContext.release} (or a save / settle) starts it.
   */
  held: boolean;
  deferred: boolean;
  /** Commits scheduled and not yet finished. */
  pending: number;
  tail: Promise<void>;
  failure: { error: unknown } | null;
}

function assertJson(key: string, value: unknown): void {
  if (key === '__proto__') throw new SessionStateError('"__proto__" cannot be a session key');
  const type = typeof value;
  if (type === 'function' || type === 'symbol' || type === 'bigint' || type === 'undefined') {
    throw new SessionStateError(`session value for "${key}" must be JSON-serialisable, got ${type}`);
  }
  if (type === 'object' && value !== null) {
    // Nested values too (a BigInt, a cycle): refuse now, not in a commit after the response.
    try {
      JSON.stringify(value);
    } catch (error) {
      throw new SessionStateError(`session value for "${key}" must be JSON-serialisable: ${(error as Error).message}`);
    }
  }
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
   */
  set<K extends keyof Data & string>(key: K, value: Data[K]): this;
  set(key: string, value: unknown): this;
  set(key: string, value: unknown): this {
    if (value === undefined) {
      this.delete(key);
      return this;
    }
    this.#writable();
    assertJson(key, value);
    this.#rt.materialize(this.#state, true);
    this.#change(key, value);
    return this;
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

  /** The signed-in user for this session, or `null`. Setting it indexes the session under that user. */
  get userId(): string | null {
    return this.#state.userId;
  }
  set userId(value: string | null) {
    this.#writable();
    if (value !== null && (typeof value !== 'string' || value === '')) {
      throw new SessionStateError('userId must be a non-empty string or null');
    }
    if (value === this.#state.userId) return;
    this.#rt.materialize(this.#state, true);
    const s = this.#state;
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
   * @example
   * ```ts
   * session.setLifetime(14 * 86_400_000);                     // two weeks, persistent cookie
   * session.setLifetime(null, { persistentCookie: false });  // defaults, cookie ends with the browser
   * ```
   */
  setLifetime(ms: number | null, options: { persistentCookie?: boolean } = {}): this {
    this.#writable();
    if (ms !== null && !(Number.isFinite(ms) && ms > 0)) throw new SessionStateError('lifetime must be a positive number of ms or null');
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

  /** "Remember me": {@link Session.setLifetime} with `ms`, default the `rememberMeLifetime` option (30 days). */
  rememberMe(ms?: number): this {
    return this.setLifetime(ms ?? this.#rt.rememberMeLifetime);
  }

  /** Extend the session's expiry now, regardless of the touch throttle. */
  refresh(): void {
    this.#writable();
    if (!this.#state.loaded && this.#state.version === 0 && Object.keys(this.#state.data).length === 0) return;
    this.#state.touchDue = true;
    this.#rt.refreshCookie(this.#state, false);
    void this.#rt.schedule(this.#state);
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

  /** Commit pending changes, then re-read the session from the store (picking up other requests' writes). */
  reload(): Promise<void> {
    return this.#rt.reload(this.#state);
  }

  /**
   * Commit now and wait for it. Rejects with the store's error (for example
   * `StoreUnavailableError`) or `WriteConflictError`.
   */
  async save(): Promise<void> {
    if (!this.#state.destroyed) void this.#rt.schedule(this.#state);
    await this.#rt.settle(this.#state);
  }

  /** Apply one change and queue its commit; if the commit refuses at once, undo it. */
  #change(key: string, value: unknown): void {
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
    changes.set(key, value);
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
      void this.#rt.schedule(this.#state);
    } catch (error) {
      undo();
      throw error;
    }
  }

  #writable(): void {
    if (this.#state.destroyed) throw new SessionStateError('the session was destroyed; it cannot be written');
  }
}
