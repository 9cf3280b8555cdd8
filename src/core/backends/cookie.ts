/**
 * Sessions sealed into the cookie itself (`CookieStore`). The cookie is the store: a change is
 * sealed into a new cookie at once, while the response head can still take it, so a commit has
 * nothing left to write. What a server must remember is what the cookie cannot say about itself:
 * that a copy of it was signed out. An optional revocation store keeps the store keys of replaced
 * and destroyed sessions until every copy of their cookie would have expired.
 *
 * @module
 * @internal
 */
import type { ValidAfter } from '../../auth/valid-after.js';
import { readCookie, SESSION_COOKIE_VALUES_MAX } from '../../cookie.js';
import { storeKey } from '../../crypto/ids.js';
import { NotSupportedError, SessionStateError } from '../../errors.js';
import type { ResolvedOptions } from '../../options.js';
import type { StoreRecord } from '../../stores/store.js';
import type { Backend, CookieProbe, ExpiredBatch } from '../backend.js';
import { andThen, isThenable, run, type StoreDriver } from '../driver.js';
import { subjectOf, type Events } from '../events.js';
import { expiry, revokeByIdUntil, revokeUntil, type Policy } from '../policy.js';
import type { Step } from '../queue.js';
import type { CookieSink } from '../request.js';
import type { SealedCookies } from '../sealed.js';
import { freshState, NO_CHANGES, NO_KEYS, type Retired, type SessionState } from '../state.js';
import { Undeleted, type UndeletedKey } from '../undeleted.js';

/** What a cookie backend is made of. */
export interface CookieParts {
  readonly options: ResolvedOptions;
  readonly policy: Policy;
  readonly sealed: SealedCookies;
  /** The revocation store, or `null`: then a copy of a signed-out cookie works until it expires. */
  readonly revocation: StoreDriver | null;
  /** Users' "sign out everywhere" times (in the revocation store), or `null` without one. */
  readonly validAfter?: ValidAfter | null;
  readonly events: Events;
}

const noop = (): void => {};

const BY_ID = 'sessions sealed in cookies cannot be read or changed by ID: the data is in the browser';

/**
 * The backend of `CookieStore`.
 *
 * @example
 * ```ts
 * const backend = new CookieBackend({ options, policy, sealed, revocation: null, events });
 * ```
 */
export class CookieBackend implements Backend {
  readonly synchronous: boolean;
  readonly cleansUp: boolean;
  readonly #options: ResolvedOptions;
  readonly #policy: Policy;
  readonly #sealed: SealedCookies;
  readonly #revocation: StoreDriver | null;
  readonly #validAfter: ValidAfter | null;
  readonly #events: Events;
  /** Keys whose revocation failed (a destroy or regenerate whose commit nobody could retry): refused, revoked again later. */
  readonly #unrevoked = new Undeleted();
  /** One-time marks used in this process, when there is no revocation store to keep them (mark → until). */
  readonly #claimed = new Map<string, number>();

  constructor(parts: CookieParts) {
    this.#options = parts.options;
    this.#policy = parts.policy;
    this.#sealed = parts.sealed;
    this.#revocation = parts.revocation;
    this.#validAfter = parts.validAfter ?? null;
    this.#events = parts.events;
    this.synchronous = parts.revocation === null || parts.revocation.synchronous;
    this.cleansUp = parts.revocation?.cleansUp ?? false;
  }

  // ---------------------------------------------------------------- reading

  open(header: string | undefined, tenant: string | null, sink: CookieSink, now: number, probe: CookieProbe): Step<SessionState | null> {
    // The first few only: a header of forged values costs at most that many decryptions.
    const values = readCookie(header, this.#options.cookie.name, SESSION_COOKIE_VALUES_MAX);
    probe.cookieSent = values.length > 0;
    for (const value of values) {
      const state = freshState(tenant, sink, now);
      if (!this.#sealed.open(value, tenant, state)) {
        this.#events.emit('invalidCookie', subjectOf(null, probe.input), 'seal');
        continue;
      }
      // Events about it name the request that brought it.
      state.requestIp = probe.input.ip ?? null;
      state.requestUserAgent = probe.input.userAgent ?? null;
      if (now >= expiry(this.#policy, state)) {
        this.#events.emit('expired', state);
        return null;
      }
      state.loaded = true;
      state.version = 1;
      probe.cookieStale = this.#sealed.isStale(value);
      if (this.#revocation === null) return state;
      if (!this.#unrevoked.empty && this.#stillUnrevoked(state, now)) return null;
      const live = andThen(this.#revocation.get(state.key!, { now }), (record) => this.#unlessRevoked(state, record));
      return this.#validAfter === null ? live : andThen(live, (found) => this.#unlessSignedOut(found, now));
    }
    return null;
  }

  /**
   * Whether `key` is one a session stopped using and whose revocation failed: then it is refused
   * (its session is gone, whatever the revocation store says) and revoked again, in the background.
   */
  #stillUnrevoked(state: SessionState, now: number): boolean {
    const key = state.key!;
    const entry = this.#unrevoked.get(key);
    if (entry === undefined) return false;
    this.#events.emit('invalidCookie', state, 'revoked');
    try {
      const done = this.#revokeAgain(entry, now);
      if (isThenable(done)) Promise.resolve(done).then(() => this.#unrevoked.done(key), noop);
      else this.#unrevoked.done(key);
    } catch {
      // Still refused here: the next request that brings it, or the next cleanup, tries again.
    }
    return true;
  }

  /** Write the revocation of `entry` (again). */
  #revokeAgain(entry: UndeletedKey, now: number): Step<boolean> {
    return this.#revocation!.set(entry.key, { data: '', version: 1, expiresAt: entry.expiresAt, userId: null, tenant: entry.tenant }, 0, { now });
  }

  /** A sealed session, unless the revocation store holds a `record` for it. */
  #unlessRevoked(state: SessionState, record: StoreRecord | null): SessionState | null {
    if (record === null) return state;
    this.#events.emit('invalidCookie', state, 'revoked');
    return null;
  }

  /**
   * A sealed session, unless its user signed out everywhere after it signed in (or was created):
   * one store read, for signed-in sessions only.
   */
  #unlessSignedOut(state: SessionState | null, now: number): Step<SessionState | null> {
    if (state === null || state.userId === null) return state;
    return andThen(this.#validAfter!.get(state.userId, state.tenant, now), (at) => {
      if (at === null || (state.authenticatedAt ?? state.createdAt) >= at) return state;
      this.#events.emit('invalidCookie', state, 'signed-out-everywhere');
      return null;
    });
  }

  openByKey(): Promise<SessionState | null> {
    return Promise.reject(new NotSupportedError('sessions sealed in cookies live in the browser: they cannot be opened by handle'));
  }

  cookieKey(header: string | undefined, tenant: string | null): string | null {
    for (const value of readCookie(header, this.#options.cookie.name, SESSION_COOKIE_VALUES_MAX)) {
      const state = freshState(tenant, null, this.#options.now());
      if (this.#sealed.open(value, tenant, state)) return state.key;
    }
    return null;
  }

  async claimOnce(key: string, expiresAt: number): Promise<boolean> {
    const now = this.#options.now();
    if (this.#revocation === null) {
      // No shared store: one-time in this process (the marks expire with their tickets).
      for (const [mark, until] of this.#claimed) if (until <= now) this.#claimed.delete(mark);
      if (this.#claimed.has(key)) return false;
      this.#claimed.set(key, expiresAt);
      return true;
    }
    return this.#revocation.set(key, { data: '', version: 1, expiresAt, userId: null, tenant: null }, 0, { now });
  }

  openById(): Promise<SessionState | null> {
    return Promise.reject(new NotSupportedError(BY_ID));
  }

  assertById(what: string): void {
    throw new NotSupportedError(`${what}: sessions sealed in cookies live in the browser, and are made by a request`);
  }

  // ---------------------------------------------------------------- cookie

  /** Nothing yet: the change that follows seals the session into its cookie. */
  startCookie(): void {}

  /** The sealed session, empty as it may be, is the cookie that carries its ID. */
  issueCookie(state: SessionState): void {
    this.#seal(state);
  }

  putCookie(state: SessionState): void {
    this.#seal(state);
  }

  changed(state: SessionState): void {
    if (!state.destroyed && (state.changes.size > 0 || state.cleared || state.metaChanged || state.touchDue)) this.#seal(state);
  }

  canTouch(state: SessionState): boolean {
    return state.sink !== null && state.sink.writable();
  }

  /** Seal the session into its cookie now. Throws when it would not fit, or the head went out. */
  #seal(state: SessionState): void {
    const sink = state.sink;
    if (sink === null || state.id === null) return;
    if (!sink.writable()) throw new SessionStateError('the session lives in the cookie, and the response headers were already sent');
    const now = this.#options.now();
    sink.setCookie(this.#sealed.seal(state, now));
    this.#events.committed();
    state.cookieIssued = true;
    state.lastSeenAt = now;
    // The seal holds this request's IP and user agent (as a server store's write does): so does the session now.
    state.ip = state.requestIp ?? state.ip;
    state.userAgent = state.requestUserAgent ?? state.userAgent;
    state.changes = NO_CHANGES;
    state.cleared = false;
    state.metaChanged = false;
    state.touchDue = false;
  }

  // ---------------------------------------------------------------- writing

  /** Nothing: the cookie was written when the session changed. */
  write(): Step<void> {
    return undefined;
  }

  retire(state: SessionState): Step<void> {
    const gone = state.retired;
    if (gone.length === 0) return undefined;
    state.retired = NO_KEYS;
    return this.#revoke(state, gone);
  }

  drop(state: SessionState): Step<void> {
    let gone = state.retired;
    state.retired = NO_KEYS;
    if (state.key !== null && state.loaded) {
      gone = [...gone, { key: state.key, expiresAt: revokeUntil(this.#policy, state, this.#options.now()) }];
      state.loaded = false;
    }
    return gone.length === 0 ? undefined : this.#revoke(state, gone);
  }

  async reload(): Promise<void> {
    throw new NotSupportedError('a session sealed in a cookie cannot be reloaded: the cookie is its only copy');
  }

  /**
   * Remember `gone`, keys `state` retired, in the revocation store until each would have expired
   * (nothing without one). A key whose revocation failed is retired again, for the next commit.
   */
  #revoke(state: SessionState, gone: readonly Retired[]): Step<void> {
    const revocation = this.#revocation;
    if (revocation === null) return undefined;
    const tenant = state.tenant;
    const unrevoked = this.#unrevoked;
    return run(
      (function* revocations(now: number) {
        for (let i = 0; i < gone.length; i++) {
          const { key, expiresAt } = gone[i]!;
          if (expiresAt <= now) continue;
          try {
            yield revocation.set(key, { data: '', version: 1, expiresAt, userId: null, tenant }, 0, { now });
          } catch (error) {
            // Not revoked: a copy of that cookie still works. The next commit (or save()) tries
            // again; until one does (there may be none), this process refuses it.
            const left = gone.slice(i);
            state.retired = [...left, ...state.retired];
            unrevoked.add(left, tenant);
            throw error;
          }
          unrevoked.done(key);
        }
      })(this.#options.now()),
    );
  }

  // ---------------------------------------------------------------- by ID and by user

  async destroyById(id: string, tenant: string | null): Promise<boolean> {
    const revocation = this.#revocation;
    if (revocation === null) throw new NotSupportedError('revoking a cookie session by ID needs a revocation store (CookieStore({ revocation }))');
    const now = this.#options.now();
    const record = { data: '', version: 1, expiresAt: revokeByIdUntil(this.#policy, now, tenant), userId: null, tenant };
    const key = storeKey(id, tenant);
    const revoked = await revocation.set(key, record, 0, { now });
    // Its live streams (if any) are told and closed, as for a server store's destroy.
    if (revoked) this.#events.emit('destroyed', subjectOf(key, null, { userId: null, tenant }));
    return revoked;
  }

  listByUser(): Promise<never> {
    return Promise.reject(new NotSupportedError('the cookie store cannot list sessions by user'));
  }

  listSessions(): Promise<never> {
    return Promise.reject(new NotSupportedError('sessions sealed in cookies live in the browsers: the server cannot list them'));
  }

  infoByHandle(): Promise<never> {
    return Promise.reject(new NotSupportedError('sessions sealed in cookies live in the browsers: the server cannot look one up'));
  }

  async expiryByKey(): Promise<undefined> {
    return undefined;
  }

  destroyByHandle(): Promise<never> {
    return Promise.reject(new NotSupportedError('sessions in cookies have no server-side handle to destroy'));
  }

  /** Write the revocations that failed (first batch only, stopping at the first failure: the store is likely down), then remove expired ones. */
  async deleteExpired({ now, limit, first }: ExpiredBatch): Promise<number> {
    if (this.#revocation === null) return 0;
    for (const entry of first ? this.#unrevoked.entries() : []) {
      try {
        if (entry.expiresAt > now) await this.#revokeAgain(entry, now);
      } catch {
        break;
      }
      this.#unrevoked.done(entry.key);
    }
    return this.#revocation.deleteExpired({ now }, limit);
  }

  async close(): Promise<void> {
    await this.#revocation?.close();
  }
}
