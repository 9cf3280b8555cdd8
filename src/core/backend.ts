/**
 * Where sessions live, as the core sees it: a server store behind a signed ID cookie
 * (`ServerBackend`), or the encrypted cookie itself (`CookieBackend`). The two are peers behind
 * this one interface, so no other part of the core asks which one it has — as Plug.Session's
 * cookie and ETS stores are peers behind its store behaviour.
 *
 * @module
 * @internal
 */
import type { StoreRecord } from '../stores/store.js';
import type { SessionInfo } from '../manager.js';
import type { Step } from './queue.js';
import type { CookieSink, RequestInput } from './request.js';
import type { SessionState } from './state.js';

/** Whose session a handle must name for {@link Backend.destroyByHandle} to destroy it. */
export interface HandleOwner {
  readonly userId: string;
  readonly tenant: string | null;
}

/** What a backend reports back about the cookie it looked at. */
export interface CookieProbe {
  /** The request carried a cookie of the session cookie's name (valid or not). */
  cookieSent: boolean;
  /**
   * The session was found through a cookie made under an older secret (signed, or sealed, with a
   * key other than the current one): the response should carry it made again under the current one.
   */
  cookieStale: boolean;
  /** The request whose cookie it is: where events about it came from (its IP and user agent). */
  readonly input: RequestInput;
}

/** One batch of a cleanup run: see {@link Backend.deleteExpired}. */
export interface ExpiredBatch {
  /** The run's time: every batch of a run removes what had expired when it began. */
  readonly now: number;
  /** Records per batch (a positive integer). */
  readonly limit: number;
  /** The run's first batch. */
  readonly first: boolean;
}

/**
 * A place sessions live.
 *
 * @example
 * ```ts
 * const found = backend.open(input.cookieHeader, tenant, sink, now, probe); // a state, null, or a promise of one
 * ```
 */
export interface Backend {
  /** Sessions load without a promise (the store, if any, answers synchronously). */
  readonly synchronous: boolean;
  /** Expired records can be removed on request (a cleanup timer is useful). */
  readonly cleansUp: boolean;

  /**
   * The live session the request's `Cookie` header names, or `null` (no cookie, a bad one, an
   * expired or revoked session). Never throws for untrusted input; a store failure throws or
   * rejects. Sets `probe.cookieSent`.
   */
  open(header: string | undefined, tenant: string | null, sink: CookieSink, now: number, probe: CookieProbe): Step<SessionState | null>;
  /** The live session `id` of `tenant`, or `null`, for an operation by ID. */
  openById(id: string, tenant: string | null): Promise<SessionState | null>;
  /**
   * The live session under store key `key` (its ID unknown: it gets a new one before a cookie can
   * name it), writing its cookies to `sink`; `null` when there is none. For live sign-in by handle.
   */
  openByKey(key: string, sink: CookieSink): Promise<SessionState | null>;
  /**
   * The store key of the session the request's cookie names (signature or seal checked, the store
   * not read: the session may be gone), or `null` when it carries no valid one.
   */
  cookieKey(header: string | undefined, tenant: string | null): string | null;
  /**
   * Use the one-time mark `key` (a cookie ticket's): `true` the first time in any process, `false`
   * after; the mark lasts until `expiresAt`.
   */
  claimOnce(key: string, expiresAt: number): Promise<boolean>;
  /** Throw `NotSupportedError` when sessions cannot be handled without a request (`what` says what was tried). */
  assertById(what: string): void;

  /** A session just got its ID for its first write: put its cookie now, if it can go out before the data does. */
  startCookie(state: SessionState): void;
  /**
   * The browser must hold the session's ID now, though nothing may be stored yet (a CSRF token was
   * handed out): put its cookie, whatever the session holds.
   */
  issueCookie(state: SessionState): void;
  /** Put (or put again) the session's cookie on the response. */
  putCookie(state: SessionState): void;
  /** The session changed or is due a touch: a backend whose cookie holds the session writes it now (may throw). */
  changed(state: SessionState): void;
  /** Whether a touch can be done now (a sealed session is touched by a new cookie, which needs the head unsent). */
  canTouch(state: SessionState): boolean;

  /** Write the session's changes (compare-and-set), if it has any. */
  write(state: SessionState): Step<void>;
  /** Delete (or revoke) the keys the session retired; `undefined` when there are none. */
  retire(state: SessionState): Step<void>;
  /** The session was destroyed: delete (or revoke) it and whatever it retired. */
  drop(state: SessionState): Step<void>;
  /** Re-read the session's stored fields (after its commits settled). */
  reload(state: SessionState): Promise<void>;

  /** Destroy session `id` of `tenant` without a request; resolves whether it existed. */
  destroyById(id: string, tenant: string | null): Promise<boolean>;
  /** The live sessions of a user. */
  listByUser(userId: string, tenant: string | null): Promise<SessionInfo[]>;
  /**
   * Destroy the live session with store key `handle` — with `owner`, only if it belongs to that
   * user in that tenant. Resolves whose it was (its user and tenant), or `null` when nothing was
   * destroyed.
   */
  destroyByHandle(handle: string, owner: HandleOwner | null): Promise<Pick<StoreRecord, 'userId' | 'tenant'> | null>;
  /** A page of every live session (`tenant` `null`: of every tenant), for operators. */
  listSessions(tenant: string | null, cursor: string | null, limit: number): Promise<{ sessions: SessionInfo[]; next: string | null }>;
  /** The live session under `handle`, or `null`. */
  infoByHandle(handle: string): Promise<SessionInfo | null>;
  /**
   * When the session under store key `key` expires now (ms), `null` when it is gone, `undefined`
   * when only a request can tell (a sealed cookie's expiry is in the browser's newest cookie).
   */
  expiryByKey(key: string): Promise<number | null | undefined>;
  /**
   * One batch of a cleanup run (`core/cleanup.ts`): remove at most about `batch.limit` records
   * expired at `batch.now`; how many. The run's first batch (`batch.first`) first retries the
   * deletes and revocations that failed earlier.
   */
  deleteExpired(batch: ExpiredBatch): Promise<number>;
  /** Release the store. */
  close(): Promise<void>;
}
