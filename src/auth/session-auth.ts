/**
 * The auth cookie's part of a request, as the Weave seed's `session/sign-in` and
 * `session/sign-out` describe it: signing in rotates the session ID, records the user and when
 * they authenticated, and gives a JWT (the auth cookie) bound to the session; signing out clears
 * it and starts the session over; each request's user is the token's verified claims — only
 * while the session it is bound to lives, for its user and tenant, and was signed in after the
 * user's last "sign out everywhere".
 *
 * @module
 * @internal
 */
import { clearCookie, readCookie, serializeCookie } from '../cookie.js';
import { NotSupportedError, PayloadTooLargeError, SessionStateError } from '../errors.js';
import { under, type Events } from '../core/events.js';
import { absoluteEnd, policyFor, type Policy } from '../core/policy.js';
import type { SessionState } from '../core/state.js';
import { RESERVED_CLAIMS, sessionBinding, type AuthClaims, type AuthFailure, type AuthTokens } from './tokens.js';
import type { ValidAfter } from './valid-after.js';

/** The longest `Set-Cookie` line of the auth cookie: what every browser keeps. */
const MAX_COOKIE_BYTES = 4096;
/** Auth cookies read from one request's header (a forged header costs at most this many verifications). */
const MAX_VALUES = 3;

/** What signing in and out needs of the session lifecycle. */
export interface AuthLifecycle {
  readonly now: () => number;
  regenerate(state: SessionState, keepData: boolean): void;
  materialize(state: SessionState, withCookie: boolean): void;
  schedule(state: SessionState): void;
}

/**
 * Signs requests' sessions in and out, and finds their users.
 *
 * @example
 * ```ts
 * const auth = new SessionAuth(tokens, policy, events, validAfter, lifecycle);
 * const line = await auth.signIn(state, { sub: 'u1' });
 * ```
 */
export class SessionAuth {
  readonly #tokens: AuthTokens | null;
  readonly #policy: Policy;
  readonly #events: Events;
  readonly #validAfter: ValidAfter | null;
  readonly #rt: AuthLifecycle;

  constructor(tokens: AuthTokens | null, policy: Policy, events: Events, validAfter: ValidAfter | null, rt: AuthLifecycle) {
    this.#tokens = tokens;
    this.#policy = policy;
    this.#events = events;
    this.#validAfter = validAfter;
    this.#rt = rt;
  }

  #on(): AuthTokens {
    if (this.#tokens === null) throw new NotSupportedError('the auth cookie is off (auth: false)');
    return this.#tokens;
  }

  async signIn(state: SessionState, claims: AuthClaims): Promise<string> {
    const tokens = this.#on();
    checkClaims(claims);
    if (state.destroyed) throw new SessionStateError('the session was destroyed; it cannot be signed in');
    const sink = state.sink;
    if (sink === null) throw new SessionStateError('a session opened by ID has no cookie to sign in with');
    // A new ID whatever the session was: one a client brought (perhaps planted) never becomes a signed-in user's.
    this.#rt.regenerate(state, true);
    const now = this.#rt.now();
    const { userId, authenticatedAt, metaChanged } = state;
    state.userId = claims.sub;
    state.authenticatedAt = now;
    state.metaChanged = true;
    try {
      this.#rt.materialize(state, true);
      this.#rt.schedule(state);
    } catch (error) {
      state.userId = userId;
      state.authenticatedAt = authenticatedAt;
      state.metaChanged = metaChanged;
      throw error;
    }
    const key = state.key!;
    const maxLifetime = policyFor(this.#policy, state.tenant).maxLifetime;
    const exp = Math.min(now + (tokens.lifetime ?? maxLifetime), absoluteEnd(this.#policy, state), now + maxLifetime);
    const token = await tokens.sign(claims, { binding: sessionBinding(key), tenant: state.tenant, now, exp });
    const line = serializeCookie(tokens.cookie, token, exp - now, now);
    if (line.length > MAX_COOKIE_BYTES) {
      throw new PayloadTooLargeError(`the auth cookie is ${line.length} bytes, over the ${MAX_COOKIE_BYTES}-byte cookie limit: sign in with fewer claims`, line.length, MAX_COOKIE_BYTES);
    }
    if (state.key !== key || state.destroyed) throw new SessionStateError('the session was regenerated or destroyed while signing in');
    if (!sink.setCookie(line)) throw new SessionStateError('the response headers were sent before the auth cookie could be set: await signIn() before responding');
    // What verifying it would give: the claims of its payload (the middle part), as signed.
    state.authUser = { key, claims: Promise.resolve(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as AuthClaims) };
    this.#events.emit('signedIn', state);
    return line;
  }

  signOut(state: SessionState): string {
    const line = clearCookie(this.#on().cookie);
    const sink = state.sink;
    if (sink === null) throw new SessionStateError('a session opened by ID has no cookie to sign out');
    if (!sink.writable()) throw new SessionStateError('cannot sign out after the response headers were sent');
    // A stored or signed-in session starts over: a new ID, no data, no user; its old record is
    // deleted (revoked, with CookieStore), so a copy of the auth cookie bound to it verifies no more.
    const { key, userId } = state;
    if (!state.destroyed && (state.loaded || state.version > 0 || state.userId !== null)) this.#rt.regenerate(state, false);
    sink.setCookie(line);
    // About the session signed out (its old key) and its user, from this request.
    this.#events.emit('signedOut', under(state, key, userId));
    if (state.key !== null) state.authUser = { key: state.key, claims: Promise.resolve(null) };
    return line;
  }

  user(state: SessionState): Promise<AuthClaims | null> {
    if (this.#tokens === null || state.destroyed) return Promise.resolve(null);
    const key = state.key;
    const cached = state.authUser;
    if (cached !== null && cached.key === key) return cached.claims as Promise<AuthClaims | null>;
    const claims = this.#verify(this.#tokens, state);
    if (key !== null) state.authUser = { key, claims };
    return claims;
  }

  async #verify(tokens: AuthTokens, state: SessionState): Promise<AuthClaims | null> {
    const values = readCookie(state.requestCookies, tokens.cookie.name, MAX_VALUES);
    if (values.length === 0) return null;
    const key = state.key;
    let failure: AuthFailure = 'session';
    // Bound to a session the request loaded from the store, with a user: a fresh one has none.
    if (state.loaded && key !== null && state.userId !== null) {
      const binding = sessionBinding(key);
      const now = this.#rt.now();
      for (const value of values) {
        const result = await tokens.verify(value, now);
        if ('failure' in result) {
          failure = result.failure;
          continue;
        }
        const c = result.claims;
        if (c.sid !== binding || (c.tid ?? null) !== state.tenant || c.sub !== state.userId) {
          failure = 'session';
          continue;
        }
        if (await this.#revoked(state, c, now)) {
          failure = 'revoked';
          continue;
        }
        return c;
      }
    }
    this.#events.emit('invalidAuth', state, failure);
    return null;
  }

  /** Whether the user signed out everywhere after this token was issued, or this session signed in. */
  async #revoked(state: SessionState, claims: AuthClaims, now: number): Promise<boolean> {
    if (this.#validAfter === null) return false;
    const at = await this.#validAfter.get(claims.sub, state.tenant, now);
    // `iat` is in seconds: a token of the same second as the sign-out is refused too.
    return at !== null && ((claims.iat ?? 0) * 1000 < at || (state.authenticatedAt ?? state.createdAt) < at);
  }
}

/** Refuse claims that cannot be signed: no `sub`, a claim tessera writes itself, or a value JSON cannot hold. */
function checkClaims(claims: AuthClaims): void {
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) throw new SessionStateError('signIn(claims): claims must be an object with sub');
  if (typeof claims.sub !== 'string' || claims.sub === '') throw new SessionStateError('signIn(claims): sub must be a non-empty string (the user ID)');
  for (const name of Object.keys(claims)) {
    if (RESERVED_CLAIMS.has(name)) throw new SessionStateError(`signIn(claims): "${name}" is set by tessera, not by the app`);
  }
  try {
    JSON.stringify(claims);
  } catch (error) {
    throw new SessionStateError(`signIn(claims): claims must be JSON-serialisable: ${(error as Error).message}`);
  }
}
