/**
 * node:http adapter: wrap a request handler, or load the session per request. The Set-Cookie
 * header is put on the response as soon as the session needs it (before the head is sent); the
 * body is never buffered and `res.end` is never replaced, so streaming and SSE work.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StoreUnavailableError, TesseraError, type NotSupportedError } from '../errors.js';
import type { SessionContext, Tessera } from '../manager.js';
import type { CookieSink } from '../core/request.js';
import type { Session } from '../session.js';

/** Options of {@link nodeSessions}. */
export interface NodeSessionsOptions {
  /**
   * How many proxies in front of the app to trust for the client IP: `true` is one. The client is
   * the `X-Forwarded-For` entry that many places from the right (each proxy appends the address it
   * saw; entries further left are whatever the client sent). Default `false`: the socket's address.
   */
  trustProxy?: boolean | number;
  /** The tenant of a request (for example from its Host header). Default: no tenants. */
  tenant?: (req: IncomingMessage) => string | null | undefined;
}

const RESOLVED: Promise<void> = Promise.resolve();

/** A node:http request handler. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** What {@link nodeSessions} returns. */
export interface NodeSessions {
  /**
   * Wrap a handler: sessions are loaded lazily by {@link NodeSessions.load}, committed after the
   * handler, and store failures become 503 responses.
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
}

/**
 * A {@link CookieSink} writing to a Node `ServerResponse`: appends to `Set-Cookie`, replacing an
 * earlier line for the same cookie name, and refuses once headers are sent. Shared by the adapters
 * built on node:http (Express, Fastify's raw response).
 *
 * @example
 * ```ts
 * const sink = responseCookieSink(res, tessera.cookieName);
 * ```
 */
export function responseCookieSink(res: ServerResponse, name: string): CookieSink {
  // Closures, not a class: an adapter may take the methods apart.
  return {
    writable: () => !res.headersSent,
    setCookie(line) {
      if (res.headersSent) return false;
      const previous = res.getHeader('set-cookie');
      if (previous === undefined) {
        res.setHeader('set-cookie', line);
      } else {
        const prefix = `${name}=`;
        const lines = (Array.isArray(previous) ? previous : [String(previous)]).filter((l) => !l.startsWith(prefix));
        lines.push(line);
        res.setHeader('set-cookie', lines);
      }
      return true;
    },
    withdrawCookie() {
      if (res.headersSent) return;
      const previous = res.getHeader('set-cookie');
      if (previous === undefined) return;
      const prefix = `${name}=`;
      const lines = (Array.isArray(previous) ? previous : [String(previous)]).filter((l) => !l.startsWith(prefix));
      if (lines.length === 0) res.removeHeader('set-cookie');
      else res.setHeader('set-cookie', lines);
    },
  };
}

/**
 * The client address of a request: the socket's, or behind `trustProxy` proxies the
 * `X-Forwarded-For` entry the outermost trusted proxy appended (counted from the right, so a
 * client cannot choose its own address by sending the header). With fewer entries than trusted
 * proxies, the leftmost entry.
 *
 * @example
 * ```ts
 * // X-Forwarded-For: 198.51.100.1 (spoofed), 203.0.113.7 (added by your load balancer)
 * clientIp(req, 1); // '203.0.113.7'
 * ```
 */
export function clientIp(req: IncomingMessage, trustProxy: boolean | number): string | null {
  const hops = trustProxy === true ? 1 : trustProxy === false ? 0 : Math.max(0, Math.floor(trustProxy));
  if (hops > 0) {
    const header = req.headers['x-forwarded-for'];
    const entries = (Array.isArray(header) ? header.join(',') : header)?.split(',').map((e) => e.trim()).filter(Boolean);
    if (entries && entries.length > 0) return entries[Math.max(0, entries.length - hops)]!;
  }
  return req.socket?.remoteAddress ?? null;
}

/**
 * Answer an error that escaped a handler: a {@link TesseraError}'s status and message (503 for an
 * unavailable store), otherwise a bare 500. Never leaks other errors' messages.
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
  const known = error instanceof TesseraError && error.status !== 500;
  res.statusCode = known ? error.status : 500;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  if (known && error.status === 503) res.setHeader('retry-after', '1');
  res.end(known ? error.message : 'Internal Server Error');
}

/**
 * Sessions for node:http.
 *
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
  const trustProxy = options.trustProxy ?? false;
  const tenantOf = options.tenant;
  // One symbol per instance, so two session managers on one request keep apart.
  const kContext = Symbol('tessera.context');
  type WithContext = IncomingMessage & { [kContext]?: SessionContext };
  // A property on the request, not a WeakMap: the context points back at the request (through the
  // response), and such WeakMap entries are ephemerons that cost the garbage collector dearly.
  const name = tessera.cookieName;

  function context(req: IncomingMessage, res: ServerResponse): SessionContext {
    let ctx = (req as WithContext)[kContext];
    if (ctx === undefined) {
      ctx = tessera.begin(
        {
          cookieHeader: req.headers.cookie,
          ip: clientIp(req, trustProxy),
          userAgent: req.headers['user-agent'] ?? null,
          tenant: tenantOf ? (tenantOf(req) ?? null) : null,
        },
        responseCookieSink(res, name),
      );
      (req as WithContext)[kContext] = ctx;
      // Made while `wrap` runs this request's handler: held until the handler returns.
      if (holding === req) ctx.hold();
    }
    return ctx;
  }

  /** The request whose handler `wrap` is running synchronously right now, if any. */
  let holding: IncomingMessage | null = null;

  /** The handler of `req` returned: start the commit its synchronous code queued (never throws). Returns the context. */
  function release(req: IncomingMessage, previous: IncomingMessage | null): SessionContext | undefined {
    holding = previous;
    const ctx = (req as WithContext)[kContext];
    ctx?.release();
    return ctx;
  }

  // An outage fails every request: tell the operator why, at most every 10 seconds.
  let lastOutageLog = -Infinity;
  function reportOutage(error: StoreUnavailableError): void {
    const now = Date.now();
    if (now - lastOutageLog < 10_000) return;
    lastOutageLog = now;
    tessera.options.logger.warn?.('tessera: session store unavailable; answering 503', { cause: String(error.cause ?? error) });
  }

  function fail(res: ServerResponse, error: unknown): void {
    if (res.headersSent && error instanceof TesseraError) {
      // A commit that failed after the head went out: report it, and leave the response
      // (perhaps still streaming) alone.
      tessera.reportError(error);
      return;
    }
    if (!(error instanceof TesseraError) || error.status === 500) {
      tessera.options.logger.error?.('tessera: request failed', { error: String(error) });
    } else if (error instanceof StoreUnavailableError) {
      reportOutage(error);
    }
    respondWithError(res, error);
  }

  /** After the handler: wait for commits of `ctx` (the request's context, if made), unless the response is complete. */
  function finish(ctx: SessionContext | undefined, res: ServerResponse): Promise<void> | undefined {
    // Once the response is complete there is nothing left to answer: a commit still running
    // reports its own failure (the `commitError` event, or the logger), as it would here.
    if (ctx === undefined || ctx.settled || res.writableEnded) return undefined;
    return ctx.settle().catch((error: unknown) => fail(res, error));
  }

  async function afterAsync(req: IncomingMessage, res: ServerResponse, result: PromiseLike<unknown>): Promise<void> {
    try {
      await result;
    } catch (error: unknown) {
      fail(res, error);
      return;
    }
    await finish((req as WithContext)[kContext], res);
  }

  return {
    context,
    load: (req, res) => context(req, res).load(),
    loadSync: (req, res) => context(req, res).loadSync(),
    wrap(handler) {
      // The context is held while the handler's synchronous code runs, and released when it
      // returns: the changes it made are committed then, at once (a store that answers
      // synchronously has written them before this returns), instead of on the next tick. A handler
      // that returns at once (one using loadSync) costs no promise and no trip through the
      // microtask queue here; an async one costs one await.
      // The context is still made lazily, on the handler's first load: what it reads (tenant,
      // cookie, IP) is read then, and a request that never loads costs nothing.
      return (req, res) => {
        // (A context made before wrap ran, by code of the app's own, is not held: its commits
        // take the next tick, as they would without wrap.)
        const previous = holding;
        let result: unknown;
        holding = req;
        try {
          result = handler(req, res);
        } catch (error: unknown) {
          release(req, previous);
          fail(res, error);
          return RESOLVED;
        }
        // A commit's failure is kept for settle(), or reported.
        const ctx = release(req, previous);
        if (result !== null && typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
          return afterAsync(req, res, result as PromiseLike<unknown>);
        }
        return finish(ctx, res) ?? RESOLVED;
      };
    },
  };
}
