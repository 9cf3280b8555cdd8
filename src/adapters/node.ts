/**
 * node:http adapter: wrap a request handler, or load the session per request. Built on the
 * adapter kit: the Set-Cookie header is put on the response as soon as the session needs it
 * (before the head is sent); the body is never buffered and `res.write` is left alone, so
 * streaming and SSE work. On a store that answers asynchronously, `res.end()` of a request whose
 * session was loaded waits for its commit (unless the response streamed), so the next request sees
 * every write.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { NotSupportedError } from '../errors.js';
import { mustCheckCsrf, nodeCsrfRequest } from './csrf.js';
import { liveRoute } from '../live/endpoint.js';
import { serveNodeLive } from '../live/node.js';
import type { CookieSink, SessionContext, Tessera } from '../manager.js';
import type { Session } from '../session.js';
import {
  clientIp,
  cookieSink,
  errorReply,
  FailureLog,
  handlerDone,
  headerText,
  PlainHttpWarning,
  requestInput,
  requestIsSecure,
  resolveAdapterOptions,
  setCookieLines,
  type AdapterOptions,
  type RequestParts,
  type SetCookieHeaders,
} from './kit.js';
import { TAB_HEADER } from '../live/protocol.js';
import { holdEnd, type EndingSession, type HeldEnd } from './response-end.js';

/** What a held `res.end()` asks of a node:http request's session: its commit, if one is pending. */
function endingSession(tessera: Tessera, ctx: SessionContext): EndingSession {
  return {
    beforeEnd() {},
    pending: () => (ctx.settled ? undefined : ctx.settle()),
    report: (error) => tessera.reportError(error),
  };
}

export { adminPage } from '../admin-page/node.js';
export type { AdminGuard, AdminPageOptions } from '../admin-page/router.js';
export type { SamplerOptions } from '../admin-page/sampler.js';

/**
 * Options of {@link nodeSessions}: `trustProxy` and `tenant` (see the adapter kit).
 *
 * @example
 * ```ts
 * nodeSessions(tessera, { trustProxy: 1, tenant: { host: true } });
 * nodeSessions(tessera, { tenant: (req) => (req.headers['x-tenant'] as string | undefined) ?? null });
 * ```
 */
export type NodeSessionsOptions = AdapterOptions<IncomingMessage>;

const RESOLVED: Promise<void> = Promise.resolve();

/** A node:http request handler. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** What {@link nodeSessions} returns. */
export interface NodeSessions {
  /**
   * Wrap a handler: sessions are loaded lazily by {@link NodeSessions.load}, committed when the
   * handler returns (or its promise settles), and store failures become 503 responses.
   */
  wrap(handler: NodeHandler): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /**
   * The request's session, loaded on the first call (later calls return the same session). Works
   * inside {@link NodeSessions.wrap} or on its own.
   */
  load(req: IncomingMessage, res: ServerResponse): Promise<Session>;
  /**
   * The request's session without a promise, for a store that answers synchronously (memory,
   * SQLite; see {@link Tessera.loadsSynchronously}): a handler using it can be a plain function.
   * Throws {@link NotSupportedError} with other stores.
   */
  loadSync(req: IncomingMessage, res: ServerResponse): Session;
  /** The per-request context: for adapters built on this one. */
  context(req: IncomingMessage, res: ServerResponse): SessionContext;
  /** Whether the request came over HTTPS (TLS, or `X-Forwarded-Proto` from a trusted proxy). */
  isSecure(req: IncomingMessage): boolean;
  /** The session manager behind these sessions. */
  readonly tessera: Tessera;
}

/**
 * How the tenant rules read a node request (and an Express one: `originalUrl` when Express set it,
 * the whole path even under a mounted router).
 *
 * @example
 * ```ts
 * resolveAdapterOptions(options, 'tessera/node', NODE_REQUEST_PARTS);
 * ```
 */
export const NODE_REQUEST_PARTS: RequestParts<IncomingMessage> = {
  header: (req, name) => headerText(req.headers[name]),
  path: (req) => (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/',
};

/**
 * The {@link CookieSink} of a Node `ServerResponse` (the adapter kit's, over `getHeader` /
 * `setHeader`): shared by the adapters whose responses are node's (node:http, Express). With
 * `plainHttp` and the request, a Secure cookie sent over plain HTTP is warned about.
 *
 * @example
 * ```ts
 * const sink = responseCookieSink(res, tessera.cookieName, plainHttp, req);
 * ```
 */
export function responseCookieSink<Req extends IncomingMessage>(res: ServerResponse, name: string, plainHttp?: PlainHttpWarning<Req>, req?: Req): CookieSink {
  return cookieSink(new ResponseSetCookie(res), name, plainHttp, req);
}

/** The `Set-Cookie` lines of a Node `ServerResponse`. */
class ResponseSetCookie implements SetCookieHeaders {
  readonly #res: ServerResponse;

  constructor(res: ServerResponse) {
    this.#res = res;
  }

  read(): readonly string[] {
    return setCookieLines(this.#res.getHeader('set-cookie'));
  }

  write(lines: readonly string[]): void {
    if (lines.length === 0) this.#res.removeHeader('set-cookie');
    else this.#res.setHeader('set-cookie', lines);
  }

  sent(): boolean {
    return this.#res.headersSent;
  }
}

/**
 * Answer an error that escaped a handler, if the head has not gone out (else end the connection):
 * a {@link TesseraError}'s status and message (503 for an unavailable store), otherwise a bare
 * 500. Never leaks other errors' messages.
 *
 * @example
 * ```ts
 * handler(req, res).catch((err) => respondWithError(res, err));
 * ```
 */
export function respondWithError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.destroy(error instanceof Error ? error : undefined);
    return;
  }
  const { status, message, retryAfter } = errorReply(error);
  res.statusCode = status;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  if (retryAfter) res.setHeader('retry-after', '1');
  res.end(message);
}

/**
 * Sessions for node:http.
 *
 * @throws {@link ConfigError} on bad options.
 * @example
 * ```ts
 * import http from 'node:http';
 * import { createTessera } from 'tessera';
 * import { nodeSessions } from 'tessera/node';
 *
 * const sessions = nodeSessions(createTessera({ secrets: [process.env.SESSION_SECRET!] }));
 * http.createServer(sessions.wrap(async (req, res) => {
 *   const session = await sessions.load(req, res);
 *   const views = (session.get<number>('views') ?? 0) + 1;
 *   session.set('views', views);
 *   res.end(`views: ${views}`);
 * })).listen(3000);
 * ```
 */
export function nodeSessions(tessera: Tessera, options: NodeSessionsOptions = {}): NodeSessions {
  const { hops, tenant } = resolveAdapterOptions(options, 'tessera/node', NODE_REQUEST_PARTS);
  const failures = new FailureLog(tessera);
  const isSecure = (req: IncomingMessage): boolean =>
    requestIsSecure((req.socket as TLSSocket | undefined)?.encrypted === true, req.headers['x-forwarded-proto'], hops);
  const plainHttp = new PlainHttpWarning(tessera, 'tessera/node', isSecure, 'pass trustProxy so its X-Forwarded-Proto is believed');
  // One symbol per instance, so two session managers on one request keep apart.
  const kContext = Symbol('tessera.context');
  const kHeld = Symbol('tessera.heldEnd');
  type WithContext = IncomingMessage & { [kContext]?: SessionContext; [kHeld]?: HeldEnd };
  // A property on the request, not a WeakMap: the context points back at the request (through the
  // response), and such WeakMap entries are ephemerons that cost the garbage collector dearly.
  const name = tessera.cookieName;

  /** The request whose handler `wrap` is running synchronously right now, if any. */
  let holding: IncomingMessage | null = null;

  function context(req: IncomingMessage, res: ServerResponse): SessionContext {
    let ctx = (req as WithContext)[kContext];
    if (ctx === undefined) {
      const ip = clientIp(req.headers['x-forwarded-for'], req.socket?.remoteAddress, hops);
      // The tenant first: an empty one throws TenantError (400) before anything is begun.
      const input = requestInput(req.headers.cookie, ip, req.headers['user-agent'], tenant?.(req), req.headers[TAB_HEADER]);
      ctx = tessera.begin(input, responseCookieSink(res, name, plainHttp, req));
      (req as WithContext)[kContext] = ctx;
      // Read-your-writes: on a store that answers asynchronously, res.end() waits for the commit.
      if (!tessera.loadsSynchronously) (req as WithContext)[kHeld] = holdEnd(res, endingSession(tessera, ctx));
      // Made while `wrap` runs this request's handler: held until the handler returns.
      if (holding === req) ctx.hold();
    }
    return ctx;
  }

  function fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    // A commit that failed after the head went out, or after the app ended the response (its end
    // held for the commit), is reported; the response is left alone.
    if (failures.afterHead(error, res.headersSent || (req as WithContext)[kHeld]?.called === true)) return;
    failures.log(error);
    respondWithError(res, error);
  }

  /** The handler of `req` returned: start its commit and wait for it, unless the response is complete. */
  function finish(req: IncomingMessage, res: ServerResponse): Promise<void> | undefined {
    // Once the response is complete there is nothing left to answer: a commit still running
    // reports its own failure (the `commitError` event, or the logger).
    // A held end (read-your-writes) waits for the commit itself, and reports its failure.
    const complete = res.writableEnded || (req as WithContext)[kHeld]?.called === true;
    return handlerDone((req as WithContext)[kContext], complete)?.catch((error: unknown) => fail(req, res, error));
  }

  async function afterAsync(req: IncomingMessage, res: ServerResponse, result: PromiseLike<unknown>): Promise<void> {
    try {
      await result;
    } catch (error: unknown) {
      (req as WithContext)[kContext]?.release();
      fail(req, res, error);
      return;
    }
    await finish(req, res);
  }

  async function guarded(req: IncomingMessage, res: ServerResponse, run: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<void> {
    let refused;
    try {
      refused = await tessera.checkCsrf(context(req, res), nodeCsrfRequest(tessera, req, req.url));
    } catch (error: unknown) {
      fail(req, res, error);
      return;
    }
    if (refused !== null) fail(req, res, refused);
    else await run(req, res);
  }

  function runner(handler: NodeHandler): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
    // The context is held while the handler's synchronous code runs: the changes it makes are
    // committed when it returns, at once (a store that answers synchronously has written them
    // before this returns), instead of on the next tick. A handler that returns at once (one
    // using loadSync) costs no promise here; an async one costs one await. The context is still
    // made lazily, on the handler's first load, so a request that never loads costs nothing.
    return (req, res) => {
      // (A context made before wrap ran, by the app's own code, is not held: its commits take
      // the next tick, as they would without wrap.)
      const previous = holding;
      let result: unknown;
      holding = req;
      try {
        result = handler(req, res);
      } catch (error: unknown) {
        holding = previous;
        (req as WithContext)[kContext]?.release();
        fail(req, res, error);
        return RESOLVED;
      } finally {
        holding = previous;
      }
      if (result !== null && typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
        // An async handler: its synchronous part's changes go now; the rest when it settles.
        (req as WithContext)[kContext]?.release();
        return afterAsync(req, res, result as PromiseLike<unknown>);
      }
      return finish(req, res) ?? RESOLVED;
    };
  }

  return {
    tessera,
    context,
    load(req, res) {
      let ctx: SessionContext;
      try {
        ctx = context(req, res);
      } catch (error) {
        // A refused tenant (TenantError, 400), or a resolver that threw: a rejection, as load promises.
        return Promise.reject(error);
      }
      return ctx.load();
    },
    loadSync: (req, res) => context(req, res).loadSync(),
    isSecure,
    wrap(handler) {
      const run = runner(handler);
      const live = tessera.options.live === null ? null : tessera.live;
      // An unsafe request passes the CSRF check first (which loads its session).
      const serve = (req: IncomingMessage, res: ServerResponse): Promise<void> => (mustCheckCsrf(tessera, req.method ?? 'GET') ? guarded(req, res, run) : run(req, res));
      if (live === null) return serve;
      // Live tabs on: their routes (under live.path) are answered here, before the app's handler.
      return (req, res) => {
        const route = liveRoute(live, req.url ?? '/');
        if (route === null) return serve(req, res);
        let ctx: SessionContext;
        try {
          ctx = context(req, res);
        } catch (error) {
          fail(req, res, error);
          return RESOLVED;
        }
        return serveNodeLive(tessera, route, ctx, req, res).then(
          () => {
            // An open stream needs no session (the hub holds its handle): let the context go with it.
            if (route === 'stream') (req as WithContext)[kContext] = undefined;
          },
          (error: unknown) => fail(req, res, error),
        );
      };
    },
  };
}
