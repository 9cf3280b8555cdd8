/**
 * Hono adapter: `app.use(sessions(options))` gives every request a typed `c.get('session')` — a
 * tessera {@link Session}, loaded before the next handler runs. Built on the adapter kit, for Hono
 * on Node (`@hono/node-server`, where the client's address and TLS come from the socket); the
 * same middleware runs socket-free under `app.request()`.
 *
 * The response is never buffered: the session's `Set-Cookie` line goes onto `c.res` when the
 * handlers are done and the session is committed, next to the app's own cookies, so `stream()`,
 * `streamSSE()` and any `Response` with a stream body go out untouched, with the cookie on the head.
 *
 * @example
 * ```ts
 * import { serve } from '@hono/node-server';
 * import { Hono } from 'hono';
 * import { sessions } from 'tessera/hono';
 *
 * const app = new Hono();
 * app.use(sessions({ secrets: [process.env.SESSION_SECRET!] }));
 * app.get('/', (c) => c.text(`views: ${c.get('session').update<number>('views', (n) => (n ?? 0) + 1)}`));
 * serve(app);
 * ```
 * @module
 */
import type { Context, MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ConfigError, TesseraError } from '../errors.js';
import { liveRoute } from '../live/endpoint.js';
import { serveWebLive } from '../live/web.js';
import { createTessera, type CreateTesseraOptions } from '../index.js';
import { Tessera, type CsrfRequest } from '../manager.js';
import { mustCheckCsrf } from './csrf.js';
import type { Session } from '../session.js';
import type { SessionData } from '../session-values.js';
import {
  clientIp,
  cookieSink,
  errorReply,
  FailureLog,
  handlerDone,
  PlainHttpWarning,
  requestInput,
  requestIsSecure,
  resolveAdapterOptions,
  type AdapterOptions,
  type RequestParts,
  type SetCookieHeaders,
} from './kit.js';
import { TAB_HEADER } from '../live/protocol.js';

export { adminPage } from '../admin-page/hono.js';
export type { AdminGuard, AdminPageOptions } from '../admin-page/router.js';
export type { SamplerOptions } from '../admin-page/sampler.js';

/**
 * The context variables {@link sessions} sets: `session`, the request's {@link Session}. Put it in
 * your app's type to type your session data (as Hono's own middleware export theirs); without
 * that, importing `tessera/hono` already types `c.get('session')` as a `Session` in every app.
 *
 * @example
 * ```ts
 * type Data = { views: number; cart: string[] };
 * const app = new Hono<{ Variables: SessionVariables<Data> }>();
 * app.get('/', (c) => c.json(c.get('session').get('cart') ?? [])); // string[]
 * ```
 */
export type SessionVariables<Data extends SessionData = SessionData> = {
  /** The request's session. Set by `tessera/hono`. */
  session: Session<Data>;
};

declare module 'hono' {
  // Every app that imports tessera/hono gets `c.get('session')` typed, like hono/jwt's `jwtPayload`.
  interface ContextVariableMap extends SessionVariables {}
}

/**
 * Options of {@link sessions}: a `tessera` manager to share, or `createTessera`'s options to make
 * one (`secrets`, `store`, `cookie`, `idleTimeout`, ... — the store defaults to SQLite at
 * `./data/sessions.db`); and the adapter's own `trustProxy` and `tenant`.
 *
 * @example
 * ```ts
 * const tessera = createTessera({ secrets: [process.env.SESSION_SECRET!], store: new RedisStore({ url }) });
 * app.use(sessions({ tessera, trustProxy: 1, tenant: { host: true } }));
 * app.use(sessions({ tessera, tenant: (c) => c.req.header('x-tenant') ?? null }));
 * ```
 */
export interface HonoSessionsOptions extends CreateTesseraOptions, AdapterOptions<Context> {
  /**
   * Use this manager (to share it with operations by ID, or with other adapters). Its own options
   * then apply: pass only `trustProxy` and `tenant` next to it.
   */
  tessera?: Tessera;
}

/**
 * What {@link sessions} returns: the Hono middleware, with the manager behind it and the request's
 * HTTPS-ness as this middleware sees it.
 *
 * @example
 * ```ts
 * const sessionMiddleware = sessions({ secrets: [process.env.SESSION_SECRET!] });
 * app.use(sessionMiddleware);
 * await sessionMiddleware.tessera.destroyByUser(userId); // sign a user out everywhere
 * ```
 */
export type SessionsMiddleware = MiddlewareHandler<{ Variables: SessionVariables }> & {
  /** The session manager behind this middleware. */
  readonly tessera: Tessera;
  /**
   * Whether the request came over HTTPS: the socket's TLS on `@hono/node-server` (elsewhere the
   * request URL's scheme), or `X-Forwarded-Proto: https` from a trusted proxy (`trustProxy`).
   */
  isSecure(c: Context): boolean;
};

/** The bindings `@hono/node-server` gives `c.env` (read as `getConnInfo` reads them). */
interface NodeBindings {
  incoming?: NodeIncoming;
  server?: { incoming?: NodeIncoming };
}
interface NodeIncoming {
  socket?: { remoteAddress?: string; encrypted?: boolean };
  /** Node's parsed request headers (lower-case names). */
  headers?: Record<string, string | string[] | undefined>;
}

/**
 * The session's `Set-Cookie` line until the response is final: the middleware adds it to `c.res`
 * when the handlers are done; after the middleware returned, the response has left and nothing
 * more can be set (`sent`).
 */
class PendingSetCookie implements SetCookieHeaders {
  lines: readonly string[] = [];
  left = false;
  read(): readonly string[] {
    return this.lines;
  }
  write(lines: readonly string[]): void {
    this.lines = lines;
  }
  sent(): boolean {
    return this.left;
  }
}

/** The Node request behind `c`, when the app runs on `@hono/node-server`. */
function nodeIncoming(c: Context): NodeIncoming | undefined {
  const env = c.env as NodeBindings | undefined;
  return env?.incoming ?? env?.server?.incoming;
}

const ADAPTER_OPTIONS = new Set(['tessera', 'trustProxy', 'tenant']);

/** How the tenant rules read a Hono request: node's parsed headers on `@hono/node-server`, the Web request's elsewhere. */
const HONO_REQUEST_PARTS: RequestParts<Context> = {
  header: (c, name) => {
    const headers = nodeIncoming(c)?.headers;
    return headers === undefined ? (c.req.raw.headers.get(name) ?? undefined) : firstValue(headers[name]);
  },
  // The path as sent (c.req.path is already decoded): the rules decode the tenant once, as in every adapter.
  path: (c) => {
    const url = c.req.url;
    const start = url.indexOf('/', url.indexOf('://') + 3);
    return start === -1 ? '/' : url.slice(start);
  },
};

/** Validate the options once: the manager to use (given or made here) and the adapter's own. */
function resolveOptions(options: HonoSessionsOptions) {
  if (options instanceof Tessera) throw new ConfigError('tessera/hono: pass the manager as sessions({ tessera })');
  const adapter = resolveAdapterOptions<Context>(options, 'tessera/hono', HONO_REQUEST_PARTS);
  const { tessera: given, trustProxy: _trustProxy, tenant: _tenant, ...manager } = options;
  if (given === undefined) return { ...adapter, tessera: createTessera(manager) };
  if (!(given instanceof Tessera)) throw new ConfigError('tessera/hono: tessera must be a Tessera (from createTessera)');
  const extra = Object.keys(options).filter((key) => !ADAPTER_OPTIONS.has(key) && options[key as keyof HonoSessionsOptions] !== undefined);
  if (extra.length > 0) {
    throw new ConfigError(`tessera/hono: with tessera, the manager's own options apply; pass ${extra.join(', ')} to createTessera instead`);
  }
  return { ...adapter, tessera: given };
}

/**
 * Sessions for Hono: `app.use(sessions(options))`, then `c.get('session')` in any later handler.
 *
 * - The session is loaded before `next()`: at once on stores that answer synchronously (memory,
 *   SQLite, the encrypted cookie), awaited on others. Mount the middleware on the paths that use
 *   sessions (`app.use('/app/*', ...)`): with a session cookie, every request it runs for reads
 *   the store. Mounted twice on one request, it runs once.
 * - Changes are committed right after the synchronous code that made them (the downstream
 *   handlers' first synchronous stretch commits as soon as `next()` returns). After `await next()`
 *   the middleware waits for the commits, then adds the session's `Set-Cookie` line to `c.res` —
 *   next to the app's own cookies, on whatever response the handlers (or `app.onError`) made.
 *   A handler that threw still commits what it changed, as with the other adapters.
 * - A store failure, while loading or committing, throws an `HTTPException` with the tessera error
 *   as its `cause`: status 503 for a store outage, whose response carries `Retry-After: 1`.
 *   Hono's default error handler answers it as is; so does an `app.onError` that returns
 *   `err.getResponse()` for an `HTTPException`, as Hono's documentation shows. Other errors reach
 *   `app.onError` as they were thrown.
 * - A streamed body is left alone. A change made after the response left the middleware (in a
 *   `stream()` callback, say) is still committed, but can no longer set a cookie: writing to a
 *   session that has none yet throws `SessionStateError` in that callback, as does `regenerate()`.
 *
 * The client IP (for `bindIp`, `session.meta.ip`) is the socket's address on `@hono/node-server`,
 * or behind `trustProxy` the `X-Forwarded-For` entry the outermost trusted proxy added; on other
 * runtimes it is `null` unless a proxy is trusted.
 *
 * @throws {@link ConfigError}, {@link SecretError} or {@link CookieConfigError} on bad options.
 * @example
 * ```ts
 * import { serve } from '@hono/node-server';
 * import { Hono } from 'hono';
 * import { sessions } from 'tessera/hono';
 *
 * const app = new Hono();
 * app.use(sessions({ secrets: [process.env.SESSION_SECRET!] })); // >= 32 bytes
 * app.get('/', (c) => {
 *   const session = c.get('session');
 *   const views = (session.get<number>('views') ?? 0) + 1;
 *   session.set('views', views);
 *   return c.text(`views: ${views}`);
 * });
 * serve(app);
 * ```
 */
export function sessions(options: HonoSessionsOptions = {}): SessionsMiddleware {
  const { tessera, hops, tenant } = resolveOptions(options);
  const failures = new FailureLog(tessera);
  const name = tessera.cookieName;
  const loadsSynchronously = tessera.loadsSynchronously;
  const isSecure = (c: Context): boolean => {
    const incoming = nodeIncoming(c);
    const encrypted = incoming !== undefined ? incoming.socket?.encrypted === true : c.req.url.startsWith('https:');
    return requestIsSecure(encrypted, hops > 0 ? (c.req.raw.headers.get('x-forwarded-proto') ?? undefined) : undefined, hops);
  };
  const live = tessera.options.live === null ? null : tessera.live;
  const plainHttp = new PlainHttpWarning(tessera, 'tessera/hono', isSecure, 'pass trustProxy so its X-Forwarded-Proto is believed');

  /** A session failure as Hono expects it: an HTTPException with the right status, or the error itself. */
  function toHttpError(error: unknown): unknown {
    const { status, message, retryAfter } = errorReply(error);
    // Unexpected errors go to app.onError untouched (Hono's default logs them and answers 500).
    if (status === 500) return error;
    failures.log(error);
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
    if (retryAfter) headers['retry-after'] = '1';
    return new HTTPException(status as ConstructorParameters<typeof HTTPException>[0], { res: new Response(message, { status, headers }), message, cause: error });
  }

  const middleware: MiddlewareHandler<{ Variables: SessionVariables }> = async (c, next) => {
    if (c.get('session') !== undefined) return next();
    const outgoing = new PendingSetCookie();
    const incoming = nodeIncoming(c);
    // On @hono/node-server, node's parsed headers: no Headers object to make.
    const nodeHeaders = incoming?.headers;
    const header = nodeHeaders === undefined ? (name: string) => c.req.raw.headers.get(name) ?? undefined : (name: string) => firstValue(nodeHeaders[name]);
    const ip = clientIp(hops > 0 ? header('x-forwarded-for') : undefined, incoming?.socket?.remoteAddress, hops);
    let tenantName: string | null | undefined;
    try {
      tenantName = tenant?.(c);
    } catch (error) {
      // An empty tenant: TenantError (400), answered as an HTTPException. A resolver that threw: app.onError.
      throw toHttpError(error);
    }
    const ctx = tessera.begin(requestInput(header('cookie'), ip, header('user-agent'), tenantName, header(TAB_HEADER)), cookieSink(outgoing, name, plainHttp, c));
    if (live !== null) {
      // Live tabs on: their routes (under live.path) are answered here; the app's handlers never see them.
      const url = HONO_REQUEST_PARTS.path(c);
      const route = liveRoute(live, url);
      if (route !== null) {
        try {
          return await serveWebLive(tessera, route, ctx, { method: c.req.method, url, header }, c.req.raw, () => handlerDone(ctx, false), () => outgoing.lines);
        } catch (error) {
          throw toHttpError(error);
        } finally {
          outgoing.left = true;
        }
      }
    }
    try {
      let session: Session;
      try {
        session = loadsSynchronously ? ctx.loadSync() : await ctx.load();
      } catch (error) {
        throw toHttpError(error);
      }
      c.set('session', session);
      if (mustCheckCsrf(tessera, c.req.method)) {
        let refused;
        try {
          refused = await tessera.checkCsrf(ctx, honoCsrfRequest(c, header));
        } catch (error) {
          throw toHttpError(error);
        }
        if (refused !== null) throw toHttpError(refused);
      }
      // Held while the downstream handlers' synchronous code runs: what it changed is committed
      // when next() returns (on a synchronous store, written by then), not a tick later. Holding
      // across `await next()` would delay every commit to the end of the request, against the
      // contract that a change is committed right after the synchronous code that made it.
      ctx.hold();
      let downstream: Promise<void>;
      try {
        downstream = next();
      } finally {
        ctx.release();
      }
      await downstream;
      // A tessera error a handler threw (PayloadTooLargeError from session.set, say) reached Hono's
      // default error handler, which answers 500 for anything but an HTTPException: answer it with
      // its own status instead. An app's onError that answered otherwise is left alone.
      if (c.error instanceof TesseraError && c.error.status !== 500 && c.res.status === 500) {
        c.res = (toHttpError(c.error) as HTTPException).getResponse();
      }
      const pending = handlerDone(ctx, false);
      if (pending !== undefined) {
        try {
          await pending;
        } catch (error) {
          throw toHttpError(error);
        }
      }
      for (const line of outgoing.lines) appendSetCookie(c, line);
    } finally {
      outgoing.left = true;
    }
  };

  return Object.assign(middleware, { tessera, isSecure });

  /** The CSRF check's view of a Hono request; the form field is read through Hono's (cached) body parser. */
  function honoCsrfRequest(c: Context, header: (name: string) => string | undefined): CsrfRequest {
    const { header: tokenHeader, field } = tessera.csrf;
    return {
      method: c.req.method,
      path: c.req.path,
      host: header('host'),
      origin: header('origin'),
      secFetchSite: header('sec-fetch-site'),
      token: header(tokenHeader),
      formToken: () => {
        const type = header('content-type')?.split(';', 1)[0]!.trim().toLowerCase();
        if (type !== 'application/x-www-form-urlencoded' && type !== 'multipart/form-data') return undefined;
        return c.req.parseBody().then(
          (body) => (typeof body[field] === 'string' ? body[field] : undefined),
          () => undefined,
        );
      },
    };
  }
}

/** A header of node's parsed headers as one string. */
function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Add a `Set-Cookie` line to the final response, keeping the lines already there. */
function appendSetCookie(c: Context, line: string): void {
  try {
    c.res.headers.append('set-cookie', line);
  } catch {
    // A response with immutable headers (from fetch() or Response.redirect()): c.header copies it
    // (same body, not read) into one whose headers can change.
    c.header('set-cookie', line, { append: true });
  }
}
