/**
 * express-session's `cookie` given as a function of the request: the cookie's attributes decided
 * per request ({@link RequestCookie}), checked as `session({ cookie })`'s are, and put on the
 * session cookie's `Set-Cookie` lines in place of the ones tessera made them with.
 *
 * @module
 * @internal
 */
import type { IncomingMessage } from 'node:http';
import { resolveCookieOptions, type ResolvedCookie, type SameSite } from '../../cookie.js';
import { ConfigError } from '../../errors.js';
import type { ExpressCookieOptions } from './options.js';

/**
 * One request's cookie attributes, from the app's `cookie(req)`.
 *
 * @example
 * ```ts
 * const cookie = new RequestCookie(options.cookie(req), tessera.options.cookie);
 * cookie.path; // where the middleware handles requests, for this request
 * ```
 */
export class RequestCookie {
  readonly path: string;
  readonly secure: boolean | 'auto';
  readonly httpOnly: boolean;
  readonly partitioned: boolean;
  readonly domain: string | undefined;
  readonly maxAge: number | undefined;
  readonly #sameSite: SameSite | 'auto';
  readonly #base: ResolvedCookie;
  /** The attributes of the lines, over plain HTTP and over HTTPS (made when first needed). */
  readonly #attributes: [ResolvedCookie | null, ResolvedCookie | null] = [null, null];

  /**
   * @throws {@link ConfigError} or {@link CookieConfigError} when `cookie(req)` gave a bad value
   * (the middleware passes it to `next(err)`).
   */
  constructor(options: unknown, base: ResolvedCookie) {
    if (options === null || typeof options !== 'object') throw new ConfigError('session option cookie(req) must return an object of cookie options');
    const o = options as ExpressCookieOptions;
    if (o.secure !== undefined && o.secure !== 'auto' && typeof o.secure !== 'boolean') throw new ConfigError('cookie(req).secure must be true, false or "auto"');
    if (o.maxAge !== undefined && o.maxAge !== null && !(typeof o.maxAge === 'number' && Number.isFinite(o.maxAge) && o.maxAge > 0)) {
      throw new ConfigError('cookie(req).maxAge must be a positive number of milliseconds');
    }
    if (o.expires !== undefined) throw new ConfigError('cookie(req).expires is not supported: return a maxAge');
    this.path = o.path ?? '/';
    this.secure = o.secure ?? false;
    this.httpOnly = o.httpOnly ?? true;
    this.partitioned = o.partitioned ?? false;
    this.domain = o.domain;
    this.maxAge = o.maxAge ?? undefined;
    this.#sameSite = o.sameSite === true ? 'strict' : o.sameSite === false || o.sameSite === undefined ? 'lax' : (o.sameSite.toLowerCase() as SameSite | 'auto');
    this.#base = base;
    // Checked now, as on an HTTPS request (the strictest combination a browser accepts).
    this.#resolved(this.secure !== false);
  }

  /** `SameSite` of the cookie on a request that is (`secure`) or is not over HTTPS. */
  sameSite(secure: boolean): SameSite {
    if (this.#sameSite === 'auto') return secure ? 'none' : 'lax';
    return this.#sameSite;
  }

  /** The cookie goes out `Secure` on this request. */
  isSecure(requestSecure: boolean): boolean {
    return this.secure === 'auto' ? requestSecure : this.secure;
  }

  /** `line` (one of tessera's session cookie lines) with this request's attributes. */
  rewrite(line: string, requestSecure: boolean): string {
    const base = this.#base.attributes;
    if (!line.endsWith(base)) return line;
    return line.slice(0, line.length - base.length) + this.#resolved(this.isSecure(requestSecure)).attributes;
  }

  #resolved(secure: boolean): ResolvedCookie {
    const slot = secure ? 1 : 0;
    return (this.#attributes[slot] ??= resolveCookieOptions(
      {
        name: this.#base.name,
        path: this.path,
        domain: this.domain,
        secure,
        httpOnly: this.httpOnly,
        partitioned: this.partitioned,
        // None needs Secure: over plain HTTP (secure: 'auto' there) the cookie goes out Lax, as a browser would treat it.
        sameSite: !secure && this.sameSite(secure) === 'none' ? 'lax' : this.sameSite(secure),
      },
      this.#base.name,
    ));
  }
}

/**
 * The app's `cookie(req)`, called once for a request.
 *
 * @throws what {@link RequestCookie} throws, or what the app's function threw.
 * @example
 * ```ts
 * const cookie = requestCookie(options.cookie, req, tessera.options.cookie);
 * ```
 */
export function requestCookie(of: (req: IncomingMessage) => ExpressCookieOptions, req: IncomingMessage, base: ResolvedCookie): RequestCookie {
  return new RequestCookie(of(req), base);
}
