/**
 * The express-session compatible middleware behind `tessera/express` (see that module for the
 * overview): `session()`, `tesseraSession()`, `session.MemoryStore`. Built on the adapter kit; the
 * parts live beside it: `options` (express-session's options → tessera's, validated once),
 * `proxy` (client IP and HTTPS behind proxies), `session-object` (`req.session`), `nested`
 * (changes inside object values), `cookie` (`req.session.cookie` and the Secure-cookie rule),
 * `request` (one request's session).
 *
 * @module
 * @internal
 */
import { liveRoute } from '../../live/endpoint.js';
import { serveNodeLive } from '../../live/node.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestInput, SessionContext, Tessera } from '../../manager.js';
import type { Session } from '../../session.js';
import { ExpressMemoryStore } from './memory-store.js';
import { errorReply, PlainHttpWarning, requestInput } from '../kit.js';
import { mustCheckCsrf, nodeCsrfRequest } from '../csrf.js';
import { responseCookieSink } from '../node.js';
import { SecureCookieRule, SessionCookieImpl } from './cookie.js';
import { Migration } from './migrate.js';
import { SessionObject } from './session-object.js';
import { Store } from './store-compat.js';
import { resolveSettings, type ExpressSessionOptions } from './options.js';
import { expressClientIp, expressRequestIsSecure } from './proxy.js';
import { RequestSession, requestSessionOf, type ExpressRequest } from './request.js';
import { requestCookie, type RequestCookie } from './request-cookie.js';
import { GENERATE_ID } from '../../core/request.js';
import { TAB_HEADER } from '../../live/protocol.js';

export type { ExpressCookieOptions, ExpressSessionOptions } from './options.js';
export type { SessionCookieData, SessionCookie } from './cookie.js';
export type { SessionCallback, ExpressSession } from './session-object.js';

/**
 * The middleware {@link session} returns; `.tessera` is the manager behind it, for operations by
 * ID or by user.
 *
 * @example
 * ```ts
 * const sessions = session({ secret, resave: false, saveUninitialized: false });
 * app.use(sessions);
 * await sessions.tessera.destroyByUser(userId); // sign a user out everywhere
 * ```
 */
export interface SessionMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void;
  /** The session manager behind this middleware. */
  readonly tessera: Tessera;
}

/**
 * express-session compatible middleware: `app.use(session(options))` gives every request under
 * `cookie.path` a `req.session`, loaded before the next handler runs. A store that fails while
 * loading goes to `next(err)` with the typed error (`StoreUnavailableError`, status 503).
 *
 * @throws {@link ConfigError}, {@link SecretError} or {@link CookieConfigError} on bad options.
 * @example
 * ```ts
 * import express from 'express';
 * import session from 'tessera/express';
 * import { RedisStore } from 'tessera/stores/redis';
 *
 * const app = express();
 * app.use(session({
 *   secret: process.env.SESSION_SECRET!,
 *   store: new RedisStore({ url: process.env.REDIS_URL }),
 *   resave: false,
 *   saveUninitialized: false,
 *   cookie: { secure: true, maxAge: 7 * 24 * 3600_000 },
 * }));
 * ```
 */
export function session(options: ExpressSessionOptions = {}): SessionMiddleware {
  const settings = resolveSettings(options);
  const { tessera, proxy, tenant, cookieOf, appIds } = settings;
  const migration = Migration.from(options.migrateFrom, tessera);
  const { path } = tessera.options.cookie;
  const name = tessera.cookieName;
  const secureCookies = new SecureCookieRule(settings);
  const plainHttp = new PlainHttpWarning<ExpressRequest>(
    tessera,
    'tessera/express',
    (req) => expressRequestIsSecure(req, proxy),
    "set proxy: true or Express's trust proxy",
  );

  const live = tessera.options.live === null ? null : tessera.live;

  /** The session is loaded: give it to the request and run the next handlers, holding the commit while they run synchronously. */
  function proceed(req: ExpressRequest, res: ServerResponse, next: (err?: unknown) => void, ctx: SessionContext, core: Session, isSecure: () => boolean, own: RequestCookie | null): void {
    const handle = new RequestSession(settings, req, res, ctx, core, isSecure, own);
    handle.attach();
    // cookie(req)'s maxAge is the lifetime of the sessions this request starts.
    if (own?.maxAge !== undefined && core.isNew) {
      try {
        handle.setLifetime(own.maxAge);
      } catch (error) {
        return fail(res, next, ctx, error);
      }
    }
    try {
      next();
    } finally {
      handle.afterSynchronousCode();
      ctx.release();
    }
  }

  /** The session is loaded: with `migrateFrom`, an express-session session is adopted into it first (./migrate.ts). */
  function loaded(req: ExpressRequest, res: ServerResponse, next: (err?: unknown) => void, ctx: SessionContext, core: Session, isSecure: () => boolean, own: RequestCookie | null): void {
    const adopting = migration?.adopt(req.headers.cookie, res, core) ?? null;
    if (adopting === null) return proceed(req, res, next, ctx, core, isSecure, own);
    adopting.then(
      () => {
        ctx.hold(); // the adopted session's save released it
        proceed(req, res, next, ctx, core, isSecure, own);
      },
      (error: unknown) => fail(res, next, ctx, error),
    );
  }

  /** The session could not be loaded: the error goes to Express's error handlers. */
  function fail(res: ServerResponse, next: (err?: unknown) => void, ctx: SessionContext, error: unknown): void {
    ctx.release();
    // They answer the error's status (503 for a store outage); the Retry-After the kit answers an
    // outage with goes on the response for them.
    if (!res.headersSent && errorReply(error).retryAfter) res.setHeader('retry-after', '1');
    next(error);
  }

  function middleware(incoming: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void {
    const req = incoming as ExpressRequest;
    if (req.session) return next();
    let own: RequestCookie | null = null;
    if (cookieOf !== null) {
      try {
        own = requestCookie(cookieOf, req, tessera.options.cookie);
      } catch (error) {
        return next(error);
      }
    }
    const scope = own?.path ?? path;
    if (scope !== '/' && !pathOf(req).startsWith(scope)) return next();
    req.sessionStore = tessera.store;
    let secure: boolean | undefined;
    const isSecure = (): boolean => (secure ??= expressRequestIsSecure(req, proxy));
    let input: RequestInput;
    try {
      input = requestInput(cookieHeaderOf(req, name), expressClientIp(req, proxy), req.headers['user-agent'], tenant?.(req), req.headers[TAB_HEADER]);
    } catch (error) {
      // An empty tenant (TenantError, status 400) or a resolver that threw: Express's error handlers answer it.
      return next(error);
    }
    const sink = secureCookies.sink(responseCookieSink(res, name, plainHttp, req), isSecure, own);
    // genid: the sink of this request chooses the IDs of the sessions it starts.
    if (appIds !== null) sink[GENERATE_ID] = () => appIds.generate(req);
    const ctx = tessera.begin(input, sink);
    if (live !== null) {
      // Live tabs on: their routes (under live.path) are answered here; the app never sees them.
      const route = liveRoute(live, req.originalUrl ?? req.url ?? '/');
      if (route !== null) {
        serveNodeLive(tessera, route, ctx, req, res).catch((error: unknown) => fail(res, next, ctx, error));
        return;
      }
    }
    // Held from the load until the next handlers' synchronous code returns: what the load queues
    // (a touch, a new session stored) and what a synchronous route changes make one commit,
    // started when `next()` returns — and written by then on a store that answers synchronously.
    ctx.hold();
    // An unsafe request passes the CSRF check first (refused: 403 through Express's error handlers).
    if (mustCheckCsrf(tessera, req.method ?? 'GET')) {
      Promise.resolve(tessera.checkCsrf(ctx, nodeCsrfRequest(tessera, req, req.originalUrl ?? req.url))).then(
        (refused) => (refused === null ? load(req, res, next, ctx, isSecure, own) : fail(res, next, ctx, refused)),
        (error: unknown) => fail(res, next, ctx, error),
      );
      return;
    }
    load(req, res, next, ctx, isSecure, own);
  }

  /** Load the request's session, then run the next handlers. */
  function load(req: ExpressRequest, res: ServerResponse, next: (err?: unknown) => void, ctx: SessionContext, isSecure: () => boolean, own: RequestCookie | null): void {
    if (tessera.loadsSynchronously) {
      // Memory, SQLite, a cookie: the session is there at once, and the route runs in this tick.
      let core: Session;
      try {
        core = ctx.loadSync();
      } catch (error) {
        return fail(res, next, ctx, error);
      }
      return loaded(req, res, next, ctx, core, isSecure, own);
    }
    ctx.load().then(
      (core) => loaded(req, res, next, ctx, core, isSecure, own),
      (error: unknown) => fail(res, next, ctx, error),
    );
  }

  return Object.defineProperty(middleware, 'tessera', { value: tessera, enumerable: true }) as SessionMiddleware;
}

/**
 * express-session's `session.MemoryStore`: tessera's `MemoryStore` (sessions load without a
 * promise), answering express-session's store API by session ID too ({@link ExpressMemoryStore}).
 */
session.MemoryStore = ExpressMemoryStore;

/** express-session's `session.Store`: extend it to write an express-session store ({@link Store}). */
session.Store = Store;

/** express-session's `session.Session`: the class of `req.session` (`req.session instanceof session.Session`). */
session.Session = SessionObject;

/** express-session's `session.Cookie`: the class of `req.session.cookie` (`req.session.cookie instanceof session.Cookie`). */
session.Cookie = SessionCookieImpl;

/**
 * The tessera {@link Session} behind `req.session`, for what express-session has no API for:
 * `userId` (list and sign out a user's sessions), `rememberMe()`, `meta`, `regenerate({ keepData })`.
 *
 * @throws `TypeError` when the request has no session (the middleware did not run for it).
 * @example
 * ```ts
 * app.post('/login', async (req, res) => {
 *   await req.session.regenerate();
 *   tesseraSession(req).userId = user.id;       // now listed by tessera.listByUser(user.id)
 *   res.redirect('/');
 * });
 * ```
 */
export function tesseraSession(req: IncomingMessage): Session {
  const handle = requestSessionOf(req as ExpressRequest);
  if (handle === undefined) throw new TypeError('this request has no session: is session() mounted before this route?');
  return handle.core;
}

/**
 * The request's `Cookie` header, or — when it carries no session cookie and cookie-parser (or
 * another middleware) left one in `req.signedCookies` or `req.cookies` — that cookie, as
 * express-session reads it from there too.
 */
function cookieHeaderOf(req: ExpressRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  const parsed = (req as { signedCookies?: Record<string, unknown>; cookies?: Record<string, unknown> });
  if (parsed.signedCookies === undefined && parsed.cookies === undefined) return header;
  if (header !== undefined && header.includes(`${name}=`)) return header;
  const value = parsed.signedCookies?.[name] ?? parsed.cookies?.[name];
  // A cookie value (no separators), never a way to add other cookies to the header.
  if (typeof value !== 'string' || !/^[\x21-\x2b\x2d-\x3a\x3c-\x7e]+$/.test(value)) return header;
  const pair = `${name}=${value}`;
  return header === undefined || header === '' ? pair : `${header}; ${pair}`;
}

function pathOf(req: ExpressRequest): string {
  const url = req.originalUrl ?? req.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

