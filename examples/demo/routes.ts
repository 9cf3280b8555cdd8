/**
 * The demo's pages, as a route table: path → handler. To add a page, add an entry (and, for the
 * navigation bar, a link in page.ts).
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Session } from '../../src/index.js';
import type { StoreChoice } from './config.js';
import { html, layout, send } from './page.js';

/** What a route handler gets for one request. */
export interface DemoContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /**
   * The request's session, loaded on first call. Reading it never creates anything; the first
   * write stores it and sets the cookie.
   */
  session(): Promise<Session>;
  /** The store in use, for the pages to describe. */
  readonly store: StoreChoice;
  /** The session cookie's name. */
  readonly cookieName: string;
}

/** A route handler. Errors it throws become a 500 (or 503 when the store is down). */
export type Route = (ctx: DemoContext) => unknown;

/** Session data of the demo. */
type DemoData = { count: number };

const footer = (ctx: DemoContext) =>
  html`Store: ${ctx.store.label}. Sessions are kept ${ctx.store.where}. Each browser has its own; open this page in another browser or a private window to get a second one.`;

/** The first points of the home page: where the session lives, and what the browser holds. */
function storeExplained(ctx: DemoContext) {
  if (!ctx.store.serverSide) {
    return html`
  <li><strong>Sessions sealed in the cookie.</strong> Your session's data travels in the cookie <code>${ctx.cookieName}</code>
      itself, encrypted and authenticated (AES-256-GCM) with a key derived from the demo's secret: the server stores no
      session data. You can see the cookie but not read it, scripts cannot read it either (HttpOnly), and a tampered cookie is ignored.
      Each change seals a new cookie. When a session is cleared the server remembers it as revoked, so a copy of its cookie
      stops working too.</li>`;
  }
  return html`
  <li><strong>Server-side sessions.</strong> Session data is stored on the server, ${ctx.store.where}
      (${ctx.store.durable ? 'it survives restarts of the demo' : 'it does not survive a restart'}).</li>
  <li><strong>A signed, HttpOnly cookie.</strong> Your browser only holds the cookie <code>${ctx.cookieName}</code>:
      a random session ID and its HMAC signature. Scripts cannot read it (HttpOnly), a tampered cookie is ignored,
      and the store only sees a hash of the ID.</li>`;
}

/**
 * The routes, by path. Only GET and HEAD are served.
 *
 * @example
 * ```ts
 * routes.set('/about', ({ res }) => send(res, 200, layout({ title: 'About', path: '/about', body: html`<p>…</p>` })));
 * ```
 */
export const routes = new Map<string, Route>([
  [
    '/',
    async (ctx) => {
      const session = (await ctx.session()) as Session<Partial<DemoData>>;
      // A read: a visitor without a session gets no cookie and nothing is stored.
      const count = session.get('count');
      const status = session.isNew
        ? html`<p>You have no session yet: nothing is stored about you and no cookie is set until a page writes to the session.
                 <a href="/increment">Increment</a> to start one.</p>`
        : html`<p>Your session's counter is at <strong>${count ?? 0}</strong>.</p>`;
      send(
        ctx.res,
        200,
        layout({
          title: 'tessera demo',
          path: '/',
          body: html`
<p>This app shows tessera's session management on Node's <code>node:http</code>.</p>
<p id="store">Session store in use: <strong>${ctx.store.label}</strong> (set with <code>STORE=</code> when starting the demo).</p>
<ul>${storeExplained(ctx)}
  <li><strong>One session per browser.</strong> Each browser gets its own session and its own counter.</li>
</ul>
${status}
<p><a href="/increment">/increment</a> adds one to a counter kept in your session;
   <a href="/clear">/clear</a> destroys the session.</p>`,
          footer: footer(ctx),
        }),
      );
    },
  ],
  [
    '/increment',
    async (ctx) => {
      const session = (await ctx.session()) as Session<DemoData>;
      const count = (session.get('count') ?? 0) + 1;
      session.set('count', count);
      // Wait for the write, so the page never shows a count the store did not take (a failing store
      // becomes a 503 here instead).
      await session.save();
      send(
        ctx.res,
        200,
        layout({
          title: 'Counter',
          path: '/increment',
          body: html`
<p>You have visited this page</p>
<p class="count"><output id="count">${count}</output></p>
<p>${count === 1 ? 'time in this session.' : 'times in this session.'}
   The number is kept in your session, ${ctx.store.where}; reload to add one.</p>`,
          footer: footer(ctx),
        }),
      );
    },
  ],
  [
    '/clear',
    async (ctx) => {
      const session = await ctx.session();
      const existed = !session.isNew;
      // Deletes the record and clears the cookie (also a stale cookie for an expired session).
      session.destroy();
      await session.save();
      send(
        ctx.res,
        200,
        layout({
          title: 'Session cleared',
          path: '/clear',
          body: existed
            ? html`<p id="cleared">Your session was destroyed: ${
                ctx.store.serverSide
                  ? 'its record was deleted from the store and your cookie was cleared'
                  : 'your cookie, which held it, was cleared, and the server revoked it: a copy no longer works'
              }. The next <a href="/increment">increment</a> starts again at 1.</p>`
            : html`<p id="cleared">There was no session to clear.</p>`,
          footer: footer(ctx),
        }),
      );
    },
  ],
]);
