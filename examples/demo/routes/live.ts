/**
 * Live tabs in the demo: `/live` opens an event stream per browser tab (tessera's browser client),
 * shows who is online — every session active in the last ten minutes, with each tab's last
 * activity, kept up to date by a push every few seconds — and has buttons that push to this tab,
 * broadcast to all of your tabs, and sign your other sessions out. The buttons post with `fetch`
 * (demo-live.js), which the client gives the tab ID and the CSRF token.
 *
 * @module
 */
import { isTabId, NotSupportedError, TAB_HEADER, type ActiveSession, type Session, type Tessera } from '../../../src/index.js';
import { relativeTime } from '../devices.js';
import { html, Html, layout, send } from '../page.js';
import { footer, signedIn, type DemoContext, type Methods } from './context.js';

/** Who counts as online: active within this long (ms). */
export const ONLINE_WINDOW = 10 * 60_000;

/** A short, public name for a session or a tab: the start of its handle or ID. */
const short = (value: string): string => value.slice(0, 6);

/**
 * The "who's online" panel, as markup: every session active within {@link ONLINE_WINDOW}, most
 * recent first, each with its tabs and how long ago each was active.
 *
 * @example
 * ```ts
 * const panel = await onlinePanel(tessera);
 * ```
 */
export async function onlinePanel(tessera: Tessera): Promise<Html> {
  const now = tessera.options.now();
  let sessions: ActiveSession[];
  try {
    sessions = await tessera.activity.activeSessions({ since: now - ONLINE_WINDOW, limit: 50 });
  } catch (error) {
    if (!(error instanceof NotSupportedError)) throw error;
    return html`<p>With <code>STORE=cookie</code> sessions live in the browsers: the server keeps no activity, so it cannot tell who is online.</p>`;
  }
  if (sessions.length === 0) return html`<p>Nobody has been active in the last ten minutes.</p>`;
  const rows = sessions.map((s) => {
    const tabs = Object.entries(s.tabs).sort(([, a], [, b]) => b - a);
    return html`
  <li class="online-session" data-session="${short(s.handle)}"><strong>${s.userId ?? 'Guest'}</strong> <code>${short(s.handle)}</code>:
    ${tabs.map(([tab, at]) => html`<span class="online-tab">tab <code>${short(tab)}</code> ${relativeTime(at, now)}</span> `)}</li>`;
  });
  return html`<p>${sessions.length === 1 ? '1 session' : `${sessions.length} sessions`} active in the last ten minutes.</p><ul>${rows}</ul>`;
}

/**
 * Keep every open `/live` page's panel current: a push of the panel to every tab every `ms`,
 * while any stream is open. Returns what stops it.
 *
 * @example
 * ```ts
 * const stop = refreshOnline(tessera, 5_000);
 * ```
 */
export function refreshOnline(tessera: Tessera, ms: number): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running || tessera.live.streams === 0) return;
    running = true;
    pushOnline(tessera)
      .catch((error: unknown) => tessera.options.logger.warn?.({ error: String(error) }, 'demo: could not refresh the online panel'))
      .finally(() => (running = false));
  }, ms);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Push the current panel to every open tab (pages without `#online` ignore it).
 *
 * @example
 * ```ts
 * await pushOnline(tessera);
 * ```
 */
export async function pushOnline(tessera: Tessera): Promise<void> {
  await tessera.live.broadcastAll({ type: 'html', target: '#online', html: (await onlinePanel(tessera)).value });
}

async function livePage(ctx: DemoContext): Promise<void> {
  const session = await ctx.session();
  // Stored, so its tabs' activity is kept (a session that was never written has none) and it is
  // listed as online.
  session.set('liveVisits', (session.get<number>('liveVisits') ?? 0) + 1);
  const user = signedIn(session);
  const page = layout({
    title: 'Live tabs',
    path: '/live',
    user,
    body: html`
<meta name="csrf-token" content="${session.csrfToken()}">
<p>Each tab of this page holds an event stream from the server. This is tab <code id="tab">…</code> of session
   <code id="session">${short(session.handle)}</code>. Open the page in another tab, or another browser, and push.</p>
<div class="live-actions">
  <form class="inline" method="post" action="/live/push-tab" data-live><button id="push-tab">Push to this tab</button></form>
  <form class="inline" method="post" action="/live/broadcast" data-live><button id="broadcast">Broadcast to all my tabs</button></form>
  ${user ? html`<form class="inline" method="post" action="/live/sign-out-others" data-live><button id="sign-out-others">Sign out my other sessions</button></form>` : ''}
</div>
<ol id="messages"></ol>
<h2>Who's online</h2>
<div id="online">${await onlinePanel(ctx.tessera)}</div>
<script type="module" src="/demo-live.js"></script>`,
    footer: footer(ctx),
  });
  send(ctx.res, 200, page, { scripts: true });
}

/** The tab a `fetch` from the page names, or `null` after answering 400. */
function tabOf(ctx: DemoContext): string | null {
  const tab = ctx.req.headers[TAB_HEADER];
  if (isTabId(tab)) return tab;
  ctx.res.statusCode = 400;
  ctx.res.end('this button works from the live page, in a tab with its stream');
  return null;
}

function message(text: string, now: number): string {
  return html`<li>${text} <small>(${new Date(now).toLocaleTimeString('en-GB')})</small></li>`.value;
}

function done(ctx: DemoContext): void {
  ctx.res.statusCode = 204;
  ctx.res.end();
}

async function pushTab(ctx: DemoContext): Promise<void> {
  const session = await ctx.session();
  const tab = tabOf(ctx);
  if (tab === null) return;
  await ctx.tessera.live.pushHtml(session, tab, '#messages', message(`Pushed to tab ${short(tab)} only.`, ctx.tessera.options.now()), 'append');
  done(ctx);
}

async function broadcast(ctx: DemoContext): Promise<void> {
  const session = await ctx.session();
  const tab = tabOf(ctx);
  if (tab === null) return;
  const text = message(`Broadcast from tab ${short(tab)}.`, ctx.tessera.options.now());
  // Signed in: every tab of every session of the user (their other browsers too); else this session's tabs.
  if (session.userId !== null) await broadcastUser(ctx.tessera, session, text);
  else await ctx.tessera.live.broadcastHtml(session, '#messages', text, 'append');
  done(ctx);
}

async function broadcastUser(tessera: Tessera, session: Session, text: string): Promise<void> {
  try {
    await tessera.live.broadcastUser(session.userId!, { type: 'html', target: '#messages', html: text, mode: 'append' }, { tenant: session.meta.tenant });
  } catch (error) {
    // STORE=cookie lists no user's sessions: this session's tabs only.
    if (!(error instanceof NotSupportedError)) throw error;
    await tessera.live.broadcastHtml(session, '#messages', text, 'append');
  }
}

async function signOutOthers(ctx: DemoContext): Promise<void> {
  const session = await ctx.session();
  const tab = tabOf(ctx);
  if (tab === null) return;
  if (session.userId === null) {
    ctx.res.statusCode = 403;
    ctx.res.end('sign in first');
    return;
  }
  let text: string;
  try {
    // Their streams are told (`end`) and closed: those tabs reload, signed out.
    const count = await ctx.tessera.destroyByUser(session.userId, { except: session.id, tenant: session.meta.tenant });
    text = count === 1 ? 'Signed out 1 other session.' : `Signed out ${count} other sessions.`;
  } catch (error) {
    if (!(error instanceof NotSupportedError)) throw error;
    text = 'With STORE=cookie the server cannot sign other browsers out.';
  }
  await ctx.tessera.live.pushHtml(session, tab, '#messages', message(text, ctx.tessera.options.now()), 'append');
  done(ctx);
}

/**
 * The page's own script: shows the tab ID, and posts the `data-live` forms with `fetch` (which
 * the live client gives the tab ID and the CSRF token) so the page stays, with its stream.
 */
const SCRIPT = `import { connect } from '/tessera/live/client.js';
const live = connect();
document.getElementById('tab').textContent = live.tab.slice(0, 6);
for (const form of document.querySelectorAll('form[data-live]')) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    fetch(form.action, { method: 'POST' });
  });
}
`;

function script(ctx: DemoContext): void {
  ctx.res.setHeader('content-type', 'text/javascript; charset=utf-8');
  ctx.res.setHeader('cache-control', 'no-cache');
  ctx.res.end(SCRIPT);
}

/**
 * The live page, its buttons and its script, by path.
 *
 * @example
 * ```ts
 * const table = new Map([...liveRoutes]);
 * ```
 */
export const liveRoutes: ReadonlyMap<string, Methods> = new Map<string, Methods>([
  ['/live', { GET: livePage }],
  ['/live/push-tab', { POST: pushTab }],
  ['/live/broadcast', { POST: broadcast }],
  ['/live/sign-out-others', { POST: signOutOthers }],
  ['/demo-live.js', { GET: script }],
]);
