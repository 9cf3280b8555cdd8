/**
 * Options of {@link createTessera}, validated and normalised once at construction.
 *
 * @module
 */
import type { ActivityOptions } from './activity.js';
import { AuthTokens, type AuthOptions } from './auth/tokens.js';
import { resolveCookieOptions, type CookieOptions, type ResolvedCookie } from './cookie.js';
import type { BindingMode, IpPrefixes } from './core/binding.js';
import { Keyring, type Secret } from './crypto/keyring.js';
import { CsrfProtection, type CsrfOptions } from './csrf.js';
import { ConfigError } from './errors.js';
import { resolveLiveOptions, type LiveOptions, type ResolvedLiveOptions } from './live/options.js';
import { DEFAULT_LOGGER, type Logger } from './logger.js';
import { resolveMetricsOptions, type MetricsOptions, type ResolvedMetricsOptions } from './metrics/metrics.js';
import type { CookieStore } from './stores/cookie.js';
import type { SessionStore } from './stores/store.js';

export type { Logger, LogLevel } from './logger.js';
export { isDefaultLogger } from './logger.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** The longest delay `setInterval` accepts; longer ones fire after 1 ms. */
const MAX_TIMER = 2 ** 31 - 1;
/** The longest finite duration accepted (100 years): later dates stop being valid cookie dates and store timestamps. */
const MAX_DURATION = 36_500 * DAY;

/**
 * Options of {@link createTessera}. Every one is optional; the defaults are safe for production
 * except `secrets`, which production requires.
 *
 * @example
 * ```ts
 * createTessera({
 *   secrets: [process.env.SESSION_SECRET!],
 *   store: new MemoryStore(),
 *   idleTimeout: 30 * 60_000,
 *   absoluteTimeout: 12 * 3600_000,
 * });
 * ```
 */
export interface TesseraOptions {
  /**
   * One or more secrets of at least 32 bytes each. The first signs and encrypts; all verify and
   * decrypt, so a new secret is rotated in by putting it first. Not given: the `TESSERA_SECRETS`
   * environment variable (comma-separated, current first); without that either, a random
   * per-process secret is used with a warning, and `NODE_ENV=production` refuses to start.
   */
  secrets?: Secret | readonly Secret[];
  /** Where sessions live: a server store or a `CookieStore`. Default: a SQLite database at `./data/sessions.db`. */
  store?: SessionStore | CookieStore;
  /** The session cookie. */
  cookie?: CookieOptions;
  /** A session unused for this long (ms) expires. Default 24 hours. */
  idleTimeout?: number;
  /**
   * A session expires this long (ms) after it was created, however active — one with its own
   * lifetime (remember me) too, unless `rememberMeExtendsAbsolute`. Default 7 days; `Infinity` for none.
   */
  absoluteTimeout?: number;
  /**
   * Share of the idle window that must pass before a read-only request extends the session's expiry
   * (a "touch" write). Default 0.1: with a 24-hour idle timeout, at most one touch per 2.4 hours.
   * `0` touches on every request.
   */
  touchAfter?: number;
  /** Lifetime (ms) given by `session.rememberMe()` with no argument. Default 30 days. */
  rememberMeLifetime?: number;
  /**
   * The longest lifetime (ms) a session may be given (`session.setLifetime`, `rememberMe`), and
   * the longest any cookie of tessera lives: a longer one is refused with `SessionStateError`.
   * Default 400 days, the longest browsers keep a cookie. `idleTimeout`, `rememberMeLifetime` and
   * `cookie.maxAge` must not exceed it.
   */
  maxLifetime?: number;
  /**
   * Let a session given its own lifetime (remember me) outlive `absoluteTimeout`: it then ends at
   * most `max(absoluteTimeout, lifetime)` after it was created. Default `false`: the absolute
   * timeout holds for every session, so a 30-day remember-me session with a 7-day absolute timeout
   * ends after 7 days however active.
   */
  rememberMeExtendsAbsolute?: boolean;
  /**
   * Lifetimes of the sessions of some tenants, where they differ from the options above (which
   * the others keep): `{ acme: { idleTimeout: 15 * 60_000 } }`. Validated like the options themselves.
   */
  tenants?: Readonly<Record<string, TenantOptions>>;
  /**
   * Store new sessions, and send their cookie, even before they hold data. Default `false`: nothing
   * is stored and no cookie is sent until the session is written to.
   */
  saveUninitialized?: boolean;
  /**
   * Send the session cookie on every response that loads the session, so a persistent cookie's
   * expiry restarts with each request. Default `false`: re-sent only when the session is touched.
   */
  rolling?: boolean;
  /**
   * Bind a session to the network of the client's IP address (see `bindIpPrefix`), as recorded by
   * its last write: `'off'` (default), `'log'` (a mismatch emits `bindingMismatch` and warns, once:
   * the session goes on and records the new address) or `'strict'` (a mismatch emits `bindingMismatch`, destroys the session — in
   * a store, or revoked with `CookieStore` — and the request gets a fresh one). `true` is
   * `'strict'`, `false` is `'off'`.
   */
  bindIp?: BindingMode | boolean;
  /** Bind a session to the client's User-Agent, as `bindIp` does to its address (`'off'`, `'log'`, `'strict'`; `true` is `'strict'`). Default `'off'`. */
  bindUserAgent?: BindingMode | boolean;
  /**
   * How much of an address `bindIp` compares: `ipv4` bits (default 24) and `ipv6` bits (default
   * 64), so a client moving within its network keeps its session. An IPv4-mapped IPv6 address
   * (`::ffff:192.0.2.1`) counts as its IPv4 address. `{ ipv4: 32, ipv6: 128 }` compares whole addresses.
   */
  bindIpPrefix?: { ipv4?: number; ipv6?: number };
  /** How often (ms) expired sessions are removed from stores that do not expire them natively. Default 15 minutes; `0` disables. */
  cleanupInterval?: number;
  /** Compare-and-set attempts before a commit gives up with `WriteConflictError`. Default 100. */
  maxWriteAttempts?: number;
  /**
   * The largest session data tessera writes, in bytes of its JSON (UTF-8). A value over it is
   * refused at `session.set` and a session grown over it at its commit, both with
   * `PayloadTooLargeError` (status 413); what the store held stays as it was. Default 65536
   * (64 KiB); `Infinity` for no cap. With `CookieStore`, the cookie's `maxBytes` applies too.
   */
  maxDataBytes?: number;
  /**
   * CSRF protection: every adapter refuses an unsafe request (POST, PUT, PATCH, DELETE ...) with
   * 403 unless it passes the Fetch Metadata check and carries the session's token
   * (`session.csrfToken()`) in the `x-csrf-token` header or the `_csrf` form field. On by default;
   * `false` turns the checks off.
   */
  csrf?: CsrfOptions | false;
  /**
   * The auth cookie (`session.signIn`, `session.signOut`, `session.user()`): a JWT, HS256 under
   * the secrets by default, bound to its session (see docs/auth.md). On by default (it costs
   * nothing until a session signs in); `false` turns it off.
   */
  auth?: AuthOptions | false;
  /**
   * Per-tab activity (see docs/activity.md): `interval`, the least time (ms) between two writes
   * of one tab's activity by one process (default 30 000), and `signOutIdleAfter`, a limit (ms)
   * past which sessions with no activity in any tab are signed out (default: off). Recorded for
   * requests that carry the `x-tessera-tab` header, in stores that keep activity.
   */
  activity?: ActivityOptions;
  /**
   * How long (ms) a store may take to answer one call (a read, a write, a delete, a listing, a
   * cleanup) before it fails with `StoreUnavailableError`, which adapters answer with 503 and
   * operations by ID reject with: a store that never answers cannot hang a request. Default 15000:
   * above the limits tessera's own stores set themselves (Redis `timeout`, PostgreSQL
   * `connectionTimeout` and `queryTimeout` 500 ms; FileStore `lockTimeout` 10 s: see
   * docs/faults.md), which fire first and can do what this cannot — the
   * PostgreSQL store has the server cancel the statement, so a write it reported failed never lands
   * later. It is the backstop for a store without such a limit; set it lower for yours, or below a
   * built-in store's limit knowingly. `Infinity` waits forever; `0` is refused. Stores that answer synchronously (memory, SQLite) are
   * not timed on the request path. A write that timed out may still land later: its commit was
   * reported failed, and the next write to that session re-reads it (compare-and-set), so nothing
   * is lost — an `update()` may then run twice.
   */
  storeTimeout?: number;
  /**
   * Live tabs (`tessera.live`): an event stream per browser tab, pushes and broadcasts across
   * processes (see docs/live.md). Off by default; `{}` or `true` turns it on with the defaults.
   */
  live?: LiveOptions | boolean;
  /** The clock, in ms since the epoch. Default `Date.now`; tests pass a fake one. */
  now?: () => number;
  /**
   * Metrics (`tessera.metrics`; docs/observability.md): counters, a store-latency histogram and
   * gauges, through OpenTelemetry (`{ otel: meter }`, a meter provider, or `true` for the global
   * one: `@opentelemetry/api` is an optional peer) and kept in process for a Prometheus text
   * endpoint (`tessera.metrics.handler()`). `true` is `{ otel: true }`; `{}` is Prometheus only.
   * Off by default: nothing is recorded.
   */
  metrics?: MetricsOptions | boolean;
  /**
   * Where tessera's lines go: a pino logger fits as it is (fields first, then the message; see
   * {@link Logger}). A logger given here gets the audit events too, each at its level (debug:
   * created, regenerated, expired, conflicts; info: signed in or out, destroyed, revoked, refused
   * auth cookies, binding mismatches; warn: refused session cookies, CSRF rejections, store
   * failures). Default: warnings via `process.emitWarning`, errors (a commit that failed after its
   * response went out and that no `commitError` listener took, a handler's unexpected error an
   * adapter answered with 500) to `console.error`, no audit lines. Errors do not go through
   * `emitWarning`: `--no-warnings`, which many deployments set, would silence a sign-out that never
   * reached the store.
   */
  logger?: Logger;
}

/**
 * Lifetimes of one tenant's sessions (the option `tenants`); what is not given is the top-level option's.
 *
 * @example
 * ```ts
 * createTessera({ secrets, tenants: { acme: { idleTimeout: 15 * 60_000, maxLifetime: 7 * 86_400_000 } satisfies TenantOptions } });
 * ```
 */
export interface TenantOptions {
  idleTimeout?: number;
  absoluteTimeout?: number;
  rememberMeLifetime?: number;
  maxLifetime?: number;
  rememberMeExtendsAbsolute?: boolean;
}

/** The lifetimes sessions get (by default, or of one tenant), validated. */
export interface Lifetimes {
  readonly idleTimeout: number;
  readonly absoluteTimeout: number;
  readonly rememberMeLifetime: number;
  readonly maxLifetime: number;
  readonly rememberMeExtendsAbsolute: boolean;
}

/** Options after validation; what the rest of tessera reads. */
export interface ResolvedOptions extends Lifetimes {
  readonly keyring: Keyring;
  readonly cookie: ResolvedCookie;
  readonly touchAfter: number;
  /** The tenants with lifetimes of their own, or `null` when none has. */
  readonly tenants: ReadonlyMap<string, Lifetimes> | null;
  readonly saveUninitialized: boolean;
  readonly rolling: boolean;
  readonly bindIp: BindingMode;
  readonly bindUserAgent: BindingMode;
  readonly bindIpPrefix: IpPrefixes;
  readonly cleanupInterval: number;
  readonly maxWriteAttempts: number;
  readonly maxDataBytes: number;
  /** CSRF tokens, and whether adapters check them. */
  readonly csrf: CsrfProtection;
  /** The auth cookie's tokens, or `null` with `auth: false`. */
  readonly auth: AuthTokens | null;
  readonly storeTimeout: number;
  /** Live tabs' options, or `null` when live tabs are off. */
  readonly live: ResolvedLiveOptions | null;
  readonly now: () => number;
  readonly logger: Logger;
  /** The `metrics` option, or `null` with metrics off. */
  readonly metrics: ResolvedMetricsOptions | null;
}

/**
 * The defaults {@link resolveOptions} fills in, for adapters that need to reason about them.
 *
 * @example
 * ```ts
 * DEFAULTS.idleTimeout; // 86_400_000 (24 hours)
 * ```
 */
export const DEFAULTS = Object.freeze({
  idleTimeout: DAY,
  absoluteTimeout: 7 * DAY,
  touchAfter: 0.1,
  rememberMeLifetime: 30 * DAY,
  maxLifetime: 400 * DAY,
  bindIpPrefix: Object.freeze({ ipv4: 24, ipv6: 64 }),
  cleanupInterval: 15 * MINUTE,
  maxWriteAttempts: 100,
  maxDataBytes: 64 * 1024,
  storeTimeout: 15_000,
});

function duration(name: string, value: number | undefined, fallback: number, allowInfinity = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (!allowInfinity && !Number.isFinite(value))) {
    throw new ConfigError(`${name} must be a non-negative number of milliseconds${allowInfinity ? ' or Infinity' : ''}`);
  }
  if (Number.isFinite(value) && value > MAX_DURATION) {
    throw new ConfigError(`${name} must be at most ${MAX_DURATION} ms (100 years)${allowInfinity ? ', or Infinity' : ''}`);
  }
  return value;
}

const TENANT_KEYS = new Set(['idleTimeout', 'absoluteTimeout', 'rememberMeLifetime', 'maxLifetime', 'rememberMeExtendsAbsolute']);

/** Validate one set of lifetimes; `name` prefixes the messages (`tenants.acme.`), `base` fills what is not given. */
function lifetimes(name: string, given: TenantOptions, base: Lifetimes | null): Lifetimes {
  const idleTimeout = duration(`${name}idleTimeout`, given.idleTimeout, base?.idleTimeout ?? DEFAULTS.idleTimeout);
  if (idleTimeout === 0) throw new ConfigError(`${name}idleTimeout must be greater than 0`);
  const absoluteTimeout = duration(`${name}absoluteTimeout`, given.absoluteTimeout, base?.absoluteTimeout ?? DEFAULTS.absoluteTimeout, true);
  if (absoluteTimeout === 0) throw new ConfigError(`${name}absoluteTimeout must be greater than 0 (Infinity for none)`);
  const rememberMeLifetime = duration(`${name}rememberMeLifetime`, given.rememberMeLifetime, base?.rememberMeLifetime ?? DEFAULTS.rememberMeLifetime);
  if (rememberMeLifetime === 0) throw new ConfigError(`${name}rememberMeLifetime must be greater than 0`);
  const maxLifetime = duration(`${name}maxLifetime`, given.maxLifetime, base?.maxLifetime ?? DEFAULTS.maxLifetime);
  if (maxLifetime === 0) throw new ConfigError(`${name}maxLifetime must be greater than 0`);
  for (const [key, value] of [['idleTimeout', idleTimeout], ['rememberMeLifetime', rememberMeLifetime]] as const) {
    if (value > maxLifetime) throw new ConfigError(`${name}${key} (${value} ms) must be at most ${name}maxLifetime (${maxLifetime} ms)`);
  }
  const extends_ = given.rememberMeExtendsAbsolute ?? base?.rememberMeExtendsAbsolute ?? false;
  if (typeof extends_ !== 'boolean') throw new ConfigError(`${name}rememberMeExtendsAbsolute must be a boolean`);
  return { idleTimeout, absoluteTimeout, rememberMeLifetime, maxLifetime, rememberMeExtendsAbsolute: extends_ };
}

/** The `tenants` option: each tenant's lifetimes, on top of `base`. */
function tenantLifetimes(tenants: TesseraOptions['tenants'], base: Lifetimes): ReadonlyMap<string, Lifetimes> | null {
  if (tenants === undefined) return null;
  if (tenants === null || typeof tenants !== 'object' || Array.isArray(tenants)) throw new ConfigError('tenants must be an object of lifetimes by tenant');
  const out = new Map<string, Lifetimes>();
  for (const [tenant, given] of Object.entries(tenants)) {
    if (tenant === '') throw new ConfigError('tenants: a tenant name cannot be empty');
    if (given === null || typeof given !== 'object') throw new ConfigError(`tenants.${tenant} must be an object of lifetimes`);
    for (const key of Object.keys(given)) {
      if (!TENANT_KEYS.has(key)) throw new ConfigError(`tenants.${tenant}.${key} is not a per-tenant option (${[...TENANT_KEYS].join(', ')})`);
    }
    out.set(tenant, Object.freeze(lifetimes(`tenants.${tenant}.`, given, base)));
  }
  return out.size === 0 ? null : out;
}

function bindingMode(name: string, value: BindingMode | boolean | undefined): BindingMode {
  if (value === undefined || value === false) return 'off';
  if (value === true) return 'strict';
  if (value === 'off' || value === 'log' || value === 'strict') return value;
  throw new ConfigError(`${name} must be 'off', 'log' or 'strict' (or a boolean: true is 'strict')`);
}

function ipPrefixes(given: TesseraOptions['bindIpPrefix']): IpPrefixes {
  if (given === undefined) return DEFAULTS.bindIpPrefix;
  if (given === null || typeof given !== 'object') throw new ConfigError('bindIpPrefix must be an object: { ipv4?, ipv6? }');
  const { ipv4 = DEFAULTS.bindIpPrefix.ipv4, ipv6 = DEFAULTS.bindIpPrefix.ipv6 } = given;
  if (!Number.isInteger(ipv4) || ipv4 < 0 || ipv4 > 32) throw new ConfigError('bindIpPrefix.ipv4 must be an integer from 0 to 32');
  if (!Number.isInteger(ipv6) || ipv6 < 0 || ipv6 > 128) throw new ConfigError('bindIpPrefix.ipv6 must be an integer from 0 to 128');
  return Object.freeze({ ipv4, ipv6 });
}

/**
 * Validate options and fill in defaults.
 *
 * @throws {@link ConfigError}, {@link SecretError} or {@link CookieConfigError} on bad options.
 * @example
 * ```ts
 * const resolved = resolveOptions({ idleTimeout: 60_000 });
 * ```
 */
export function resolveOptions(options: TesseraOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new ConfigError('options must be an object');
  const logger: Logger = options.logger ?? DEFAULT_LOGGER;
  const base = lifetimes('', options, null);
  const touchAfter = options.touchAfter ?? DEFAULTS.touchAfter;
  if (typeof touchAfter !== 'number' || !(touchAfter >= 0 && touchAfter <= 1)) {
    throw new ConfigError('touchAfter must be a share of the idle window between 0 and 1');
  }
  const cleanupInterval = duration('cleanupInterval', options.cleanupInterval, DEFAULTS.cleanupInterval);
  if (cleanupInterval > MAX_TIMER) throw new ConfigError(`cleanupInterval must be at most ${MAX_TIMER} ms (about 24.8 days), the longest timer Node.js keeps`);
  const maxWriteAttempts = options.maxWriteAttempts ?? DEFAULTS.maxWriteAttempts;
  if (!Number.isInteger(maxWriteAttempts) || maxWriteAttempts < 1) throw new ConfigError('maxWriteAttempts must be a positive integer');
  const maxDataBytes = options.maxDataBytes ?? DEFAULTS.maxDataBytes;
  if (!((Number.isInteger(maxDataBytes) && maxDataBytes > 0) || maxDataBytes === Infinity)) {
    throw new ConfigError('maxDataBytes must be a positive integer (bytes of the session data as JSON) or Infinity');
  }
  const storeTimeout = duration('storeTimeout', options.storeTimeout, DEFAULTS.storeTimeout, true);
  if (storeTimeout === 0 || (storeTimeout > MAX_TIMER && storeTimeout !== Infinity)) {
    throw new ConfigError(`storeTimeout must be more than 0 and at most ${MAX_TIMER} ms (the longest timer Node.js keeps), or Infinity to wait forever`);
  }
  if (options.now !== undefined && typeof options.now !== 'function') throw new ConfigError('now must be a function returning ms');
  const keyring = Keyring.from(options.secrets, { warn: (m) => logger.warn?.({}, m) });
  const cookie = resolveCookieOptions(options.cookie);
  if (cookie.maxAge !== undefined && cookie.maxAge > base.maxLifetime) {
    throw new ConfigError(`cookie.maxAge (${cookie.maxAge} ms) must be at most maxLifetime (${base.maxLifetime} ms)`);
  }
  const auth = options.auth === false ? null : new AuthTokens(keyring, options.auth ?? {}, cookie);
  if (auth !== null && auth.lifetime !== null && auth.lifetime > base.maxLifetime) {
    throw new ConfigError(`auth.lifetime (${auth.lifetime} ms) must be at most maxLifetime (${base.maxLifetime} ms)`);
  }
  return {
    keyring,
    cookie,
    ...base,
    touchAfter,
    tenants: tenantLifetimes(options.tenants, base),
    saveUninitialized: options.saveUninitialized ?? false,
    rolling: options.rolling ?? false,
    bindIp: bindingMode('bindIp', options.bindIp),
    bindUserAgent: bindingMode('bindUserAgent', options.bindUserAgent),
    bindIpPrefix: ipPrefixes(options.bindIpPrefix),
    cleanupInterval,
    maxWriteAttempts,
    maxDataBytes,
    csrf: new CsrfProtection(keyring, options.csrf, cookie),
    auth,
    storeTimeout,
    live: resolveLiveOptions(options.live),
    now: options.now ?? Date.now,
    logger,
    metrics: resolveMetricsOptions(options.metrics),
  };
}
