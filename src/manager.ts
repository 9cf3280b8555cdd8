/**
 * The manager: reads the cookie, loads and checks the session (expiry, binding), commits changes
 * with compare-and-set and a re-apply on conflict, and runs operations by ID and cleanup.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { GenerationalCache } from './cache.js';
import { clearCookie, readCookie, serializeCookie } from './cookie.js';
import { generateId, isWellFormedId, storeKey } from './crypto/ids.js';
import { Sealer } from './crypto/seal.js';
import { NotSupportedError, PayloadTooLargeError, SessionNotFoundError, SessionStateError, WriteConflictError } from './errors.js';
import { resolveOptions, type ResolvedOptions, type TesseraOptions } from './options.js';
import { DELETED, NO_CHANGES, Session, type CookieSink, type SessionData, type SessionRuntime, type SessionState } from './session.js';
import type { CookieStore } from './stores/cookie.js';
import type { SessionStore, StoreContext, StoreRecord } from './stores/store.js';
import { allPrimitive, copyPayload, parsePayload, parseSealedPayload, PayloadEncoder, type Payload, type SealedPayload } from './payload.js';

/**
 * What an adapter passes for one request: plain values, no framework objects.
 *
 * @example
 * ```ts
 * const input: RequestInput = { cookieHeader: req.headers.cookie, ip: req.socket.remoteAddress, userAgent: req.headers['user-agent'] };
 * ```
 */
export interface RequestInput {
  /** The raw `Cookie` header. */
  cookieHeader: string | undefined;
  /** Client IP address. */
  ip?: string | null | undefined;
  /** Client `User-Agent`. */
  userAgent?: string | null | undefined;
  /** Tenant of the request; sessions of one tenant are invisible to another. */
  tenant?: string | null | undefined;
}

/** Options of the by-ID operations. */
export interface ByIdOptions {
  /** The tenant the session belongs to. */
  tenant?: string | null;
}

/** Options of {@link Tessera.create}. */
export interface CreateOptions extends ByIdOptions {
  data?: SessionData;
  userId?: string | null;
  lifetime?: number | null;
  ip?: string | null;
  userAgent?: string | null;
}

/**
 * A session as listed for its user: metadata only, no data and no session ID. `handle` identifies
 * it for {@link Tessera.destroyByHandle} (it is a hash, not a usable token).
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

/**
 * Payload of an event. `ref` is a short hash of the session's store key: enough to correlate log
 * lines, useless as a token.
 */
export interface SessionEvent {
  readonly ref: string;
  readonly reason?: string;
}

/**
 * The events a {@link Tessera} emits (all with a {@link SessionEvent}, `commitError` with an error):
 * `created`, `expired`, `destroyed`, `regenerated`, `invalidCookie`, `bindingMismatch`, `conflict`,
 * `lostToConcurrentDestroy`, `commitError`.
 */
export type TesseraEventName =
  | 'created'
  | 'expired'
  | 'destroyed'
  | 'regenerated'
  | 'invalidCookie'
  | 'bindingMismatch'
  | 'conflict'
  | 'lostToConcurrentDestroy'
  | 'commitError';

/** What the manager remembers of a sealed cookie it opened or made. */
interface OpenedSeal {
  readonly json: string;
  /** The payload, when its data values are all primitives; copied before use. */
  readonly payload: SealedPayload | null;
  readonly tenant: string | null;
  readonly key: string;
}

function isCookieStore(store: SessionStore | CookieStore): store is CookieStore {
  return (store as CookieStore).clientSide === true;
}

/** Cookie values whose signature verified, remembered (87 bytes each, with the ID and store key). */
const VERIFIED_CACHE_MAX = 10_000;
/**
 * Sealed cookies opened or sealed by this process, remembered so an unchanged cookie is not
 * decrypted again on every request (a seal is authenticated: an exact match of the whole value is
 * as good as opening it). Entries hold the cookie and its JSON, typically a few hundred bytes.
 */
const OPENED_CACHE_MAX = 4_096;
/**
 * Whole `Cookie` headers up to this length (characters) are remembered with the session cookie they
 * carry, once verified: looking a header up costs less than finding the cookie in it. At most
 * {@link VERIFIED_CACHE_MAX} headers, so about 5 MB.
 */
const HEADER_CACHE_MAX_LENGTH = 512;
/**
 * The last record decoded (or encoded) by this process for each of this many sessions, when its
 * values are all primitives, so reading the same record again costs a shallow copy instead of
 * `JSON.parse` (and, with `encryptData`, a decryption). Keyed by store key, one entry per session:
 * a write replaces it, so the cache grows with sessions, not with writes.
 */
const DECODED_CACHE_MAX = 4_096;
/** Records longer than this (characters) are decoded every time, so the full cache holds tens of MB at most. */
const DECODED_MAX_LENGTH = 4_096;
const RESOLVED: Promise<void> = Promise.resolve();
/** No retired keys: shared, as most states never retire one (the list is replaced, never changed in place). */
const NO_KEYS: SessionState['retired'] = Object.freeze([]);
const noop = (): void => {};

/** The changes one commit writes: taken from the state when it starts, handed back if it fails. */
interface Batch {
  changes: Map<string, unknown>;
  cleared: boolean;
  meta: boolean;
}

/**
 * A record this manager wrote to a store that keeps record objects ({@link SessionStore.retainsRecords}):
 * it carries its payload (a snapshot: never changed), so reading it back needs no decoding, and its
 * text is written only if something reads `data`. Made only for payloads whose data values are all
 * primitives, where the snapshot is a shallow copy.
 */
class RetainedRecord implements StoreRecord {
  #data: string | undefined;

  constructor(
    readonly payload: Payload,
    /** The key it was written under: a copy under another key is decoded from its text instead. */
    readonly key: string,
    readonly version: number,
    readonly expiresAt: number,
    readonly userId: string | null,
    readonly tenant: string | null,
    /** Writes its text: the writing manager's own function, so only that manager takes the payload as it is. */
    readonly write: (payload: Payload, key: string) => string,
  ) {}

  get data(): string {
    return (this.#data ??= this.write(this.payload, this.key));
  }
}

/** Add `key` to the keys `state` retired, to be deleted (or, with cookies, revoked until `expiresAt`). */
function retire(state: SessionState, key: string, expiresAt: number): void {
  state.retired = [...state.retired, { key, expiresAt }];
}

/**
 * The per-request handle an adapter keeps: loads the session on first use (a request that never
 * touches the session costs no store round trip) and settles its commits at the end.
 *
 * @example
 * ```ts
 * const ctx = tessera.begin({ cookieHeader: req.headers.cookie }, sink);
 * const session = await ctx.load();
 * // ... handler ...
 * await ctx.settle();
 * ```
 */
export class SessionContext {
  #promise: Promise<Session> | null = null;
  #held = false;
  /** @internal Set by the manager once the session is loaded. */
  state: SessionState | null = null;
  /** @internal The loaded session (set with `state`). */
  session: Session | null = null;
  readonly #requests: RequestRuntime;
  readonly #input: RequestInput;
  readonly #sink: CookieSink;

  /** @internal Made by {@link Tessera.begin}. */
  constructor(requests: RequestRuntime, input: RequestInput, sink: CookieSink) {
    this.#requests = requests;
    this.#input = input;
    this.#sink = sink;
  }

  /** The request's session, loaded on the first call. Rejects when the store fails. */
  load(): Promise<Session> {
    // After loadSync(), the promise is made only if asked for.
    return (this.#promise ??= this.session !== null ? Promise.resolve(this.session) : this.#requests.load(this, this.#input, this.#sink));
  }

  /**
   * The request's session, loaded now, without a promise: for stores that answer synchronously
   * (memory, SQLite, a cookie store whose revocation store is one of those; see
   * {@link Tessera.loadsSynchronously}). A handler using it need not be async. Throws
   * {@link NotSupportedError} with other stores, and what `load()` would reject with when the
   * store fails.
   *
   * @example
   * ```ts
   * const session = ctx.loadSync();
   * session.set('views', (session.get<number>('views') ?? 0) + 1);
   * ```
   */
  loadSync(): Session {
    if (this.session !== null) return this.session;
    if (this.#promise !== null) throw new SessionStateError('load() was called first and has not given the session (it is still loading, or it failed): await load()');
    return this.#requests.loadSync(this, this.#input, this.#sink);
  }

  /**
   * While the context is held, the session's commits wait for {@link SessionContext.release}
   * instead of the next tick. An adapter holds the context while it runs a handler's synchronous
   * code and releases it when the handler returns: the commit then starts at once, and a store
   * that answers synchronously writes it before the adapter returns, with no trip through the
   * microtask queue. A save or settle releases the hold too.
   *
   * @example
   * ```ts
   * ctx.hold();
   * try {
   *   result = handler(req, res);
   * } finally {
   *   ctx.release();
   * }
   * ```
   */
  hold(): void {
    this.#held = true;
    if (this.state !== null) this.state.held = true;
  }

  /** End {@link SessionContext.hold}: a commit it deferred starts now. */
  release(): void {
    this.#held = false;
    if (this.state !== null && this.state.held) this.#requests.release(this.state);
  }

  /** @internal Whether the context is held ({@link SessionContext.hold}). */
  get held(): boolean {
    return this.#held;
  }

  /** Whether {@link SessionContext.load} or {@link SessionContext.loadSync} was called (and loadSync did not throw). */
  get started(): boolean {
    return this.#promise !== null || this.session !== null;
  }

  /**
   * True when {@link SessionContext.settle} has nothing to wait for: the session was never loaded,
   * or it was and no commit is pending or unreported. Lets an adapter skip an `await`.
   */
  get settled(): boolean {
    if (this.#promise === null && this.session === null) return true;
    const state = this.state;
    return state !== null && state.pending === 0 && !state.deferred && state.failure === null;
  }

  /** Wait for the session's commits; rethrows a commit failure not yet seen. No-op if never loaded. */
  settle(): Promise<void> {
    if (this.state !== null) return this.#requests.settle(this.state);
    if (this.#promise === null) return RESOLVED;
    // A failed load was the handler's to see (it rejected load()); there is nothing to settle.
    return this.#promise.then(() => this.#requests.settle(this.state!), noop);
  }
}

/** @internal What a {@link SessionContext} calls on its manager. */
interface RequestRuntime {
  load(ctx: SessionContext, input: RequestInput, sink: CookieSink): Promise<Session>;
  loadSync(ctx: SessionContext, input: RequestInput, sink: CookieSink): Session;
  settle(state: SessionState): Promise<void>;
  release(state: SessionState): void;
}

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
  /** The server store: the session store, or with a CookieStore its revocation store (or null). */
  readonly #server: SessionStore | null;
  /** Set when sessions are sealed into the cookie. */
  readonly #cookieStore: CookieStore | null;
  /** Cookie values whose signature verified → their ID (and store key without tenant, once computed). */
  readonly #verified = new GenerationalCache<string, { id: string; key?: string }>(VERIFIED_CACHE_MAX);
  /** Short `Cookie` headers → the verified entry of the session cookie they carry (see {@link HEADER_CACHE_MAX_LENGTH}). */
  readonly #byHeader = new GenerationalCache<string, { id: string; key?: string }>(VERIFIED_CACHE_MAX);
  /**
   * Sealed cookie values → what they hold, for the tenant they were sealed for (cookie store): the
   * payload itself when its data values are all primitives (each request gets a copy), else its JSON.
   */
  readonly #opened = new GenerationalCache<string, OpenedSeal>(OPENED_CACHE_MAX);
  /** Store key → the stored string last seen for it and its payload (only payloads whose data values are all primitives). */
  readonly #decoded = new GenerationalCache<string, { data: string; payload: Payload }>(DECODED_CACHE_MAX);
  readonly #sealer: Sealer | null;
  readonly #encoder = new PayloadEncoder();
  /** The server store keeps record objects as given ({@link SessionStore.retainsRecords}). */
  readonly #retains: boolean;
  /** The additional data sealed cookies of tenant-less sessions are bound to (the cookie name). */
  readonly #sealContextNoTenant: string;
  readonly #runtime: SessionRuntime;
  readonly #requests: RequestRuntime;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  /** Prefer {@link createTessera}. */
  constructor(options: TesseraOptions & { store: SessionStore | CookieStore; encryptData?: boolean }) {
    super();
    this.options = resolveOptions(options);
    this.store = options.store;
    this.#cookieStore = isCookieStore(options.store) ? options.store : null;
    this.#server = this.#cookieStore ? this.#cookieStore.revocation : (options.store as SessionStore);
    this.#sealer = options.encryptData || this.#cookieStore ? new Sealer(this.options.keyring.keys('data')) : null;
    this.#sealContextNoTenant = `${this.options.cookie.name}\u0000`;
    this.#retains = this.#server?.retainsRecords === true;
    const self = this;
    this.#runtime = {
      now: this.options.now,
      rememberMeLifetime: this.options.rememberMeLifetime,
      materialize: (s, withCookie) => self.#materialize(s, withCookie),
      schedule: (s) => self.#schedule(s),
      settle: (s) => self.#settleState(s),
      regenerate: (s, keep) => self.#regenerate(s, keep),
      destroy: (s) => self.#destroy(s),
      reload: (s) => self.#reload(s),
      expiresAt: (s) => self.#expiresAt(s),
      refreshCookie: (s, force) => self.#refreshCookie(s, force),
      cookieMaxAge: (s) => self.#cookieMaxAge(s, self.options.now()),
    };
    this.#requests = {
      load: (ctx, input, sink) => self.#loadForRequest(ctx, input, sink),
      loadSync: (ctx, input, sink) => self.#loadForRequestSync(ctx, input, sink),
      settle: (s) => self.#settleState(s),
      release: (s) => self.#release(s),
    };
    const interval = this.options.cleanupInterval;
    if (interval > 0 && this.#server?.deleteExpired && !this.#server.expiresNatively) {
      this.#timer = setInterval(() => {
        this.cleanupExpired().catch((error) => this.options.logger.warn?.('tessera: cleanup failed', { error: String(error) }));
      }, interval);
      this.#timer.unref();
    }
  }

  /** The session cookie's name. */
  get cookieName(): string {
    return this.options.cookie.name;
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
    return new SessionContext(this.#requests, input, sink);
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
    const value = `${id}.${this.options.keyring.sign('cookie', id)}`;
    this.#remember(value, id);
    return value;
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
    return this.#verifiedEntry(value)?.id ?? null;
  }

  #verifiedEntry(value: string): { id: string; key?: string } | undefined {
    const cached = this.#verified.get(value);
    if (cached !== undefined) return cached;
    if (value.length !== 87 || value.charCodeAt(43) !== 46 /* '.' */) return undefined;
    const id = value.slice(0, 43);
    if (!isWellFormedId(id) || !this.options.keyring.verify('cookie', id, value.slice(44))) return undefined;
    return this.#remember(value, id);
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
    return this.#server === null || typeof this.#server.getSync === 'function';
  }

  /**
   * Load the request's session. With a store that answers at once (`getSync`) the session is
   * ready without waiting on a promise, and the returned one is already settled. Never throws: a
   * failure rejects the promise.
   */
  #loadForRequest(ctx: SessionContext, input: RequestInput, sink: CookieSink): Promise<Session> {
    try {
      const loaded = this.#read(ctx, input, sink);
      return loaded instanceof Promise ? loaded : Promise.resolve(loaded);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #loadForRequestSync(ctx: SessionContext, input: RequestInput, sink: CookieSink): Session {
    this.#assertOpen();
    if (!this.loadsSynchronously) {
      throw new NotSupportedError(`the ${this.#server!.name} store answers with promises: use load(), not loadSync()`);
    }
    return this.#read(ctx, input, sink) as Session;
  }

  /** The request's session: at once when the store answers synchronously, else a promise of it. */
  #read(ctx: SessionContext, input: RequestInput, sink: CookieSink): Session | Promise<Session> {
    this.#assertOpen();
    const tenant = input.tenant ?? null;
    const header = input.cookieHeader;
    const now = this.options.now();
    let found: SessionState | null = null;
    let reading: Promise<SessionState | null> | null = null;
    let hadCookie: boolean;
    if (this.#cookieStore) {
      const values = readCookie(header, this.options.cookie.name);
      hadCookie = values.length > 0;
      found = this.#openSealed(values, tenant, sink, now);
      const revocation = this.#cookieStore.revocation;
      if (found !== null && revocation !== null) {
        const state = found;
        const key = state.key!;
        if (revocation.getSync) found = this.#unlessRevoked(state, revocation.getSync(key, { now }));
        else reading = revocation.get(key, { now }).then((record) => this.#unlessRevoked(state, record));
      }
    } else {
      const short = header !== undefined && header.length <= HEADER_CACHE_MAX_LENGTH;
      let verified = short ? this.#byHeader.get(header) : undefined;
      hadCookie = verified !== undefined;
      if (verified === undefined) {
        const values = readCookie(header, this.options.cookie.name);
        hadCookie = values.length > 0;
        for (const value of values) {
          if ((verified = this.#verifiedEntry(value)) !== undefined) break;
        }
        if (verified !== undefined && short) this.#byHeader.set(header, verified);
        else if (verified === undefined && hadCookie) this.#emit('invalidCookie', '', 'signature');
      }
      if (verified !== undefined) {
        const id = verified.id;
        // The store key of a tenant-less session is remembered with its verified cookie.
        const key = tenant === null ? (verified.key ??= storeKey(id, null)) : storeKey(id, tenant);
        const server = this.#server!;
        if (server.getSync) found = this.#stateFromRecord(id, tenant, sink, key, server.getSync(key, { now }), now);
        else reading = server.get(key, { now }).then((record) => this.#stateFromRecord(id, tenant, sink, key, record, now));
      }
    }
    if (reading === null) return this.#enter(ctx, input, sink, tenant, hadCookie, found, now);
    return reading.then((state) => this.#enter(ctx, input, sink, tenant, hadCookie, state, now));
  }

  /** The request's session once read: `state`, or a fresh one when there is none (or it may not be used). */
  #enter(ctx: SessionContext, input: RequestInput, sink: CookieSink, tenant: string | null, hadCookie: boolean, found: SessionState | null, now: number): Session {
    let state = found;
    if (state && this.#bindingMismatch(state, input)) {
      this.#emit('bindingMismatch', state.key!);
      state = null;
    }
    if (state === null) {
      state = this.#fresh(tenant, sink, now, input.ip ?? null, input.userAgent ?? null);
      state.held = ctx.held;
      state.cookieSent = hadCookie;
      if (this.options.saveUninitialized) {
        this.#materialize(state, true);
        state.touchDue = true;
        void this.#schedule(state);
      }
    } else {
      state.held = ctx.held;
      state.requestIp = input.ip ?? null;
      state.requestUserAgent = input.userAgent ?? null;
      state.cookieSent = true;
      state.cookieIssued = true;
      if (this.options.rolling) this.#refreshCookie(state, true);
      this.#touchIfDue(state, now);
    }
    ctx.state = state;
    return (ctx.session = new Session(state, this.#runtime));
  }

  #bindingMismatch(state: SessionState, input: RequestInput): boolean {
    return (
      (this.options.bindIp && state.ip !== null && state.ip !== (input.ip ?? null)) ||
      (this.options.bindUserAgent && state.userAgent !== null && state.userAgent !== (input.userAgent ?? null))
    );
  }

  #touchIfDue(state: SessionState, now: number): void {
    // A sealed session is touched by re-sealing its cookie, which needs the response head.
    if (this.#cookieStore && (state.sink === null || !state.sink.writable())) return;
    const idle = state.lifetime ?? this.options.idleTimeout;
    if (now - state.lastSeenAt < this.options.touchAfter * idle) return;
    const current = this.#expiresAt(state);
    const extended = Math.min(now + idle, state.createdAt + Math.max(this.options.absoluteTimeout, state.lifetime ?? 0));
    if (extended <= current) return;
    state.touchDue = true;
    this.#refreshCookie(state, false);
    void this.#schedule(state);
  }

  // ---------------------------------------------------------------- state

  /** A new, empty state; `now` is its creation time (a loaded state's are replaced by the record's). */
  #fresh(tenant: string | null, sink: CookieSink | null, now: number, ip: string | null = null, userAgent: string | null = null): SessionState {
    return {
      id: null,
      key: null,
      version: 0,
      data: {},
      changes: NO_CHANGES,
      cleared: false,
      createdAt: now,
      lastSeenAt: now,
      ip,
      userAgent,
      userId: null,
      tenant,
      lifetime: null,
      persistent: null,
      cookieIssued: false,
      metaChanged: false,
      touchDue: false,
      retired: NO_KEYS,
      destroyed: false,
      cookieSent: false,
      loaded: false,
      sink,
      requestIp: ip,
      requestUserAgent: userAgent,
      queued: false,
      held: false,
      deferred: false,
      pending: 0,
      tail: RESOLVED,
      failure: null,
    };
  }

  /** Load the live session `id` of `tenant`, or `null` (missing, expired or unreadable). */
  async #openState(id: string, tenant: string | null, sink: CookieSink | null, key = storeKey(id, tenant)): Promise<SessionState | null> {
    const now = this.options.now();
    return this.#stateFromRecord(id, tenant, sink, key, await this.#server!.get(key, { now }), now);
  }

  /** The live session in `record` (read at `now`), or `null` (missing, expired or unreadable). */
  #stateFromRecord(id: string, tenant: string | null, sink: CookieSink | null, key: string, record: StoreRecord | null, now: number): SessionState | null {
    if (record === null) return null;
    const state = this.#fresh(tenant, sink, now);
    state.id = id;
    state.key = key;
    if (!this.#apply(state, record)) {
      this.#emit('invalidCookie', key, 'unreadable record');
      return null;
    }
    if (now >= this.#expiresAt(state)) {
      this.#emit('expired', key);
      this.#server!.delete(key, { now }).catch(noop);
      return null;
    }
    state.loaded = true;
    return state;
  }

  /**
   * Open a session sealed in one of the cookie values; `null` when none opens or it has expired.
   * Whether it was revoked is for the caller to check ({@link Tessera.#unlessRevoked}).
   */
  #openSealed(values: string[], tenant: string | null, sink: CookieSink, now: number): SessionState | null {
    for (const value of values) {
      const cached = this.#opened.get(value);
      const known = cached !== undefined && cached.tenant === tenant;
      let p: SealedPayload | null = null;
      let key = known ? cached.key : '';
      // The cached payload is shared: the state gets a copy of its data.
      const shared = known && cached.payload !== null;
      if (shared) {
        p = cached.payload;
      } else {
        const json = known ? cached.json : this.#sealer!.open(value, this.#sealContext(tenant));
        p = json === null ? null : parseSealedPayload(json);
        if (p === null) {
          this.#emit('invalidCookie', '', 'seal');
          continue;
        }
        if (!known) this.#rememberSeal(value, json!, p, tenant, (key = storeKey(p.i, tenant)));
      }
      const state = this.#fresh(tenant, sink, now);
      state.id = p.i;
      state.key = key;
      state.data = shared ? { ...p.d } : p.d;
      state.createdAt = p.c;
      state.lastSeenAt = p.s;
      state.lifetime = p.l;
      state.persistent = p.pc ?? null;
      state.ip = p.ip;
      state.userAgent = p.ua;
      state.userId = p.u;
      if (now >= this.#expiresAt(state)) {
        this.#emit('expired', state.key);
        return null;
      }
      state.loaded = true;
      state.version = 1;
      return state;
    }
    return null;
  }

  /** A sealed session, unless the revocation store holds a `record` for it. */
  #unlessRevoked(state: SessionState, record: StoreRecord | null): SessionState | null {
    if (record === null) return state;
    this.#emit('invalidCookie', state.key!, 'revoked');
    return null;
  }

  /** Remember what the sealed cookie `value` holds (its payload too, copied, when a shallow copy is a full copy). */
  #rememberSeal(value: string, json: string, payload: SealedPayload, tenant: string | null, key: string): void {
    this.#opened.set(value, { json, payload: allPrimitive(payload.d) ? copyPayload(payload) : null, tenant, key });
  }

  #sealContext(tenant: string | null): string {
    return tenant === null ? this.#sealContextNoTenant : `${this.options.cookie.name}\u0000${tenant}`;
  }

  /** Seal the session into its cookie now (cookie store). Throws when it would not fit. */
  #sealIntoCookie(state: SessionState): void {
    const sink = state.sink;
    if (sink === null || state.id === null) return;
    if (!sink.writable()) throw new SessionStateError('the session lives in the cookie, and the response headers were already sent');
    const now = this.options.now();
    const payload: SealedPayload = {
      i: state.id,
      u: state.userId,
      d: state.data,
      c: state.createdAt,
      s: now,
      l: state.lifetime,
      ip: state.requestIp ?? state.ip,
      ua: state.requestUserAgent ?? state.userAgent,
    };
    if (state.persistent !== null) payload.pc = state.persistent;
    const json = this.#encoder.encode(payload);
    const sealed = this.#sealer!.seal(json, this.#sealContext(state.tenant));
    const line = serializeCookie(this.options.cookie, sealed, this.#cookieMaxAge(state, now), now, state.persistent === false);
    const limit = this.#cookieStore!.maxBytes;
    if (line.length > limit) {
      throw new PayloadTooLargeError(
        `the session sealed into its cookie is ${line.length} bytes, over the ${limit}-byte cookie limit: ` +
          'store less in the session, or use a server-side store',
        line.length,
        limit,
      );
    }
    sink.setCookie(line);
    // The browser sends exactly this value back: its next request need not open it.
    this.#rememberSeal(sealed, json, payload, state.tenant, state.key!);
    state.cookieIssued = true;
    state.lastSeenAt = now;
    state.changes = NO_CHANGES;
    state.cleared = false;
    state.metaChanged = false;
    state.touchDue = false;
  }

  /** Replace the state's stored fields with `record`'s. False when the record cannot be read. */
  #apply(state: SessionState, record: StoreRecord): boolean {
    const key = state.key!;
    const payload =
      record instanceof RetainedRecord && record.write === this.#text && record.key === key ? record.payload : typeof record.data === 'string' ? this.#decode(record.data, key) : null;
    if (payload === null) return false;
    // The payload may be the cached one: the state gets a data object of its own.
    state.data = { ...payload.d };
    state.version = record.version;
    state.createdAt = payload.c;
    state.lastSeenAt = payload.s;
    state.lifetime = payload.l;
    state.persistent = payload.pc ?? null;
    state.ip = payload.ip;
    state.userAgent = payload.ua;
    state.userId = record.userId;
    return true;
  }

  /**
   * The payload in a stored string, `null` if unreadable. It may be the cached one, shared: the
   * caller copies what it changes (its data).
   */
  #decode(data: string, key: string): Payload | null {
    // The same string under the same key decodes to the same payload (a sealed one is bound to its key).
    const hit = this.#decoded.get(key);
    if (hit !== undefined && hit.data === data) return hit.payload;
    const json = this.#sealer ? (data.startsWith('{') ? null : this.#sealer.open(data, key)) : data;
    const p = json === null ? null : parsePayload(json);
    if (p !== null) this.#rememberDecoded(data, key, p, false);
    return p;
  }

  /**
   * Remember `payload` as what `data` decodes to, if a shallow copy of its data is a full copy (no
   * value is an object or array a handler could change in place). The cache keeps `payload` itself
   * unless `copy`: the caller must not change it afterwards.
   */
  #rememberDecoded(data: string, key: string, payload: Payload, copy: boolean): void {
    if (data.length <= DECODED_MAX_LENGTH && allPrimitive(payload.d)) this.#decoded.set(key, { data, payload: copy ? copyPayload(payload) : payload });
    // Whatever was remembered for this key is out of date now.
    else this.#decoded.delete(key);
  }

  #encode(state: SessionState, now: number): StoreRecord {
    // A record kept as an object gets a copy of the data (the handler may still change the
    // state's): made here, so the payload is the record's snapshot as it is.
    const retained = this.#retains && allPrimitive(state.data);
    const payload: Payload = {
      d: retained ? { ...state.data } : state.data,
      c: state.createdAt,
      s: now,
      l: state.lifetime,
      ip: state.requestIp ?? state.ip,
      ua: state.requestUserAgent ?? state.userAgent,
    };
    if (state.persistent !== null) payload.pc = state.persistent;
    const key = state.key!;
    const version = state.version + 1;
    const expiresAt = this.#expiry(state.createdAt, now, state.lifetime);
    if (retained) return new RetainedRecord(payload, key, version, expiresAt, state.userId, state.tenant, this.#text);
    const data = this.#text(payload, key);
    // The next request usually reads back exactly this record (the cache gets a copy: the
    // payload's data is the state's).
    this.#rememberDecoded(data, key, payload, true);
    return { data, version, expiresAt, userId: state.userId, tenant: state.tenant };
  }

  /** The stored text of `payload` under `key`: its JSON, sealed with encryption at rest. */
  readonly #text = (payload: Payload, key: string): string => {
    const json = this.#encoder.encode(payload);
    return this.#sealer ? this.#sealer.seal(json, key) : json;
  };

  #expiry(createdAt: number, lastSeenAt: number, lifetime: number | null): number {
    const idle = lifetime ?? this.options.idleTimeout;
    const absolute = Math.max(this.options.absoluteTimeout, lifetime ?? 0);
    return Math.min(lastSeenAt + idle, createdAt + absolute);
  }

  #expiresAt(state: SessionState): number {
    return this.#expiry(state.createdAt, state.lastSeenAt, state.lifetime);
  }

  // ---------------------------------------------------------------- cookie

  #materialize(state: SessionState, withCookie: boolean): void {
    const needsCookie = withCookie && !state.cookieIssued && state.sink !== null;
    if (needsCookie && !state.sink!.writable()) {
      throw new SessionStateError('cannot start a session after the response headers were sent');
    }
    if (state.id === null) {
      state.id = generateId();
      state.key = storeKey(state.id, state.tenant);
    }
    // A sealed cookie is written by the change that follows; an ID cookie can go out now.
    if (needsCookie && !this.#cookieStore) this.#putCookie(state);
  }

  #putCookie(state: SessionState): void {
    if (state.sink === null || state.id === null) return;
    if (this.#cookieStore) return this.#sealIntoCookie(state);
    const now = this.options.now();
    const value = this.signCookie(state.id);
    state.sink.setCookie(serializeCookie(this.options.cookie, value, this.#cookieMaxAge(state, now), now, state.persistent === false));
    state.cookieIssued = true;
  }

  /**
   * Max-Age of the cookie: the session's lifetime or `cookie.maxAge` (the idle timeout for a
   * session forced persistent), capped by the absolute limit; `null` for a browser-session cookie.
   */
  #cookieMaxAge(state: SessionState, now: number): number | null {
    if (state.persistent === false) return null;
    const maxAge = state.lifetime ?? this.options.cookie.maxAge ?? (state.persistent ? this.options.idleTimeout : null);
    if (maxAge === null) return null;
    return Math.max(0, Math.min(maxAge, state.createdAt + Math.max(this.options.absoluteTimeout, state.lifetime ?? 0) - now));
  }

  /** Re-send the cookie the browser holds: a persistent one so its expiry follows the session's, any with `force`. */
  #refreshCookie(state: SessionState, force: boolean): void {
    if (state.sink === null || state.id === null || !state.cookieIssued || !state.sink.writable()) return;
    if (!force && this.#cookieMaxAge(state, this.options.now()) === null) return;
    this.#putCookie(state);
  }

  #remember(value: string, id: string): { id: string; key?: string } {
    const entry = { id };
    this.#verified.set(value, entry);
    return entry;
  }

  // ---------------------------------------------------------------- lifecycle

  #regenerate(state: SessionState, keepData: boolean): void {
    if (state.sink !== null && !state.sink.writable()) {
      throw new SessionStateError('cannot regenerate the session after the response headers were sent');
    }
    if (state.sink === null) throw new SessionStateError('a session opened by ID has no cookie to regenerate');
    if (state.key !== null && state.version > 0) retire(state, state.key, this.#revokeUntil(state));
    const now = this.options.now();
    const previous = state.key;
    state.id = generateId();
    state.key = storeKey(state.id, state.tenant);
    state.version = 0;
    state.loaded = false;
    state.createdAt = now;
    state.lastSeenAt = now;
    state.changes = NO_CHANGES;
    state.cleared = false;
    if (keepData) {
      const changes = (state.changes = new Map());
      for (const [k, v] of Object.entries(state.data)) changes.set(k, v);
    } else {
      state.data = {};
      state.userId = null;
      state.lifetime = null;
      state.persistent = null;
    }
    state.metaChanged = state.userId !== null || state.lifetime !== null;
    state.touchDue = this.options.saveUninitialized;
    this.#putCookie(state);
    if (previous) this.#emit('regenerated', previous);
    void this.#schedule(state);
  }

  #destroy(state: SessionState): void {
    state.destroyed = true;
    state.changes = NO_CHANGES;
    if (state.sink !== null && (state.cookieSent || state.cookieIssued) && state.sink.writable()) {
      state.sink.setCookie(clearCookie(this.options.cookie));
    }
    if (state.key !== null) this.#emit('destroyed', state.key);
    void this.#schedule(state);
  }

  async #reload(state: SessionState): Promise<void> {
    await this.#settleState(state);
    if (this.#cookieStore) throw new NotSupportedError('a session sealed in a cookie cannot be reloaded: the cookie is its only copy');
    if (state.key === null || state.destroyed) throw new SessionNotFoundError();
    const record = await this.#server!.get(state.key, { now: this.options.now() });
    if (record === null || !this.#apply(state, record)) throw new SessionNotFoundError();
    state.changes = NO_CHANGES;
    state.cleared = false;
    state.metaChanged = false;
    state.loaded = true;
  }

  // ---------------------------------------------------------------- commit

  /**
   * Queue a commit of the state after the current synchronous code (one per tick, whatever the
   * number of changes), behind any commit still running. Failures are kept in `state.failure`
   * for settle() / save() to rethrow.
   */
  #schedule(state: SessionState): void {
    if (this.#cookieStore && !state.destroyed && (state.changes.size > 0 || state.cleared || state.metaChanged || state.touchDue)) {
      // The cookie is the store: seal now, while the headers can still take it.
      this.#sealIntoCookie(state);
      if (state.retired.length === 0) return;
    }
    if (state.queued) return;
    state.queued = true;
    if (state.held) state.deferred = true;
    else this.#start(state, true);
  }

  /**
   * Start the queued commit: behind the running one if there is one; else now, or with `defer`
   * once the current synchronous code has finished (so all the changes it makes go in one write).
   */
  #start(state: SessionState, defer: boolean): void {
    if (state.pending++ > 0) state.tail = state.tail.then(() => this.#commitNow(state));
    else if (defer) state.tail = this.#commitNextTick(state);
    else state.tail = this.#commitNow(state) ?? state.tail;
  }

  /** End a hold ({@link SessionContext.hold}): a commit it deferred starts now, without waiting a tick. */
  #release(state: SessionState): void {
    state.held = false;
    if (!state.deferred) return;
    state.deferred = false;
    this.#start(state, false);
  }

  /** {@link Tessera.#commitNow} once the current synchronous code has finished. */
  async #commitNextTick(state: SessionState): Promise<void> {
    await null;
    return this.#commitNow(state);
  }

  /**
   * Run the queued commit (already counted in `state.pending`); never throws. Without a promise
   * when its work is done at once (a store that answers synchronously, nothing retired): then it
   * returns `undefined`; otherwise the rest of it, which never rejects (`state.tail` chains on it).
   */
  #commitNow(state: SessionState): Promise<void> | undefined {
    state.queued = false;
    let work: Promise<void> | undefined;
    try {
      work = this.#commit(state);
    } catch (error) {
      state.pending--;
      this.#commitFailed(state, error);
      return undefined;
    }
    if (work === undefined && (state.retired.length === 0 || this.#cookieStore !== null)) {
      state.pending--;
      return undefined;
    }
    return this.#finishCommit(state, work);
  }

  /**
   * The rest of a commit whose main work is `work` (awaited only when there is I/O: each async
   * layer costs a promise and a microtask hop): then the retired keys. Counts the commit done.
   */
  async #finishCommit(state: SessionState, work: Promise<void> | undefined): Promise<void> {
    try {
      if (work !== undefined) await work;
      if (state.retired.length > 0 && this.#cookieStore === null) await this.#deleteRetired(state);
    } catch (error) {
      this.#commitFailed(state, error);
    } finally {
      state.pending--;
    }
  }

  /** Keep a commit's failure for settle() / save() to rethrow; report it only if nobody sees it first. */
  #commitFailed(state: SessionState, error: unknown): void {
    state.failure = { error };
    setImmediate(() => {
      if (state.failure?.error === error) this.reportError(error);
    });
  }

  #settleState(state: SessionState): Promise<void> {
    if (state.held) this.#release(state);
    if (state.pending === 0 && state.failure === null) return RESOLVED;
    return this.#settleSlow(state);
  }

  async #settleSlow(state: SessionState): Promise<void> {
    while (state.pending > 0) await state.tail;
    if (state.failure) {
      const { error } = state.failure;
      state.failure = null;
      throw error;
    }
  }

  /**
   * The commit's main work: the destroy, the write, or (cookie store) the revocations; `undefined`
   * when there is none. Keys the session retired are deleted after it, by {@link Tessera.#finishCommit}.
   */
  #commit(state: SessionState): Promise<void> | undefined {
    if (this.#cookieStore) return this.#revokeRetired(state);
    if (state.destroyed) {
      if (state.key !== null && (state.version > 0 || state.loaded)) retire(state, state.key, 0);
      state.version = 0;
      return undefined;
    }
    const changed = state.changes.size > 0 || state.cleared || state.metaChanged;
    if (!(changed || state.touchDue) || state.key === null) return undefined;
    const unstoredAndEmpty = state.version === 0 && !state.touchDue && state.userId === null && Object.keys(state.data).length === 0;
    return unstoredAndEmpty ? undefined : this.#write(state, changed);
  }

  /** Delete the keys the session no longer uses (regenerated or destroyed), from the server store. */
  async #deleteRetired(state: SessionState): Promise<void> {
    const retired = state.retired;
    state.retired = NO_KEYS;
    for (let i = 0; i < retired.length; i++) {
      try {
        await this.#server!.delete(retired[i]!.key, { now: this.options.now() });
      } catch (error) {
        // Still live in the store (an old ID that must stop working): the next commit, or a
        // save() after the failure, tries again.
        state.retired = [...retired.slice(i), ...state.retired];
        throw error;
      }
    }
  }

  /** Cookie store: remember replaced and destroyed sessions in the revocation store until they would expire. */
  async #revokeRetired(state: SessionState): Promise<void> {
    let gone = state.retired;
    state.retired = NO_KEYS;
    if (state.destroyed && state.key !== null && state.loaded) {
      gone = [...gone, { key: state.key, expiresAt: this.#revokeUntil(state) }];
      state.loaded = false;
    }
    const revocation = this.#cookieStore!.revocation;
    if (revocation === null) return;
    const now = this.options.now();
    for (const { key, expiresAt } of gone) {
      if (expiresAt <= now) continue;
      await revocation.set(key, { data: '', version: 1, expiresAt, userId: null, tenant: state.tenant }, 0, { now });
    }
  }

  /**
   * Compare-and-set loop: on conflict, re-read and re-apply only this request's changes.
   *
   * The commit takes the changes made so far as its batch; changes made while it waits on the
   * store stay pending for the next commit, and on a conflict both are re-applied. If the session
   * is regenerated meanwhile, this write's key is retired instead (the new key has its own commit).
   * With a store that answers synchronously the loop runs at once and returns `undefined`.
   */
  #write(state: SessionState, changed: boolean): Promise<void> | undefined {
    const key = state.key!;
    const batch: Batch = { changes: state.changes, cleared: state.cleared, meta: state.metaChanged };
    state.changes = NO_CHANGES;
    state.cleared = false;
    state.metaChanged = false;
    state.touchDue = false;
    const server = this.#server!;
    if (!server.setSync || !server.getSync) return this.#writeAsync(state, key, batch, changed);
    try {
      for (let attempt = 1; ; attempt++) {
        const ctx: StoreContext = { now: this.options.now() };
        const record = this.#encode(state, ctx.now);
        if (this.#wrote(state, key, record, server.setSync(key, record, state.version, ctx), ctx.now, changed, attempt)) return undefined;
        if (!this.#rebased(state, key, server.getSync(key, ctx), batch, changed)) return undefined;
      }
    } catch (error) {
      this.#unbatch(state, batch);
      throw error;
    }
  }

  /** {@link Tessera.#write} on a store that answers with promises. */
  async #writeAsync(state: SessionState, key: string, batch: Batch, changed: boolean): Promise<void> {
    try {
      for (let attempt = 1; ; attempt++) {
        const ctx: StoreContext = { now: this.options.now() };
        const record = this.#encode(state, ctx.now);
        if (this.#wrote(state, key, record, await this.#server!.set(key, record, state.version, ctx), ctx.now, changed, attempt)) return;
        if (!this.#rebased(state, key, await this.#server!.get(key, ctx), batch, changed)) return;
      }
    } catch (error) {
      this.#unbatch(state, batch);
      throw error;
    }
  }

  /**
   * After one compare-and-set of `record` under `key`: true when the write is over (written, or
   * the session moved to another key meanwhile), false on a version conflict. Throws
   * {@link WriteConflictError} when a change still conflicts after the last attempt.
   */
  #wrote(state: SessionState, key: string, record: StoreRecord, written: boolean, now: number, changed: boolean, attempt: number): boolean {
    if (state.key !== key) {
      if (written) retire(state, key, record.expiresAt);
      return true;
    }
    if (written) {
      const created = state.version === 0;
      state.version = record.version;
      state.lastSeenAt = now;
      state.ip = state.requestIp ?? state.ip;
      state.userAgent = state.requestUserAgent ?? state.userAgent;
      if (created) this.#emit('created', key);
      return true;
    }
    this.#emit('conflict', key);
    if (changed && attempt >= this.options.maxWriteAttempts) throw new WriteConflictError(attempt);
    return false;
  }

  /**
   * After a conflict, with `current` the record re-read: true when the write should be tried
   * again (this request's changes now rebased on `current`), false when there is nothing to write.
   */
  #rebased(state: SessionState, key: string, current: StoreRecord | null, batch: Batch, changed: boolean): boolean {
    if (state.key !== key) return false;
    if (current === null && state.version === 0) return true;
    const base = this.#fresh(state.tenant, null, 0);
    base.key = key;
    if (current === null || !this.#apply(base, current)) {
      // Destroyed (or expired) by someone else meanwhile: writing would bring it back.
      this.#emit('lostToConcurrentDestroy', key);
      if (state.sink === null) throw new SessionNotFoundError();
      state.destroyed = true;
      state.changes = NO_CHANGES;
      return false;
    }
    this.#rebase(state, base, batch);
    // Only a touch: whoever wrote in between extended the expiry too.
    return changed;
  }

  /** A write failed: hand its batch back so a later commit (or save) can still write it. */
  #unbatch(state: SessionState, batch: Batch): void {
    if (!state.cleared) {
      // The batch's changes, and over them those made since.
      const pending = state.changes;
      if (pending.size === 0) state.changes = batch.changes;
      else {
        const merged = new Map(batch.changes);
        for (const [k, v] of pending) merged.set(k, v);
        state.changes = merged;
      }
      state.cleared = batch.cleared;
    }
    state.metaChanged ||= batch.meta;
  }

  /** Put `base` (the stored session) under this request's changes: the batch being written, then any made since. */
  #rebase(state: SessionState, base: SessionState, batch: Batch): void {
    const data = state.cleared || batch.cleared ? {} : base.data;
    const layers = state.cleared ? [state.changes] : [batch.changes, state.changes];
    for (const layer of layers) {
      for (const [k, v] of layer) {
        if (v === DELETED) delete data[k];
        else data[k] = v;
      }
    }
    state.data = data;
    state.version = base.version;
    state.createdAt = base.createdAt;
    state.lastSeenAt = base.lastSeenAt;
    if (!batch.meta && !state.metaChanged) {
      state.userId = base.userId;
      state.lifetime = base.lifetime;
      state.persistent = base.persistent;
    }
  }

  // ---------------------------------------------------------------- by ID

  async #openById(id: string, options: ByIdOptions | undefined): Promise<Session | null> {
    this.#assertOpen();
    if (this.#cookieStore) throw new NotSupportedError('sessions sealed in cookies cannot be read or changed by ID: the data is in the browser');
    if (typeof id !== 'string') throw new TypeError('session id must be a string');
    if (!isWellFormedId(id)) return null;
    const state = await this.#openState(id, options?.tenant ?? null, null);
    return state && new Session(state, this.#runtime);
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
   * @example
   * ```ts
   * const { id, cookie } = await tessera.create({ data: { cart: [] }, userId: 'u1' });
   * ```
   */
  async create(options: CreateOptions = {}): Promise<{ id: string; cookie: string; session: Session }> {
    this.#assertOpen();
    if (this.#cookieStore) throw new NotSupportedError('sessions sealed in cookies are created by a request');
    const state = this.#fresh(options.tenant ?? null, null, this.options.now(), options.ip ?? null, options.userAgent ?? null);
    state.id = generateId();
    state.key = storeKey(state.id, state.tenant);
    const session = new Session(state, this.#runtime);
    // Through the Session API, so values, user and lifetime are validated as in a request.
    for (const [k, v] of Object.entries(options.data ?? {})) session.set(k, v);
    if (options.userId != null) session.userId = options.userId;
    if (options.lifetime != null) session.setLifetime(options.lifetime);
    state.touchDue = true;
    await session.save();
    state.loaded = true;
    return { id: state.id, cookie: this.signCookie(state.id), session };
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
   * Delete session `id`. Resolves whether it existed. Idempotent.
   *
   * @example
   * ```ts
   * await tessera.destroy(id); // sign this session out everywhere
   * ```
   */
  async destroy(id: string, options?: ByIdOptions): Promise<boolean> {
    if (this.#cookieStore) return this.#revokeById(id, options);
    const session = await this.#openById(id, options);
    if (session === null) return false;
    session.destroy();
    await session.save();
    return true;
  }

  /**
   * How long a revoked cookie session must stay revoked: as long as any copy of its cookie could
   * still be valid. A copy used more recently than this request has a later "last seen" — and may
   * have been given a remember-me lifetime — so count from now with the longest idle window.
   */
  #revokeUntil(state: SessionState): number {
    const window = Math.max(this.options.idleTimeout, this.options.rememberMeLifetime, state.lifetime ?? 0);
    const absolute = Math.max(this.options.absoluteTimeout, window);
    return Math.min(this.options.now() + window, state.createdAt + absolute);
  }

  /** Cookie store: revoke `id` until the longest a session can live. */
  async #revokeById(id: string, options: ByIdOptions | undefined): Promise<boolean> {
    const revocation = this.#cookieStore!.revocation;
    if (revocation === null) throw new NotSupportedError('revoking a cookie session by ID needs a revocation store (CookieStore({ revocation }))');
    const now = this.options.now();
    const longest = Math.max(this.options.absoluteTimeout, this.options.rememberMeLifetime);
    const expiresAt = Number.isFinite(longest) ? now + longest : now + 365 * 24 * 3_600_000;
    const tenant = options?.tenant ?? null;
    return revocation.set(storeKey(id, tenant), { data: '', version: 1, expiresAt, userId: null, tenant }, 0, { now });
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
   * The live sessions of a user, with their metadata, from the store's by-user index.
   *
   * @throws {@link ConfigError}-like `TypeError` when the store has no by-user index.
   * @example
   * ```ts
   * const devices = await tessera.listByUser('u1');
   * ```
   */
  async listByUser(userId: string, options?: ByIdOptions): Promise<SessionInfo[]> {
    this.#assertOpen();
    const store = this.#cookieStore ? null : this.#server;
    if (!store?.listByUser) throw new NotSupportedError(`the ${this.store.name} store cannot list sessions by user`);
    const now = this.options.now();
    const rows = await store.listByUser(userId, options?.tenant ?? null, { now });
    const out: SessionInfo[] = [];
    for (const { key, record } of rows) {
      const state = this.#fresh(record.tenant, null, now);
      state.key = key;
      if (!this.#apply(state, record) || now >= this.#expiresAt(state)) continue;
      out.push({
        handle: key,
        createdAt: state.createdAt,
        lastSeenAt: state.lastSeenAt,
        expiresAt: this.#expiresAt(state),
        ip: state.ip,
        userAgent: state.userAgent,
        userId: state.userId,
        tenant: state.tenant,
      });
    }
    return out.sort((a, b) => b.lastSeenAt - a.lastSeenAt);
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
      await this.destroyByHandle(info.handle);
      count++;
    }
    return count;
  }

  /**
   * Destroy a session by the `handle` from {@link Tessera.listByUser} (for admin tools, which never
   * see session IDs).
   *
   * @example
   * ```ts
   * for (const s of await tessera.listByUser('u1')) if (s.ip === badIp) await tessera.destroyByHandle(s.handle);
   * ```
   */
  async destroyByHandle(handle: string): Promise<void> {
    this.#assertOpen();
    if (this.#cookieStore) throw new NotSupportedError('sessions in cookies have no server-side handle to destroy');
    await this.#server!.delete(handle, { now: this.options.now() });
    this.#emit('destroyed', handle);
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
    try {
      if (this.listenerCount('commitError') > 0) this.emit('commitError', error);
      else this.options.logger.error?.('tessera: session commit failed', { error: String(error) });
    } catch (listenerError) {
      // A throwing listener must not take the process (or later commits) down with it.
      process.emitWarning(`tessera: a commitError listener or logger threw: ${String(listenerError)}`, 'TesseraWarning');
    }
  }

  /**
   * Remove expired sessions now (the cleanup timer calls this). Resolves how many were removed;
   * `0` for stores that expire records themselves.
   *
   * @example
   * ```ts
   * const removed = await tessera.cleanupExpired();
   * ```
   */
  async cleanupExpired(): Promise<number> {
    this.#assertOpen();
    return (await this.#server?.deleteExpired?.({ now: this.options.now() })) ?? 0;
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
    await this.store.close?.();
  }

  #assertOpen(): void {
    if (this.#closed) throw new SessionStateError('tessera was closed');
  }

  #emit(event: TesseraEventName, key: string, reason?: string): void {
    if (this.listenerCount(event) === 0 && !this.options.logger.debug) return;
    const payload: SessionEvent = reason === undefined ? { ref: key.slice(0, 12) } : { ref: key.slice(0, 12), reason };
    this.options.logger.debug?.(`tessera: ${event}`, { ...payload });
    this.emit(event, payload);
  }
}
