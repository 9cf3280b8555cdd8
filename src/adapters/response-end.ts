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
 * the first) goes straight through.
 *
 * @example
 * ```ts
 * holdEnd(res, requestSession);
 * res.redirect('/'); // ends once the session's commit settled
 * ```
 */
export function holdEnd(res: ServerResponse, session: EndingSession): HeldEnd {
  const end = res.end;
  let called = false;
  const held: HeldEnd = {
    get called() {
      return called;
    },
  };
  res.end = function heldEnd(this: ServerResponse, ...args: unknown[]): ServerResponse {
    if (called) return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    called = true;
    try {
      session.beforeEnd();
    } catch (error) {
      session.report(error);
    }
    const pending = streams(res) ? undefined : session.pending();
    if (pending === undefined) return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    // Ended meanwhile (the connection closed, or an error answered): nothing left to end.
    const finish = (): void => void (res.writableEnded || res.destroyed ? undefined : (end as (...a: unknown[]) => ServerResponse).apply(res, args));
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

/** The response is streamed: its head is out, or it is an event stream. */
function streams(res: ServerResponse): boolean {
  if (res.headersSent) return true;
  const type = res.getHeader('content-type');
  return typeof type === 'string' && type.toLowerCase().startsWith('text/event-stream');
}
