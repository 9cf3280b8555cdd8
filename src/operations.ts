/**
 * The operations on sessions outside a request, which {@link Tessera} inherits: by ID (create,
 * load, get, set, update, delete, clear, refresh, destroy, valid / expired checks) and by user
 * (list, destroy, sign out everywhere, destroy by handle).
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import type { ValidAfter } from './auth/valid-after.js';
import type { Backend } from './core/backend.js';
import type { Lifecycle } from './core/lifecycle.js';
import { policyFor, type Policy } from './core/policy.js';
import type { SignedCookies } from './core/signed.js';
import { freshState } from './core/state.js';
import { storeKey } from './crypto/ids.js';
import { NotSupportedError, SessionNotFoundError, TenantError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { Session, type SessionMeta } from './session.js';
import type { SessionData } from './session-values.js';

/**
 * Options of the by-ID operations.
 *
 * @example
 * ```ts
 * await tessera.get(id, 'cart', { tenant: 'acme' } satisfies ByIdOptions);
 * ```
 */
export interface ByIdOptions {
  /** The tenant the session belongs to. */
  tenant?: string | null;
}

/**
 * Options of {@link Tessera.create}.
 *
 * @example
 * ```ts
 * await tessera.create({ data: { cart: [] }, userId: 'u1' } satisfies CreateOptions);
 * ```
 */
export interface CreateOptions extends ByIdOptions {
  data?: SessionData;
  userId?: string | null;
  lifetime?: number | null;
  ip?: string | null;
  userAgent?: string | null;
}

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
 * What the operations work on: the manager's parts, given by {@link Tessera} when it is made.
 *
 * @example
 * ```ts
 * this.parts = { backend, signed, lifecycle, policy, validAfter, assertOpen: () => this.#assertOpen() };
 * ```
 */
export interface OperationParts {
  readonly backend: Backend;
  readonly signed: SignedCookies;
  readonly lifecycle: Lifecycle;
  readonly policy: Policy;
  /** Users' "sign out everywhere" times; `null` without a place to keep them. */
  readonly validAfter: ValidAfter | null;
  readonly assertOpen: () => void;
}

/**
 * The operations by ID and by user of {@link Tessera} (which is what apps use: this class only
 * keeps them in a module of their own).
 *
 * @example
 * ```ts
 * const { id } = await tessera.create({ userId: 'u1' }); // tessera: a Tessera, a SessionOperations
 * await tessera.set(id, 'flash', 'Saved');
 * ```
 */
export abstract class SessionOperations extends EventEmitter {
  /** The validated options. */
  abstract readonly options: ResolvedOptions;
  /** Sessions are sealed into the cookie (`CookieStore`). */
  abstract readonly sealsIntoCookie: boolean;
  /** Set by the manager's constructor. */
  protected parts!: OperationParts;

  /** The signed cookie value for session `id` (see {@link Tessera.signCookie}). */
  abstract signCookie(id: string): string;

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

  // ---------------------------------------------------------------- by ID

  async #openById(id: string, options: ByIdOptions | undefined): Promise<Session | null> {
    this.parts.assertOpen();
    this.parts.backend.assertById('sessions cannot be read or changed by ID');
    if (typeof id !== 'string') throw new TypeError('session id must be a string');
    if (!this.parts.signed.isId(id)) return null;
    const state = await this.parts.backend.openById(id, tenantOf(options));
    return state && new Session(state, this.parts.lifecycle);
  }

  async #mustOpen(id: string, options: ByIdOptions | undefined): Promise<Session> {
    const session = await this.#openById(id, options);
    if (session === null) throw new SessionNotFoundError();
    return session;
  }

  /**
   * Create a session without a request, for example for an API client or a test.
   * Returns its ID and the cookie value that carries it.
   *
   * @throws {@link NotSupportedError} with `CookieStore` (such sessions are made by a request).
   * @example
   * ```ts
   * const { id, cookie } = await tessera.create({ data: { cart: [] }, userId: 'u1' });
   * ```
   */
  async create(options: CreateOptions = {}): Promise<{ id: string; cookie: string; session: Session }> {
    this.parts.assertOpen();
    this.parts.backend.assertById('sessions cannot be created without a request');
    const state = freshState(tenantOf(options), null, this.options.now(), options.ip ?? null, options.userAgent ?? null);
    const session = new Session(state, this.parts.lifecycle);
    const id = session.id;
    // Through the Session API, so values, user and lifetime are validated as in a request. The
    // lifetime first: on a session holding nothing it is only remembered, so a refused one stores nothing.
    if (options.lifetime != null) session.setLifetime(options.lifetime);
    for (const [k, v] of Object.entries(options.data ?? {})) session.set(k, v);
    if (options.userId != null) session.userId = options.userId;
    state.touchDue = true;
    await session.save();
    state.loaded = true;
    return { id, cookie: this.signCookie(id), session };
  }

  /**
   * Open the live session `id` without a request, or `null` when it does not exist or expired.
   * Writes to the returned session are committed like a request's (`await session.save()`).
   *
   * @example
   * ```ts
   * const session = await tessera.load(id);
   * session?.get('cart');
   * ```
   */
  load(id: string, options?: ByIdOptions): Promise<Session | null> {
    return this.#openById(id, options);
  }

  /**
   * The value under `key` in session `id`, or `undefined` (also when the session does not exist).
   *
   * @example
   * ```ts
   * const cart = await tessera.get(id, 'cart');
   * ```
   */
  async get<T = unknown>(id: string, key: string, options?: ByIdOptions): Promise<T | undefined> {
    return (await this.#openById(id, options))?.get<T>(key);
  }

  /**
   * Set `key` in session `id`, merging with concurrent writers.
   *
   * @throws {@link SessionNotFoundError} when the session does not exist or expired.
   * @example
   * ```ts
   * await tessera.set(id, 'flash', 'Your export is ready');
   * ```
   */
  async set(id: string, key: string, value: unknown, options?: ByIdOptions): Promise<void> {
    const session = await this.#mustOpen(id, options);
    session.set(key, value);
    await session.save();
  }

  /**
   * Change `key` in session `id` with `fn`, atomically (see {@link Session.update}): `fn` runs
   * again on the fresh value whenever another writer got there first. Resolves the value stored.
   *
   * @throws {@link SessionNotFoundError} when the session does not exist or expired.
   * @example
   * ```ts
   * const credits = await tessera.update<number>(id, 'credits', (n) => (n ?? 0) - 1);
   * ```
   */
  async update<T = unknown>(id: string, key: string, fn: (current: T | undefined) => T | undefined, options?: ByIdOptions): Promise<T | undefined> {
    const session = await this.#mustOpen(id, options);
    session.update<T>(key, fn);
    await session.save();
    return session.get<T>(key);
  }

  /**
   * Delete `key` from session `id`. Resolves whether it was there.
   *
   * @throws {@link SessionNotFoundError} when the session does not exist or expired.
   * @example
   * ```ts
   * await tessera.delete(id, 'flash');
   * ```
   */
  async delete(id: string, key: string, options?: ByIdOptions): Promise<boolean> {
    const session = await this.#mustOpen(id, options);
    const had = session.delete(key);
    await session.save();
    return had;
  }

  /**
   * Remove every key of session `id` (the session stays).
   *
   * @throws {@link SessionNotFoundError} when the session does not exist or expired.
   * @example
   * ```ts
   * await tessera.clear(id);
   * ```
   */
  async clear(id: string, options?: ByIdOptions): Promise<void> {
    const session = await this.#mustOpen(id, options);
    session.clear();
    await session.save();
  }

  /**
   * Extend the expiry of session `id` now.
   *
   * @throws {@link SessionNotFoundError} when the session does not exist or expired.
   * @example
   * ```ts
   * await tessera.refresh(id);
   * ```
   */
  async refresh(id: string, options?: ByIdOptions): Promise<void> {
    const session = await this.#mustOpen(id, options);
    session.refresh();
    await session.save();
  }

  /**
   * Delete session `id`. Resolves whether it existed. Idempotent. With `CookieStore` and a
   * revocation store, revokes it (every copy of its cookie stops working).
   *
   * @example
   * ```ts
   * await tessera.destroy(id); // sign this session out everywhere
   * ```
   */
  destroy(id: string, options?: ByIdOptions): Promise<boolean> {
    this.parts.assertOpen();
    if (typeof id !== 'string') return Promise.reject(new TypeError('session id must be a string'));
    let tenant: string | null;
    try {
      tenant = tenantOf(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.parts.backend.destroyById(id, tenant);
  }

  /**
   * Whether session `id` exists and has not expired.
   *
   * @example
   * ```ts
   * if (!(await tessera.isValid(id))) closeConnection();
   * ```
   */
  async isValid(id: string, options?: ByIdOptions): Promise<boolean> {
    return (await this.#openById(id, options)) !== null;
  }

  /**
   * Whether session `id` can no longer be used: past its idle or absolute expiry, or gone from the
   * store (stores drop expired records, so "expired" and "removed" cannot be told apart).
   *
   * @example
   * ```ts
   * if (await tessera.isExpired(id)) redirectToSignIn();
   * ```
   */
  async isExpired(id: string, options?: ByIdOptions): Promise<boolean> {
    return !(await this.isValid(id, options));
  }

  // ---------------------------------------------------------------- users

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

/**
 * The tenant an operation by ID names: `null` for none. An empty name is refused, never taken as
 * "no tenant" (it would reach the sessions without one).
 */
function tenantOf(options: { readonly tenant?: string | null } | undefined): string | null {
  const tenant = options?.tenant ?? null;
  if (tenant === '') throw new TenantError('the tenant name is empty: pass null (or leave it out) for sessions without a tenant');
  return tenant;
}

