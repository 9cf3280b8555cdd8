/**
 * Session policy as pure functions: when a session expires, when a read extends it (touch), how
 * long its cookie lives, how long a revocation must last, whether a request may use it (binding).
 * One expiry formula, {@link expiry}; everything else is written in its terms.
 *
 * @module
 * @internal
 */
import type { Lifetimes, ResolvedOptions } from '../options.js';
import { MISMATCH, sameNetwork, type BindingMismatch, type BindingMode, type IpPrefixes } from './binding.js';
import type { SessionState } from './state.js';

/**
 * The options policy reads. The lifetimes are the defaults; `tenants` holds the whole policy of
 * each tenant with lifetimes of its own, which every function here uses for that tenant's sessions.
 */
export interface Policy extends Lifetimes {
  readonly touchAfter: number;
  readonly bindIp: BindingMode;
  readonly bindUserAgent: BindingMode;
  readonly bindIpPrefix: IpPrefixes;
  /** `cookie.maxAge`: every cookie persists this long (ms), unless its session says otherwise. */
  readonly cookieMaxAge: number | undefined;
  /** The policy of each tenant with lifetimes of its own (its `tenants` is `null`); `null` when none has. */
  readonly tenants: ReadonlyMap<string, Policy> | null;
}

/** The times and lifetime expiry is decided from, and the tenant whose lifetimes apply (none: the defaults). */
type Times = Pick<SessionState, 'createdAt' | 'lastSeenAt' | 'lifetime'> & { readonly tenant?: string | null };

/**
 * The policy of `tenant`'s sessions: its own, when the `tenants` option gives it lifetimes, else
 * `policy`. A map lookup only when some tenant has lifetimes of its own.
 *
 * @example
 * ```ts
 * policyFor(policy, state.tenant).rememberMeLifetime;
 * ```
 */
export function policyFor(policy: Policy, tenant: string | null | undefined): Policy {
  if (policy.tenants === null || tenant === null || tenant === undefined) return policy;
  return policy.tenants.get(tenant) ?? policy;
}

/**
 * When a session with these times expires: `lifetime` (remember me; at most `maxLifetime`) or the
 * idle timeout after its last use, and never later than its absolute limit ({@link absoluteEnd}).
 *
 * @example
 * ```ts
 * expiry(policy, { createdAt: 0, lastSeenAt: 60_000, lifetime: null }); // 60_000 + idleTimeout, if under the absolute limit
 * ```
 */
export function expiry(policy: Policy, times: Times): number {
  const p = policyFor(policy, times.tenant);
  return Math.min(times.lastSeenAt + idleOf(p, times.lifetime), endOf(p, times.createdAt, times.lifetime));
}

/**
 * The absolute limit of a session: however active, it ends then. `createdAt + absoluteTimeout`;
 * with `rememberMeExtendsAbsolute`, a session with a longer lifetime gets `createdAt + lifetime`.
 *
 * @example
 * ```ts
 * absoluteEnd(policy, state); // state.createdAt + 7 days, by default
 * ```
 */
export function absoluteEnd(policy: Policy, times: Pick<Times, 'createdAt' | 'lifetime' | 'tenant'>): number {
  return endOf(policyFor(policy, times.tenant), times.createdAt, times.lifetime);
}

/** The idle window of a session: its lifetime, capped by `maxLifetime` (a record written before the cap, or under a larger one), or the idle timeout. */
function idleOf(p: Policy, lifetime: number | null): number {
  return lifetime === null ? p.idleTimeout : Math.min(lifetime, p.maxLifetime);
}

function endOf(p: Policy, createdAt: number, lifetime: number | null): number {
  if (!p.rememberMeExtendsAbsolute || lifetime === null) return createdAt + p.absoluteTimeout;
  return createdAt + Math.max(p.absoluteTimeout, Math.min(lifetime, p.maxLifetime));
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
  const p = policyFor(policy, state.tenant);
  const idle = idleOf(p, state.lifetime);
  if (now - state.lastSeenAt < p.touchAfter * idle) return false;
  const end = endOf(p, state.createdAt, state.lifetime);
  return Math.min(now + idle, end) > Math.min(state.lastSeenAt + idle, end);
}

/**
 * Max-Age (ms) the session cookie gets at `now`: the session's lifetime, else `cookie.maxAge`, else
 * the idle timeout for a session forced persistent — capped by `maxLifetime` and the absolute
 * limit; `null` for a browser-session cookie.
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
 * The session cookie's full lifetime (ms), capped by `maxLifetime` but not yet by the absolute
 * limit; `null` for a browser-session cookie. What express-session calls `originalMaxAge`.
 *
 * @example
 * ```ts
 * cookieLifetime(policy, { lifetime: 30 * 86_400_000, persistent: null }); // 30 days
 * ```
 */
export function cookieLifetime(policy: Policy, state: Pick<SessionState, 'lifetime' | 'persistent'> & Pick<Times, 'tenant'>): number | null {
  if (state.persistent === false) return null;
  const p = policyFor(policy, state.tenant);
  const lifetime = state.lifetime ?? p.cookieMaxAge ?? (state.persistent ? p.idleTimeout : null);
  return lifetime === null ? null : Math.min(lifetime, p.maxLifetime);
}

/**
 * How long a sealed cookie of `state`, replaced or destroyed at `now`, must stay revoked: until the
 * last copy of it could expire. A copy was used at `now` at the latest, and a request holding it
 * may have given it any lifetime up to `maxLifetime` (which also bounds the idle timeout), so this
 * is {@link expiry} with `maxLifetime`, last used now: never later than the absolute limit, and
 * always finite.
 *
 * @example
 * ```ts
 * revoke(key, revokeUntil(policy, state, now));
 * ```
 */
export function revokeUntil(policy: Policy, state: Pick<Times, 'createdAt' | 'tenant'>, now: number): number {
  const p = policyFor(policy, state.tenant);
  return Math.min(now + p.maxLifetime, endOf(p, state.createdAt, p.maxLifetime));
}

/**
 * {@link revokeUntil} for a session of `tenant` known only by its ID (its creation time unknown,
 * so at most now): as if it had been created now.
 *
 * @example
 * ```ts
 * revocation.set(storeKey(id, tenant), { ..., expiresAt: revokeByIdUntil(policy, now, tenant) }, 0, { now });
 * ```
 */
export function revokeByIdUntil(policy: Policy, now: number, tenant: string | null = null): number {
  return revokeUntil(policy, { createdAt: now, tenant }, now);
}

/**
 * Whether a request from `ip` with `userAgent` may not use the session as it is, and what follows:
 * `null` when it may (a binding is off, matches, or the session recorded nothing to bind to);
 * else the binding it broke and its mode, a `strict` one before a `log` one. The IP matches when
 * it is in the recorded address's network ({@link sameNetwork} with `bindIpPrefix`); a request
 * without an IP never does.
 *
 * @example
 * ```ts
 * const mismatch = bindingMismatch(policy, state, input.ip, input.userAgent);
 * if (mismatch?.mode === 'strict') state = null; // a fresh session
 * ```
 */
export function bindingMismatch(policy: Policy, state: Pick<SessionState, 'ip' | 'userAgent'>, ip: string | null, userAgent: string | null): BindingMismatch | null {
  let found: BindingMismatch | null = null;
  if (policy.bindIp !== 'off' && state.ip !== null && (ip === null || !sameNetwork(state.ip, ip, policy.bindIpPrefix))) {
    if (policy.bindIp === 'strict') return MISMATCH.ipStrict;
    found = MISMATCH.ipLog;
  }
  if (policy.bindUserAgent !== 'off' && state.userAgent !== null && state.userAgent !== userAgent) {
    if (policy.bindUserAgent === 'strict') return MISMATCH.userAgentStrict;
    found ??= MISMATCH.userAgentLog;
  }
  return found;
}

/**
 * The policy of resolved options, with a policy of its own for each tenant with lifetimes of its own.
 *
 * @example
 * ```ts
 * const policy = policyOf(resolveOptions({ idleTimeout: 60_000 }));
 * ```
 */
export function policyOf(options: ResolvedOptions): Policy {
  const base: Policy = {
    idleTimeout: options.idleTimeout,
    absoluteTimeout: options.absoluteTimeout,
    rememberMeLifetime: options.rememberMeLifetime,
    maxLifetime: options.maxLifetime,
    rememberMeExtendsAbsolute: options.rememberMeExtendsAbsolute,
    touchAfter: options.touchAfter,
    bindIp: options.bindIp,
    bindUserAgent: options.bindUserAgent,
    bindIpPrefix: options.bindIpPrefix,
    cookieMaxAge: options.cookie.maxAge,
    tenants: null,
  };
  if (options.tenants === null) return base;
  const tenants = new Map<string, Policy>();
  for (const [tenant, lifetimes] of options.tenants) tenants.set(tenant, { ...base, ...lifetimes, tenants: null });
  return { ...base, tenants };
}
