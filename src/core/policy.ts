/**
 * Session policy as pure functions: when a session expires, when a read extends it (touch), how
 * long its cookie lives, how long a revocation must last, whether a request may use it (binding).
 * One expiry formula, {@link expiry}; everything else is written in its terms.
 *
 * @module
 * @internal
 */
import type { ResolvedOptions } from '../options.js';
import type { SessionState } from './state.js';

/** The options policy reads. */
export type Policy = Pick<ResolvedOptions, 'idleTimeout' | 'absoluteTimeout' | 'touchAfter' | 'rememberMeLifetime' | 'bindIp' | 'bindUserAgent'> & {
  /** `cookie.maxAge`: every cookie persists this long (ms), unless its session says otherwise. */
  readonly cookieMaxAge: number | undefined;
};

/** The times and lifetime expiry is decided from. */
type Times = Pick<SessionState, 'createdAt' | 'lastSeenAt' | 'lifetime'>;

/** A year: how long a revocation lasts when sessions have no absolute limit. */
const YEAR = 365 * 24 * 3_600_000;

/**
 * When a session with these times expires: `lifetime` (remember me) or the idle timeout after its
 * last use, and never later than its absolute limit, `createdAt + max(absoluteTimeout, lifetime)`.
 *
 * @example
 * ```ts
 * expiry(policy, { createdAt: 0, lastSeenAt: 60_000, lifetime: null }); // 60_000 + idleTimeout, if under the absolute limit
 * ```
 */
export function expiry(policy: Policy, times: Times): number {
  const idle = times.lifetime ?? policy.idleTimeout;
  return Math.min(times.lastSeenAt + idle, absoluteEnd(policy, times));
}

/**
 * The absolute limit of a session: however active, it ends then.
 *
 * @example
 * ```ts
 * absoluteEnd(policy, state); // state.createdAt + 7 days, by default
 * ```
 */
export function absoluteEnd(policy: Policy, times: Pick<Times, 'createdAt' | 'lifetime'>): number {
  return times.createdAt + Math.max(policy.absoluteTimeout, times.lifetime ?? 0);
}

/**
 * Whether a request at `now` should extend the session's expiry (a touch write): enough of its
 * idle window has passed since it was last written (`touchAfter`), and extending would move it.
 *
 * @example
 * ```ts
 * if (touchIsDue(policy, state, now)) state.touchDue = true;
 * ```
 */
export function touchIsDue(policy: Policy, state: Times, now: number): boolean {
  const idle = state.lifetime ?? policy.idleTimeout;
  if (now - state.lastSeenAt < policy.touchAfter * idle) return false;
  return expiry(policy, { createdAt: state.createdAt, lastSeenAt: now, lifetime: state.lifetime }) > expiry(policy, state);
}

/**
 * Max-Age (ms) the session cookie gets at `now`: the session's lifetime, else `cookie.maxAge`, else
 * the idle timeout for a session forced persistent — capped by the absolute limit; `null` for a
 * browser-session cookie.
 *
 * @example
 * ```ts
 * cookieMaxAge(policy, state, now); // null unless remember-me, cookie.maxAge or persistentCookie
 * ```
 */
export function cookieMaxAge(policy: Policy, state: Times & Pick<SessionState, 'persistent'>, now: number): number | null {
  const lifetime = cookieLifetime(policy, state);
  if (lifetime === null) return null;
  return Math.max(0, Math.min(lifetime, absoluteEnd(policy, state) - now));
}

/**
 * The session cookie's full lifetime (ms), before the absolute limit caps it; `null` for a
 * browser-session cookie. What express-session calls `originalMaxAge`.
 *
 * @example
 * ```ts
 * cookieLifetime(policy, { lifetime: 30 * 86_400_000, persistent: null }); // 30 days
 * ```
 */
export function cookieLifetime(policy: Policy, state: Pick<SessionState, 'lifetime' | 'persistent'>): number | null {
  if (state.persistent === false) return null;
  return state.lifetime ?? policy.cookieMaxAge ?? (state.persistent ? policy.idleTimeout : null);
}

/**
 * How long a sealed cookie of `state`, replaced or destroyed at `now`, must stay revoked: until the
 * last copy of it could expire. A copy was used at `now` at the latest and may carry the longest
 * lifetime a session can have, so this is {@link expiry} with that lifetime, last used now.
 *
 * @example
 * ```ts
 * revoke(key, revokeUntil(policy, state, now));
 * ```
 */
export function revokeUntil(policy: Policy, state: Pick<Times, 'createdAt' | 'lifetime'>, now: number): number {
  const longest = Math.max(policy.idleTimeout, policy.rememberMeLifetime, state.lifetime ?? 0);
  return expiry(policy, { createdAt: state.createdAt, lastSeenAt: now, lifetime: longest });
}

/**
 * {@link revokeUntil} for a session known only by its ID (its creation time unknown): as if it had
 * been created now with the longest lifetime; a year when sessions have no absolute limit.
 *
 * @example
 * ```ts
 * revocation.set(storeKey(id, tenant), { ..., expiresAt: revokeByIdUntil(policy, now) }, 0, { now });
 * ```
 */
export function revokeByIdUntil(policy: Policy, now: number): number {
  const longest = Math.max(policy.absoluteTimeout, policy.rememberMeLifetime);
  return now + (Number.isFinite(longest) ? longest : YEAR);
}

/**
 * Whether a request from `ip` with `userAgent` may not use the session: `bindIp` / `bindUserAgent`
 * is on and the session recorded a different one.
 *
 * @example
 * ```ts
 * if (bindingMismatch(policy, state, input.ip, input.userAgent)) state = null; // a fresh session
 * ```
 */
export function bindingMismatch(policy: Policy, state: Pick<SessionState, 'ip' | 'userAgent'>, ip: string | null, userAgent: string | null): boolean {
  return (
    (policy.bindIp && state.ip !== null && state.ip !== ip) ||
    (policy.bindUserAgent && state.userAgent !== null && state.userAgent !== userAgent)
  );
}

/**
 * The policy of resolved options.
 *
 * @example
 * ```ts
 * const policy = policyOf(resolveOptions({ idleTimeout: 60_000 }));
 * ```
 */
export function policyOf(options: ResolvedOptions): Policy {
  return {
    idleTimeout: options.idleTimeout,
    absoluteTimeout: options.absoluteTimeout,
    touchAfter: options.touchAfter,
    rememberMeLifetime: options.rememberMeLifetime,
    bindIp: options.bindIp,
    bindUserAgent: options.bindUserAgent,
    cookieMaxAge: options.cookie.maxAge,
  };
}
