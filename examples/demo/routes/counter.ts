/**
 * The seed's pages: the home page, a counter kept in the session (`/increment`), and `/clear`,
 * which destroys the session.
 *
 * @module
 */
import type { Session } from '../../../src/index.js';
import { html, layout, send } from '../page.js';
import { footer, signedIn, type DemoContext, type Methods } from './context.js';

/** Session data of the counter. */
type CounterData = { count: number };

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

async function home(ctx: DemoContext): Promise<void> {
  const session = (await ctx.session()) as Session<Partial<CounterData>>;
  // A read: a visitor without a session gets no cookie and nothing is stored.
  const count = session.get('count');
  const status = session.isNew
    ? html`<p>You have no session yet: nothing is stored about you and no cookie is set until a page writes to the session.
             <a href="/increment">Increment</a> to start one.</p>`
    : html`<p>Your session's counter is at <strong>${count ?? 0}</strong>.</p>`;
  const user = signedIn(session);
  send(
    ctx.res,
    200,
    layout({
      title: 'tessera demo',
      path: '/',
      user,
      body: html`
<p>This app shows tessera's session management on Node's <code>node:http</code>.</p>
<p id="store">Session store in use: <strong>${ctx.store.label}</strong> (set with <code>STORE=</code> when starting the demo).</p>
<ul>${storeExplained(ctx)}
  <li><strong>One session per browser.</strong> Each browser gets its own session and its own counter.</li>
  <li><strong>Signing in gives a new session ID.</strong> <a href="/sign-in">Sign in</a> with a name, from two browsers,
      and <a href="/account">your account</a> lists both, with buttons to sign either out.</li>
</ul>
${status}
${user ? html`<p>You are signed in as <strong>${user.name}</strong>.</p>` : ''}
<p><a href="/increment">/increment</a> adds one to a counter kept in your session;
   <a href="/clear">/clear</a> destroys the session.</p>`,
      footer: footer(ctx),
    }),
  );
}

async function increment(ctx: DemoContext): Promise<void> {
  const session = (await ctx.session()) as Session<CounterData>;
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
      user: signedIn(session),
      body: html`
<p>You have visited this page</p>
<p class="count"><output id="count">${count}</output></p>
<p>${count === 1 ? 'time in this session.' : 'times in this session.'}
   The number is kept in your session, ${ctx.store.where}; reload to add one.</p>`,
      footer: footer(ctx),
    }),
  );
}

async function clear(ctx: DemoContext): Promise<void> {
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
}

/**
 * The counter's pages, by path. `/clear` answers GET, as in the first version of the demo (its
 * navigation link), and a POST with the CSRF token too, for a form.
 *
 * @example
 * ```ts
 * const table = new Map([...counterRoutes]);
 * ```
 */
export const counterRoutes: ReadonlyMap<string, Methods> = new Map<string, Methods>([
  ['/', { GET: home }],
  ['/increment', { GET: increment }],
  ['/clear', { GET: clear, POST: clear }],
]);
