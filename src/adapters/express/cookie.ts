/**
 * `req.session.cookie`: the session cookie as express-session shows it ({@link SessionCookie}),
 * and express-session's rule for a `Secure` cookie on the response ({@link SecureCookieRule}).
 *
 * @module
 * @internal
 */
import { inspect } from 'node:util';
import type { SameSite } from '../../cookie.js';
import type { CookieSink } from '../../core/request.js';
import type { Tessera } from '../../manager.js';
import type { Session } from '../../session.js';
import type { Settings } from './options.js';
import type { RequestCookie } from './request-cookie.js';

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
 * `null` or `false` makes its cookie last only until the browser closes; a date in the past (or a
 * `maxAge` of 0 or less) ends the cookie, and with it the session, as in express-session. On a new session that
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
 * What a {@link SessionCookieImpl} reads and changes: its request's session.
 *
 * @example
 * ```ts
 * const host: CookieHost = { core: session, requestCookie: null, isSecure: () => false, setLifetime: (ms) => session.setLifetime(ms), endCookie: () => session.destroy() };
 * ```
 */
export interface CookieHost {
  /** The core session behind `req.session`. */
  readonly core: Session;
  /** Whether the request came over HTTPS (directly, or per `proxy` / `trust proxy` through a proxy). */
  isSecure(): boolean;
  /** This request's attributes, when `cookie` is a function of the request; else `null`. */
  readonly requestCookie: RequestCookie | null;
  /** Give the session its own cookie lifetime; `null` makes its cookie end with the browser session. */
  setLifetime(ms: number | null): void;
  /** The cookie's expiry was set in the past: end the cookie (and so the session it opens). */
  endCookie(): void;
}

/**
 * `req.session.cookie`: `maxAge`, `expires` and `originalMaxAge` read and set the session's own
 * lifetime; the other attributes are the middleware's, read-only.
 *
 * @example
 * ```ts
 * const cookie = new SessionCookieImpl(requestSession, settings);
 * cookie.maxAge = 30 * 24 * 3600_000; // remember me
 * ```
 */
export class SessionCookieImpl implements SessionCookie {
  readonly #h: CookieHost;
  readonly #s: Settings;

  constructor(host: CookieHost, settings: Settings) {
    this.#h = host;
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
    // 0 or less ends the cookie now, as in express-session.
    if (typeof ms === 'number' && ms <= 0) this.#h.endCookie();
    else this.#h.setLifetime(ms);
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
    // A date in the past ends the cookie, as in express-session (where the browser then drops it).
    if (ms <= 0) this.#h.endCookie();
    else this.#h.setLifetime(ms);
  }

  get httpOnly(): boolean {
    return this.#h.requestCookie?.httpOnly ?? this.#s.tessera.options.cookie.httpOnly;
  }
  get secure(): boolean {
    const own = this.#h.requestCookie;
    if (own !== null) return own.isSecure(this.#h.isSecure());
    return this.#s.secure === 'auto' && !hasSecurePrefix(this.#s.tessera.cookieName) ? this.#h.isSecure() : this.#s.secure !== false;
  }
  get sameSite(): SameSite {
    const own = this.#h.requestCookie;
    if (own !== null) return own.sameSite(this.secure && this.#h.isSecure());
    if (this.#s.sameSiteAuto) return this.secure && this.#h.isSecure() ? 'none' : 'lax';
    return this.#s.tessera.options.cookie.sameSite;
  }
  get path(): string {
    return this.#h.requestCookie?.path ?? this.#s.tessera.options.cookie.path;
  }
  get domain(): string | undefined {
    const own = this.#h.requestCookie;
    return own !== null ? own.domain : this.#s.tessera.options.cookie.domain;
  }
  get partitioned(): boolean {
    return this.#h.requestCookie?.partitioned ?? this.#s.tessera.options.cookie.partitioned;
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

const SECURE_ATTRIBUTE = /; Secure(?=;|$)/;

/** A `__Host-` or `__Secure-` name: a browser rejects such a cookie without `Secure`. */
const hasSecurePrefix = (name: string): boolean => /^__(host|secure)-/i.test(name);

/**
 * express-session's rule for a `Secure` cookie: never sent over plain HTTP, where it would expose
 * the ID (with `secure: 'auto'` it goes without the attribute instead — but a `__Host-` or
 * `__Secure-` cookie keeps it, since the browser would reject it without, and goes out; the
 * adapter kit then warns that a Secure cookie went out over plain HTTP). One per middleware: it
 * warns once, the first time a cookie is held back.
 *
 * @example
 * ```ts
 * const rule = new SecureCookieRule(settings);
 * const sink = rule.sink(responseCookieSink(res, tessera.cookieName), () => req.secure);
 * ```
 */
export class SecureCookieRule {
  readonly #tessera: Tessera;
  readonly #secure: boolean | 'auto';
  readonly #sameSiteAuto: boolean;
  #warned = false;

  constructor(settings: Pick<Settings, 'tessera' | 'secure'> & { readonly sameSiteAuto?: boolean }) {
    this.#tessera = settings.tessera;
    // 'auto' cannot strip Secure from a prefixed cookie: the line goes out as it is.
    this.#secure = settings.secure === 'auto' && hasSecurePrefix(settings.tessera.cookieName) ? false : settings.secure;
    this.#sameSiteAuto = settings.sameSiteAuto === true;
  }

  /** The sink of one request: `base`, with the rule (and `own`, the request's attributes from `cookie(req)`) applied to the lines put through it. */
  sink(base: CookieSink, isSecure: () => boolean, own: RequestCookie | null = null): CookieSink {
    if (own !== null) return { writable: () => base.writable(), setCookie: (line) => this.#setOwnCookie(base, line, own, isSecure()), withdrawCookie: () => base.withdrawCookie() };
    if (this.#secure === false && !this.#sameSiteAuto) return base;
    return { writable: () => base.writable(), setCookie: (line) => this.#setCookie(base, line, isSecure()), withdrawCookie: () => base.withdrawCookie() };
  }

  /** A line with the attributes `cookie(req)` gave; with `secure: true`, held back over plain HTTP as below. */
  #setOwnCookie(base: CookieSink, line: string, own: RequestCookie, secure: boolean): boolean {
    if (own.secure === true && !secure) return this.#holdBack();
    return base.setCookie(own.rewrite(line, secure));
  }

  #holdBack(): boolean {
    if (!this.#warned) {
      this.#warned = true;
      this.#tessera.options.logger.warn?.(
        {},
        "tessera/express: a Secure session cookie is not sent over plain HTTP. Behind a TLS proxy set proxy: true (or Express's trust proxy); for HTTP in development use cookie.secure: 'auto' or false",
      );
    }
    return true;
  }

  #setCookie(base: CookieSink, line: string, secure: boolean): boolean {
    // sameSite 'auto': None where the cookie goes out Secure over HTTPS (browsers need both), else the Lax it was made with.
    if (this.#sameSiteAuto && secure && SECURE_ATTRIBUTE.test(line)) line = line.replace(/; SameSite=Lax(?=;|$)/, '; SameSite=None');
    if (secure || this.#secure === false) return base.setCookie(line);
    if (this.#secure === 'auto') return base.setCookie(line.replace(SECURE_ATTRIBUTE, ''));
    return this.#holdBack();
  }
}
