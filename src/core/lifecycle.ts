/**
 * The session lifecycle: what happens when a handler starts, changes, regenerates, destroys,
 * refreshes or ignores a session — state changes, cookies on the response, and commits queued.
 * It is what a {@link Session} calls (its runtime); the backend does the storing.
 *
 * @module
 * @internal
 */
import { SessionAuth } from '../auth/session-auth.js';
import type { AuthClaims } from '../auth/tokens.js';
import type { ValidAfter } from '../auth/valid-after.js';
import { clearCookie } from '../cookie.js';
import { generateId, storeKey } from '../crypto/ids.js';
import { GENERATE_ID } from './request.js';
import type { CsrfProtection } from '../csrf.js';
import { SessionStateError } from '../errors.js';
import type { Lifetimes, ResolvedOptions } from '../options.js';
import type { SessionRuntime } from '../session-runtime.js';
import type { Backend } from './backend.js';
import { under, type Events } from './events.js';
import { cookieMaxAge, expiry, policyFor, revokeUntil, touchIsDue, type Policy } from './policy.js';
import { CommitQueue, type CommitRunner } from './queue.js';
import { hasWrite, NO_CHANGES, NO_KEYS, retire, type SessionState } from './state.js';

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * The lifecycle of every session of one manager.
 *
 * @example
 * ```ts
 * const lifecycle = new Lifecycle(options, policy, backend, events, committer);
 * const session = new Session(state, lifecycle);
 * ```
 */
export class Lifecycle implements SessionRuntime {
  readonly now: () => number;
  readonly maxDataBytes: number;
  readonly csrfFieldName: string;
  readonly #options: ResolvedOptions;
  readonly #policy: Policy;
  readonly #backend: Backend;
  readonly #events: Events;
  readonly #runner: CommitRunner;
  readonly #csrf: CsrfProtection;
  readonly #auth: SessionAuth;
  /** `signOut` is regenerating: the old session's streams end instead of moving. */
  #signingOut = false;

  constructor(options: ResolvedOptions, policy: Policy, backend: Backend, events: Events, runner: CommitRunner, validAfter: ValidAfter | null = null) {
    this.#options = options;
    this.#policy = policy;
    this.#backend = backend;
    this.#events = events;
    this.#runner = runner;
    this.#csrf = options.csrf;
    this.csrfFieldName = options.csrf.field;
    this.now = options.now;
    this.maxDataBytes = options.maxDataBytes;
    this.#auth = new SessionAuth(options.auth, policy, events, validAfter, this);
  }

  signIn(state: SessionState, claims: AuthClaims): Promise<string> {
    return this.#auth.signIn(state, claims);
  }

  signOut(state: SessionState): string {
    const previous = state.key;
    this.#signingOut = true;
    try {
      return this.#auth.signOut(state);
    } finally {
      this.#signingOut = false;
      // The tabs of the old session are told (and their streams closed), not moved to the new one.
      if (previous !== null && previous !== state.key) this.#events.sessions?.ended(previous, 'signed-out');
    }
  }

  user(state: SessionState): Promise<AuthClaims | null> {
    return this.#auth.user(state);
  }

  lifetimes(state: SessionState): Pick<Lifetimes, 'rememberMeLifetime' | 'maxLifetime'> {
    return policyFor(this.#policy, state.tenant);
  }

  /** The session's commit queue, made on first use: a session only read never needs one. */
  queue(state: SessionState): CommitQueue {
    return (state.queue ??= new CommitQueue(state, this.#runner));
  }

  materialize(state: SessionState, withCookie: boolean): void {
    const needsCookie = withCookie && !state.cookieIssued && state.sink !== null && !state.ignored;
    if (needsCookie && !state.sink!.writable()) {
      throw new SessionStateError('cannot start a session after the response headers were sent');
    }
    if (state.id === null) {
      state.id = state.sink?.[GENERATE_ID]?.() ?? generateId();
      state.key = storeKey(state.id, state.tenant);
    }
    if (needsCookie) {
      this.#backend.startCookie(state);
      // The browser's token cookie, if it has one, is of an earlier ID.
      if (state.csrfCookie !== 'none') this.#putCsrfCookie(state);
    }
  }

  csrfToken(state: SessionState): string {
    if (state.destroyed) throw new SessionStateError('the session was destroyed; it has no CSRF token');
    this.materialize(state, false);
    const sink = state.sink;
    if (sink !== null && !state.cookieIssued && !state.provisional && !state.ignored) {
      // A token is only of use once the browser holds the ID it was made from.
      if (!sink.writable()) throw new SessionStateError('cannot issue a CSRF token for a new session after the response headers were sent');
      this.#backend.issueCookie(state);
      state.provisional = true;
    }
    if (state.csrfCookie !== 'sent' && sink !== null && sink.writable() && !state.ignored) this.#putCsrfCookie(state);
    return this.#csrf.tokenFor(state.key!);
  }

  verifyCsrfToken(state: SessionState, token: unknown): boolean {
    return state.key !== null && !state.destroyed && this.#csrf.verify(token, state.key);
  }

  /** Note whether the request carried a CSRF token cookie (so a new ID replaces it, and destroy clears it). */
  noteCsrfCookie(state: SessionState, header: string | undefined): void {
    const cookie = this.#csrf.cookie;
    if (cookie !== null && header !== undefined && header.includes(`${cookie.name}=`)) state.csrfCookie = 'held';
  }

  /** Put the readable CSRF token cookie of the session's current ID on the response. */
  #putCsrfCookie(state: SessionState): void {
    const line = this.#csrf.cookieLine(state.key!);
    if (line !== null && state.sink !== null && state.sink.setCookie(line)) state.csrfCookie = 'sent';
  }

  /** A new session stored from the start (`saveUninitialized`). */
  start(state: SessionState): void {
    this.materialize(state, true);
    state.touchDue = true;
    this.#scheduleLater(state);
  }

  schedule(state: SessionState): void {
    if (state.ignored) return;
    this.#backend.changed(state);
    this.queue(state).schedule();
  }

  settle(state: SessionState): Promise<void> {
    if (state.queue !== null) return state.queue.settle();
    // Nothing was ever queued; settling ends a hold all the same.
    state.held = false;
    return RESOLVED;
  }

  /** A loaded session: queue a touch when enough of its idle window has passed. */
  touchIfDue(state: SessionState, now: number): void {
    if (touchIsDue(this.#policy, state, now)) this.touch(state);
  }

  /** A loaded session: queue a touch now, whatever the throttle — it records this request's IP and user agent. */
  touch(state: SessionState): void {
    if (!this.#backend.canTouch(state)) return;
    state.touchDue = true;
    this.refreshCookie(state, false);
    this.#scheduleLater(state);
  }

  /**
   * {@link Lifecycle.schedule} for a commit the loader decided, not the handler: it starts after a
   * macrotask, so a handler that resumes from `await load()` can still `ignore()` it.
   */
  #scheduleLater(state: SessionState): void {
    if (state.ignored) return;
    this.#backend.changed(state);
    this.queue(state).scheduleLater();
  }

  regenerate(state: SessionState, keepData: boolean): void {
    if (state.sink === null) throw new SessionStateError('a session opened by ID has no cookie to regenerate');
    if (!state.sink.writable()) throw new SessionStateError('cannot regenerate the session after the response headers were sent');
    // The new ID first: an app's genid that throws leaves the session as it was.
    const id = state.sink[GENERATE_ID]?.() ?? generateId();
    const now = this.now();
    if (state.key !== null && state.version > 0) retire(state, state.key, revokeUntil(this.#policy, state, now));
    const previous = state.key;
    state.id = id;
    state.key = storeKey(state.id, state.tenant);
    state.version = 0;
    state.loaded = false;
    state.createdAt = now;
    state.lastSeenAt = now;
    state.changes = NO_CHANGES;
    state.cleared = false;
    if (keepData) {
      const changes = (state.changes = new Map());
      for (const [k, v] of Object.entries(state.data)) changes.set(k, v);
    } else {
      state.data = {};
      state.userId = null;
      state.lifetime = null;
      state.persistent = null;
      state.authenticatedAt = null;
    }
    state.metaChanged = state.userId !== null || state.lifetime !== null;
    state.touchDue = this.#options.saveUninitialized;
    if (hasWrite(state)) this.#putCookie(state);
    else if (!state.ignored) {
      // Nothing to store under the new ID yet: its cookie is provisional, as a first visit's that
      // got a CSRF token, so the ID (and a token made for it) lasts until something is written.
      state.cookieIssued = false;
      this.#backend.issueCookie(state);
      state.provisional = true;
    }
    if (state.csrfCookie !== 'none' && !state.ignored) this.#putCsrfCookie(state);
    if (previous) {
      this.#events.emit('regenerated', under(state, previous));
      if (!this.#signingOut) this.#events.sessions?.moved(previous, state.key);
    }
    this.schedule(state);
  }

  destroy(state: SessionState): void {
    state.destroyed = true;
    state.changes = NO_CHANGES;
    const sink = state.sink;
    if (sink !== null && !state.ignored && (state.cookieSent || state.cookieIssued || state.provisional) && sink.writable()) {
      sink.setCookie(clearCookie(this.#options.cookie));
      const clearCsrf = state.csrfCookie === 'none' ? null : this.#csrf.clearLine();
      if (clearCsrf !== null) sink.setCookie(clearCsrf);
      state.csrfCookie = 'none';
    }
    // The auth cookie is bound to this session: it stops verifying now, and leaves the browser too.
    const auth = this.#options.auth;
    if (auth !== null && sink !== null && !state.ignored && sink.writable() && (state.authUser !== null || state.requestCookies?.includes(`${auth.cookie.name}=`))) {
      sink.setCookie(clearCookie(auth.cookie));
    }
    if (state.key !== null) this.#events.emit('destroyed', state);
    this.schedule(state);
  }

  ignore(state: SessionState): void {
    state.ignored = true;
    state.changes = NO_CHANGES;
    state.cleared = false;
    state.metaChanged = false;
    state.touchDue = false;
    state.retired = NO_KEYS;
    if (state.sink !== null && state.sink.writable()) state.sink.withdrawCookie();
  }

  async reload(state: SessionState): Promise<void> {
    await this.settle(state);
    await this.#backend.reload(state);
  }

  expiresAt(state: SessionState): number {
    return expiry(this.#policy, state);
  }

  refreshCookie(state: SessionState, force: boolean): void {
    if (state.sink === null || state.id === null || !state.cookieIssued || !state.sink.writable()) return;
    if (!force && cookieMaxAge(this.#policy, state, this.now()) === null) return;
    this.#putCookie(state);
  }

  cookieMaxAge(state: SessionState): number | null {
    return cookieMaxAge(this.#policy, state, this.now());
  }

  #putCookie(state: SessionState): void {
    if (!state.ignored) this.#backend.putCookie(state);
  }
}
