/**
 * Signing in and out, and the signed-in user's account page: "your devices", each of the user's
 * sessions with its browser, IP address and last activity, and buttons to sign one or all the
 * others out. Every form posts its CSRF token (`session.csrfField()`); tessera's node:http adapter
 * refuses a POST without it (403) before these handlers run.
 *
 * @module
 */
import { NotSupportedError, storeKey, type Session, type SessionInfo } from '../../../src/index.js';
import { describeUserAgent, relativeTime } from '../devices.js';
import { NAME_MAX, readForm, validName } from '../form.js';
import { html, Html, layout, redirect, send, type SignedIn } from '../page.js';
import { footer, signedIn, type DemoContext, type Methods } from './context.js';

/** A message for the next page the browser shows (set before a redirect, shown once). */
const FLASH = 'flash';

/** Handles are store keys (a hash of the session ID): anything much longer is not one. */
const HANDLE_MAX = 256;

/** The hidden CSRF field of a form, as markup (the library escapes it). */
const csrf = (session: Session) => new Html(session.csrfField());

function signInForm(ctx: DemoContext, session: Session, status: number, error?: string, name = ''): void {
  send(
    ctx.res,
    status,
    layout({
      title: 'Sign in',
      path: '/sign-in',
      body: html`
${error ? html`<p class="error" id="error">${error}</p>` : ''}
<form method="post" action="/sign-in">
  ${csrf(session)}
  <label>Your name <input type="text" name="name" value="${name}" maxlength="${NAME_MAX}" required autofocus></label>
  <button>Sign in</button>
</form>
<p>The demo stores no passwords: anyone who types a name is that user, so two browsers signed in
   with the same name are two devices of one user. Signing in gives your session a new ID, so a
   session ID anyone learned before no longer works.</p>`,
      footer: footer(ctx),
    }),
  );
}

async function signInPage(ctx: DemoContext): Promise<void> {
  const session = await ctx.session();
  const user = signedIn(session);
  if (user === null) return signInForm(ctx, session, 200);
  send(
    ctx.res,
    200,
    layout({
      title: 'Sign in',
      path: '/sign-in',
      user,
      body: html`<p>You are signed in as <strong>${user.name}</strong>. See <a href="/account">your account</a>, or sign out first to sign in as someone else.</p>`,
      footer: footer(ctx),
    }),
  );
}

async function signIn(ctx: DemoContext): Promise<void> {
  const session = await ctx.session();
  const raw = (await readForm(ctx.req)).get('name');
  const result = validName(raw);
  if (result.error !== undefined) return signInForm(ctx, session, 400, result.error, raw?.slice(0, 4 * NAME_MAX));
  // A new session ID: the ID the browser brought (perhaps one an attacker planted, session
  // fixation) never becomes a signed-in user's. Setting userId rotates a stored session's ID by
  // itself; this covers the one the sign-in form's CSRF token started, which is not stored yet.
  session.regenerate();
  session.userId = result.name;
  // Stored before the redirect, so that the next request finds the user signed in.
  await session.save();
  redirect(ctx.res, '/account');
}

async function signOut(ctx: DemoContext): Promise<void> {
  const session = await ctx.session();
  // Deletes the record (a sealed cookie is revoked) and clears the cookie: the counter goes too.
  session.destroy();
  await session.save();
  redirect(ctx.res, '/');
}

function deviceRow(ctx: DemoContext, session: Session, info: SessionInfo, current: string, now: number): Html {
  const mine = info.handle === current;
  const action = mine
    ? html`<span class="this-device">This device</span>`
    : html`<form class="inline" method="post" action="/devices/revoke">${csrf(session)}<input type="hidden" name="handle" value="${info.handle}"><button>Sign out</button></form>`;
  return html`
  <tr class="device${mine ? ' current' : ''}">
    <td title="${info.userAgent ?? ''}">${describeUserAgent(info.userAgent)}</td>
    <td>${info.ip ?? 'unknown'}</td>
    <td><time datetime="${new Date(info.lastSeenAt).toISOString()}">${mine ? 'now' : relativeTime(info.lastSeenAt, now)}</time></td>
    <td>${action}</td>
  </tr>`;
}

/** The "your devices" part of the account page: a table, or why there is none. */
async function devices(ctx: DemoContext, session: Session, userId: string): Promise<Html> {
  let list: SessionInfo[];
  try {
    list = await ctx.tessera.listByUser(userId, { tenant: session.meta.tenant });
  } catch (error) {
    if (!(error instanceof NotSupportedError)) throw error;
    return html`<p id="no-device-list">With <code>STORE=cookie</code> each session lives only in its own browser, sealed in
      its cookie: the server keeps no list of a user's sessions, so it cannot show your other devices or sign
      them out (<code>listByUser</code> throws <code>NotSupportedError</code>). Signing out here revokes this
      browser's cookie. Start the demo with a server-side store (the default, SQLite) to see this list.</p>`;
  }
  const current = storeKey(session.id, session.meta.tenant);
  const now = ctx.tessera.options.now();
  // This device first (its lastSeenAt lags: it is written at most once per touch window), then the others, latest first.
  const ordered = [...list.filter((info) => info.handle === current), ...list.filter((info) => info.handle !== current)];
  const others = ordered.length - (ordered[0]?.handle === current ? 1 : 0);
  return html`
<table id="devices">
  <thead><tr><th>Browser</th><th>IP address</th><th>Last active</th><th></th></tr></thead>
  <tbody>${ordered.map((info) => deviceRow(ctx, session, info, current, now))}
  </tbody>
</table>
${
  others > 0
    ? html`<form method="post" action="/devices/revoke-others">${csrf(session)}<button id="revoke-others">Sign out all other devices (${others})</button></form>`
    : html`<p>No other device is signed in as you. Sign in with the same name in another browser or a private window to see it here.</p>`
}`;
}

async function account(ctx: DemoContext): Promise<void> {
  const session = await ctx.session();
  const user = signedIn(session);
  if (user === null) return redirect(ctx.res, '/sign-in');
  const flash = session.get<string>(FLASH);
  if (flash !== undefined) {
    session.delete(FLASH);
    // Written before the page goes out: on a networked store (PostgreSQL, Redis) the next request
    // could otherwise set a new message that this delete, landing after it, would take away.
    await session.save();
  }
  send(
    ctx.res,
    200,
    layout({
      title: 'Your account',
      path: '/account',
      user,
      body: html`
${flash === undefined ? '' : html`<p class="notice" id="notice">${flash}</p>`}
<p>You are signed in as <strong id="user">${user.name}</strong>. Only a signed-in session sees this page.</p>
<h2>Your devices</h2>
<p>Every session signed in as ${user.name}: this one first, then the others, most recently active first.</p>
${await devices(ctx, session, user.name)}`,
      footer: footer(ctx),
    }),
  );
}

/** The signed-in user of a device-management POST, or `null` after answering (not signed in). */
async function requireUser(ctx: DemoContext): Promise<{ session: Session; user: SignedIn } | null> {
  const session = await ctx.session();
  const user = signedIn(session);
  if (user === null) {
    redirect(ctx.res, '/sign-in');
    return null;
  }
  return { session, user };
}

function problem(ctx: DemoContext, user: SignedIn, status: number, message: Html | string): void {
  send(ctx.res, status, layout({ title: 'Your devices', path: '/account', user, body: html`<p class="error" id="error">${message}</p><p><a href="/account">Back to your account</a></p>`, footer: footer(ctx) }));
}

const COOKIE_STORE = html`Sessions sealed in cookies (<code>STORE=cookie</code>) cannot be listed or signed out from another device.`;

async function revoke(ctx: DemoContext): Promise<void> {
  const signed = await requireUser(ctx);
  if (signed === null) return;
  const { session, user } = signed;
  const handle = (await readForm(ctx.req)).get('handle');
  if (handle === undefined || handle === '' || handle.length > HANDLE_MAX) return problem(ctx, user, 400, 'No device was given.');
  if (handle === storeKey(session.id, session.meta.tenant)) return problem(ctx, user, 400, 'That is this device: use "Sign out".');
  let done: boolean;
  try {
    // Only a session of this user: a handle from another user's list (or made up) destroys nothing.
    done = await ctx.tessera.destroyByHandle(handle, { userId: user.name, tenant: session.meta.tenant });
  } catch (error) {
    if (error instanceof NotSupportedError) return problem(ctx, user, 501, COOKIE_STORE);
    throw error;
  }
  session.set(FLASH, done ? 'That device was signed out.' : 'That device was already signed out.');
  await session.save();
  redirect(ctx.res, '/account');
}

async function revokeOthers(ctx: DemoContext): Promise<void> {
  const signed = await requireUser(ctx);
  if (signed === null) return;
  const { session, user } = signed;
  let count: number;
  try {
    count = await ctx.tessera.destroyByUser(user.name, { except: session.id, tenant: session.meta.tenant });
  } catch (error) {
    if (error instanceof NotSupportedError) return problem(ctx, user, 501, COOKIE_STORE);
    throw error;
  }
  session.set(FLASH, count === 1 ? 'Signed out 1 other device.' : `Signed out ${count} other devices.`);
  await session.save();
  redirect(ctx.res, '/account');
}

/**
 * The sign-in, sign-out and account pages, by path.
 *
 * @example
 * ```ts
 * const table = new Map([...counterRoutes, ...accountRoutes]);
 * ```
 */
export const accountRoutes: ReadonlyMap<string, Methods> = new Map<string, Methods>([
  ['/sign-in', { GET: signInPage, POST: signIn }],
  ['/sign-out', { POST: signOut }],
  ['/account', { GET: account }],
  ['/devices/revoke', { POST: revoke }],
  ['/devices/revoke-others', { POST: revokeOthers }],
]);
