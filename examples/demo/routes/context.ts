/**
 * What every route handler gets, and the helpers the pages share.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Session, Tessera } from '../../../src/index.js';
import type { StoreChoice } from '../config.js';
import { html, type Html, type SignedIn } from '../page.js';

/** What a route handler gets for one request. */
export interface DemoContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /**
   * The request's session, loaded on first call. Reading it never creates anything; the first
   * write stores it and sets the cookie.
   */
  session(): Promise<Session>;
  /** The session manager: for what is not about this request's session (the user's other sessions). */
  readonly tessera: Tessera;
  /** The store in use, for the pages to describe. */
  readonly store: StoreChoice;
  /** The session cookie's name. */
  readonly cookieName: string;
}

/** A route handler. Errors it throws become a 500 (or 503 when the store is down). */
export type Route = (ctx: DemoContext) => unknown;

/** The handlers of one path, by method (HEAD is served by GET). */
export type Methods = Readonly<Partial<Record<'GET' | 'POST', Route>>>;

/**
 * Who is signed in on `session`, for the page layout (its sign-out button), or `null`. Gives the
 * page a CSRF token only for a signed-in session: a visitor's page leaves no cookie.
 *
 * @example
 * ```ts
 * send(res, 200, layout({ title: 'Counter', path: '/increment', body, user: signedIn(session) }));
 * ```
 */
export function signedIn(session: Session): SignedIn | null {
  return session.userId === null ? null : { name: session.userId, csrfField: session.csrfField() };
}

/**
 * The footer of every page: which store, and how to get a second session.
 *
 * @example
 * ```ts
 * layout({ title: 'Counter', path: '/increment', body, footer: footer(ctx) });
 * ```
 */
export function footer(ctx: DemoContext): Html {
  return html`Store: ${ctx.store.label}. Sessions are kept ${ctx.store.where}. Each browser has its own; open this page in another browser or a private window to get a second one.`;
}
