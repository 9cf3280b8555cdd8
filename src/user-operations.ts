/**
 * The operations on a user's sessions, which {@link Tessera} inherits: list, destroy, destroy by
 * handle, sign out everywhere. {@link UserOperations} is the base of `SessionOperations`
 * (`operations.ts`, the operations by ID), which `Tessera` extends.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { policyFor } from './core/policy.js';
import { storeKey } from './crypto/ids.js';
import { NotSupportedError } from './errors.js';
import { tenantOf, type ByIdOptions, type OperationParts } from './operation-parts.js';
import type { ResolvedOptions } from './options.js';
import type { SessionMeta } from './session.js';

/**
 * Whose session {@link Tessera.destroyByHandle} may destroy: the user's own (in `tenant`; none
 * given: a session without a tenant), or anyone's (`anyUser: true`, for admin tools).
 *
 * @example
 * ```ts
 * const mine: DestroyByHandleOptions = { userId: 'u1', tenant: 'acme' };
 * const admin: DestroyByHandleOptions = { anyUser: true };
 * ```
 */
export type DestroyByHandleOptions = { readonly userId: string; readonly tenant?: string | null; readonly anyUser?: never } | { readonly anyUser: true; readonly userId?: never };

/**
 * A session as listed for its user: metadata only, no data and no session ID. `handle` identifies
 * it for {@link Tessera.destroyByHandle} (it is a hash, not a usable token, and destroys only with
 * the owner's `userId`).
 *
 * @example
 * ```ts
 * const [latest]: SessionInfo[] = await tessera.listByUser('u1');
 * ```
 */
export interface SessionInfo extends Pick<SessionMeta, 'createdAt' | 'lastSeenAt' | 'expiresAt' | 'ip' | 'userAgent' | 'userId' | 'tenant'> {
  readonly handle: string;
}

/**
 * The operations by user of {@link Tessera} (which is what apps use: this class only keeps them
 * in a module of their own).
 *
 * @example
 * ```ts
 * const devices = await tessera.listByUser('u1'); // tessera: a Tessera, a UserOperations
 * await tessera.destroyByUser('u1', { except: session.id });
 * ```
 */
export abstract class UserOperations extends EventEmitter {
  /** The validated options. */
  abstract readonly options: ResolvedOptions;
  /** Sessions are sealed into the cookie (`CookieStore`). */
  abstract readonly sealsIntoCookie: boolean;
  /** Set by the manager's constructor. */
  protected parts!: OperationParts;

  /**
   * Sign a user out everywhere: every session of theirs ends (server stores: destroyed, as
   * {@link Tessera.destroyByUser}), and a "valid after" time is recorded for them, so every auth
   * cookie issued before now and — with `CookieStore` — every sealed session they signed in to
   * before now is refused from now on, wherever it is. Resolves how many server sessions were
   * destroyed (`0` with `CookieStore`, whose sessions live in browsers). The request's own session
   * is one of them: sign it out too (`session.signOut()`), or sign in again for a fresh one.
   *
   * @throws {@link NotSupportedError} with `CookieStore({ revocation: false })` (nowhere to record
   * the time), or a server store without a by-user index (the time is recorded first).
   * @example
   * ```ts
   * // "Sign out everywhere" on a password change:
   * await tessera.signOutEverywhere(user.id, { tenant: session.meta.tenant });
   * ```
   */
  async signOutEverywhere(userId: string, options: ByIdOptions = {}): Promise<number> {
    this.parts.assertOpen();
    if (typeof userId !== 'string' || userId === '') throw new TypeError('signOutEverywhere(userId): userId must be a non-empty string');
    const tenant = tenantOf(options);
    if (this.parts.validAfter === null) throw new NotSupportedError('signOutEverywhere needs a place to record the time: CookieStore without `revocation: false`');
    const now = this.options.now();
    // Kept while anything issued before now could still be presented: no session, sealed cookie
    // or auth token lives longer than maxLifetime (plus the allowed clock skew).
    await this.parts.validAfter.raise(userId, tenant, now, now + policyFor(this.parts.policy, tenant).maxLifetime + 300_000);
    return this.sealsIntoCookie ? 0 : this.destroyByUser(userId, { tenant });
  }

  /**
   * The live sessions of a user, with their metadata, from the store's by-user index, most
   * recently used first.
   *
   * @throws {@link NotSupportedError} when the store has no by-user index.
   * @example
   * ```ts
   * const devices = await tessera.listByUser('u1');
   * ```
   */
  async listByUser(userId: string, options?: ByIdOptions): Promise<SessionInfo[]> {
    this.parts.assertOpen();
    return this.parts.backend.listByUser(userId, tenantOf(options));
  }

  /**
   * Destroy every session of a user, except the one with ID `except` ("sign out my other devices").
   * Resolves how many were destroyed.
   *
   * @example
   * ```ts
   * await tessera.destroyByUser(user.id, { except: session.id });
   * ```
   */
  async destroyByUser(userId: string, options: ByIdOptions & { except?: string } = {}): Promise<number> {
    let count = 0;
    for (const info of await this.listByUser(userId, options)) {
      if (options.except !== undefined && info.handle === storeKey(options.except, info.tenant)) continue;
      // Still the user's: a session that signed in as someone else meanwhile is theirs now.
      if (await this.destroyByHandle(info.handle, { userId, tenant: info.tenant })) count++;
    }
    return count;
  }

  /**
   * Destroy a session by the `handle` from {@link Tessera.listByUser} ("sign out this device").
   * A handle comes from the client, so say whose session it must be: `{ userId, tenant }` destroys
   * it only when it belongs to that user in that tenant (no `tenant`: a session without one);
   * `{ anyUser: true }` destroys whoever's it is, for admin tools. Resolves whether a live session
   * was destroyed: `false` for one that does not exist, has expired, or is someone else's (the
   * caller cannot tell which, so it learns nothing about other users' sessions).
   *
   * @throws {@link NotSupportedError} with `CookieStore`; `TypeError` without `userId` or `anyUser`.
   * @example
   * ```ts
   * // POST /devices/:handle/sign-out, for the signed-in user:
   * const done = await tessera.destroyByHandle(req.params.handle, { userId: session.userId!, tenant: session.meta.tenant });
   * if (!done) res.statusCode = 404;
   * // An admin tool:
   * for (const s of await tessera.listByUser('u1')) if (s.ip === badIp) await tessera.destroyByHandle(s.handle, { anyUser: true });
   * ```
   */
  async destroyByHandle(handle: string, options: DestroyByHandleOptions): Promise<boolean> {
    this.parts.assertOpen();
    if (typeof handle !== 'string') throw new TypeError('destroyByHandle(handle, options): handle must be a string');
    const o = (options ?? {}) as Partial<{ userId: unknown; tenant: unknown; anyUser: unknown }>;
    if (o.anyUser === true && o.userId === undefined) return (await this.parts.backend.destroyByHandle(handle, null)) !== null;
    if (typeof o.userId !== 'string' || o.userId === '' || o.anyUser !== undefined) {
      throw new TypeError('destroyByHandle(handle, options): pass { userId } (the session must be that user\'s) or { anyUser: true } (admin tools)');
    }
    if (o.tenant !== undefined && o.tenant !== null && typeof o.tenant !== 'string') throw new TypeError('destroyByHandle: tenant must be a string or null');
    const owner = { userId: o.userId, tenant: tenantOf({ tenant: o.tenant as string | null | undefined }) };
    return (await this.parts.backend.destroyByHandle(handle, owner)) !== null;
  }
}
