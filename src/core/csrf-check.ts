/**
 * The CSRF check of one request, run by every adapter before an unsafe request's handler: the
 * Fetch Metadata verdict first (no session needed), then the token against the request's session.
 *
 * @module
 * @internal
 */
import { CsrfProtection } from '../csrf.js';
import { CsrfError } from '../errors.js';
import type { SessionContext } from './context.js';
import { andThen } from './driver.js';
import { subjectOf, type Events } from './events.js';
import type { Step } from './queue.js';

/**
 * What an adapter tells the CSRF check about a request: plain values, no framework objects.
 *
 * @example
 * ```ts
 * const request: CsrfRequest = {
 *   method: req.method, path: url.pathname, host: req.headers.host,
 *   origin: req.headers.origin, secFetchSite: req.headers['sec-fetch-site'],
 *   token: req.headers['x-csrf-token'],
 * };
 * ```
 */
export interface CsrfRequest {
  readonly method: string;
  /** The path, without the query. */
  readonly path: string;
  readonly host: string | undefined;
  readonly origin: string | undefined;
  readonly secFetchSite: string | undefined;
  /** The token from the request header (`x-csrf-token`), if any. */
  readonly token: string | undefined;
  /** Reads the token from the form body, asked only when the header has none. */
  readonly formToken?: () => Step<string | undefined>;
}

/**
 * `null` when the request may go on; otherwise the {@link CsrfError} to answer with (403), after
 * emitting `csrfRejected`. Loads the request's session to check a token; rejects when the store
 * fails.
 *
 * @example
 * ```ts
 * const refused = await checkCsrf(options.csrf, events, ctx, request, backend.synchronous);
 * if (refused) return reply(403, refused.message);
 * ```
 */
export function checkCsrf(csrf: CsrfProtection, events: Events, ctx: SessionContext, request: CsrfRequest, synchronous: boolean): Step<CsrfError | null> {
  if (!csrf.enforced || !CsrfProtection.isUnsafe(request.method) || csrf.isExempt(request)) return null;
  const crossOrigin = csrf.crossOrigin(request);
  if (crossOrigin !== null) return refuse(events, crossOrigin, ctx);
  const token = request.token !== undefined && request.token !== '' ? request.token : request.formToken?.();
  return andThen(token, (found) => {
    if (found === undefined || found === '') return refuse(events, 'missing-token', ctx);
    return andThen(synchronous ? ctx.loadSync() : ctx.load(), () => {
      const state = ctx.state!;
      if (state.key !== null && !state.destroyed && csrf.verify(found, state.key)) return null;
      return refuse(events, 'invalid-token', ctx);
    });
  });
}

/** Emit `csrfRejected` about the request's session (loaded, or named by its cookie) and give the error. */
function refuse(events: Events, reason: CsrfError['reason'], ctx: SessionContext): CsrfError {
  const state = ctx.state;
  // The cookie's key costs a signature check: only for an event that goes somewhere.
  const subject = state !== null ? state : subjectOf(events.wants('csrfRejected') ? ctx.cookieKey() : null, ctx.input);
  events.emit('csrfRejected', subject, reason);
  return new CsrfError(reason);
}
