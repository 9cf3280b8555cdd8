/**
 * The adapter kit: what every framework adapter (node:http, Express, Fastify, Hono) shares, so each
 * adapter is only the glue to its framework. Here, and only here: a framework's request becomes
 * tessera's {@link RequestInput} (cookie header, client IP behind trusted proxies, tenant by the
 * `tenant` option, see ./tenant.ts) and its HTTPS-ness is decided; the session cookie goes onto the
 * response's `Set-Cookie` lines before the head is sent (a `Secure` one on a plain-HTTP request
 * is warned about, once); a handler's end starts the commit and waits for it; and a failure
 * becomes the right response (503 for a store outage, 400 for an empty tenant) or a report, never
 * a crash.
 *
 * @module
 */
import { ConfigError, StoreUnavailableError, TesseraError } from '../errors.js';
import type { CookieSink, RequestInput, SessionContext, Tessera } from '../manager.js';
import { resolveTenant, type RequestParts, type TenantOf, type TenantResolver } from './tenant.js';

export type { RequestParts, TenantOf, TenantResolver } from './tenant.js';

/**
 * The options every adapter takes, for a framework whose requests are of type `Req`.
 *
 * @example
 * ```ts
 * const options: AdapterOptions<IncomingMessage> = { trustProxy: 1, tenant: { host: true } };
 * ```
 */
export interface AdapterOptions<Req> {
  /**
   * How many proxies in front of the app to trust for the client IP and HTTPS: `true` is one. The
   * client is the `X-Forwarded-For` entry that many places from the right (each proxy appends the
   * address it saw; entries further left are whatever the client sent), and `X-Forwarded-Proto`
   * says whether the request came over HTTPS. Default `false`: the socket's address and TLS.
   */
  trustProxy?: boolean | number;
  /**
   * The tenant of a request: a function of the request, or a rule — `{ host: true }`,
   * `{ header: 'x-tenant' }`, `{ path: true }` or `{ path: /regex/ }` (see {@link TenantResolver}).
   * Sessions of one tenant are invisible to another. A request whose tenant is found empty is
   * answered 400 ({@link TenantError}), never taken as "no tenant". Default: no tenants.
   */
  tenant?: TenantResolver<Req>;
}

/**
 * {@link AdapterOptions} validated once, when the adapter is made.
 *
 * @example
 * ```ts
 * const { hops, tenant } = resolveAdapterOptions<IncomingMessage>({ trustProxy: true }, 'tessera/node', parts);
 * ```
 */
export interface ResolvedAdapterOptions<Req> {
  /** Proxies trusted (0: none). */
  readonly hops: number;
  /** The request's tenant (`null`: none; throws {@link TenantError} for an empty one), or `null` for no tenants. */
  readonly tenant: TenantOf<Req> | null;
}

/**
 * Validate the common adapter options: bad ones throw {@link ConfigError} now, at start-up.
 * `parts` says how the adapter reads a header and the path of its requests, for the tenant rules.
 *
 * @example
 * ```ts
 * resolveAdapterOptions({ trustProxy: -1 }, 'tessera/node', parts);          // throws ConfigError
 * resolveAdapterOptions({ tenant: { header: '' } }, 'tessera/node', parts);  // throws ConfigError
 * ```
 */
export function resolveAdapterOptions<Req>(options: AdapterOptions<Req> | undefined, adapter: string, parts: RequestParts<Req>): ResolvedAdapterOptions<Req> {
  if (options !== undefined && (options === null || typeof options !== 'object')) throw new ConfigError(`${adapter}: options must be an object`);
  const trustProxy = options?.trustProxy ?? false;
  let hops: number;
  if (typeof trustProxy === 'boolean') hops = trustProxy ? 1 : 0;
  else if (Number.isInteger(trustProxy) && trustProxy >= 0) hops = trustProxy;
  else throw new ConfigError(`${adapter}: trustProxy must be a boolean or a non-negative integer (the number of proxies in front of the app)`);
  return { hops, tenant: resolveTenant(options?.tenant, parts, adapter) };
}

/**
 * A header of node's parsed headers (`IncomingMessage#headers`) as one string, several values
 * joined by commas: the {@link RequestParts.header} of the adapters whose requests are node's.
 *
 * @example
 * ```ts
 * headerText(req.headers['x-tenant']); // 'acme'
 * ```
 */
export function headerText(value: string | readonly string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : (value as string | undefined);
}

/**
 * The client address of a request: `remoteAddress` (the socket's), or behind `hops` trusted
 * proxies the `X-Forwarded-For` entry the outermost trusted proxy appended (counted from the
 * right, so a client cannot choose its own address by sending the header). With fewer entries
 * than trusted proxies, the leftmost entry.
 *
 * @example
 * ```ts
 * // X-Forwarded-For: 198.51.100.1 (spoofed), 203.0.113.7 (added by your load balancer)
 * clientIp('198.51.100.1, 203.0.113.7', '10.0.0.2', 1); // '203.0.113.7'
 * ```
 */
export function clientIp(forwardedFor: string | readonly string[] | undefined, remoteAddress: string | null | undefined, hops: number): string | null {
  if (hops > 0) {
    const entries = headerText(forwardedFor)?.split(',').map((e) => e.trim()).filter(Boolean);
    if (entries && entries.length > 0) return entries[Math.max(0, entries.length - hops)]!;
  }
  return remoteAddress ?? null;
}

/**
 * Whether a request came over HTTPS: a TLS connection, or behind trusted proxies
 * `X-Forwarded-Proto: https` (its first entry, the one the outermost proxy saw).
 *
 * @example
 * ```ts
 * requestIsSecure(false, 'https', 1); // true: the proxy terminated TLS
 * requestIsSecure(false, 'https', 0); // false: nobody vouches for the header
 * ```
 */
export function requestIsSecure(encrypted: boolean, forwardedProto: string | readonly string[] | undefined, hops: number): boolean {
  if (encrypted) return true;
  if (hops === 0) return false;
  return headerText(forwardedProto)?.split(',')[0]?.trim().toLowerCase() === 'https';
}

/**
 * The plain values of one request, for {@link Tessera.begin}.
 *
 * @example
 * ```ts
 * const input = requestInput(req.headers.cookie, clientIp(req.headers['x-forwarded-for'], req.socket.remoteAddress, hops), req.headers['user-agent'], null, req.headers[TAB_HEADER]);
 * ```
 */
export function requestInput(
  cookieHeader: string | undefined,
  ip: string | null,
  userAgent: string | undefined | null,
  tenant: string | null | undefined,
  tab?: string | readonly string[] | null,
): RequestInput {
  // A repeated header (an array) names no tab.
  return { cookieHeader, ip, userAgent: userAgent ?? null, tenant: tenant ?? null, tab: typeof tab === 'string' ? tab : null };
}

/**
 * A response's `Set-Cookie` lines, as an adapter's framework keeps them.
 *
 * @example
 * ```ts
 * const headers: SetCookieHeaders = {
 *   read: () => toLines(res.getHeader('set-cookie')),
 *   write: (lines) => (lines.length ? res.setHeader('set-cookie', lines) : res.removeHeader('set-cookie')),
 *   sent: () => res.headersSent,
 * };
 * ```
 */
export interface SetCookieHeaders {
  /** The lines on the response now. */
  read(): readonly string[];
  /** Replace them (an empty list removes the header). */
  write(lines: readonly string[]): void;
  /** Whether the response head went out (nothing can be set any more). */
  sent(): boolean;
}

/**
 * `Set-Cookie` header value(s) as a list of lines.
 *
 * @example
 * ```ts
 * setCookieLines(res.getHeader('set-cookie')); // ['a=1; Path=/', 'b=2']
 * ```
 */
export function setCookieLines(value: number | string | readonly string[] | undefined | null): readonly string[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [String(value)];
}

/**
 * The {@link CookieSink} of a response: it puts tessera's cookies (the session cookie, named
 * `name`, and the CSRF token cookie) among the response's `Set-Cookie` lines, each replacing one of
 * the same name this request put there earlier and leaving the app's other cookies alone, and
 * refuses once the head is sent. With `plainHttp` (the adapter's one {@link PlainHttpWarning}) and
 * the request, a `Secure` line set on a plain-HTTP request is reported.
 *
 * @example
 * ```ts
 * const sink = cookieSink(headers, tessera.cookieName, plainHttp, req);
 * const ctx = tessera.begin(input, sink);
 * ```
 */
export function cookieSink<Req>(headers: SetCookieHeaders, name: string, plainHttp?: PlainHttpWarning<Req>, request?: Req): CookieSink {
  return new SessionCookieLines(headers, name, plainHttp as PlainHttpWarning<unknown> | undefined, request);
}

/** The sink {@link cookieSink} makes: one object per request, its methods on the prototype. */
class SessionCookieLines implements CookieSink {
  readonly #headers: SetCookieHeaders;
  /** `name=` of each cookie this request set: the session cookie's first. */
  readonly #prefixes: string[];
  readonly #plainHttp: PlainHttpWarning<unknown> | undefined;
  readonly #request: unknown;

  constructor(headers: SetCookieHeaders, name: string, plainHttp: PlainHttpWarning<unknown> | undefined, request: unknown) {
    this.#headers = headers;
    this.#prefixes = [`${name}=`];
    this.#plainHttp = plainHttp;
    this.#request = request;
  }

  writable(): boolean {
    return !this.#headers.sent();
  }

  setCookie(line: string): boolean {
    if (this.#headers.sent()) return false;
    const prefix = line.slice(0, line.indexOf('=') + 1);
    if (!this.#prefixes.includes(prefix)) this.#prefixes.push(prefix);
    const lines = this.#headers.read().filter((l) => !l.startsWith(prefix));
    lines.push(line);
    this.#headers.write(lines);
    this.#plainHttp?.check(line, this.#request);
    return true;
  }

  withdrawCookie(): void {
    if (this.#headers.sent()) return;
    const prefixes = this.#prefixes;
    this.#headers.write(this.#headers.read().filter((l) => !prefixes.some((p) => l.startsWith(p))));
  }
}

const SECURE_ATTRIBUTE = /; Secure(?=;|$)/i;

/**
 * Warns once, through tessera's logger (`warn`), when a `Secure` session cookie (every `__Host-`
 * and `__Secure-` cookie is one) goes out on a request that did not come over HTTPS. Browsers
 * other than Chromium and Firefox — which make an exception for `localhost` — drop such a cookie,
 * so sessions silently do not stick; the usual cause is a TLS-terminating proxy the adapter was not
 * told to trust. One per adapter instance; the kit's {@link cookieSink} calls it, so every adapter
 * checks in this one place, and asks whether the request is secure only for a `Secure` line,
 * until it has warned.
 *
 * @example
 * ```ts
 * const plainHttp = new PlainHttpWarning(tessera, 'tessera/node', (req) => sessions.isSecure(req), 'set trustProxy');
 * const sink = cookieSink(headers, tessera.cookieName, plainHttp, req);
 * ```
 */
export class PlainHttpWarning<Req> {
  readonly #tessera: Tessera;
  readonly #adapter: string;
  readonly #isSecure: (request: Req) => boolean;
  readonly #proxyHint: string;
  #warned = false;

  /** `proxyHint` says how this adapter is told to trust a TLS-terminating proxy ("set trustProxy"). */
  constructor(tessera: Tessera, adapter: string, isSecure: (request: Req) => boolean, proxyHint: string) {
    this.#tessera = tessera;
    this.#adapter = adapter;
    this.#isSecure = isSecure;
    this.#proxyHint = proxyHint;
  }

  /** Whether the warning was given. */
  get warned(): boolean {
    return this.#warned;
  }

  /** `line` (a whole `Set-Cookie` value) goes out on the response to `request`. */
  check(line: string, request: Req): void {
    if (this.#warned || !SECURE_ATTRIBUTE.test(line) || this.#isSecure(request)) return;
    this.#warned = true;
    const name = line.slice(0, line.indexOf('='));
    this.#tessera.options.logger.warn?.(
      { cookie: name },
      `${this.#adapter}: a Secure session cookie (${name}) went out over plain HTTP. Browsers other than ` +
        'Chromium and Firefox (which allow it on localhost) drop it, so sessions will not stick. Serve over HTTPS; ' +
        `behind a TLS-terminating proxy, ${this.#proxyHint}; for plain-HTTP development, run with NODE_ENV=development ` +
        'or set cookie.secure: false. (Warned once.)',
    );
  }
}

/**
 * What an adapter answers for an error that reached it: a {@link TesseraError}'s status and
 * message (503 with `Retry-After` for a store outage), or a bare 500 that leaks nothing.
 *
 * @example
 * ```ts
 * const { status, message, retryAfter } = errorReply(error);
 * ```
 */
export function errorReply(error: unknown): { status: number; message: string; retryAfter: boolean } {
  const known = error instanceof TesseraError && error.status !== 500;
  if (!known) return { status: 500, message: 'Internal Server Error', retryAfter: false };
  return { status: error.status, message: error.message, retryAfter: error.status === 503 };
}

/**
 * Reports the failures an adapter meets, once each and without flooding the log: an unexpected
 * error (status 500) to `logger.error`, a store outage to `logger.warn` at most every 10 seconds,
 * and a commit that failed after the response head went out through `tessera.reportError`.
 *
 * @example
 * ```ts
 * const failures = new FailureLog(tessera);
 * if (failures.afterHead(error, res.headersSent)) return; // reported; the response is left alone
 * failures.log(error);
 * ```
 */
export class FailureLog {
  readonly #tessera: Tessera;
  #lastOutage = -Infinity;

  constructor(tessera: Tessera) {
    this.#tessera = tessera;
  }

  /**
   * A session failure after the head went out has no response to become: report it and return
   * `true` (the response, perhaps still streaming, is left alone); otherwise `false`.
   */
  afterHead(error: unknown, headersSent: boolean): boolean {
    if (!headersSent || !(error instanceof TesseraError)) return false;
    this.#tessera.reportError(error);
    return true;
  }

  /** Log an error about to be answered: unexpected ones always, an outage at most every 10 s. */
  log(error: unknown): void {
    const logger = this.#tessera.options.logger;
    if (!(error instanceof TesseraError) || error.status === 500) {
      logger.error?.({ error: String(error) }, 'tessera: request failed');
    } else if (error instanceof StoreUnavailableError) {
      const now = Date.now();
      if (now - this.#lastOutage < 10_000) return;
      this.#lastOutage = now;
      logger.warn?.({ cause: String(error.cause ?? error) }, 'tessera: session store unavailable; answering 503');
    }
  }
}

/**
 * The handler of a request is done: start the commit its code queued (a held context is released
 * at once, so a store that answers synchronously has written it when this returns), and give the
 * promise to wait for before the response goes out — `undefined` when there is nothing to wait
 * for (no session loaded, or everything committed) or nobody to tell (`responseComplete`: a
 * commit still running then reports its own failure, through the `commitError` event or the
 * logger). The promise rejects with a commit's failure.
 *
 * @example
 * ```ts
 * const pending = handlerDone(ctx, res.writableEnded);
 * if (pending) await pending; // before sending the response: a failed commit can still be a 503
 * ```
 */
export function handlerDone(ctx: SessionContext | undefined, responseComplete: boolean): Promise<void> | undefined {
  if (ctx === undefined) return undefined;
  ctx.release();
  return ctx.settled || responseComplete ? undefined : ctx.settle();
}
