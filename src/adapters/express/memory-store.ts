/**
 * `session.MemoryStore`: tessera's {@link MemoryStore} (a store that answers synchronously, so
 * sessions load without a promise) that also answers express-session's store API by session ID —
 * `get`, `set`, `destroy`, `touch`, `length`, `clear` with callbacks — for apps that call
 * `req.sessionStore` directly.
 *
 * @module
 * @internal
 */
import { SessionNotFoundError } from '../../errors.js';
import type { Tessera } from '../../manager.js';
import { MemoryStore } from '../../stores/memory.js';
import type { StoreContext, StoreRecord } from '../../stores/store.js';

/** A callback of express-session's store API. */
type Callback<T = unknown> = (err: unknown, value?: T) => void;

/** The private link `session()` gives its store: the manager that reads and writes sessions by ID. */
export const BIND_MANAGER: unique symbol = Symbol('tessera.express.bindManager');

/**
 * tessera's `MemoryStore` with express-session's API by session ID. The by-ID methods go through
 * the `session()` that uses the store (so they see sessions as the app does: decoded, expiry
 * applied); until one does, they call back with an error. `all()` is not offered: the store keeps
 * sessions under hashes of their IDs, never the IDs an express-session `all()` would list — use
 * `tessera.listByUser()` instead.
 *
 * @example
 * ```ts
 * const store = new session.MemoryStore();
 * app.use(session({ secret, store, resave: false, saveUninitialized: false }));
 * store.destroy(req.sessionID, (err) => { ... });   // express-session's API
 * ```
 */
export class ExpressMemoryStore extends MemoryStore {
  #tessera: Tessera | null = null;
  /** Keys written through this store (a count of live ones is taken from them). */
  readonly #keys = new Set<string>();

  /** @internal Called by `session()`: the first manager to use the store answers its by-ID methods. */
  [BIND_MANAGER](tessera: Tessera): void {
    this.#tessera ??= tessera;
  }

  override setSync(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): boolean {
    const written = super.setSync(key, record, expectedVersion, ctx);
    if (written) this.#keys.add(key);
    return written;
  }

  override deleteSync(key: string): void {
    super.deleteSync(key);
    this.#keys.delete(key);
  }

  /** tessera's `get(key, ctx)`; or express-session's `get(sid, callback)`: the session's data with its `cookie`, or `null`. */
  override get(key: string, ctx: StoreContext): Promise<StoreRecord | null>;
  override get(sid: string, callback: Callback<Record<string, unknown> | null>): void;
  override get(key: string, second: StoreContext | Callback<Record<string, unknown> | null>): Promise<StoreRecord | null> | void {
    if (typeof second !== 'function') return super.get(key, second);
    this.#byId(second, async (tessera) => {
      const session = await tessera.load(key);
      if (session === null) return null;
      const { lifetime, expiresAt } = session.meta;
      return { cookie: { originalMaxAge: lifetime, expires: new Date(expiresAt) }, ...session.toJSON() };
    });
  }

  /**
   * tessera's compare-and-set `set(key, record, expectedVersion, ctx)`; or express-session's
   * `set(sid, session, callback)`: the session's data becomes `session`'s (its `cookie` aside).
   * The session must exist: tessera makes session IDs itself.
   */
  override set(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): Promise<boolean>;
  override set(sid: string, session: Record<string, unknown>, callback?: Callback): void;
  override set(key: string, value: StoreRecord | Record<string, unknown>, third?: number | Callback, ctx?: StoreContext): Promise<boolean> | void {
    if (typeof third === 'number') return super.set(key, value as StoreRecord, third, ctx!);
    this.#byId(third, async (tessera) => {
      const session = await tessera.load(key);
      if (session === null) throw new SessionNotFoundError();
      const { cookie: _cookie, ...data } = value as Record<string, unknown>;
      for (const name of session.keys()) if (!Object.hasOwn(data, name)) session.delete(name);
      for (const [name, v] of Object.entries(data)) session.set(name, v);
      await session.save();
    });
  }

  /** express-session's `destroy(sid, callback)`: the session is deleted (a missing one is no error). */
  destroy(sid: string, callback?: Callback): void {
    this.#byId(callback, async (tessera) => void (await tessera.destroy(sid)));
  }

  /** express-session's `touch(sid, session, callback)`: the session's expiry is extended. */
  touch(sid: string, _session: unknown, callback?: Callback): void {
    this.#byId(callback, (tessera) => tessera.refresh(sid));
  }

  /** express-session's `length(callback)`: how many live sessions the store holds. */
  length(callback: Callback<number>): void {
    const ctx = { now: this.#tessera?.options.now() ?? Date.now() };
    let count = 0;
    for (const key of this.#keys) {
      if (this.getSync(key, ctx) === null) this.#keys.delete(key);
      else count++;
    }
    setImmediate(() => callback(null, count));
  }

  /** express-session's `clear(callback)`: every session is deleted. */
  clear(callback?: Callback): void {
    for (const key of [...this.#keys]) this.deleteSync(key);
    if (callback) setImmediate(() => callback(null));
  }

  /** Run a by-ID operation and call back, later, as express-session's MemoryStore does. */
  #byId<T>(callback: Callback<T> | undefined, run: (tessera: Tessera) => Promise<T>): void {
    const tessera = this.#tessera;
    const done = callback ?? ((): void => {});
    if (tessera === null) {
      setImmediate(() => done(new TypeError("session.MemoryStore: express-session's store methods work once session() uses this store")));
      return;
    }
    run(tessera).then(
      (value) => done(null, value),
      (error: unknown) => done(error),
    );
  }
}
