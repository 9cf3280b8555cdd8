/**
 * The operations on one session by its ID, outside a request, which {@link Tessera} inherits:
 * create, load, get, set, update, delete, clear, refresh, destroy, valid / expired checks.
 * {@link SessionOperations} extends `UserOperations` (`user-operations.ts`, the operations by
 * user) and is the class `Tessera` extends.
 *
 * @module
 */
import { freshState } from './core/state.js';
import { SessionNotFoundError } from './errors.js';
import { tenantOf, type ByIdOptions } from './operation-parts.js';
import { Session } from './session.js';
import type { SessionData } from './session-values.js';
import { UserOperations } from './user-operations.js';

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
 * The operations by ID of {@link Tessera}, on top of those by user it inherits (which is what
 * apps use: this class only keeps them in a module of their own).
 *
 * @example
 * ```ts
 * const { id } = await tessera.create({ userId: 'u1' }); // tessera: a Tessera, a SessionOperations
 * await tessera.set(id, 'flash', 'Saved');
 * ```
 */
export abstract class SessionOperations extends UserOperations {
  /** The signed cookie value for session `id` (see {@link Tessera.signCookie}). */
  abstract signCookie(id: string): string;

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
}
