/**
 * Read-your-writes for the adapters whose handlers end node's `ServerResponse` themselves (Express,
 * node:http): the end of a response waits for the session's commit, as express-session's does, so
 * the request that follows it (a followed redirect, an XHR, a test client) sees every write the
 * route made, even one it never `save()`d, on a store that answers asynchronously. (Fastify and
 * Hono wait for the commit before they send the response, in the kit's `handlerDone`.)
 *
 * Only the end is held, and only when there is something to wait for: a response that streamed
 * (its head already went out, as with `res.write` or `res.flushHeaders`) or is an event stream
 * (`text/event-stream`) ends at once, its commit finishing on its own; a store that answers
 * synchronously has written by then anyway.
 *
 * @module
 * @internal
 */
import type { ServerResponse } from 'node:http';


/**
 * What the held end asks of the request's session.
 *
 * @example
 * ```ts
 * const session: EndingSession = { beforeEnd: () => nested.check(), pending: () => (ctx.settled ? undefined : ctx.settle()), report };
 * ```
 */
export interface EndingSession {
  /** The last changes of the request (a check of object values, `resave`, `unset`): made before the commit is waited for. */
  beforeEnd(): void;
  /** The commit to wait for, or `undefined` when nothing is pending. */
  pending(): Promise<void> | undefined;
  /** A commit failure: the response still ends; the failure is reported. */
  report(error: unknown): void;
}

/**
 * Make `res.end()` run `session.beforeEnd()` and, unless the response streamed, wait for the
 * session's commit before ending. Installed once per response; a later call of `res.end` (after
 * the first) writes nothing, as an end after the end, and the response looks ended
 * (`writableEnded`) from the first call.
 *
 * @example
 * ```ts
 * holdEnd(res, requestSession);
 * res.redirect('/'); // ends once the session's commit settled
 * ```
 */
export function holdEnd(res: ServerResponse, session: EndingSession): HeldEnd {
  const end = res.end as (...a: unknown[]) => ServerResponse;
  const write = res.write as (...a: unknown[]) => boolean;
  const flushHeaders = res.flushHeaders;
  // A plain data object: an object literal with a getter here, kept on the request, cost 20–30 µs
  // of CPU per request on node 20, most of it in the garbage collector (a Redis read in process:
  // 640–720 ms of GC in 6 s of load with it, 60–90 without; see docs/benchmarks.md).
  const held = { called: false };
  // The head or body went out (`write`, `flushHeaders`): a streamed response, never held. Not
  // `headersSent`, which `writeHead()` sets before anything is sent (`writeHead(303).end()` is
  // no stream).
  let streamed = false;
  res.write = function heldWrite(this: ServerResponse, ...args: unknown[]): boolean {
    streamed = true;
    return write.apply(this, args);
  } as ServerResponse['write'];
  res.flushHeaders = function heldFlush(this: ServerResponse): void {
    streamed = true;
    flushHeaders.call(this);
  };
  res.end = function heldEnd(this: ServerResponse, ...args: unknown[]): ServerResponse {
    // An end after the end, as Node treats one: nothing is written; a callback runs once finished.
    if (held.called) {
      const callback = args.find((a) => typeof a === 'function') as (() => void) | undefined;
      if (callback) res.once('finish', callback);
      return res;
    }
    held.called = true;
    try {
      session.beforeEnd();
    } catch (error) {
      session.report(error);
    }
    const pending = streamed || isEventStream(res) ? undefined : session.pending();
    if (pending === undefined) return end.apply(this, args);
    // Until it really ends, the response looks ended (`writableEnded`), so code after the route
    // (a 404 fallback, an error handler) leaves it alone; its status is the one it ended with.
    // (Express's final handler, for an error thrown after the route answered, sets its own status
    // and headers before its end: they are put back as the route left them, but for the
    // session's own Set-Cookie.)
    const status = res.statusCode;
    const headers = res.headersSent ? null : res.getHeaders();
    Object.defineProperty(res, 'writableEnded', { configurable: true, get: () => true });
    // Ended meanwhile (the connection closed): nothing left to end.
    const finish = (): void => {
      delete (res as { writableEnded?: boolean }).writableEnded;
      if (res.writableEnded || res.destroyed) return;
      res.statusCode = status;
      if (headers !== null && !res.headersSent) restoreHeaders(res, headers);
      end.apply(res, args);
    };
    pending.then(finish, (error: unknown) => {
      session.report(error);
      finish();
    });
    return res;
  } as ServerResponse['end'];
  return held;
}

/**
 * What {@link holdEnd} tells its adapter: whether the app called `res.end()` (its end is then in
 * the held end's hands, which waits for the commit and reports a failure).
 *
 * @example
 * ```ts
 * const held = holdEnd(res, session);
 * if (held.called) return; // the commit is awaited by the held end
 * ```
 */
export interface HeldEnd {
  readonly called: boolean;
}

/** The response is an event stream (its content type, as set so far). */
function isEventStream(res: ServerResponse): boolean {
  const type = res.getHeader('content-type');
  return typeof type === 'string' && type.toLowerCase().startsWith('text/event-stream');
}

/** Put back the headers `res` had when its end was called (all but `set-cookie`, which the commit may add). */
function restoreHeaders(res: ServerResponse, headers: Readonly<Record<string, unknown>>): void {
  for (const name of res.getHeaderNames()) {
    if (name !== 'set-cookie' && !(name in headers)) res.removeHeader(name);
  }
  for (const name in headers) {
    if (name !== 'set-cookie' && res.getHeader(name) !== headers[name]) res.setHeader(name, headers[name] as string | number | readonly string[]);
  }
}
