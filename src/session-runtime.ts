/**
 * What a `Session` needs from the core: the contract `core/lifecycle.ts` (`Lifecycle`)
 * implements. A session holds its state and this runtime; everything a change means beyond the
 * data (an ID and a cookie, a commit, regenerate, destroy, CSRF, sign-in) is the runtime's job.
 *
 * @module
 * @internal
 */
import type { AuthClaims } from './auth/tokens.js';
import type { SessionState } from './core/state.js';
import type { Lifetimes } from './options.js';

/** @internal What a Session needs from the core (its lifecycle). */
export interface SessionRuntime {
  readonly now: () => number;
  /** The cap on session data as JSON, in bytes: a value alone over it is refused at once. */
  readonly maxDataBytes: number;
  /** The lifetimes that apply to the session (its tenant's, or the defaults). */
  lifetimes(state: SessionState): Pick<Lifetimes, 'rememberMeLifetime' | 'maxLifetime'>;
  /**
   * Make sure the session has an ID; with `withCookie`, also that the response carries its cookie
   * (throws if the headers went out). Reading `id` assigns one without a cookie: the cookie goes
   * out with the first write, so a session that is never written leaves no cookie behind.
   */
  materialize(state: SessionState, withCookie: boolean): void;
  /** The state changed: queue a commit (runs after the current synchronous code). May throw (a cookie too large). */
  schedule(state: SessionState): void;
  /** Wait for every queued commit, rethrowing a failure nobody has seen yet. */
  settle(state: SessionState): Promise<void>;
  regenerate(state: SessionState, keepData: boolean): void;
  destroy(state: SessionState): void;
  ignore(state: SessionState): void;
  reload(state: SessionState): Promise<void>;
  expiresAt(state: SessionState): number;
  /** Re-send the cookie (if the browser has one): always with `force`, else only a persistent one. */
  refreshCookie(state: SessionState, force: boolean): void;
  /** Max-Age (ms) the cookie gets now, or `null` for a browser-session cookie. */
  cookieMaxAge(state: SessionState): number | null;
  /** The form field that carries the CSRF token. */
  readonly csrfFieldName: string;
  /** A freshly masked CSRF token; issues the session's ID cookie first if the browser has none. */
  csrfToken(state: SessionState): string;
  /** Whether `token` is a CSRF token of this session. */
  verifyCsrfToken(state: SessionState, token: unknown): boolean;
  /** Sign the session in: a new ID, the user, the time; the auth cookie's `Set-Cookie` line. */
  signIn(state: SessionState, claims: AuthClaims): Promise<string>;
  /** Sign the session out: the auth cookie's clearing line. */
  signOut(state: SessionState): string;
  /** The request's verified auth claims, or `null`. */
  user(state: SessionState): Promise<AuthClaims | null>;
}
