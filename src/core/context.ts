/**
 * One request's handle on its session: loaded lazily (a request that never touches the session
 * costs no store round trip), commits held while the adapter runs the handler's synchronous code,
 * and settled at the end.
 *
 * @module
 */
import { SessionStateError, type NotSupportedError } from '../errors.js';
import type { Tessera } from '../manager.js';
import type { Session } from '../session.js';
import type { CookieProbe } from './backend.js';
import type { CookieSink, RequestInput } from './request.js';
import type { SessionState } from './state.js';

const RESOLVED: Promise<void> = Promise.resolve();
const noop = (): void => {};

/** @internal What a {@link SessionContext} calls on its manager. */
export interface RequestRuntime {
  load(ctx: SessionContext, input: RequestInput, sink: CookieSink): Promise<Session>;
  loadSync(ctx: SessionContext, input: RequestInput, sink: CookieSink): Session;
  settle(state: SessionState): Promise<void>;
  /** The store key the request's cookie names (checked, the store not read), or `null`. */
  cookieKey(input: RequestInput): string | null;
}

/**
 * The per-request handle an adapter keeps: loads the session on first use and settles its
 * commits at the end.
 *
 * @example
 * ```ts
 * const ctx = tessera.begin({ cookieHeader: req.headers.cookie }, sink);
 * const session = await ctx.load();
 * // ... handler ...
 * await ctx.settle();
 * ```
 */
export class SessionContext implements CookieProbe {
  #promise: Promise<Session> | null = null;
  #held = false;
  /** @internal Set by the loader once the session is loaded. */
  state: SessionState | null = null;
  /** @internal The loaded session (set with `state`). */
  session: Session | null = null;
  /** @internal The request carried a session cookie (set by the backend that read it). */
  cookieSent = false;
  /** @internal The session's cookie was made under an older secret (set by the backend that read it). */
  cookieStale = false;
  readonly #requests: RequestRuntime;
  readonly #input: RequestInput;
  readonly #sink: CookieSink;

  /** @internal Made by {@link Tessera.begin}. */
  constructor(requests: RequestRuntime, input: RequestInput, sink: CookieSink) {
    this.#requests = requests;
    this.#input = input;
    this.#sink = sink;
  }

  /** @internal What the adapter passed for the request (its cookie header, IP, user agent, tenant, tab). */
  get input(): RequestInput {
    return this.#input;
  }

  /**
   * @internal The store key of the session the request's cookie names — its signature (or seal)
   * checked, the store not read, so also for a session that is gone — or `null` without a valid one.
   */
  cookieKey(): string | null {
    return this.#requests.cookieKey(this.#input);
  }

  /** The request's session, loaded on the first call. Rejects when the store fails. */
  load(): Promise<Session> {
    // After loadSync(), the promise is made only if asked for.
    return (this.#promise ??= this.session !== null ? Promise.resolve(this.session) : this.#requests.load(this, this.#input, this.#sink));
  }

  /**
   * The request's session, loaded now, without a promise: for stores that answer synchronously
   * (memory, SQLite, a cookie store whose revocation store is one of those; see
   * {@link Tessera.loadsSynchronously}). A handler using it need not be async. Throws
   * {@link NotSupportedError} with other stores, and what `load()` would reject with when the
   * store fails.
   *
   * @example
   * ```ts
   * const session = ctx.loadSync();
   * session.set('views', (session.get<number>('views') ?? 0) + 1);
   * ```
   */
  loadSync(): Session {
    if (this.session !== null) return this.session;
    if (this.#promise !== null) throw new SessionStateError('load() was called first and has not given the session (it is still loading, or it failed): await load()');
    return this.#requests.loadSync(this, this.#input, this.#sink);
  }

  /**
   * While the context is held, the session's commits wait for {@link SessionContext.release}
   * instead of the next tick. An adapter holds the context while it runs a handler's synchronous
   * code and releases it when the handler returns: the commit then starts at once, and a store
   * that answers synchronously writes it before the adapter returns, with no trip through the
   * microtask queue. A save or settle releases the hold too.
   *
   * @example
   * ```ts
   * ctx.hold();
   * try {
   *   result = handler(req, res);
   * } finally {
   *   ctx.release();
   * }
   * ```
   */
  hold(): void {
    this.#held = true;
    const state = this.state;
    if (state !== null) state.held = true;
  }

  /** End {@link SessionContext.hold}: a commit it deferred starts now. */
  release(): void {
    this.#held = false;
    const state = this.state;
    if (state === null) return;
    if (state.queue === null) state.held = false;
    else state.queue.release();
  }

  /** @internal Whether the context is held ({@link SessionContext.hold}). */
  get held(): boolean {
    return this.#held;
  }

  /**
   * True when {@link SessionContext.settle} has nothing to wait for: the session was never loaded,
   * or it was and no commit is pending or unreported. Lets an adapter skip an `await`.
   */
  get settled(): boolean {
    if (this.#promise === null && this.session === null) return true;
    const state = this.state;
    return state !== null && (state.queue === null || state.queue.idle);
  }

  /** Wait for the session's commits; rethrows a commit failure not yet seen. No-op if never loaded. */
  settle(): Promise<void> {
    if (this.state !== null) return this.#requests.settle(this.state);
    if (this.#promise === null) return RESOLVED;
    // A failed load was the handler's to see (it rejected load()); there is nothing to settle.
    return this.#promise.then(() => this.#requests.settle(this.state!), noop);
  }
}
