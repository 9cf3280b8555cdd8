/**
 * The options of `session()`: express-session's names ({@link ExpressSessionOptions},
 * {@link ExpressCookieOptions}) turned into a tessera instance and the settings one middleware
 * shares across its requests, validated once, when the middleware is made.
 *
 * @module
 * @internal
 */
import type { IncomingMessage } from 'node:http';
import type { SameSite } from '../../cookie.js';
import type { Secret } from '../../crypto/keyring.js';
import { ConfigError, SecretError } from '../../errors.js';
import { createTessera, type CreateTesseraOptions } from '../../index.js';
import type { Tessera } from '../../manager.js';
import { DEFAULTS } from '../../options.js';
import type { CookieStore } from '../../stores/cookie.js';
import type { SessionStore } from '../../stores/store.js';
import { ACCEPT_APP_IDS } from '../../core/request.js';
import { AppIds } from './genid.js';
import { BIND_MANAGER, ExpressMemoryStore } from './memory-store.js';
import { ExpressStoreAdapter, isExpressStore, type ExpressStoreLike } from './store-compat.js';
import { resolveAdapterOptions, type TenantOf, type TenantResolver } from '../kit.js';
import { NODE_REQUEST_PARTS } from '../node.js';
import type { MigrateFromOptions } from './migrate.js';

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
   * `true`: `Secure`, and never sent over plain HTTP (like express-session). `'auto'`: `Secure` when
   * the request came over HTTPS (a direct TLS connection or, per `proxy`, `X-Forwarded-Proto:
   * https`), without it otherwise — except a `__Host-` or `__Secure-` cookie, which keeps `Secure`
   * (a browser rejects one without it) and is sent with a warning. `false`: never `Secure`.
   * Default: `'auto'` when `NODE_ENV=production`, otherwise `false` like express-session.
   */
  secure?: boolean | 'auto';
  /**
   * `true` means `'strict'`, like express-session; `false` means `'lax'`. `'auto'`, like
   * express-session: `None` on a request that came over HTTPS (when the cookie goes out `Secure`),
   * `Lax` otherwise. Default `'lax'`.
   */
  sameSite?: boolean | SameSite | 'Lax' | 'Strict' | 'None' | 'auto';
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
export interface ExpressSessionOptions extends Omit<CreateTesseraOptions, 'cookie' | 'saveUninitialized' | 'store'> {
  /**
   * Where sessions live: a tessera store (`tessera/stores/redis`, `postgres`, `sqlite`, `memory`,
   * `file`, `cookie`), or any express-session store — connect-redis, connect-mongo,
   * connect-pg-simple, a store of your own with `get`, `set` and `destroy` — kept as it is, with
   * the guarantees docs/express.md lists (no compare-and-set between processes: the last write
   * wins). Default: tessera's default, a SQLite database at `./data/sessions.db`.
   */
  store?: SessionStore | CookieStore | ExpressStoreLike;
  /**
   * The secret(s) signing the cookie: one, or an array whose first entry signs and every entry
   * verifies (rotation), like express-session. Each must be at least 32 bytes. Same as `secrets`.
   */
  secret?: Secret | readonly Secret[];
  /**
   * The cookie name, used as given. Default `__Host-connect.sid` when the cookie can carry the
   * prefix — `secure` is `true` or `'auto'` (so by default in production), `path` is `/` and there is
   * no `domain` — otherwise `connect.sid`, like express-session. Pin `name: 'connect.sid'` to keep
   * the old name: a new name means every browser's current cookie is no longer read.
   */
  name?: string;
  /** express-session's legacy name for `name` (the cookie name). Give one of the two. */
  key?: string;
  /**
   * The cookie's attributes; or, as in express-session, a function of the request that returns them
   * (called once per request; a bad value it returns goes to `next(err)`). From a function, `path`,
   * `domain`, `secure`, `sameSite`, `httpOnly` and `partitioned` apply to that request's cookie, and
   * `maxAge` to the sessions it starts; `expires` is refused. The cookie name is then `connect.sid`
   * unless you pass `name`.
   */
  cookie?: ExpressCookieOptions | ((req: IncomingMessage) => ExpressCookieOptions);
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
   * Make the session IDs, as in express-session: called with the request for each new session
   * (and at `regenerate()`). An ID must be 22 to 128 characters of `A-Z a-z 0-9 _ -`, or the write
   * that needed it throws a `ConfigError`; one of under 128 bits of entropy by its look (a UUID:
   * 122) is warned about once. Default: tessera's, 256 bits from the CSPRNG — the better choice.
   * Not with `CookieStore`.
   */
  genid?: (req: IncomingMessage) => string;
  /**
   * Use this tessera instance (to share it with by-ID operations or other adapters). Its own
   * options then apply: pass no `secret`, `store`, `name`, `cookie`, `saveUninitialized` or other
   * manager option here — only `resave`, `unset`, `proxy` and `tenant`, and `rolling` only if it
   * matches the instance's (a different value throws a `ConfigError`).
   */
  tessera?: Tessera;
  /**
   * The tenant of a request: a function of the request, or `{ host: true }`, `{ header: 'x-tenant' }`,
   * `{ path: true }`, `{ path: /regex/ }` (as in every adapter; a path is the whole `originalUrl`).
   * An empty tenant is answered 400 (`TenantError`, through `next(err)`). Default: no tenants.
   */
  tenant?: TenantResolver<IncomingMessage>;
  /**
   * Moving off express-session: until `until`, also accept express-session's cookie and adopt its
   * session from the old store, once (see {@link MigrateFromOptions} and docs/express.md).
   */
  migrateFrom?: MigrateFromOptions;
}

/**
 * What every request of one middleware shares, resolved once by {@link resolveSettings}.
 *
 * @example
 * ```ts
 * const { tessera, resave, proxy } = resolveSettings({ secret, resave: false, saveUninitialized: false });
 * ```
 */
export interface Settings {
  readonly tessera: Tessera;
  /** The session is sealed in the cookie (`CookieStore`): nothing to re-save with `resave`. */
  readonly cookieStore: boolean;
  readonly resave: boolean;
  /** `unset: 'destroy'`. */
  readonly unsetDestroy: boolean;
  /** express-session's `proxy`: `undefined` lets Express's `trust proxy` decide. */
  readonly proxy: boolean | undefined;
  /** `cookie.secure` as given (`'auto'` follows the request); an instance's own setting with `tessera`. */
  readonly secure: boolean | 'auto';
  /** `cookie.sameSite: 'auto'`: `None` on an HTTPS request whose cookie goes out `Secure`, `Lax` otherwise. */
  readonly sameSiteAuto: boolean;
  /** The app's `genid`, checked, or `null`: tessera makes the IDs. */
  readonly appIds: AppIds | null;
  /** `cookie` as a function of the request, or `null`. */
  readonly cookieOf: ((req: IncomingMessage) => ExpressCookieOptions) | null;
  /** The tenant of a request (throws `TenantError` for an empty one), or `null` for no tenants. */
  readonly tenant: TenantOf<IncomingMessage> | null;
}

/**
 * Validate the options of `session()` and make (or take) its tessera instance.
 *
 * @throws {@link ConfigError}, {@link SecretError} or {@link CookieConfigError} on bad options.
 * @example
 * ```ts
 * const settings = resolveSettings({ tessera, resave: false });
 * resolveSettings({ tessera, secret }); // throws ConfigError: the instance has its own secrets
 * ```
 */
export function resolveSettings(options: ExpressSessionOptions): Settings {
  if (options === null || typeof options !== 'object') throw new ConfigError('session(options): options must be an object');
  // `migrateFrom` is the middleware's (./migrate.ts), not the manager's.
  const { tessera: given, resave, rolling, unset, proxy, tenant, migrateFrom: _migrateFrom, ...manager } = options;
  for (const [name, value] of Object.entries({ resave, rolling, proxy })) {
    if (value !== undefined && typeof value !== 'boolean') throw new ConfigError(`session option ${name} must be a boolean`);
  }
  if (unset !== undefined && unset !== 'keep' && unset !== 'destroy') throw new ConfigError('session option unset must be "keep" or "destroy"');
  // The tenant resolver is checked by the adapter kit, as every adapter's is.
  const resolved = resolveAdapterOptions<IncomingMessage>({ tenant }, 'tessera/express', NODE_REQUEST_PARTS);

  let tessera: Tessera;
  let secure: boolean | 'auto';
  let cookieOf: Settings['cookieOf'] = null;
  let appIds: AppIds | null = null;
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
    const { secret, name: givenName, key, cookie: cookieOption = {}, genid, saveUninitialized, store, ...rest } = manager;
    if (typeof cookieOption === 'function') cookieOf = cookieOption;
    else if (cookieOption === null || typeof cookieOption !== 'object') throw new ConfigError('session option cookie must be an object of cookie options, or a function of the request returning one');
    // With a function, tessera's own cookie is a plain one the function's attributes replace per request.
    const cookie: ExpressCookieOptions = typeof cookieOption === 'function' ? { secure: false } : cookieOption;
    if (secret !== undefined && rest.secrets !== undefined) throw new ConfigError('pass `secret` or `secrets`, not both');
    // An empty list would become a random per-process secret: sessions lost on every restart.
    const secrets = secret ?? rest.secrets;
    if (Array.isArray(secrets) && secrets.length === 0) throw new SecretError('session option secret is an empty array: give at least one secret (at least 32 bytes)');
    if (key !== undefined && typeof key !== 'string') throw new ConfigError('session option key (the cookie name) must be a string');
    if (key !== undefined && givenName !== undefined && key !== givenName) throw new ConfigError('session options name and key both name the cookie: give one');
    const name = givenName ?? key;
    if (saveUninitialized !== undefined && typeof saveUninitialized !== 'boolean') throw new ConfigError('session option saveUninitialized must be a boolean');
    const sessionStore = store === undefined ? undefined : storeOf(store);
    if (cookie.secure !== undefined && cookie.secure !== 'auto' && typeof cookie.secure !== 'boolean') {
      throw new ConfigError('cookie.secure must be true, false or "auto"');
    }
    // Production: Secure whenever the request is HTTPS, even when the app did not ask.
    secure = cookie.secure ?? (process.env.NODE_ENV === 'production' ? 'auto' : false);
    const path = cookie.path ?? '/';
    const maxAge = cookie.maxAge;
    const lifetime = typeof maxAge === 'number' && maxAge > 0 ? maxAge : undefined;
    tessera = createTessera({
      ...rest,
      secrets: secret ?? rest.secrets,
      store: sessionStore,
      saveUninitialized: saveUninitialized ?? true,
      rolling,
      // In express-session the cookie's maxAge is the session's lifetime after its last use.
      idleTimeout: rest.idleTimeout ?? lifetime,
      absoluteTimeout: rest.absoluteTimeout ?? Math.max(DEFAULTS.absoluteTimeout, lifetime ?? 0),
      cookie: {
        // The __Host- prefix only where the app chose no name: a rename signs everyone out.
        name: name ?? (secure !== false && path === '/' && cookie.domain === undefined ? '__Host-connect.sid' : 'connect.sid'),
        path: cookie.path,
        domain: cookie.domain,
        httpOnly: cookie.httpOnly,
        secure: secure !== false,
        // 'auto' is decided per request, from a Lax cookie (SecureCookieRule).
        sameSite: cookie.sameSite === 'auto' ? 'lax' : sameSiteOf(cookie.sameSite),
        maxAge,
        expires: cookie.expires,
        partitioned: cookie.partitioned,
      },
    });
    if (genid !== undefined) {
      if (typeof genid !== 'function') throw new ConfigError('session option genid must be a function');
      tessera[ACCEPT_APP_IDS]();
      appIds = new AppIds(genid, tessera.options.logger);
    }
    if (saveUninitialized === undefined) {
      tessera.options.logger.warn?.(
        {},
        'tessera/express: saveUninitialized not set; defaulting to true like express-session. Set it explicitly (false is recommended)',
      );
    }
  }
  // session.MemoryStore answers express-session's by-ID methods through this manager.
  if (tessera.store instanceof ExpressMemoryStore) tessera.store[BIND_MANAGER](tessera);
  if (resave === undefined) {
    tessera.options.logger.warn?.({}, 'tessera/express: resave not set; defaulting to true like express-session. Set it explicitly (false is recommended)');
  }
  return {
    tessera,
    cookieStore: (tessera.store as CookieStore).clientSide === true,
    resave: resave ?? true,
    unsetDestroy: unset === 'destroy',
    proxy,
    secure,
    sameSiteAuto: given === undefined && typeof options.cookie === 'object' && options.cookie?.sameSite === 'auto',
    cookieOf,
    appIds,
    tenant: resolved.tenant,
  };
}

/** express-session's `sameSite`: `true` is strict, `false` (no attribute) is what browsers treat as lax. */
function sameSiteOf(value: Exclude<ExpressCookieOptions['sameSite'], 'auto'>): SameSite | undefined {
  if (value === true) return 'strict';
  if (value === false) return 'lax';
  return typeof value === 'string' ? (value.toLowerCase() as SameSite) : value;
}

/**
 * The tessera store for `store`: a tessera store or `CookieStore` as it is, an express-session store
 * (connect-redis, connect-mongo, connect-pg-simple, ...) through {@link ExpressStoreAdapter}.
 */
function storeOf(store: unknown): SessionStore | CookieStore {
  const s = store as Partial<SessionStore> & { clientSide?: unknown };
  if (s !== null && typeof s === 'object' && (s.clientSide === true || (typeof s.get === 'function' && typeof s.set === 'function' && typeof s.delete === 'function'))) {
    return store as SessionStore | CookieStore;
  }
  if (isExpressStore(store)) return new ExpressStoreAdapter(store);
  throw new ConfigError('store must be a tessera SessionStore (get, set, delete), a CookieStore, or an express-session store (get, set, destroy)');
}
