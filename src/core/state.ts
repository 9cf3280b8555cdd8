/**
 * The mutable state behind a {@link Session}, and the change set it records: which keys this
 * request set, deleted or updated, so a commit can re-apply exactly those on top of a concurrent
 * writer's version.
 *
 * @module
 * @internal
 */
import { SessionStateError } from '../errors.js';
import { assertDataSize, type Payload } from '../payload.js';
import type { SessionData } from '../session-values.js';
import type { CommitQueue } from './queue.js';
import type { CookieSink } from './request.js';

/** The one change set with nothing in it, shared: taking it costs nothing, writing to it throws. */
class NoChanges extends Map<string, unknown> {
  override set(): this {
    throw new Error('tessera: the shared empty change set cannot be written to (internal error)');
  }
}

/**
 * The empty change set a state starts with (and goes back to once its changes are taken): a
 * request that changes nothing allocates none. Code that records a change replaces it with a
 * `Map` of its own first.
 *
 * @example
 * ```ts
 * if (state.changes === NO_CHANGES) state.changes = new Map();
 * state.changes.set(key, value);
 * ```
 */
export const NO_CHANGES: Map<string, unknown> = new NoChanges();

/** Marks a key deleted in the change set. */
export const DELETED: unique symbol = Symbol('tessera.deleted');

/**
 * A change made with `session.update(key, fn)`: re-applied by calling `fn` on the value a
 * conflicting writer left, not by writing the value this request computed.
 *
 * @example
 * ```ts
 * changes.set('n', new Update((n) => ((n as number) ?? 0) + 1));
 * ```
 */
export class Update {
  constructor(readonly fn: (current: unknown) => unknown) {}

  /** This update, then `fn`: one update that runs both. */
  then(fn: (current: unknown) => unknown): Update {
    const first = this.fn;
    return new Update((current) => fn(first(current)));
  }

  /** This update after `previous`, a change recorded for the same key earlier. */
  after(previous: unknown): unknown {
    if (previous instanceof Update) return previous.then(this.fn);
    // The key was set (or deleted) outright earlier: the result no longer depends on the store.
    const value = this.fn(previous === DELETED ? undefined : previous);
    return value === undefined ? DELETED : value;
  }
}

/** A key a session no longer uses (regenerated or destroyed), to delete or, with cookies, revoke until `expiresAt`. */
export interface Retired {
  readonly key: string;
  readonly expiresAt: number;
}

/** No retired keys: shared, as most states never retire one (the list is replaced, never changed in place). */
export const NO_KEYS: readonly Retired[] = Object.freeze([]);

/** The mutable state behind a Session; owned by the core. */
export interface SessionState {
  id: string | null;
  key: string | null;
  version: number;
  data: SessionData;
  /** Keys this request changed since the last commit took them: a value, {@link DELETED} or an {@link Update}. */
  changes: Map<string, unknown>;
  cleared: boolean;
  createdAt: number;
  lastSeenAt: number;
  ip: string | null;
  userAgent: string | null;
  userId: string | null;
  tenant: string | null;
  lifetime: number | null;
  /** Per-session cookie persistence: `null` follows the options, `true`/`false` overrides them. */
  persistent: boolean | null;
  /** When the user signed in (`session.signIn`), or `null`. */
  authenticatedAt: number | null;
  /** The request's `Cookie` header, read for the auth cookie only when `session.user()` asks. */
  requestCookies: string | undefined;
  /** `session.user()`'s answer for this request, for the store key it was given under. */
  authUser: { readonly key: string; readonly claims: Promise<unknown> } | null;
  /** The browser has, or this response gives it, a cookie naming this session. */
  cookieIssued: boolean;
  /** userId or lifetime changed: a write is due even with no data change. */
  metaChanged: boolean;
  /** Expiry is due to be extended (touch, refresh or saveUninitialized). */
  touchDue: boolean;
  /** Records this request replaced (regenerate) and must delete or, with cookies, revoke. */
  retired: readonly Retired[];
  destroyed: boolean;
  /** `session.ignore()`: this request writes nothing. */
  ignored: boolean;
  /**
   * The readable CSRF token cookie: `none`, `held` (the browser sent one, perhaps of an earlier
   * ID) or `sent` (this response carries one of the current ID).
   */
  csrfCookie: 'none' | 'held' | 'sent';
  /**
   * The browser holds, or this response gives it, a provisional cookie naming this session's ID
   * (issued with a CSRF token before anything was stored); the first write replaces it.
   */
  provisional: boolean;
  /** The request arrived with a cookie for this session (so destroying must clear it). */
  cookieSent: boolean;
  /** The session came from the store (not fresh). */
  loaded: boolean;
  /** Where the cookie goes; `null` for a session opened by ID, which has no cookie. */
  sink: CookieSink | null;
  /** Input of the current request, recorded on the next write. */
  requestIp: string | null;
  requestUserAgent: string | null;
  /** The session's commits; made with its first commit. */
  queue: CommitQueue | null;
  /** Commits wait for a release (see `SessionContext.hold`); the queue reads and clears it. */
  held: boolean;
}

/**
 * A new, empty state; `now` is its creation time (a loaded state's are replaced by the record's).
 *
 * @example
 * ```ts
 * const state = freshState(null, sink, now, input.ip ?? null, input.userAgent ?? null);
 * ```
 */
export function freshState(tenant: string | null, sink: CookieSink | null, now: number, ip: string | null = null, userAgent: string | null = null): SessionState {
  return {
    id: null,
    key: null,
    version: 0,
    data: {},
    changes: NO_CHANGES,
    cleared: false,
    createdAt: now,
    lastSeenAt: now,
    ip,
    userAgent,
    userId: null,
    tenant,
    lifetime: null,
    persistent: null,
    authenticatedAt: null,
    requestCookies: undefined,
    authUser: null,
    cookieIssued: false,
    metaChanged: false,
    touchDue: false,
    retired: NO_KEYS,
    destroyed: false,
    ignored: false,
    csrfCookie: 'none',
    provisional: false,
    cookieSent: false,
    loaded: false,
    sink,
    requestIp: ip,
    requestUserAgent: userAgent,
    queue: null,
    held: false,
  };
}

/**
 * Take a stored payload's times, lifetime, cookie persistence and last IP / user agent into
 * `state` (its data, version and user are the caller's: they come from different places in a
 * record and in a sealed cookie).
 *
 * @example
 * ```ts
 * adoptPayload(state, payload);
 * ```
 */
export function adoptPayload(state: SessionState, payload: Payload): void {
  state.createdAt = payload.c;
  state.lastSeenAt = payload.s;
  state.lifetime = payload.l;
  state.persistent = payload.pc ?? null;
  state.authenticatedAt = payload.a ?? null;
  state.ip = payload.ip;
  state.userAgent = payload.ua;
}

/**
 * The payload `state` is written as at `now` (the reverse of {@link adoptPayload}): its data (or
 * `data`, a snapshot of it), times, lifetime, cookie persistence, and this request's IP and user
 * agent.
 *
 * @example
 * ```ts
 * const json = encoder.encode(payloadOf(state, now));
 * ```
 */
export function payloadOf(state: SessionState, now: number, data: SessionData = state.data): Payload {
  const payload: Payload = {
    d: data,
    c: state.createdAt,
    s: now,
    l: state.lifetime,
    ip: state.requestIp ?? state.ip,
    ua: state.requestUserAgent ?? state.userAgent,
  };
  if (state.persistent !== null) payload.pc = state.persistent;
  if (state.authenticatedAt !== null) payload.a = state.authenticatedAt;
  return payload;
}

/**
 * Add `key` to the keys `state` retired.
 *
 * @example
 * ```ts
 * retire(state, state.key!, revokeUntil(policy, state, now));
 * ```
 */
export function retire(state: SessionState, key: string, expiresAt: number): void {
  state.retired = [...state.retired, { key, expiresAt }];
}

/**
 * Whether `state` holds something to write: data or metadata changed, or expiry is due to be
 * extended — unless it is a new session that holds nothing and was never stored.
 *
 * @example
 * ```ts
 * if (!hasWrite(state)) return; // nothing for the store
 * ```
 */
export function hasWrite(state: SessionState): boolean {
  if (state.key === null) return false;
  if (state.touchDue) return true;
  if (!(state.changes.size > 0 || state.cleared || state.metaChanged)) return false;
  return state.version > 0 || state.userId !== null || !isEmpty(state.data);
}

function isEmpty(data: SessionData): boolean {
  for (const _ in data) return false;
  return true;
}

/**
 * Apply one recorded change to `data`: set the value, delete on {@link DELETED}, or run an
 * {@link Update} on the current value (its result `undefined` deletes).
 *
 * @example
 * ```ts
 * for (const [k, change] of changes) applyChange(data, k, change);
 * ```
 */
export function applyChange(data: SessionData, key: string, change: unknown): void {
  const value = change instanceof Update ? valueOf(key, change.fn(Object.hasOwn(data, key) ? data[key] : undefined)) : change;
  if (value === DELETED || value === undefined) delete data[key];
  else data[key] = value;
}

/** What an update function returned, checked like a value given to `set`. */
function valueOf(key: string, value: unknown): unknown {
  if (value !== undefined) assertStorable(key, value);
  return value;
}

/**
 * Refuse a key or value that cannot be stored: `__proto__`, a value JSON cannot hold (a function,
 * symbol, BigInt or `undefined`, also nested, and cycles), or a value whose JSON alone is over
 * `maxBytes` (the session's data could only be larger) — now, not in a commit after the response.
 *
 * @throws {@link SessionStateError} for a key or value that cannot be stored.
 * @throws {@link PayloadTooLargeError} for a value over `maxBytes`.
 * @example
 * ```ts
 * assertStorable('cart', items, 65_536); // throws SessionStateError for a value JSON cannot hold
 * ```
 */
export function assertStorable(key: string, value: unknown, maxBytes = Infinity): void {
  if (key === '__proto__') throw new SessionStateError('"__proto__" cannot be a session key');
  const type = typeof value;
  if (type === 'function' || type === 'symbol' || type === 'bigint' || type === 'undefined') {
    throw new SessionStateError(`session value for "${key}" must be JSON-serialisable, got ${type}`);
  }
  if (type === 'object' && value !== null) {
    let json: string;
    try {
      json = JSON.stringify(value);
    } catch (error) {
      throw new SessionStateError(`session value for "${key}" must be JSON-serialisable: ${(error as Error).message}`);
    }
    assertDataSize(json, maxBytes, `the value of "${key}"`);
  } else if (type === 'string' && (value as string).length * 3 > maxBytes) {
    assertDataSize(JSON.stringify(value), maxBytes, `the value of "${key}"`);
  }
}
