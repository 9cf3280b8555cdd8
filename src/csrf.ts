/**
 * CSRF protection, as the Weave seed describes it: a token derived from the session with HMAC
 * under the keyring's `csrf` subkey, handed to pages by `session.csrfToken()` and in a cookie
 * page script can read, and required on every unsafe request (`x-csrf-token` header or `_csrf`
 * form field). In front of the token, the Fetch Metadata check of {@link crossOriginVerdict}.
 *
 * A token is the HMAC of the session's store key (itself a hash of tenant and ID), so it works
 * from the first visit (an ID is issued before anything is stored), changes when the ID changes,
 * and never validates for another session or tenant. Each token handed out is masked afresh with
 * a one-time pad (the BREACH defence: no two responses carry the same bytes); every mask verifies.
 *
 * @module
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { clearCookie, resolveCookieOptions, serializeCookie, type ResolvedCookie } from './cookie.js';
import type { Keyring } from './crypto/keyring.js';
import { ConfigError, type CsrfError } from './errors.js';

/** Bytes of an unmasked token (an HMAC-SHA256). */
const TOKEN_BYTES = 32;
/** Length of a masked token: base64url of mask ‖ masked token, 64 bytes. */
const MASKED_LENGTH = 86;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** A route the token and origin checks skip (webhooks): a method-less request description. */
export interface CsrfRoute {
  readonly method: string;
  readonly path: string;
}

/**
 * Options of CSRF protection (`csrf` in {@link TesseraOptions}); `csrf: false` turns the checks
 * off (tokens can still be made and checked by hand with {@link CsrfProtection}).
 *
 * @example
 * ```ts
 * createTessera({
 *   csrf: {
 *     trustedOrigins: ['https://admin.example.com'],
 *     exempt: ['/webhooks/*'],
 *   },
 * });
 * ```
 */
export interface CsrfOptions {
  /** Request header carrying the token. Default `x-csrf-token`. */
  header?: string;
  /** Form field carrying the token (URL-encoded and multipart forms). Default `_csrf`. */
  field?: string;
  /**
   * The cookie page script reads the token from (for `fetch` and single-page apps): not HttpOnly,
   * otherwise like the session cookie. Default name `__Host-tessera-csrf` (or `tessera-csrf` where
   * the session cookie cannot be `__Host-`); `false` sends none.
   */
  cookie?: { name?: string } | false;
  /**
   * Origins (`https://host[:port]`) whose cross-origin requests are let through the Fetch Metadata
   * check (they still need the token). Default none.
   */
  trustedOrigins?: readonly string[];
  /**
   * Routes exempt from both checks, such as webhooks that authenticate otherwise: paths (`/hook`),
   * path prefixes (`/webhooks/*`), regular expressions over the path, or a function of the request.
   */
  exempt?: readonly (string | RegExp)[] | ((route: CsrfRoute) => boolean);
}

/** Why an unsafe request was refused. */
export type CsrfFailure = CsrfError['reason'];

/**
 * The Fetch Metadata check Go 1.25's `CrossOriginProtection` made standard, for an unsafe request:
 * `Sec-Fetch-Site` other than `same-origin` or `none` is refused; without that header (older
 * browsers, non-browser clients) an `Origin` whose host differs from the request's `Host` is
 * refused, and a request without `Origin` passes. Origins in `trusted` pass either way.
 *
 * @example
 * ```ts
 * crossOriginVerdict({ secFetchSite: 'cross-site', origin: 'https://evil.example', host: 'app.example' }, new Set());
 * // 'cross-site'
 * crossOriginVerdict({ secFetchSite: undefined, origin: 'https://app.example', host: 'app.example' }, new Set());
 * // null: same origin
 * ```
 */
export function crossOriginVerdict(
  request: { secFetchSite: string | undefined; origin: string | undefined; host: string | undefined },
  trusted: ReadonlySet<string>,
): 'cross-site' | 'cross-origin' | null {
  const site = request.secFetchSite;
  if (site !== undefined && site !== '') {
    if (site === 'same-origin' || site === 'none') return null;
    return request.origin !== undefined && trusted.has(request.origin.toLowerCase()) ? null : 'cross-site';
  }
  const origin = request.origin;
  if (origin === undefined || origin === '') return null;
  if (hostOf(origin) === request.host?.toLowerCase()) return null;
  return trusted.has(origin.toLowerCase()) ? null : 'cross-origin';
}

/** The `host[:port]` of an origin, lowercased; `null` for `null` or a malformed origin. */
function hostOf(origin: string): string | null {
  const scheme = origin.indexOf('://');
  if (scheme <= 0) return null;
  const host = origin.slice(scheme + 3).toLowerCase();
  return host === '' || host.includes('/') ? null : host;
}

/** A trusted origin as the browser sends it: scheme, host, optional port; nothing else. */
function trustedOrigin(value: unknown): string {
  if (typeof value !== 'string') throw new ConfigError('csrf.trustedOrigins must hold origin strings such as "https://app.example.com"');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`csrf.trustedOrigins: ${JSON.stringify(value)} is not an origin such as "https://app.example.com"`);
  }
  if (url.origin === 'null' || value.replace(/\/$/, '').toLowerCase() !== url.origin) {
    throw new ConfigError(`csrf.trustedOrigins: ${JSON.stringify(value)} must be an origin only (scheme, host and port; no path, query or credentials)`);
  }
  return url.origin;
}

function exemption(exempt: CsrfOptions['exempt']): ((route: CsrfRoute) => boolean) | null {
  if (exempt === undefined) return null;
  if (typeof exempt === 'function') return exempt;
  if (!Array.isArray(exempt)) throw new ConfigError('csrf.exempt must be a list of paths, prefixes ("/webhooks/*") and regular expressions, or a function');
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const patterns: RegExp[] = [];
  for (const entry of exempt as readonly unknown[]) {
    if (entry instanceof RegExp) patterns.push(entry);
    else if (typeof entry === 'string' && entry.startsWith('/')) {
      if (entry.endsWith('/*')) prefixes.push(entry.slice(0, -1));
      else exact.add(entry);
    } else throw new ConfigError(`csrf.exempt: ${JSON.stringify(entry)} is not a path starting with "/" nor a RegExp`);
  }
  return ({ path }) => exact.has(path) || prefixes.some((p) => path.startsWith(p)) || patterns.some((re) => re.test(path));
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/**
 * Makes and checks CSRF tokens, and decides which requests need one. Made once by the manager
 * (`tessera.csrf`); adapters run {@link CsrfProtection.check} before every unsafe request's handler.
 *
 * @example
 * ```ts
 * const token = tessera.csrf.tokenFor(storeKey(id, null)); // what session.csrfToken() returns
 * tessera.csrf.verify(token, storeKey(id, null));          // true
 * ```
 */
export class CsrfProtection {
  /** Whether adapters check unsafe requests (`csrf: false` turns it off). */
  readonly enforced: boolean;
  /** The request header that carries the token, lowercase. */
  readonly header: string;
  /** The form field that carries the token. */
  readonly field: string;
  /** The readable token cookie, or `null` when none is sent. */
  readonly cookie: ResolvedCookie | null;
  readonly #keys: readonly Buffer[];
  readonly #trusted: ReadonlySet<string>;
  readonly #exempt: ((route: CsrfRoute) => boolean) | null;
  #last: { readonly key: string; readonly token: Buffer } | null = null;

  /** @throws {@link ConfigError} on bad options. */
  constructor(keyring: Keyring, options: CsrfOptions | false | undefined, sessionCookie: ResolvedCookie) {
    if (options !== undefined && options !== false && (options === null || typeof options !== 'object')) {
      throw new ConfigError('csrf must be an options object or false');
    }
    const given = options || {};
    this.enforced = options !== false;
    this.#keys = keyring.keys('csrf');
    this.header = (given.header ?? 'x-csrf-token').toLowerCase();
    if (!HEADER_NAME.test(this.header)) throw new ConfigError(`csrf.header ${JSON.stringify(given.header)} is not a header name`);
    this.field = given.field ?? '_csrf';
    if (typeof this.field !== 'string' || this.field === '') throw new ConfigError('csrf.field must be a non-empty string');
    const trusted = given.trustedOrigins ?? [];
    if (!Array.isArray(trusted)) throw new ConfigError('csrf.trustedOrigins must be a list of origins');
    this.#trusted = new Set(trusted.map(trustedOrigin));
    this.#exempt = exemption(given.exempt);
    const cookie = given.cookie ?? {};
    if (cookie !== false && (cookie === null || typeof cookie !== 'object')) throw new ConfigError('csrf.cookie must be { name } or false');
    this.cookie =
      cookie === false
        ? null
        : resolveCookieOptions(
            {
              name: cookie.name,
              path: sessionCookie.path,
              domain: sessionCookie.domain,
              secure: sessionCookie.secure,
              sameSite: sessionCookie.sameSite,
              partitioned: sessionCookie.partitioned,
              httpOnly: false,
            },
            'tessera-csrf',
          );
  }

  /** Whether `method` may change state, so needs a token (all but GET, HEAD, OPTIONS and TRACE). */
  static isUnsafe(method: string): boolean {
    return !SAFE_METHODS.has(method.toUpperCase());
  }

  /** Whether the app exempted this route from the checks. */
  isExempt(route: CsrfRoute): boolean {
    return this.#exempt !== null && this.#exempt(route);
  }

  /** The Fetch Metadata verdict on a request, with this configuration's trusted origins. */
  crossOrigin(request: { secFetchSite: string | undefined; origin: string | undefined; host: string | undefined }): 'cross-site' | 'cross-origin' | null {
    return crossOriginVerdict(request, this.#trusted);
  }

  /**
   * A freshly masked token of the session with store key `key` (86 characters, base64url). Every
   * call gives different characters; all of them verify.
   */
  tokenFor(key: string): string {
    const token = this.#current(key);
    const mask = randomBytes(TOKEN_BYTES);
    const out = Buffer.allocUnsafe(TOKEN_BYTES * 2);
    mask.copy(out, 0);
    for (let i = 0; i < TOKEN_BYTES; i++) out[TOKEN_BYTES + i] = token[i]! ^ mask[i]!;
    return out.toString('base64url');
  }

  /**
   * Whether `token` is a token of the session with store key `key`, under any configured secret.
   * Constant time in the token's content; never throws.
   */
  verify(token: unknown, key: string): boolean {
    if (typeof token !== 'string' || token.length !== MASKED_LENGTH || !BASE64URL.test(token)) return false;
    const bytes = Buffer.from(token, 'base64url');
    if (bytes.length !== TOKEN_BYTES * 2 || bytes.toString('base64url') !== token) return false;
    const given = Buffer.allocUnsafe(TOKEN_BYTES);
    for (let i = 0; i < TOKEN_BYTES; i++) given[i] = bytes[TOKEN_BYTES + i]! ^ bytes[i]!;
    let ok = false;
    // Every key is tried, so the time taken does not tell which one matched.
    for (const secret of this.#keys) ok = timingSafeEqual(this.#raw(secret, key), given) || ok;
    return ok;
  }

  /** The `Set-Cookie` line giving page script a token of the session with store key `key`. */
  cookieLine(key: string): string | null {
    return this.cookie === null ? null : serializeCookie(this.cookie, this.tokenFor(key), null, 0);
  }

  /** The `Set-Cookie` line removing the token cookie, or `null` when none is sent. */
  clearLine(): string | null {
    return this.cookie === null ? null : clearCookie(this.cookie);
  }

  /**
   * The unmasked token of `key` under the current secret. The last one is kept: a response that
   * hands out a token and the token cookie (or renders several forms) costs one HMAC, not one each.
   */
  #current(key: string): Buffer {
    if (this.#last?.key !== key) this.#last = { key, token: this.#raw(this.#keys[0]!, key) };
    return this.#last.token;
  }

  #raw(secret: Buffer, key: string): Buffer {
    return createHmac('sha256', secret).update(key).digest();
  }
}
