/**
 * express-session stores (connect-redis, connect-mongo, connect-pg-simple, any object with
 * express-session's store API) as tessera stores: {@link ExpressStoreAdapter} keeps tessera's
 * records in them, so an app keeps its store when it moves to `tessera/express`.
 *
 * What such a store cannot give, and what the adapter does instead:
 * - No compare-and-set: express-session's `set` overwrites. The adapter reads the version and
 *   writes only if it matches, one write per key at a time in this process, so writers in one
 *   process lose no update. Two processes writing one session at the same moment: the last write
 *   wins, as with express-session.
 * - Expiry by the store's own clock: the record's expiry goes to the store as `cookie.expires`
 *   (moved onto the real clock), for its TTL or pruning; whether a record is live is decided here,
 *   on tessera's clock, when it is read.
 * - No index: listing a user's sessions (`listByUser`) or every session (`listSessions`, for
 *   `tessera.admin`) reads every session through the store's `all()`, and is offered only when
 *   the store has one.
 *
 * @module
 * @internal
 */
import { EventEmitter } from 'node:events';
import { ConfigError, StoreUnavailableError } from '../../errors.js';
import { isExpired, type KeyedRecord, type ListQuery, type SessionPage, type SessionStore, type StoreContext, type StoreRecord } from '../../stores/store.js';

/**
 * An express-session store: `get`, `set` and `destroy` with callbacks; `touch`, `all`, `length`
 * and `clear` optional.
 *
 * @example
 * ```ts
 * const store: ExpressStoreLike = new RedisStore({ client }); // connect-redis
 * ```
 */
export interface ExpressStoreLike {
  get(sid: string, callback: (err: unknown, session?: unknown) => void): unknown;
  set(sid: string, session: object, callback?: (err?: unknown) => void): unknown;
  destroy(sid: string, callback?: (err?: unknown) => void): unknown;
  touch?(sid: string, session: object, callback?: (err?: unknown) => void): unknown;
  all?(callback: (err: unknown, sessions?: unknown) => void): unknown;
  length?(callback: (err: unknown, length?: number) => void): unknown;
  clear?(callback?: (err?: unknown) => void): unknown;
  close?(): unknown;
}

/**
 * Whether `value` has express-session's store API (and is not a tessera store, which has `delete`).
 *
 * @example
 * ```ts
 * if (isExpressStore(options.store)) store = new ExpressStoreAdapter(options.store);
 * ```
 */
export function isExpressStore(value: unknown): value is ExpressStoreLike {
  if (value === null || typeof value !== 'object') return false;
  const s = value as Record<string, unknown>;
  return typeof s.get === 'function' && typeof s.set === 'function' && typeof s.destroy === 'function' && typeof s.delete !== 'function';
}

/** What the adapter puts in the express-session store: a session as express-session would, with tessera's record beside its cookie. */
interface StoredSession {
  cookie: { originalMaxAge: number; expires: string; httpOnly: true; path: '/' };
  tessera: StoreRecord;
}

/**
 * A tessera {@link SessionStore} over an express-session store. Records are kept under tessera's
 * store keys (never a raw session ID) as `{ cookie: { expires }, tessera: record }`.
 *
 * @example
 * ```ts
 * import { RedisStore } from 'connect-redis';
 * const store = new ExpressStoreAdapter(new RedisStore({ client }));
 * const tessera = createTessera({ secrets: [secret], store });
 * ```
 */
export class ExpressStoreAdapter implements SessionStore {
  readonly name: string;
  readonly listByUser?: (userId: string, tenant: string | null, ctx: StoreContext) => Promise<KeyedRecord[]>;
  readonly listSessions?: (query: ListQuery, ctx: StoreContext) => Promise<SessionPage>;
  readonly #store: ExpressStoreLike;
  /** The last write or delete queued per key: each waits for the one before (compare-and-set within this process). */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(store: ExpressStoreLike) {
    if (!isExpressStore(store)) throw new ConfigError('an express-session store needs get, set and destroy methods');
    this.#store = store;
    const kind = (store.constructor as { name?: string } | undefined)?.name;
    this.name = `express-session store${kind && kind !== 'Object' ? ` (${kind})` : ''}`;
    if (typeof store.all === 'function') {
      this.listByUser = (userId, tenant, ctx) => this.#listByUser(userId, tenant, ctx);
      this.listSessions = (query, ctx) => this.#listSessions(query, ctx);
    }
  }

  /** The express-session store behind this one. */
  get store(): ExpressStoreLike {
    return this.#store;
  }

  async get(key: string, ctx: StoreContext): Promise<StoreRecord | null> {
    const record = recordOf(await this.#call<unknown>((cb) => this.#store.get(key, cb)));
    return record === null || isExpired(record, ctx.now) ? null : record;
  }

  set(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): Promise<boolean> {
    return this.#serial(key, async () => {
      const live = await this.get(key, ctx);
      if ((live?.version ?? 0) !== expectedVersion) return false;
      const session = storedSession(record, ctx);
      if (session === null) await this.#call((cb) => this.#store.destroy(key, cb));
      else await this.#call((cb) => this.#store.set(key, session, cb));
      return true;
    });
  }

  delete(key: string): Promise<void> {
    return this.#serial(key, () => this.#call<void>((cb) => this.#store.destroy(key, cb)));
  }

  async close(): Promise<void> {
    await this.#store.close?.();
  }

  async #listByUser(userId: string, tenant: string | null, ctx: StoreContext): Promise<KeyedRecord[]> {
    return (await this.#live(tenant, ctx)).filter(({ record }) => record.userId === userId);
  }

  /** A page of the live records in key order, after `cursor`: every page reads the whole store through `all()`. */
  async #listSessions(query: ListQuery, ctx: StoreContext): Promise<SessionPage> {
    const after = query.cursor;
    const live = (await this.#live(query.tenant, ctx)).filter(({ key }) => after === null || key > after).sort((a, b) => (a.key < b.key ? -1 : 1));
    const records = live.slice(0, query.limit);
    return { records, next: live.length > query.limit ? records[records.length - 1]!.key : null };
  }

  /** Every live tessera record of the store (of `tenant`, unless `null`), through its `all()`. */
  async #live(tenant: string | null, ctx: StoreContext): Promise<KeyedRecord[]> {
    const all = await this.#call<unknown>((cb) => this.#store.all!(cb));
    // express-session's MemoryStore answers an object by ID; connect-redis an array of sessions with their `id`.
    const entries: Array<[string, unknown]> = Array.isArray(all)
      ? all.map((s) => [String((s as { id?: unknown } | null)?.id), s])
      : Object.entries((all ?? {}) as Record<string, unknown>);
    const out: KeyedRecord[] = [];
    for (const [key, value] of entries) {
      const record = recordOf(typeof value === 'string' ? safeParse(value) : value);
      if (record === null || isExpired(record, ctx.now)) continue;
      if (tenant !== null && record.tenant !== tenant) continue;
      out.push({ key, record });
    }
    return out;
  }

  /** Run `task` after every earlier write or delete of `key` in this process has settled. */
  #serial<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(key);
    const run = previous === undefined ? task() : previous.then(task, task);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(key, settled);
    void settled.then(() => {
      if (this.#queues.get(key) === settled) this.#queues.delete(key);
    });
    return run;
  }

  /**
   * Call a method of the express-session store with a callback, once: a store that fails (an
   * error to the callback, a throw, a rejected promise) rejects with {@link StoreUnavailableError}.
   */
  #call<T>(invoke: (callback: (err?: unknown, value?: T) => void) => unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const callback = (err?: unknown, value?: T): void => {
        if (done) return;
        done = true;
        if (err) reject(new StoreUnavailableError(this.name, err));
        else resolve(value as T);
      };
      try {
        const returned = invoke(callback) as PromiseLike<unknown> | undefined;
        // A store that returns a promise and rejects it instead of calling back.
        if (returned && typeof returned.then === 'function') returned.then(undefined, (error: unknown) => callback(error ?? new Error('store call rejected')));
      } catch (error) {
        callback(error ?? new Error('store call threw'));
      }
    });
  }
}

/** The tessera record in what the express-session store returned, or `null` (none, or not tessera's). */
function recordOf(value: unknown): StoreRecord | null {
  const r = (value as { tessera?: Partial<StoreRecord> } | null | undefined)?.tessera;
  if (r === null || typeof r !== 'object') return null;
  if (typeof r.data !== 'string' || typeof r.version !== 'number' || typeof r.expiresAt !== 'number') return null;
  return { data: r.data, version: r.version, expiresAt: r.expiresAt, userId: r.userId ?? null, tenant: r.tenant ?? null };
}

/**
 * The session given to the express-session store for `record`: its expiry moved from tessera's
 * clock onto the real one (the store expires it by that), or `null` when it has already expired.
 */
function storedSession(record: StoreRecord, ctx: StoreContext): StoredSession | null {
  const remaining = record.expiresAt - ctx.now;
  if (remaining <= 0) return null;
  const { data, version, expiresAt, userId, tenant } = record;
  return {
    cookie: { originalMaxAge: remaining, expires: new Date(Date.now() + remaining).toISOString(), httpOnly: true, path: '/' },
    tessera: { data, version, expiresAt, userId, tenant },
  };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * express-session's `session.Store`: the base class of an express-session store (an
 * `EventEmitter`). A store written as `class MyStore extends session.Store` with `get`, `set` and
 * `destroy` is an express-session store to `session()`, kept through {@link ExpressStoreAdapter}.
 *
 * @example
 * ```ts
 * class MapStore extends session.Store {
 *   readonly sessions = new Map<string, string>();
 *   get(sid: string, cb: (err: unknown, sess?: unknown) => void) { const s = this.sessions.get(sid); cb(null, s && JSON.parse(s)); }
 *   set(sid: string, sess: object, cb?: (err?: unknown) => void) { this.sessions.set(sid, JSON.stringify(sess)); cb?.(); }
 *   destroy(sid: string, cb?: (err?: unknown) => void) { this.sessions.delete(sid); cb?.(); }
 * }
 * app.use(session({ secret, store: new MapStore(), resave: false, saveUninitialized: false }));
 * ```
 */
export class Store extends EventEmitter {}
