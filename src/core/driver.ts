/**
 * The store driver: the one place that looks at a store's optional abilities, once, at
 * construction — whether it answers synchronously, lists by user, cleans up, closes — and the
 * runner that lets one algorithm (the compare-and-set loop) work on either kind of store.
 *
 * @module
 * @internal
 */
import { ConfigError, NotSupportedError } from '../errors.js';
import { RETAINS_RECORDS, type KeyedRecord, type SessionStore, type StoreContext, type StoreRecord } from '../stores/store.js';
import type { Step } from './queue.js';

/**
 * A store, as the core uses it. Calls answer at once when the store has synchronous forms
 * (`getSync`, `setSync`, `deleteSync`), else with the store's promise.
 *
 * @example
 * ```ts
 * const driver = new StoreDriver(new MemoryStore());
 * driver.synchronous;                // true
 * const record = driver.get(key, { now }); // a record or null, not a promise
 * ```
 */
export class StoreDriver {
  readonly store: SessionStore;
  /** The store answers synchronously: reads and writes need no promise. */
  readonly synchronous: boolean;
  /**
   * The store keeps the record objects it is given, in this process, and returns those same
   * objects: tessera's own MemoryStore only (a private mark, {@link RETAINS_RECORDS}). Records
   * then carry their decoded payload.
   */
  readonly retainsRecords: boolean;
  /** The store can list a user's sessions. */
  readonly listsByUser: boolean;
  /** The store removes expired records on request (a cleanup timer is useful). */
  readonly cleansUp: boolean;
  readonly get: (key: string, ctx: StoreContext) => Step<StoreRecord | null>;
  readonly set: (key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext) => Step<boolean>;
  readonly delete: (key: string, ctx: StoreContext) => Step<void>;

  constructor(store: SessionStore) {
    if (store === null || typeof store !== 'object') throw new ConfigError('store must be a session store object');
    for (const method of ['get', 'set', 'delete'] as const) {
      if (typeof store[method] !== 'function') {
        throw new ConfigError(`the ${String(store.name ?? 'given')} store has no ${method}() method: a store implements get, set and delete`);
      }
    }
    const forms = [store.getSync, store.setSync, store.deleteSync].filter((f) => typeof f === 'function').length;
    if (forms !== 0 && forms !== 3) {
      throw new ConfigError(`the ${store.name} store has some of getSync, setSync and deleteSync: a store offers all three synchronous forms or none`);
    }
    this.store = store;
    this.synchronous = forms === 3;
    this.retainsRecords = (store as { [RETAINS_RECORDS]?: boolean })[RETAINS_RECORDS] === true;
    this.listsByUser = typeof store.listByUser === 'function';
    this.cleansUp = typeof store.deleteExpired === 'function';
    if (this.synchronous) {
      this.get = (key, ctx) => store.getSync!(key, ctx);
      this.set = (key, record, expectedVersion, ctx) => store.setSync!(key, record, expectedVersion, ctx);
      this.delete = (key, ctx) => store.deleteSync!(key, ctx);
    } else {
      this.get = (key, ctx) => store.get(key, ctx);
      this.set = (key, record, expectedVersion, ctx) => store.set(key, record, expectedVersion, ctx);
      this.delete = (key, ctx) => store.delete(key, ctx);
    }
  }

  /** The live records of a user. @throws {@link NotSupportedError} when the store has no by-user index. */
  listByUser(userId: string, tenant: string | null, ctx: StoreContext): Promise<KeyedRecord[]> {
    if (!this.listsByUser) throw new NotSupportedError(`the ${this.store.name} store cannot list sessions by user`);
    return this.store.listByUser!(userId, tenant, ctx);
  }

  /** Remove expired records; `0` for a store that expires them by itself. */
  async deleteExpired(ctx: StoreContext): Promise<number> {
    return this.cleansUp ? this.store.deleteExpired!(ctx) : 0;
  }

  /** Release the store's connections, handles and timers. */
  async close(): Promise<void> {
    await this.store.close?.();
  }
}

/**
 * Run `steps` — a generator that yields store calls ({@link Step}s) and receives their answers —
 * to the end: synchronously for as long as the answers are values, then asynchronously from the
 * first promise on. A rejected call is thrown into the generator, where it can be caught. Returns
 * the generator's result, or a promise of it.
 *
 * @example
 * ```ts
 * function* readTwice(driver: StoreDriver) {
 *   const a = (yield driver.get('a', ctx)) as StoreRecord | null;
 *   const b = (yield driver.get('b', ctx)) as StoreRecord | null;
 *   return [a, b];
 * }
 * const both = run(readTwice(driver)); // an array on a synchronous store, a promise otherwise
 * ```
 */
export function run<R>(steps: Generator<unknown, R, unknown>): Step<R> {
  let next = steps.next();
  while (!next.done) {
    if (isThenable(next.value)) return runAsync(steps, next.value);
    next = steps.next(next.value);
  }
  return next.value;
}

/**
 * Whether a store's answer is a promise (or another thenable a third-party store may answer
 * with) rather than the value itself.
 *
 * @example
 * ```ts
 * const record = driver.get(key, ctx);
 * if (!isThenable(record)) use(record);
 * ```
 */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

async function runAsync<R>(steps: Generator<unknown, R, unknown>, pending: PromiseLike<unknown>): Promise<R> {
  for (;;) {
    let next: IteratorResult<unknown, R>;
    try {
      next = steps.next(await pending);
    } catch (error) {
      // The call failed (or the generator threw while handling its answer, which throws on here).
      next = steps.throw(error);
    }
    while (!next.done && !isThenable(next.value)) next = steps.next(next.value);
    if (next.done) return next.value;
    pending = next.value as PromiseLike<unknown>;
  }
}

/**
 * `fn` of the value of `step`: at once when it is a value, after it when it is a promise.
 *
 * @example
 * ```ts
 * return andThen(driver.get(key, ctx), (record) => record !== null);
 * ```
 */
export function andThen<T, R>(step: Step<T>, fn: (value: T) => Step<R>): Step<R> {
  return isThenable(step) ? Promise.resolve(step).then(fn) : fn(step as T);
}
