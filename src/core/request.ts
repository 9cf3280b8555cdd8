/**
 * What an adapter gives the core for one request: plain values in ({@link RequestInput}) and a
 * place for the session cookie out ({@link CookieSink}). No framework object crosses this line.
 *
 * @module
 */

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
  /**
   * The tab the request names (the `x-tessera-tab` header the live client sends): a request with
   * a valid tab ID records that tab's activity. Anything that is not a tab ID is ignored.
   */
  tab?: string | null | undefined;
}

/**
 * Where an adapter lets the core put the session cookie on the response. Every adapter gets one
 * from the adapter kit; a test can make its own.
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const sink: CookieSink = {
 *   writable: () => !res.headersSent,
 *   setCookie: (line) => { lines.push(line); return true; },
 *   withdrawCookie: () => { lines.length = 0; },
 * };
 * ```
 */
export interface CookieSink {
  /** Whether response headers can still be set. */
  writable(): boolean;
  /**
   * Put `line` (a whole `Set-Cookie` value: the session cookie, or the CSRF token cookie) on the
   * response, replacing a cookie of the same name this request set earlier. Returns `false` when
   * the headers already went out.
   */
  setCookie(line: string): boolean;
  /** Take back the cookies this request put on the response, if any (`session.ignore()`). */
  withdrawCookie(): void;
  /** @internal See {@link GENERATE_ID}. */
  [GENERATE_ID]?(): string;
}

/**
 * @internal The private ability of a {@link CookieSink} that chooses the IDs of the sessions its
 * request starts (express-session's `genid`): the core calls it instead of generating one. The
 * adapter checks what it returns. Not exported from the package.
 *
 * @example
 * ```ts
 * const sink = Object.assign(base, { [GENERATE_ID]: () => genid(req) });
 * ```
 */
export const GENERATE_ID: unique symbol = Symbol('tessera.generateId');

/**
 * @internal The private switch of a manager that accepts app-chosen session IDs besides its own
 * (see {@link GENERATE_ID}). Not exported from the package.
 *
 * @example
 * ```ts
 * tessera[ACCEPT_APP_IDS]();
 * ```
 */
export const ACCEPT_APP_IDS: unique symbol = Symbol('tessera.acceptAppIds');
