/**
 * Who a session belongs to and what proves a request is theirs: {@link SessionSecurity}, between
 * `SessionValues` (the data) and `Session` — the signed-in user (`userId`, `signIn`, `signOut`,
 * `user()`, recent sign-in) and CSRF tokens. The work is the core's (`auth/session-auth.ts`,
 * `csrf.ts`, through the session's runtime); this layer is the handler's side of it.
 *
 * @module
 */
import type { AuthClaims } from './auth/tokens.js';
import { SessionStateError } from './errors.js';
import { assertWritable, runtimeOf, scheduleOrUndo, SessionValues, stateOf, type SessionData } from './session-values.js';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * A session's user and CSRF tokens. `Session` (what handlers get) extends it with identity and
 * lifecycle; this class only keeps the security half in a module of its own, and is never made alone.
 *
 * @example
 * ```ts
 * const security: SessionSecurity = session; // every Session is one
 * if (security.verifyCsrfToken(message.csrf)) await security.signIn({ sub: user.id });
 * ```
 */
export abstract class SessionSecurity<Data extends SessionData = SessionData> extends SessionValues<Data> {
  /**
   * The signed-in user for this session, or `null`. Setting it indexes the session under that user.
   *
   * Changing it (signing in, out, or as someone else) on a session the request's cookie named also
   * gives the session a new ID, keeping its data, as {@link Session.regenerate} does — unless it
   * was regenerated in this request already: an ID a client brought (one an attacker may have
   * planted: session fixation) never becomes a signed-in user's. A session opened by ID has no
   * cookie and keeps its ID.
   *
   * @throws {@link SessionStateError} for a value that is not a non-empty string or `null`, and
   * when the ID must change but the response headers were already sent.
   * @example
   * ```ts
   * session.userId = user.id; // sign-in: a new session ID, the old cookie no longer loads it
   * ```
   */
  get userId(): string | null {
    return stateOf(this).userId;
  }
  set userId(value: string | null) {
    assertWritable(this);
    if (value !== null && (typeof value !== 'string' || value === '')) {
      throw new SessionStateError('userId must be a non-empty string or null');
    }
    if (value === stateOf(this).userId) return;
    const s = stateOf(this);
    // The ID came with the request — a stored session's (`loaded`; regenerate() clears it), or a
    // provisional one a CSRF token was issued with — so it may be known to someone else: a new
    // one. A new session's ID is this request's own.
    if ((s.loaded || (s.provisional && s.cookieSent)) && s.sink !== null) runtimeOf(this).regenerate(s, true);
    runtimeOf(this).materialize(s, true);
    const { userId, metaChanged } = s;
    s.userId = value;
    s.metaChanged = true;
    scheduleOrUndo(this, () => {
      s.userId = userId;
      s.metaChanged = metaChanged;
    });
  }

  /**
   * A CSRF token of this session, for the page to send back with its unsafe requests (in the
   * `x-csrf-token` header or the `_csrf` form field). Each call gives a freshly masked token (no
   * two responses carry the same bytes, the BREACH defence); every one is valid until the session's
   * ID changes (regenerate, sign-in, destroy). A new session gets its ID cookie now, though nothing
   * is stored until it is written, so a form works from the first visit.
   *
   * @throws {@link SessionStateError} if the session was destroyed, or is new and the response
   * headers already went out (its ID cookie could not be sent).
   * @example
   * ```ts
   * res.end(`<form method="post"><input type="hidden" name="_csrf" value="${session.csrfToken()}">…</form>`);
   * // or in page script: fetch('/api', { method: 'POST', headers: { 'x-csrf-token': token } })
   * ```
   */
  csrfToken(): string {
    return runtimeOf(this).csrfToken(stateOf(this));
  }

  /**
   * A hidden form field holding a fresh CSRF token: `<input type="hidden" name="_csrf" value="…">`
   * (the field name is the `csrf.field` option). See {@link Session.csrfToken}.
   *
   * @example
   * ```ts
   * res.end(`<form method="post" action="/transfer">${session.csrfField()}<button>Send</button></form>`);
   * ```
   */
  csrfField(): string {
    const escape = (text: string) => text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
    return `<input type="hidden" name="${escape(runtimeOf(this).csrfFieldName)}" value="${this.csrfToken()}">`;
  }

  /**
   * Whether `token` is a CSRF token of this session (any mask, any configured secret), in
   * constant time. Adapters check unsafe requests by themselves; this is for checks of your own,
   * for example on a WebSocket upgrade.
   *
   * @example
   * ```ts
   * if (!session.verifyCsrfToken(message.csrf)) socket.close(1008, 'bad CSRF token');
   * ```
   */
  verifyCsrfToken(token: unknown): boolean {
    return runtimeOf(this).verifyCsrfToken(stateOf(this), token);
  }

  /**
   * Sign the user in, as the Weave seed's `session/sign-in`: the session gets a new ID (keeping its
   * data; the old ID, and any cookie naming it, stops working), `userId` becomes `claims.sub`, the
   * time is recorded ({@link Session.authenticatedAt}), and the auth cookie — a JWT of `claims`,
   * HttpOnly, bound to this session and tenant — goes on the response. Resolves its `Set-Cookie`
   * line (already set: returned for frameworks that set cookies themselves). Await it before
   * responding. `iss`, `aud`, `exp`, `nbf`, `iat`, `jti`, `sid` and `tid` are tessera's to set.
   *
   * @throws {@link SessionStateError} for claims without a `sub` (or with a reserved claim), a
   * destroyed session, one opened by ID, or after the response headers went out.
   * @throws {@link NotSupportedError} with `auth: false`.
   * @example
   * ```ts
   * if (await checkPassword(user, form.password)) await session.signIn({ sub: user.id, role: user.role });
   * ```
   */
  signIn(claims: AuthClaims): Promise<string> {
    return runtimeOf(this).signIn(stateOf(this), claims);
  }

  /**
   * Sign the user out, as the Weave seed's `session/sign-out`: the auth cookie is cleared, and the
   * session starts over — a new ID, no data, no user (as `regenerate({ keepData: false })`); its
   * old record is deleted (revoked, with `CookieStore`), so a copy of the auth cookie no longer
   * verifies anywhere. Returns the clearing `Set-Cookie` line (already set). The session stays
   * usable in this request (a flash message can be written to it).
   *
   * @throws {@link SessionStateError} for a session opened by ID, or after the headers went out.
   * @throws {@link NotSupportedError} with `auth: false`.
   * @example
   * ```ts
   * session.signOut();
   * session.set('flash', 'Signed out');
   * ```
   */
  signOut(): string {
    return runtimeOf(this).signOut(stateOf(this));
  }

  /**
   * The request's signed-in user: the auth cookie's claims (`sub` and what {@link Session.signIn}
   * was given, with `iat`, `exp` ...), verified — signature, algorithm, `exp`, `nbf`, `iss`, `aud`,
   * bound to this very session (loaded from the store, same user, same tenant), and issued after
   * the user's last `tessera.signOutEverywhere`. `null` when there is none or it does not verify
   * (then an `invalidAuth` event); never throws for a bad token. Cached for the request.
   * Rejects only when the store fails (checking "sign out everywhere" reads it once).
   *
   * @example
   * ```ts
   * const user = await session.user();
   * if (user === null) return redirect('/sign-in');
   * res.end(`Hello ${user.sub}`);
   * ```
   */
  user(): Promise<AuthClaims | null> {
    return runtimeOf(this).user(stateOf(this));
  }

  /** When the user signed in ({@link Session.signIn}) on this session, in ms since the epoch; `null` if never. */
  get authenticatedAt(): number | null {
    return stateOf(this).authenticatedAt;
  }

  /**
   * Whether the user signed in within the last `ms` — for a "recent sign-in required" check before
   * a sensitive action (change the password, pay): if not, ask for the password again.
   *
   * @example
   * ```ts
   * if (!session.signedInWithin(10 * 60_000)) return redirect('/confirm-password');
   * ```
   */
  signedInWithin(ms: number): boolean {
    const at = stateOf(this).authenticatedAt;
    return at !== null && stateOf(this).userId !== null && runtimeOf(this).now() - at <= ms;
  }
}
