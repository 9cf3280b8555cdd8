/**
 * The express-session compatible middleware behind `tessera/express` (see that module for the
 * overview): options, `req.session` and its cookie view, one request's session.
 *
 * @module
 * @internal
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { inspect } from 'node:util';
import type { SameSite } from '../../cookie.js';
import type { Secret } from '../../crypto/keyring.js';
import { ConfigError, SessionStateError } from '../../errors.js';
import { createTessera, type CreateTesseraOptions } from '../../index.js';
import type { Tessera } from '../../manager.js';
import { DEFAULTS } from '../../options.js';
import type { CookieSink } from '../../core/request.js';
import type { Session } from '../../session.js';
import type { CookieStore } from '../../stores/cookie.js';
import { MemoryStore } from '../../stores/memory.js';
import type { SessionStore } from '../../stores/store.js';
import { clientIp } from '../kit.js';
import { responseCookieSink } from '../node.js';
import type { SessionData } from '../express.js';

// ---------------------------------------------------------------- public types


/**
 * The session cookie's attributes, as `cookie` in {@link ExpressSessionOptions}. Same names and
 * meaning as express-session's, with these differences: `sameSite` defaults to `'lax'` (express-session
 * sends none; `false` also means `'lax'`, what browsers assume), and `secure: true` with a plain-HTTP
 * request sends no cookie, exactly like express-session.
 *
 * @example
 * ```ts
 * session({ secret, proxy: true, cookie: { secure: 'auto', sameSite: 'strict', maxAge: 8 * 3600_000 } });
 * ```
 */
export interface ExpressCookieOptions {
  /**
   * Lifetime in ms: the cookie persists that long, and so does the session after its last use
   * (it sets `idleTimeout` unless you pass one). Default: none, a browser-session cookie.
   */
  maxAge?: number;
  /**
   * A fixed expiry date. express-session advises `maxAge` instead; so does tessera. Every cookie
   * without a `maxAge` gets it, including one a session set to end with the browser.
   */
  expires?: Date;
  /** Default `true`. */
  httpOnly?: boolean;
  /**
   * Default `false`, like express-session — set `true` in production (over HTTPS), or `'auto'`:
   * secure when the request is (a direct TLS connection or, per `proxy`, `X-Forwarded-Proto: https`).
   */
  secure?: boolean | 'auto';
  /** `true` means `'strict'`, like express-session; `false` means `'lax'`. Default `'lax'`. */
  sameSite?: boolean | SameSite | 'Lax' | 'Strict' | 'None';
  /** Default `/`. The middleware only handles requests under this path, like express-session. */
  path?: string;
  /** Default: none (host-only). */
  domain?: string;
  /** CHIPS `Partitioned`. Requires `secure`. */
  partitioned?: boolean;
}

/**
 * Options of {@link session}: express-session's, plus every option of `createTessera` (such as
 * `idleTimeout`, `absoluteTimeout`, `touchAfter`, `bindIp`, `encryptData`, `now`, `logger`).
 *
 * @example
 * ```ts
 * session({
 *   secret: process.env.SESSION_SECRET!,        // >= 32 bytes; an array rotates
 *   store: new RedisStore({ url: process.env.REDIS_URL }),
 *   resave: false,
 *   saveUninitialized: false,
 *   cookie: { secure: true, maxAge: 24 * 3600_000 },
 * });
 * ```
 */
export interface ExpressSessionOptions extends Omit<CreateTesseraOptions, 'cookie' | 'saveUninitialized'> {
  /**
   * The secret(s) signing the cookie: one, or an array whose first entry signs and every entry
   * verifies (rotation), like express-session. Each must be at least 32 bytes. Same as `secrets`.
   */
  secret?: Secret | readonly Secret[];
  /** The cookie name. Default `connect.sid`, like express-session. */
  name?: string;
  /** The cookie's attributes. */
  cookie?: ExpressCookieOptions;
  /**
   * Write the session back to the store on every request, even when unchanged (extends its
   * expiry). Default `true`, express-session's default, with a warning when not set; `false` is
   * recommended — tessera already extends expiry by a throttled touch (`touchAfter`).
   */
  resave?: boolean;
  /**
   * Store a new session and send its cookie even when the request did not change it. Default
   * `true`, express-session's default, with a warning when not set; `false` is recommended (no
   * cookie before consent, no storage for visitors that never sign in).
   */
  saveUninitialized?: boolean;
  /**
   * Send the session cookie on every response, resetting its expiry countdown (tessera's own
   * `rolling` option). Default `false`. With `tessera`, it is that instance's setting.
   */
  rolling?: boolean;
  /**
   * What happens when `req.session` is deleted or set to `null`: `'keep'` (default) keeps the
   * stored session, `'destroy'` destroys it when the response finishes.
   */
  unset?: 'keep' | 'destroy';
  /**
   * Trust the reverse proxy, as in express-session: `true` takes HTTPS from `X-Forwarded-Proto`;
   * `false` ignores forwarding headers (HTTPS only over a direct TLS connection, the socket's
   * address as the client IP). Default: Express's `trust proxy` setting decides (`req.secure`,
   * `req.ip`).
   *
   * The client IP (`bindIp`, `meta.ip`) is Express's `req.ip` whenever the app sets `trust proxy`
   * (a hop count or the proxies' addresses: the precise answer), with `proxy` unset or `true`.
   * With `proxy: true` and no `trust proxy`, one proxy is trusted: the client is the
   * `X-Forwarded-For` entry that proxy appended (the rightmost), never one the client sent.
   */
  proxy?: boolean;
  /**
   * Accepted for compatibility and ignored, with a warning: tessera's session IDs are always 256
   * bits from the CSPRNG, never chosen by the app.
   */
  genid?: (req: IncomingMessage) => string;
  /**
   * Use this tessera instance (to share it with by-ID operations or other adapters). Its own
   * options then apply: pass no `secret`, `store`, `name`, `cookie`, `saveUninitialized` or other
   * manager option here — only `resave`, `unset`, `proxy` and `tenant`, and `rolling` only if it
   * matches the instance's (a different value throws a `ConfigError`).
   */
  tessera?: Tessera;
  /** The tenant of a request (for example from its Host header). Default: no tenants. */
  tenant?: (req: IncomingMessage) => string | null | undefined;
}

/**
 * What a callback of a session method receives: an error, or nothing on success.
 *
 * @example
 * ```ts
 * req.session.save((err) => (err ? next(err) : res.redirect('/')));
 * ```
 */
// `any`, as in express-session's types, so callbacks written for it (`err.message`) still compile.
export type SessionCallback = (err?: any) => void;

/**
 * `req.session.cookie` as plain data (what `toJSON()` returns).
 *
 * @example
 * ```ts
 * res.json(req.session.cookie); // {"originalMaxAge":86400000,"expires":"…","secure":true,…}
 * ```
 */
export interface SessionCookieData {
  readonly originalMaxAge: number | null;
  readonly expires: Date | null;
  readonly secure: boolean;
  readonly httpOnly: boolean;
  readonly domain: string | undefined;
  readonly path: string;
  readonly sameSite: SameSite;
  readonly partitioned: boolean;
}

/**
 * `req.session.cookie`: the session cookie as express-session shows it. `maxAge` and `expires`
 * are per session: setting them gives this session its own lifetime (remember me), saved with it;
 * `null` or `false` makes its cookie last only until the browser closes. On a new session that
 * holds nothing (with `saveUninitialized: false`) that alone stores nothing and sends no cookie;
 * the first write carries the lifetime. The other attributes are set once, in
 * {@link ExpressSessionOptions.cookie}.
 *
 * @example
 * ```ts
 * if (req.body.remember) req.session.cookie.maxAge = 30 * 24 * 3600_000;
 * else req.session.cookie.expires = false;
 * ```
 */
export interface SessionCookie {
  /** Ms until the cookie expires, as it would be sent now; `null` for a browser-session cookie. */
  get maxAge(): number | null;
  set maxAge(ms: number | null);
  /** The session's full cookie lifetime in ms; `null` for a browser-session cookie. */
  get originalMaxAge(): number | null;
  set originalMaxAge(ms: number | null);
  /** When the cookie expires, as it would be sent now; `null` for a browser-session cookie. */
  get expires(): Date | null;
  set expires(date: Date | null | false);
  readonly httpOnly: boolean;
  /** Whether the cookie is sent with `Secure` on this request. */
  readonly secure: boolean;
  readonly sameSite: SameSite;
  readonly path: string;
  readonly domain: string | undefined;
  readonly partitioned: boolean;
  /** Same as `toJSON()`. */
  readonly data: SessionCookieData;
  toJSON(): SessionCookieData;
}

/**
 * `req.session`: your data as properties (`req.session.views = 1`, `delete req.session.cart`,
 * changes inside nested objects included), and express-session's methods. Each method takes a
 * callback like express-session's, or returns a promise when called without one.
 *
 * @example
 * ```ts
 * app.post('/login', async (req, res, next) => {
 *   try {
 *     await req.session.regenerate();            // new ID, empty session: no fixation
 *     req.session.userId = user.id;
 *     await req.session.save();                  // stored before the redirect
 *     res.redirect('/');
 *   } catch (err) { next(err); }
 * });
 * ```
 */
export interface ExpressSession {
  /** The session ID, same as `req.sessionID` (a secret: never log or expose it). */
  readonly id: string;
  /** The session cookie; see {@link SessionCookie}. */
  cookie: SessionCookie;
  /**
   * Replace this session with a new, empty one under a new ID (call it on sign-in, against
   * session fixation); the old one is deleted from the store and its cookie stops working.
   * `req.session` is a new object afterwards, like express-session's.
   */
  regenerate(callback: SessionCallback): this;
  regenerate(): Promise<void>;
  /** Delete the session from the store and clear its cookie. `req.session` is `undefined` afterwards. */
  destroy(callback: SessionCallback): this;
  destroy(): Promise<void>;
  /** Re-read the session from the store (changes made so far are saved first: tessera never drops them). */
  reload(callback: SessionCallback): this;
  reload(): Promise<void>;
  /** Save now and call back (or resolve) once the store has it. Errors are store failures. */
  save(callback: SessionCallback): this;
  save(): Promise<void>;
  /** Extend the session's expiry now (and re-send a persistent cookie). */
  touch(callback: SessionCallback): this;
  touch(): Promise<void>;
  /** Same as `touch()`. */
  resetMaxAge(callback: SessionCallback): this;
  resetMaxAge(): Promise<void>;
}

/**
 * The middleware {@link session} returns; `.tessera` is the manager behind it, for operations by
 * ID or by user.
 *
 * @example
 * ```ts
 * const sessions = session({ secret, resave: false, saveUninitialized: false });
 * app.use(sessions);
 * await sessions.tessera.destroyByUser(userId); // sign a user out everywhere
 * ```
 */
export interface SessionMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void;
  /** The session manager behind this middleware. */
  readonly tessera: Tessera;
}


// ---------------------------------------------------------------- settings

/** What every request of one middleware shares, resolved once. */
interface Settings {
  readonly tessera: Tessera;
  readonly cookieStore: boolean;
  readonly resave: boolean;
  readonly unsetDestroy: boolean;
  readonly proxy: boolean | undefined;
  readonly secure: boolean | 'auto';
  readonly tenant: ((req: IncomingMessage) => string | null | undefined) | undefined;
  /** A Secure cookie was not sent over plain HTTP (warned about once). */
  insecureWarned: boolean;
}

function resolveSettings(options: ExpressSessionOptions): Settings {
  if (options === null || typeof options !== 'object') throw new ConfigError('session(options): options must be an object');
  const { tessera: given, resave, rolling, unset, proxy, tenant, ...manager } = options;
  for (const [name, value] of Object.entries({ resave, rolling, proxy })) {
    if (value !== undefined && typeof value !== 'boolean') throw new ConfigError(`session option ${name} must be a boolean`);
  }
  if (unset !== undefined && unset !== 'keep' && unset !== 'destroy') throw new ConfigError('session option unset must be "keep" or "destroy"');
  if (tenant !== undefined && typeof tenant !== 'function') throw new ConfigError('session option tenant must be a function');

  let tessera: Tessera;
  let secure: boolean | 'auto';
  if (given !== undefined) {
    // `rolling` is the instance's own cookie policy, like `saveUninitialized`.
    const extra = Object.keys(manager).filter((k) => (manager as Record<string, unknown>)[k] !== undefined);
    if (rolling !== undefined && rolling !== given.options.rolling) extra.push('rolling');
    if (extra.length > 0) {
      throw new ConfigError(
        `session({ tessera }) uses that instance's settings: remove ${extra.map((k) => `\`${k}\``).join(', ')}, or set them on createTessera()`,
      );
    }
    tessera = given;
    secure = given.options.cookie.secure;
  } else {
    const { secret, name, cookie = {}, genid, saveUninitialized, store, ...rest } = manager;
    if (secret !== undefined && rest.secrets !== undefined) throw new ConfigError('pass `secret` or `secrets`, not both');
    if (saveUninitialized !== undefined && typeof saveUninitialized !== 'boolean') throw new ConfigError('session option saveUninitialized must be a boolean');
    if (store !== undefined) assertTesseraStore(store);
    if (cookie.secure !== undefined && cookie.secure !== 'auto' && typeof cookie.secure !== 'boolean') {
      throw new ConfigError('cookie.secure must be true, false or "auto"');
    }
    secure = cookie.secure ?? false;
    const maxAge = cookie.maxAge;
    const lifetime = typeof maxAge === 'number' && maxAge > 0 ? maxAge : undefined;
    tessera = createTessera({
      ...rest,
      secrets: secret ?? rest.secrets,
      store,
      saveUninitialized: saveUninitialized ?? true,
      rolling,
      // In express-session the cookie's maxAge is the session's lifetime after its last use.
      idleTimeout: rest.idleTimeout ?? lifetime,
      absoluteTimeout: rest.absoluteTimeout ?? Math.max(DEFAULTS.absoluteTimeout, lifetime ?? 0),
      cookie: {
        name: name ?? 'connect.sid',
        path: cookie.path,
        domain: cookie.domain,
        httpOnly: cookie.httpOnly,
        secure: secure !== false,
        sameSite: sameSiteOf(cookie.sameSite),
        maxAge,
        expires: cookie.expires,
        partitioned: cookie.partitioned,
      },
    });
    if (genid !== undefined) {
      if (typeof genid !== 'function') throw new ConfigError('session option genid must be a function');
      tessera.options.logger.warn?.('tessera/express: the genid option is ignored: session IDs are always 256 bits from the CSPRNG');
    }
    if (saveUninitialized === undefined) {
      tessera.options.logger.warn?.(
        'tessera/express: saveUninitialized not set; defaulting to true like express-session. Set it explicitly (false is recommended)',
      );
    }
  }
  if (resave === undefined) {
    tessera.options.logger.warn?.('tessera/express: resave not set; defaulting to true like express-session. Set it explicitly (false is recommended)');
  }
  return {
    tessera,
    cookieStore: (tessera.store as CookieStore).clientSide === true,
    resave: resave ?? true,
    unsetDestroy: unset === 'destroy',
    proxy,
    secure,
    tenant,
    insecureWarned: false,
  };
}

/** express-session's `sameSite`: `true` is strict, `false` (no attribute) is what browsers treat as lax. */
function sameSiteOf(value: ExpressCookieOptions['sameSite']): SameSite | undefined {
  if (value === true) return 'strict';
  if (value === false) return 'lax';
  return typeof value === 'string' ? (value.toLowerCase() as SameSite) : value;
}

/** Refuse an express-session store (connect-redis, connect-mongo, ...) with a pointer to tessera's. */
function assertTesseraStore(store: unknown): void {
  const s = store as Partial<SessionStore> & { destroy?: unknown; clientSide?: unknown };
  if (s !== null && typeof s === 'object' && (s.clientSide === true || (typeof s.get === 'function' && typeof s.set === 'function' && typeof s.delete === 'function'))) return;
  throw new ConfigError(
    typeof s?.destroy === 'function'
      ? 'store looks like an express-session store (connect-redis, connect-mongo, ...): tessera needs a tessera store, ' +
          'for example tessera/stores/redis, tessera/stores/postgres, tessera/stores/sqlite or tessera/stores/memory'
      : 'store must be a tessera SessionStore (get, set, delete) or a CookieStore',
  );
}

// ---------------------------------------------------------------- the session object

const HANDLE = Symbol('tessera.express.session');
/** Names `req.session` keeps for itself: express-session's methods and properties. */
const RESERVED = new Set(['id', 'cookie', 'regenerate', 'destroy', 'reload', 'save', 'touch', 'resetMaxAge', '__proto__']);
const noop = (): void => {};

/** What the proxy's traps read and write: the live session, or the data of one `regenerate` replaced. */
interface View {
  readonly live: RequestSession | null;
  readonly id: string;
  readonly cookie: SessionCookie | SessionCookieData;
  has(key: string): boolean;
  keys(): string[];
  read(key: string): unknown;
  write(key: string | symbol, value: unknown): void;
  remove(key: string | symbol): void;
}

interface Target {
  [HANDLE]: View;
}

function viewOf(session: object): View {
  const view = (session as Partial<Target>)[HANDLE];
  if (view === undefined) throw new TypeError('not a tessera session');
  return view;
}

/** The data keys `req.session` shows as properties: every one but a reserved name (`cookie`, `id`, a method's). */
function dataKeys(view: View): string[] {
  const keys = view.keys();
  return keys.some((key) => RESERVED.has(key)) ? keys.filter((key) => !RESERVED.has(key)) : keys;
}

function liveOf(session: object): RequestSession {
  const live = viewOf(session).live;
  if (live === null) throw new SessionStateError('this session object was replaced by regenerate(); use req.session');
  return live;
}

/** Run `work`; hand its outcome to `callback` (then return the session) or return it as a promise. */
function complete<T extends object>(session: T, callback: SessionCallback | undefined, work: () => Promise<void>): T | Promise<void> {
  let promise: Promise<void>;
  try {
    promise = work();
  } catch (error) {
    promise = Promise.reject(error);
  }
  if (typeof callback === 'function') {
    // Outside the promise chain, so an exception in the callback is not swallowed.
    promise.then(
      () => process.nextTick(callback),
      (error: unknown) => process.nextTick(callback, error),
    );
    return session;
  }
  // Like express-session without a callback, an unobserved failure does not crash the process;
  // store failures are still reported through the `commitError` event or the logger.
  promise.catch(noop);
  return promise;
}

/** The prototype of `req.session`: express-session's methods. */
class SessionObject {
  get id(): string {
    return viewOf(this).id;
  }

  get cookie(): SessionCookie | SessionCookieData {
    return viewOf(this).cookie;
  }

  regenerate(callback?: SessionCallback): this | Promise<void> {
    return complete(this, callback, () => liveOf(this).regenerate());
  }

  destroy(callback?: SessionCallback): this | Promise<void> {
    return complete(this, callback, () => liveOf(this).destroy());
  }

  reload(callback?: SessionCallback): this | Promise<void> {
    return complete(this, callback, () => liveOf(this).reload());
  }

  save(callback?: SessionCallback): this | Promise<void> {
    return complete(this, callback, () => liveOf(this).save());
  }

  touch(callback?: SessionCallback): this | Promise<void> {
    return complete(this, callback, () => liveOf(this).touch());
  }

  resetMaxAge(callback?: SessionCallback): this | Promise<void> {
    return this.touch(callback);
  }

  /** `console.log(req.session)` shows the data (Node inspects a proxy's target, not its traps). */
  [inspect.custom](depth: number, options: object): string {
    const view = viewOf(this);
    const shown: Record<string, unknown> = { cookie: view.live?.cookie.toJSON() ?? view.cookie };
    for (const key of dataKeys(view)) shown[key] = view.read(key);
    return `Session ${inspect(shown, { ...options, depth })}`;
  }
}

const traps: ProxyHandler<Target> = {
  get(target, key, receiver) {
    if (typeof key === 'string' && !RESERVED.has(key)) {
      const view = target[HANDLE];
      if (view.has(key)) return view.read(key);
    }
    return Reflect.get(target, key, receiver);
  },
  set(target, key, value) {
    target[HANDLE].write(key, value);
    return true;
  },
  deleteProperty(target, key) {
    target[HANDLE].remove(key);
    return true;
  },
  has(target, key) {
    return (typeof key === 'string' && !RESERVED.has(key) && target[HANDLE].has(key)) || Reflect.has(target, key);
  },
  ownKeys(target) {
    // A data key with a reserved name (set through tesseraSession() or by ID) is not a property of
    // req.session: listing it would repeat `cookie`, which a proxy must not (every listing throws).
    return ['cookie', ...dataKeys(target[HANDLE])];
  },
  getOwnPropertyDescriptor(target, key) {
    const view = target[HANDLE];
    if (key === 'cookie') return { value: view.cookie, writable: true, enumerable: true, configurable: true };
    if (typeof key === 'string' && !RESERVED.has(key) && view.has(key)) {
      return { value: view.read(key), writable: true, enumerable: true, configurable: true };
    }
    return undefined;
  },
  defineProperty(target, key, descriptor) {
    if (descriptor.get || descriptor.set || !('value' in descriptor)) throw new TypeError('session properties hold plain values');
    target[HANDLE].write(key, descriptor.value);
    return true;
  },
  setPrototypeOf: () => false,
  preventExtensions: () => false,
};

/** A `req.session` object over `view`, and its target (where `regenerate` swaps the view). */
function newSessionObject(view: View): { object: ExpressSession; target: Target } {
  const target = Object.create(SessionObject.prototype) as Target;
  Object.defineProperty(target, HANDLE, { value: view, writable: true, configurable: true });
  return { object: new Proxy(target, traps) as unknown as ExpressSession, target };
}

/** A session object `regenerate()` replaced: it keeps showing the old data, read-only (what passport's `keepSessionInfo` copies). */
class ReplacedView implements View {
  readonly live = null;
  readonly #data: Record<string, unknown>;
  constructor(
    readonly id: string,
    readonly cookie: SessionCookieData,
    data: Record<string, unknown>,
  ) {
    this.#data = data;
  }
  has(key: string): boolean {
    return Object.hasOwn(this.#data, key);
  }
  keys(): string[] {
    return Object.keys(this.#data);
  }
  read(key: string): unknown {
    return this.#data[key];
  }
  write(): void {
    throw new SessionStateError('this session object was replaced by regenerate(); write to req.session');
  }
  remove(): void {
    this.write();
  }
}

// ---------------------------------------------------------------- one request

/** The request properties the adapter reads besides node's. */
interface ExpressRequest extends IncomingMessage {
  session?: unknown;
  sessionID?: string;
  sessionStore?: unknown;
  ip?: string;
  secure?: boolean;
  /** The Express app (for its `trust proxy` setting). */
  app?: { get(setting: string): unknown };
  originalUrl?: string;
  [HANDLE]?: RequestSession;
}

const SECURE_ATTRIBUTE = /; Secure(?=;|$)/;

/** One request's session: the core session behind `req.session`, its cookie, and change tracking. */
class RequestSession implements View {
  readonly live = this;
  readonly sink: CookieSink;
  readonly cookie: SessionCookie;
  /** The core session; set when loaded, before the app sees anything. */
  core!: Session;
  /** `req.session`, and the proxy target behind it. */
  object: ExpressSession;
  #target: Target;
  readonly #s: Settings;
  readonly #req: ExpressRequest;
  readonly #res: ServerResponse;
  /** JSON of each object-valued key as last saved or first read, to find changes made inside it. */
  #snapshots: Map<string, string> | null = null;
  /** Keys read since the last check. */
  #pending: Set<string> | null = null;
  #secure: boolean | undefined;
  /** The app changed the session during this request (so `resave` has nothing to add). */
  #modified = false;

  constructor(settings: Settings, req: ExpressRequest, res: ServerResponse) {
    this.#s = settings;
    this.#req = req;
    this.#res = res;
    this.cookie = new SessionCookieImpl(this, settings);
    const base = responseCookieSink(res, settings.tessera.cookieName);
    this.sink = { writable: () => base.writable(), setCookie: (line) => this.#setCookie(base, line), withdrawCookie: () => base.withdrawCookie() };
    ({ object: this.object, target: this.#target } = newSessionObject(this));
  }

  /** The session was loaded: give it to the request. */
  attach(core: Session): void {
    this.core = core;
    const req = this.#req;
    req[HANDLE] = this;
    req.session = this.object;
    Object.defineProperty(req, 'sessionID', { configurable: true, enumerable: true, get: () => this.id });
    this.#res.once('close', () => this.#finish());
  }

  // -------------------------------------------------- data (the proxy's traps)

  get id(): string {
    return this.core.id;
  }

  has(key: string): boolean {
    return this.core.has(key);
  }

  keys(): string[] {
    return this.core.keys();
  }

  read(key: string): unknown {
    const value = this.core.get(key);
    if (typeof value === 'object' && value !== null) this.#watch(key, value);
    return value;
  }

  write(key: string | symbol, value: unknown): void {
    if (key === 'cookie') return this.#adoptCookie(value);
    const name = assertDataKey(key);
    // A cycle or BigInt fails here, before anything changed.
    const json = typeof value === 'object' && value !== null ? JSON.stringify(value) : undefined;
    this.core.set(name, value);
    this.#modified = true;
    if (json !== undefined) (this.#snapshots ??= new Map()).set(name, json);
    else this.#snapshots?.delete(name);
  }

  remove(key: string | symbol): void {
    const name = assertDataKey(key);
    if (this.core.delete(name)) this.#modified = true;
    this.#snapshots?.delete(name);
  }

  /** Remember how an object value looked, and check for changes inside it after the current synchronous code. */
  #watch(key: string, value: object): void {
    const snapshots = (this.#snapshots ??= new Map());
    if (!snapshots.has(key)) snapshots.set(key, JSON.stringify(value));
    if (this.#pending === null) {
      // The check gets its own set: `regenerate()` may replace (or clear) `#pending` before it runs.
      const keys = (this.#pending = new Set());
      queueMicrotask(() => {
        if (this.#pending === keys) this.#pending = null;
        this.#guard(() => this.commitNested(keys));
      });
    }
    this.#pending.add(key);
  }

  /** Save the keys whose object values were changed in place since they were read or saved. */
  commitNested(keys: Iterable<string> = [...(this.#snapshots?.keys() ?? [])]): void {
    const snapshots = this.#snapshots;
    if (snapshots === null || this.core.isDestroyed) return;
    for (const key of keys) {
      const before = snapshots.get(key);
      if (before === undefined) continue;
      if (!this.core.has(key)) {
        snapshots.delete(key);
        continue;
      }
      const value = this.core.get(key);
      const now = JSON.stringify(value);
      if (now === before) continue;
      snapshots.set(key, now);
      this.#modified = true;
      if (this.#s.cookieStore && this.#res.headersSent) {
        throw new SessionStateError(
          `req.session.${key} was changed in place after the response head was sent, too late for a session sealed in the cookie: ` +
            'assign it again, or await req.session.save(), before responding',
        );
      }
      this.core.set(key, value);
    }
  }

  /** `req.session.cookie = other.cookie` (passport's `keepSessionInfo` copies it): take its lifetime. */
  #adoptCookie(value: unknown): void {
    const original = (value as Partial<SessionCookieData> | null)?.originalMaxAge;
    if (original === undefined) throw new TypeError('req.session.cookie can only be given another session cookie; set its maxAge or expires instead');
    if (original !== this.cookie.originalMaxAge) this.setLifetime(original);
  }

  // -------------------------------------------------- methods

  async regenerate(): Promise<void> {
    const { core } = this;
    const replaced = this.object;
    const old = new ReplacedView(this.id, this.cookie.toJSON(), core.toJSON());
    core.regenerate({ keepData: false });
    this.#target[HANDLE] = old;
    ({ object: this.object, target: this.#target } = newSessionObject(this));
    if (this.#req.session === replaced) this.#req.session = this.object;
    this.#snapshots = null;
    this.#pending = null;
    this.#modified = true;
    await core.save();
  }

  async destroy(): Promise<void> {
    if (this.#req.session === this.object) delete this.#req.session;
    this.core.destroy();
    await this.core.save();
  }

  async reload(): Promise<void> {
    this.commitNested();
    await this.core.reload();
    this.#snapshots = null;
  }

  async save(): Promise<void> {
    this.commitNested();
    await this.core.save();
  }

  async touch(): Promise<void> {
    this.core.refresh();
    this.#modified = true;
    await this.core.save();
  }

  // -------------------------------------------------- cookie

  /** Give this session its own cookie lifetime; `null` makes its cookie end with the browser session. */
  setLifetime(ms: number | null): void {
    if (ms !== null && (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0)) {
      throw new TypeError('req.session.cookie.maxAge must be a positive number of milliseconds, or null');
    }
    // Already a browser-session cookie with the default lifetime: nothing to change or store.
    if (ms === null && this.core.meta.lifetime === null && this.cookie.expires === null) return;
    this.core.setLifetime(ms, ms === null ? { persistentCookie: false } : {});
    this.#modified = true;
  }

  /** Whether the request came over HTTPS (directly, or per `proxy` / `trust proxy` through a proxy). */
  isSecure(): boolean {
    return (this.#secure ??= requestIsSecure(this.#req, this.#s.proxy));
  }

  /** The sink the manager writes Set-Cookie lines through: express-session's rules for `secure`. */
  #setCookie(base: CookieSink, line: string): boolean {
    const settings = this.#s;
    if (settings.secure !== false && !this.isSecure()) {
      // express-session never sends a Secure cookie over plain HTTP, where it would expose the ID.
      if (settings.secure === 'auto') return base.setCookie(line.replace(SECURE_ATTRIBUTE, ''));
      if (!settings.insecureWarned) {
        settings.insecureWarned = true;
        settings.tessera.options.logger.warn?.(
          "tessera/express: a Secure session cookie is not sent over plain HTTP. Behind a TLS proxy set proxy: true (or Express's trust proxy); for HTTP in development use cookie.secure: 'auto' or false",
        );
      }
      return true;
    }
    return base.setCookie(line);
  }

  // -------------------------------------------------- end of the response

  #finish(): void {
    const { core } = this;
    if (core.isDestroyed) return;
    this.#guard(() => {
      if (this.#req.session !== this.object) {
        if (this.#s.unsetDestroy) core.destroy();
      } else {
        this.commitNested();
        if (this.#s.resave && !this.#modified && !core.isNew && !this.#s.cookieStore) core.refresh();
      }
    });
  }

  /** Run `work`; a failure the app can no longer receive is reported like a failed commit. */
  #guard(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.#s.tessera.reportError(error);
    }
  }
}

function assertDataKey(key: string | symbol): string {
  if (typeof key !== 'string') throw new TypeError('session keys must be strings');
  if (RESERVED.has(key)) throw new TypeError(`req.session.${key} is reserved by the session and cannot be set or deleted`);
  return key;
}

/**
 * The client IP (for `bindIp` and `meta.ip`). `proxy: false`: the socket's address. Otherwise
 * Express's `req.ip` when the app has a `trust proxy` setting (it knows how many proxies, or which
 * addresses, to trust), or without one: the socket's address, or with `proxy: true` one trusted
 * proxy — the `X-Forwarded-For` entry it appended, the rightmost; entries further left are
 * whatever the client sent.
 */
function requestIp(req: ExpressRequest, proxy: boolean | undefined): string | null {
  if (proxy === false) return req.socket?.remoteAddress ?? null;
  if (req.ip !== undefined && (proxy === undefined || appTrustsProxy(req))) return req.ip;
  return clientIp(req.headers['x-forwarded-for'], req.socket?.remoteAddress, proxy === true ? 1 : 0);
}

/** Whether the Express app has a `trust proxy` setting (its default is `false`; sub-apps inherit it). */
function appTrustsProxy(req: ExpressRequest): boolean {
  if (typeof req.app?.get !== 'function') return false;
  const setting = req.app.get('trust proxy');
  return setting !== undefined && setting !== false && setting !== 0;
}

/** express-session's rule: TLS on the socket, or with a trusted proxy `X-Forwarded-Proto: https`. */
function requestIsSecure(req: ExpressRequest, proxy: boolean | undefined): boolean {
  if ((req.socket as TLSSocket | undefined)?.encrypted) return true;
  if (proxy === false) return false;
  if (proxy === undefined) return req.secure === true;
  const header = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim().toLowerCase();
  return first === 'https';
}

/** `req.session.cookie`. */
class SessionCookieImpl implements SessionCookie {
  readonly #h: RequestSession;
  readonly #s: Settings;

  constructor(handle: RequestSession, settings: Settings) {
    this.#h = handle;
    this.#s = settings;
  }

  get originalMaxAge(): number | null {
    // The lifetime the manager caps by the absolute limit to get `meta.cookieMaxAge`.
    const { lifetime, cookieMaxAge } = this.#h.core.meta;
    const { cookie, idleTimeout } = this.#s.tessera.options;
    return cookieMaxAge === null ? null : (lifetime ?? cookie.maxAge ?? idleTimeout);
  }
  set originalMaxAge(ms: number | null) {
    this.#h.setLifetime(ms);
  }

  get maxAge(): number | null {
    const expires = this.expires;
    return expires === null ? null : expires.getTime() - this.#s.tessera.options.now();
  }
  set maxAge(ms: number | null) {
    this.#h.setLifetime(ms);
  }

  get expires(): Date | null {
    const ms = this.#h.core.meta.cookieMaxAge;
    return ms === null ? (this.#s.tessera.options.cookie.expires ?? null) : new Date(this.#s.tessera.options.now() + ms);
  }
  set expires(date: Date | null | false) {
    if (date === null || date === false) {
      this.#h.setLifetime(null);
      return;
    }
    if (!(date instanceof Date) || !Number.isFinite(date.getTime())) throw new TypeError('req.session.cookie.expires must be a Date, null or false');
    const ms = date.getTime() - this.#s.tessera.options.now();
    if (ms <= 0) throw new TypeError('req.session.cookie.expires must be in the future; to end a session, destroy() it');
    this.#h.setLifetime(ms);
  }

  get httpOnly(): boolean {
    return this.#s.tessera.options.cookie.httpOnly;
  }
  get secure(): boolean {
    return this.#s.secure === 'auto' ? this.#h.isSecure() : this.#s.secure;
  }
  get sameSite(): SameSite {
    return this.#s.tessera.options.cookie.sameSite;
  }
  get path(): string {
    return this.#s.tessera.options.cookie.path;
  }
  get domain(): string | undefined {
    return this.#s.tessera.options.cookie.domain;
  }
  get partitioned(): boolean {
    return this.#s.tessera.options.cookie.partitioned;
  }
  get data(): SessionCookieData {
    return this.toJSON();
  }

  toJSON(): SessionCookieData {
    return {
      originalMaxAge: this.originalMaxAge,
      expires: this.expires,
      secure: this.secure,
      httpOnly: this.httpOnly,
      domain: this.domain,
      path: this.path,
      sameSite: this.sameSite,
      partitioned: this.partitioned,
    };
  }

  [inspect.custom](depth: number, options: object): string {
    return `Cookie ${inspect(this.toJSON(), { ...options, depth })}`;
  }
}

// Attributes are set once, for every session, in session({ cookie }).
for (const name of ['httpOnly', 'secure', 'sameSite', 'path', 'domain', 'partitioned'] as const) {
  const get = Object.getOwnPropertyDescriptor(SessionCookieImpl.prototype, name)!.get;
  Object.defineProperty(SessionCookieImpl.prototype, name, {
    get,
    set() {
      throw new TypeError(`req.session.cookie.${name} is set for every session, in session({ cookie: { ${name} } }); only maxAge and expires are per session`);
    },
    configurable: true,
  });
}

// ---------------------------------------------------------------- the middleware

/**
 * express-session compatible middleware: `app.use(session(options))` gives every request under
 * `cookie.path` a `req.session`, loaded before the next handler runs. A store that fails while
 * loading goes to `next(err)` with the typed error (`StoreUnavailableError`, status 503).
 *
 * @throws {@link ConfigError}, {@link SecretError} or {@link CookieConfigError} on bad options.
 * @example
 * ```ts
 * import express from 'express';
 * import session from 'tessera/express';
 * import { RedisStore } from 'tessera/stores/redis';
 *
 * const app = express();
 * app.use(session({
 *   secret: process.env.SESSION_SECRET!,
 *   store: new RedisStore({ url: process.env.REDIS_URL }),
 *   resave: false,
 *   saveUninitialized: false,
 *   cookie: { secure: true, maxAge: 7 * 24 * 3600_000 },
 * }));
 * ```
 */
export function session(options: ExpressSessionOptions = {}): SessionMiddleware {
  const settings = resolveSettings(options);
  const { tessera, proxy, tenant } = settings;
  const path = tessera.options.cookie.path;

  function middleware(incoming: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void {
    const req = incoming as ExpressRequest;
    if (req.session) return next();
    if (path !== '/' && !pathOf(req).startsWith(path)) return next();
    req.sessionStore = tessera.store;
    const handle = new RequestSession(settings, req, res);
    const input = {
      cookieHeader: req.headers.cookie,
      ip: requestIp(req, proxy),
      userAgent: req.headers['user-agent'],
      tenant: tenant?.(req),
    };
    const ctx = tessera.begin(input, handle.sink);
    if (tessera.loadsSynchronously) {
      // Memory, SQLite, a cookie: the session is there at once, and the route runs in this tick.
      try {
        handle.attach(ctx.loadSync());
      } catch (error) {
        return next(error);
      }
      return next();
    }
    ctx
      .load()
      .then((core) => handle.attach(core))
      .then(() => next(), next);
  }

  return Object.defineProperty(middleware, 'tessera', { value: tessera, enumerable: true }) as SessionMiddleware;
}

/**
 * express-session's `session.MemoryStore`, as tessera's {@link MemoryStore}: an app that passes
 * `store: new session.MemoryStore()` keeps working. Every other store must be a tessera store.
 */
session.MemoryStore = MemoryStore;

/**
 * The tessera {@link Session} behind `req.session`, for what express-session has no API for:
 * `userId` (list and sign out a user's sessions), `rememberMe()`, `meta`, `regenerate({ keepData })`.
 *
 * @throws `TypeError` when the request has no session (the middleware did not run for it).
 * @example
 * ```ts
 * app.post('/login', async (req, res) => {
 *   await req.session.regenerate();
 *   tesseraSession(req).userId = user.id;       // now listed by tessera.listByUser(user.id)
 *   res.redirect('/');
 * });
 * ```
 */
export function tesseraSession(req: IncomingMessage): Session {
  const handle = (req as ExpressRequest)[HANDLE];
  if (handle === undefined) throw new TypeError('this request has no session: is session() mounted before this route?');
  return handle.core;
}

function pathOf(req: ExpressRequest): string {
  const url = req.originalUrl ?? req.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

