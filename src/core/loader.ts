/**
 * Request loading: the request's cookie, through the backend, to a live session — or a fresh one
 * when there is none it may use (no cookie, a bad or expired one, a strict binding mismatch, which
 * also ends it). Synchronous
 * up to the store: a store that answers at once gives the session without a promise.
 *
 * @module
 * @internal
 */
import type { ActivityTracker } from '../activity.js';
import { NotSupportedError } from '../errors.js';
import { isTabId } from '../live/protocol.js';
import type { ResolvedOptions } from '../options.js';
import { Session } from '../session.js';
import type { Backend } from './backend.js';
import type { RequestRuntime, SessionContext } from './context.js';
import { isThenable } from './driver.js';
import { subjectOf, type Events } from './events.js';
import type { Lifecycle } from './lifecycle.js';
import { bindingMismatch, expiry, type Policy } from './policy.js';
import type { Step } from './queue.js';
import type { CookieSink, RequestInput } from './request.js';
import { freshState, type SessionState } from './state.js';

/** What the loader is made of. */
export interface LoaderParts {
  readonly options: ResolvedOptions;
  readonly policy: Policy;
  readonly backend: Backend;
  readonly lifecycle: Lifecycle;
  readonly events: Events;
  /** Throws when the manager was closed. */
  readonly assertOpen: () => void;
  /** Where a request that names its tab records the tab's activity. */
  readonly activity: ActivityTracker;
}

/**
 * Loads the sessions of requests, for their {@link SessionContext}s.
 *
 * @example
 * ```ts
 * const loader = new RequestLoader({ options, policy, backend, lifecycle, events, assertOpen, activity }, store.name);
 * const ctx = new SessionContext(loader, input, sink);
 * ```
 */
export class RequestLoader implements RequestRuntime {
  readonly #options: ResolvedOptions;
  readonly #policy: Policy;
  readonly #backend: Backend;
  readonly #lifecycle: Lifecycle;
  readonly #events: Events;
  readonly #assertOpen: () => void;
  readonly #activity: ActivityTracker;
  readonly #storeName: string;

  constructor(parts: LoaderParts, storeName: string) {
    this.#options = parts.options;
    this.#policy = parts.policy;
    this.#backend = parts.backend;
    this.#lifecycle = parts.lifecycle;
    this.#events = parts.events;
    this.#assertOpen = parts.assertOpen;
    this.#activity = parts.activity;
    this.#storeName = storeName;
  }

  /** The request's session. Never throws: a failure rejects. */
  cookieKey(input: RequestInput): string | null {
    return this.#backend.cookieKey(input.cookieHeader, input.tenant ?? null);
  }

  load(ctx: SessionContext, input: RequestInput, sink: CookieSink): Promise<Session> {
    try {
      const loaded = this.#read(ctx, input, sink);
      if (loaded instanceof Session) return Promise.resolve(loaded);
      if (!this.#events.wants('storeError')) return loaded;
      return loaded.catch((error: unknown) => {
        this.#failed(input, error);
        throw error;
      });
    } catch (error) {
      this.#failed(input, error);
      return Promise.reject(error);
    }
  }

  /** A load failed: a `storeError` event when the store failed, about the session the request's cookie names. */
  #failed(input: RequestInput, error: unknown): void {
    if (this.#events.wants('storeError')) this.#events.storeError(subjectOf(this.cookieKey(input), input), 'load', error);
  }

  /** The request's session, without a promise. @throws {@link NotSupportedError} when the store answers with promises. */
  loadSync(ctx: SessionContext, input: RequestInput, sink: CookieSink): Session {
    this.#assertOpen();
    if (!this.#backend.synchronous) {
      throw new NotSupportedError(`the ${this.#storeName} store answers with promises: use load(), not loadSync()`);
    }
    try {
      return this.#read(ctx, input, sink) as Session;
    } catch (error) {
      this.#failed(input, error);
      throw error;
    }
  }

  settle(state: SessionState): Promise<void> {
    return this.#lifecycle.settle(state);
  }

  #read(ctx: SessionContext, input: RequestInput, sink: CookieSink): Session | Promise<Session> {
    this.#assertOpen();
    const tenant = input.tenant ?? null;
    const now = this.#options.now();
    const found = this.#backend.open(input.cookieHeader, tenant, sink, now, ctx);
    // The synchronous case without a closure: it is every request's path on memory and SQLite.
    if (!isThenable(found)) return this.#enter(ctx, input, sink, tenant, found, now);
    return Promise.resolve(found).then((state) => this.#enter(ctx, input, sink, tenant, state, now));
  }

  /** Record the activity of the request's tab, if it is a tab ID; expiring as the session would, touched now. */
  #recordTab(state: SessionState, tab: string, now: number): void {
    if (!isTabId(tab)) return;
    const expiresAt = expiry(this.#policy, { createdAt: state.createdAt, lastSeenAt: now, lifetime: state.lifetime, tenant: state.tenant });
    this.#activity.record(state.key!, tab, now, expiresAt);
  }

  /** The request's session once read: `found`, or a fresh one when there is none (or it may not be used). */
  #enter(ctx: SessionContext, input: RequestInput, sink: CookieSink, tenant: string | null, found: SessionState | null, now: number): Session | Promise<Session> {
    const ip = input.ip ?? null;
    const userAgent = input.userAgent ?? null;
    let state = found;
    let ending: Step<void> = undefined;
    let logged = false;
    if (state !== null) {
      const mismatch = bindingMismatch(this.#policy, state, ip, userAgent);
      if (mismatch !== null) {
        this.#events.bindingMismatch(state, mismatch);
        logged = mismatch.mode === 'log';
        if (!logged) {
          // Ended, not just passed over: whoever else holds its cookie (the thief, or the owner) loses it too.
          this.#events.emit('destroyed', state, 'binding');
          ending = this.#backend.drop(state);
          state = null;
        }
      }
    }
    const lifecycle = this.#lifecycle;
    if (state === null) {
      state = freshState(tenant, sink, now, ip, userAgent);
      state.cookieSent = ctx.cookieSent;
      state.held = ctx.held;
      lifecycle.noteCsrfCookie(state, input.cookieHeader);
      if (this.#options.saveUninitialized) lifecycle.start(state);
    } else if (!state.loaded) {
      // A provisional ID (its CSRF token went out, nothing is stored yet): kept. Its cookie is
      // not `cookieIssued`: the first write replaces it with the cookie of a stored session.
      state.held = ctx.held;
      state.ip = state.requestIp = ip;
      state.userAgent = state.requestUserAgent = userAgent;
      state.cookieSent = true;
      state.provisional = true;
      lifecycle.noteCsrfCookie(state, input.cookieHeader);
      if (this.#options.saveUninitialized) lifecycle.start(state);
    } else {
      state.held = ctx.held;
      state.requestIp = ip;
      state.requestUserAgent = userAgent;
      state.cookieSent = true;
      state.cookieIssued = true;
      lifecycle.noteCsrfCookie(state, input.cookieHeader);
      // A cookie made under an older secret is made again under the current one while the head
      // can take it, so dropping that secret later signs nobody out.
      if (this.#options.rolling || ctx.cookieStale) lifecycle.refreshCookie(state, true);
      // A logged mismatch is reported once: the touch records the new address (or User-Agent).
      if (logged) lifecycle.touch(state);
      else lifecycle.touchIfDue(state, now);
      // Only a request that names its tab pays for this (one property read for the others).
      if (input.tab != null) this.#recordTab(state, input.tab, now);
    }
    state.requestCookies = input.cookieHeader;
    ctx.state = state;
    const session = (ctx.session = new Session(state, lifecycle));
    // The load fails as a store read would when the store cannot end the session (the adapter answers 503).
    return isThenable(ending) ? Promise.resolve(ending).then(() => session) : session;
  }
}
