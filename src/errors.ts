/**
 * Typed errors. Every error tessera throws on purpose is a {@link TesseraError} with a stable
 * `code`: handle errors by `code` (or `instanceof`), never by message text.
 *
 * Bad configuration throws at start-up. Untrusted input from the client (a tampered cookie, an
 * expired session) is never an error: it becomes a fresh session.
 *
 * @module
 */

/**
 * Every `code` a {@link TesseraError} can carry: a union, so a `switch (err.code)` is checked by
 * TypeScript (a misspelt or retired code does not compile).
 *
 * @example
 * ```ts
 * function statusOf(err: TesseraError): number {
 *   switch (err.code) {
 *     case 'ERR_SESSION_NOT_FOUND': return 404;
 *     case 'ERR_STORE_UNAVAILABLE': return 503;
 *     default: return 500;
 *   }
 * }
 * ```
 */
export type TesseraErrorCode =
  | 'ERR_CONFIG'
  | 'ERR_SECRET'
  | 'ERR_COOKIE_CONFIG'
  | 'ERR_SESSION_NOT_FOUND'
  | 'ERR_SESSION_STATE'
  | 'ERR_WRITE_CONFLICT'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_PAYLOAD_TOO_LARGE'
  | 'ERR_NOT_SUPPORTED'
  | 'ERR_TENANT'
  | 'ERR_CSRF'
  | 'ERR_BUS_UNAVAILABLE'
  | 'ERR_LIVE';

/**
 * Base class of every tessera error.
 *
 * @example
 * ```ts
 * import { TesseraError } from 'tessera';
 * try { await tessera.set(id, 'k', 1); } catch (err) {
 *   if (err instanceof TesseraError && err.code === 'ERR_SESSION_NOT_FOUND') { ... }
 * }
 * ```
 */
export class TesseraError<Code extends TesseraErrorCode = TesseraErrorCode> extends Error {
  /** Stable, documented error code; part of the public API. */
  readonly code: Code;
  /** HTTP status an adapter answers with when this error reaches it. */
  readonly status: number;

  constructor(code: Code, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options?.status ?? 500;
  }
}

/**
 * Invalid options given to tessera or one of its stores. Thrown at construction, never per request.
 *
 * @example
 * ```ts
 * createTessera({ secrets: ['too short'] }); // throws ConfigError, code ERR_CONFIG
 * ```
 */
export class ConfigError extends TesseraError<'ERR_CONFIG'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONFIG', message, options);
  }
}

/**
 * A secret is missing or too weak: under 32 bytes, or absent with `NODE_ENV=production`.
 *
 * @example
 * ```ts
 * try { createTessera({ secrets: [] }); } catch (e) { (e as SecretError).code; // 'ERR_SECRET' }
 * ```
 */
export class SecretError extends TesseraError<'ERR_SECRET'> {
  constructor(message: string) {
    super('ERR_SECRET', message);
  }
}

/**
 * Invalid cookie attributes, such as a `__Host-` cookie with a Domain, or `SameSite=None` without
 * `Secure`. Thrown at start-up.
 *
 * @example
 * ```ts
 * createTessera({ cookie: { name: '__Host-sid', domain: 'example.com' } }); // CookieConfigError
 * ```
 */
export class CookieConfigError extends TesseraError<'ERR_COOKIE_CONFIG'> {
  constructor(message: string) {
    super('ERR_COOKIE_CONFIG', message);
  }
}

/**
 * A by-ID operation named a session that does not exist or has expired.
 *
 * @example
 * ```ts
 * await tessera.set('unknown-id', 'k', 1); // rejects with SessionNotFoundError
 * ```
 */
export class SessionNotFoundError extends TesseraError<'ERR_SESSION_NOT_FOUND'> {
  constructor() {
    super('ERR_SESSION_NOT_FOUND', 'session not found or expired', { status: 404 });
  }
}

/**
 * A session operation was used in a state that does not allow it, for example writing to a session
 * after it was destroyed, or storing a value that cannot be serialised as JSON.
 *
 * @example
 * ```ts
 * session.destroy(); session.set('k', 1); // throws SessionStateError
 * ```
 */
export class SessionStateError extends TesseraError<'ERR_SESSION_STATE'> {
  constructor(message: string) {
    super('ERR_SESSION_STATE', message);
  }
}

/**
 * A compare-and-set write kept conflicting with other writers after every retry.
 *
 * @example
 * ```ts
 * try { await session.save(); } catch (e) { if ((e as TesseraError).code === 'ERR_WRITE_CONFLICT') retryLater(); }
 * ```
 */
export class WriteConflictError extends TesseraError<'ERR_WRITE_CONFLICT'> {
  constructor(attempts: number) {
    super('ERR_WRITE_CONFLICT', `session write still conflicted after ${attempts} attempts`, { status: 503 });
  }
}

/**
 * The session store cannot be reached (database down, connection dropped). Adapters answer 503;
 * code that handles it itself can check `code === 'ERR_STORE_UNAVAILABLE'`.
 *
 * @example
 * ```ts
 * throw new StoreUnavailableError('redis', err); // in a store, when the client is disconnected
 * ```
 */
export class StoreUnavailableError extends TesseraError<'ERR_STORE_UNAVAILABLE'> {
  constructor(store: string, cause?: unknown) {
    super('ERR_STORE_UNAVAILABLE', `session store "${store}" is unavailable; try again shortly`, { cause, status: 503 });
  }
}

/**
 * A session's serialised form is too large for where it must go: its data over `maxDataBytes`, or
 * its sealed cookie over the cookie store's `maxBytes` (4096). Adapters answer it with status 413.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof PayloadTooLargeError) console.error(e.size, e.limit); }
 * ```
 */
export class PayloadTooLargeError extends TesseraError<'ERR_PAYLOAD_TOO_LARGE'> {
  /** The size in bytes that was produced. */
  readonly size: number;
  /** The limit in bytes that was exceeded. */
  readonly limit: number;
  constructor(message: string, size: number, limit: number) {
    super('ERR_PAYLOAD_TOO_LARGE', message, { status: 413 });
    this.size = size;
    this.limit = limit;
  }
}

/**
 * The operation is not available with the configured store (for example listing sessions by
 * user, or reading a session by ID, when sessions live in encrypted cookies).
 *
 * @example
 * ```ts
 * await tessera.get(id, 'k'); // with CookieStore: rejects with NotSupportedError, code ERR_NOT_SUPPORTED
 * ```
 */
export class NotSupportedError extends TesseraError<'ERR_NOT_SUPPORTED'> {
  constructor(message: string) {
    super('ERR_NOT_SUPPORTED', message);
  }
}

/**
 * A request's tenant, as the adapter's `tenant` option found it, cannot be used: an empty name
 * (never taken as "no tenant"), a name over 255 characters, or bad percent-encoding in a path.
 * Adapters answer 400.
 *
 * @example
 * ```ts
 * nodeSessions(tessera, { tenant: { header: 'x-tenant' } });
 * // a request with `X-Tenant:` empty that loads its session: TenantError, answered 400
 * ```
 */
export class TenantError extends TesseraError<'ERR_TENANT'> {
  constructor(message: string) {
    super('ERR_TENANT', message, { status: 400 });
  }
}

/**
 * An unsafe request (POST, PUT, PATCH, DELETE ...) was refused by the CSRF defences: a cross-site
 * request (Fetch Metadata or `Origin`), or a missing or invalid token. Adapters answer it with 403.
 *
 * @example
 * ```ts
 * tessera.on('csrfRejected', (e) => log.warn('csrf', { reason: e.reason, ref: e.ref }));
 * // and a handler that checks by hand:
 * if (!session.verifyCsrfToken(token)) throw new CsrfError('invalid-token');
 * ```
 */
export class CsrfError extends TesseraError<'ERR_CSRF'> {
  /** What failed: `cross-site`, `cross-origin`, `missing-token` or `invalid-token`. */
  readonly reason: 'cross-site' | 'cross-origin' | 'missing-token' | 'invalid-token';
  constructor(reason: CsrfError['reason'], detail?: string) {
    super('ERR_CSRF', detail ?? CSRF_MESSAGES[reason], { status: 403 });
    this.reason = reason;
  }
}

const CSRF_MESSAGES: Record<CsrfError['reason'], string> = {
  'cross-site': 'CSRF check failed: cross-site request refused (Sec-Fetch-Site)',
  'cross-origin': 'CSRF check failed: cross-origin request refused (Origin does not match Host)',
  'missing-token': 'CSRF check failed: the request carries no CSRF token',
  'invalid-token': "CSRF check failed: the CSRF token is not this session's (it changes with the session: reload the page)",
};

/**
 * A live push could not be handed to the bus that carries it to the other processes: the bus's
 * service (Redis, PostgreSQL) is down or the bus was closed. The push is not delivered anywhere;
 * streams stay open, and delivery resumes by itself when the service is back.
 *
 * @example
 * ```ts
 * try { await tessera.live.broadcast(session, { type: 'reload' }); }
 * catch (err) { if ((err as TesseraError).code === 'ERR_BUS_UNAVAILABLE') log.warn('push lost: bus down'); }
 * ```
 */
export class BusUnavailableError extends TesseraError<'ERR_BUS_UNAVAILABLE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_BUS_UNAVAILABLE', message, { ...options, status: 503 });
  }
}

/**
 * A live-tabs call was given something it cannot use: an event of an unknown type, a tab ID that
 * is not one the browser client makes, a cookie ticket that is forged, used or out of date.
 * Adapters answer it with its `status` (400, or 403 for a ticket).
 *
 * @example
 * ```ts
 * await tessera.live.push(session, 'not a tab id', { type: 'reload' }); // LiveError, code ERR_LIVE
 * ```
 */
export class LiveError extends TesseraError<'ERR_LIVE'> {
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super('ERR_LIVE', message, { cause: options?.cause, status: options?.status ?? 400 });
  }
}
