/**
 * Cookie reading and writing, and the attribute rules browsers enforce (`__Host-`, `__Secure-`,
 * `SameSite=None` needs `Secure`, `Partitioned` needs `Secure`), checked once at start-up.
 *
 * @module
 */
import { CookieConfigError } from './errors.js';

/** `SameSite` attribute values. */
export type SameSite = 'lax' | 'strict' | 'none';

/**
 * Options of the session cookie.
 *
 * @example
 * ```ts
 * createTessera({ cookie: { name: '__Host-app', sameSite: 'strict' } });
 * ```
 */
export interface CookieOptions {
  /**
   * Cookie name. Default: `__Host-tessera` when the cookie is Secure, host-only and on path `/`
   * (the strongest binding a browser offers), otherwise `tessera`. Used verbatim when given.
   */
  name?: string;
  /** Default `/`. */
  path?: string;
  /** Default: none (host-only cookie). Not allowed with a `__Host-` name. */
  domain?: string;
  /** Default: `true` unless `NODE_ENV` is `development` or `test`. */
  secure?: boolean;
  /** Default `true`: scripts cannot read the cookie. */
  httpOnly?: boolean;
  /** Default `lax`. */
  sameSite?: SameSite;
  /**
   * Lifetime of the cookie in milliseconds; a persistent cookie, renewed with the session. Default:
   * none, a browser-session cookie (sessions given a lifetime, such as remember-me, still get one).
   */
  maxAge?: number;
  /** A fixed expiry date for the cookie. Prefer `maxAge`. */
  expires?: Date;
  /** CHIPS `Partitioned` attribute (third-party contexts). Requires `secure`. Default `false`. */
  partitioned?: boolean;
}

/** Cookie options after validation and defaults; built once by {@link resolveCookieOptions}. */
export interface ResolvedCookie {
  readonly name: string;
  readonly path: string;
  readonly domain: string | undefined;
  readonly secure: boolean;
  readonly httpOnly: boolean;
  readonly sameSite: SameSite;
  readonly maxAge: number | undefined;
  readonly expires: Date | undefined;
  readonly partitioned: boolean;
  /** The attributes after `name=value`, precomputed: `; Path=/; HttpOnly; Secure; SameSite=Lax`. */
  readonly attributes: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const ATTR_VALUE = /^[\u0021-\u003A\u003C-\u007E]+$/; // visible ASCII except ';'
const DOMAIN = /^\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

/**
 * Whether cookies default to `Secure` in this environment: everywhere but `NODE_ENV=development`
 * and `NODE_ENV=test` (plain-http local servers).
 *
 * @example
 * ```ts
 * defaultSecure(); // true in production, false with NODE_ENV=development
 * ```
 */
export function defaultSecure(): boolean {
  const env = process.env.NODE_ENV;
  return env !== 'development' && env !== 'test';
}

/**
 * Validate cookie options and fill in defaults.
 *
 * @throws {@link CookieConfigError} for a combination a browser would reject or that is unsafe.
 * @example
 * ```ts
 * const cookie = resolveCookieOptions({ sameSite: 'strict' }, 'tessera');
 * cookie.name; // '__Host-tessera' in production
 * ```
 */
export function resolveCookieOptions(options: CookieOptions = {}, baseName = 'tessera'): ResolvedCookie {
  const secure = options.secure ?? defaultSecure();
  const path = options.path ?? '/';
  const domain = options.domain;
  const sameSite = (options.sameSite ?? 'lax').toLowerCase() as SameSite;
  const httpOnly = options.httpOnly ?? true;
  const partitioned = options.partitioned ?? false;
  const name = options.name ?? (secure && !domain && path === '/' ? `__Host-${baseName}` : baseName);

  if (!TOKEN.test(name)) throw new CookieConfigError(`cookie name ${JSON.stringify(name)} is not a valid token`);
  if (!path.startsWith('/') || !ATTR_VALUE.test(path)) {
    throw new CookieConfigError(`cookie path ${JSON.stringify(path)} must start with "/" and hold no ";" or control characters`);
  }
  if (domain !== undefined && !DOMAIN.test(domain)) {
    throw new CookieConfigError(`cookie domain ${JSON.stringify(domain)} is not a valid domain`);
  }
  if (!['lax', 'strict', 'none'].includes(sameSite)) {
    throw new CookieConfigError(`cookie sameSite must be "lax", "strict" or "none", not ${JSON.stringify(options.sameSite)}`);
  }
  const lower = name.toLowerCase();
  if (lower.startsWith('__host-')) {
    if (!secure) throw new CookieConfigError(`a "__Host-" cookie (${name}) must be secure`);
    if (domain !== undefined) throw new CookieConfigError(`a "__Host-" cookie (${name}) cannot have a domain`);
    if (path !== '/') throw new CookieConfigError(`a "__Host-" cookie (${name}) must have path "/"`);
  }
  if (lower.startsWith('__secure-') && !secure) {
    throw new CookieConfigError(`a "__Secure-" cookie (${name}) must be secure`);
  }
  if (sameSite === 'none' && !secure) throw new CookieConfigError('sameSite "none" requires secure: true');
  if (partitioned && !secure) throw new CookieConfigError('partitioned cookies require secure: true');
  if (options.maxAge !== undefined && !(Number.isFinite(options.maxAge) && options.maxAge >= 0)) {
    throw new CookieConfigError('cookie maxAge must be a non-negative number of milliseconds');
  }
  if (options.expires !== undefined && !(options.expires instanceof Date && Number.isFinite(options.expires.getTime()))) {
    throw new CookieConfigError('cookie expires must be a valid Date');
  }

  let attributes = `; Path=${path}`;
  if (domain) attributes += `; Domain=${domain}`;
  if (httpOnly) attributes += '; HttpOnly';
  if (secure) attributes += '; Secure';
  attributes += `; SameSite=${sameSite === 'lax' ? 'Lax' : sameSite === 'strict' ? 'Strict' : 'None'}`;
  if (partitioned) attributes += '; Partitioned';

  return { name, path, domain, secure, httpOnly, sameSite, maxAge: options.maxAge, expires: options.expires, partitioned, attributes };
}

/**
 * A `Set-Cookie` header value. `maxAgeMs` makes a persistent cookie (`Max-Age` in seconds, and
 * `Expires` for old clients); `null` a browser-session cookie — or one with the configured fixed
 * `expires`, unless `browserSession` insists on a cookie that ends with the browser.
 *
 * @example
 * ```ts
 * serializeCookie(cookie, 'abc.sig', 3600_000, Date.now());
 * // '__Host-tessera=abc.sig; Max-Age=3600; Expires=…; Path=/; HttpOnly; Secure; SameSite=Lax'
 * ```
 */
export function serializeCookie(cookie: ResolvedCookie, value: string, maxAgeMs: number | null, now: number, browserSession = false): string {
  if (maxAgeMs !== null) {
    const seconds = Math.max(0, Math.floor(maxAgeMs / 1000));
    return `${cookie.name}=${value}; Max-Age=${seconds}; Expires=${httpDate(now + seconds * 1000)}${cookie.attributes}`;
  }
  if (cookie.expires && !browserSession) return `${cookie.name}=${value}; Expires=${cookie.expires.toUTCString()}${cookie.attributes}`;
  return `${cookie.name}=${value}${cookie.attributes}`;
}

// The last date formatted: a busy server sets cookies with the same Expires many times a second.
let lastDateSecond = NaN;
let lastDate = '';

/** `ms` as an HTTP date (`Thu, 01 Jan 1970 00:00:00 GMT`), whole seconds. */
function httpDate(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastDateSecond) {
    lastDate = new Date(second * 1000).toUTCString();
    lastDateSecond = second;
  }
  return lastDate;
}

/**
 * A `Set-Cookie` value that deletes the cookie (same name, path and domain, expired).
 *
 * @example
 * ```ts
 * res.setHeader('set-cookie', clearCookie(cookie));
 * ```
 */
export function clearCookie(cookie: ResolvedCookie): string {
  return `${cookie.name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT${cookie.attributes}`;
}

/**
 * How many values of the session cookie's name tessera examines in one request, in header order;
 * the rest are ignored. A browser may send two legitimately (for different paths or domains); a
 * header crammed with forged values would otherwise cost one verification (an HMAC, or a
 * decryption) each.
 *
 * @example
 * ```ts
 * readCookie(header, 'tessera', SESSION_COOKIE_VALUES_MAX); // at most 3 values
 * ```
 */
export const SESSION_COOKIE_VALUES_MAX = 3;

/**
 * Every value of cookie `name` in a `Cookie` header — or the first `max` — in header order (a
 * browser may send several cookies of one name, for different paths or domains). Values are
 * returned as sent; surrounding double quotes are removed. Never throws.
 *
 * @example
 * ```ts
 * readCookie('a=1; tessera=x.y; b=2', 'tessera'); // ['x.y']
 * readCookie('t=1; t=2; t=3', 't', 2);            // ['1', '2']
 * ```
 */
export function readCookie(header: string | undefined, name: string, max = Infinity): string[] {
  const found: string[] = [];
  if (!header) return found;
  const needle = name + '=';
  let from = 0;
  for (;;) {
    if (found.length >= max) return found;
    const at = header.indexOf(needle, from);
    if (at === -1) return found;
    from = at + needle.length;
    // Must start the header or follow a separator, so "xtessera=" does not match "tessera=".
    if (at > 0) {
      let i = at - 1;
      while (i >= 0 && (header[i] === ' ' || header[i] === '\t')) i--;
      if (i >= 0 && header[i] !== ';') continue;
    }
    let end = header.indexOf(';', from);
    if (end === -1) end = header.length;
    let value = header.slice(from, end).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    found.push(value);
    from = end;
  }
}

/**
 * Parse a whole `Cookie` header into a name → first value map. For code that needs every cookie;
 * the session path uses {@link readCookie}. Malformed pairs are skipped; values are URI-decoded when
 * that succeeds.
 *
 * @example
 * ```ts
 * parseCookies('a=1; b=%20x'); // { a: '1', b: ' x' }
 * ```
 */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    if (!key || key in out) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      out[key] = value.includes('%') ? decodeURIComponent(value) : value;
    } catch {
      out[key] = value;
    }
  }
  return out;
}
