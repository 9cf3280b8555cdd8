/**
 * The store driver: the one place that looks at a store's optional abilities, once, at
 * construction — whether it answers synchronously, lists by user, cleans up, closes — puts a
 * deadline on every answer a store gives as a promise, and the runner that lets one algorithm
 * (the compare-and-set loop) work on either kind of store.
 *
 * @module
 * @internal
 */
import { ConfigError, NotSupportedError, StoreUnavailableError } from '../errors.js';
import type { MetricsRecorder, StoreOperation } from '../metrics/recorder.js';
import { RETAINS_RECORDS, type ActivityQuery, type KeyedRecord, type ListQuery, type SessionActivity, type SessionPage, type SessionStore, type StoreContext, type StoreRecord } from '../stores/store.js';
import { afterPoll } from './deadline.js';
import type { Step } from './queue.js';

/**
 * A store, as the core uses it. Calls answer at once when the store has synchronous forms
 * (`getSync`, `setSync`, `deleteSync`), else with the store's promise.
 *
 * Every answer that comes as a promise (`get`, `set`, `delete` of a store without synchronous
 * forms; `listByUser` and `deleteExpired` of any store) must come within `timeout` ms, or the call
 * rejects with {@link StoreUnavailableError} (its `cause` an `Error` named `TimeoutError`), which
 * adapters answer with 503. The store is not told: an answer that comes later is ignored. So a
 * `set` that timed out may still land — the commit was reported failed though it may be stored —
 * and the session's next write then meets a version it did not expect: compare-and-set re-reads
 * the record and re-applies that write's changes on top, so nothing is lost (an `update()` may run
 * twice, as after any write whose answer a dropped connection lost). The deadline costs one
 * `setTimeout` / `clearTimeout` and one promise per call (about a microsecond here; a networked
 * store's round trip is tens of microseconds); synchronous answers pay nothing.
 *
 * @example
 * ```ts
 * const driver = new StoreDriver(new MemoryStore());
 * driver.synchronous;                // true
 * const record = driver.get(key, { now }); // a record or null, not a promise
 * const remote = new StoreDriver(new RedisStore({ client }), 2_000); // each answer within 2 s, or 503
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
  /** The store can list all its sessions, page by page (`listSessions`). */
  readonly listsSessions: boolean;
  /** The store removes expired records on request (a cleanup timer is useful). */
  readonly cleansUp: boolean;
  /** The store keeps per-tab activity (`recordActivity`, `activityOf`, `listActivity`). */
  readonly tracksActivity: boolean;
  /** The store can count its live sessions (`countLive`: the `tessera.sessions.active` gauge). */
  readonly countsLive: boolean;
  readonly get: (key: string, ctx: StoreContext) => Step<StoreRecord | null>;
  readonly set: (key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext) => Step<boolean>;
  readonly delete: (key: string, ctx: StoreContext) => Step<void>;
  /** Longest wait (ms) for a store's promise; `Infinity`: no deadline. */
  readonly timeout: number;

  /**
   * `timeout`: how long (ms) an answer given as a promise may take (`Infinity`, the default:
   * forever). `metrics`: where each `get`, `set` and `delete` reports how long it took and whether
   * it failed (metrics on); without it the calls are not timed at all.
   */
  constructor(store: SessionStore, timeout = Infinity, metrics: MetricsRecorder | null = null) {
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
    this.timeout = timeout;
    this.synchronous = forms === 3;
    this.retainsRecords = (store as { [RETAINS_RECORDS]?: boolean })[RETAINS_RECORDS] === true;
    this.listsByUser = typeof store.listByUser === 'function';
    this.listsSessions = typeof store.listSessions === 'function';
    this.cleansUp = typeof store.deleteExpired === 'function';
    const activity = [store.recordActivity, store.activityOf, store.listActivity].filter((f) => typeof f === 'function').length;
    if (activity !== 0 && activity !== 3) {
      throw new ConfigError(`the ${store.name} store has some of recordActivity, activityOf and listActivity: a store offers all three or none`);
    }
    this.tracksActivity = activity === 3;
    this.countsLive = typeof store.countLive === 'function';
    if (this.synchronous) {
      this.get = (key, ctx) => store.getSync!(key, ctx);
      this.set = (key, record, expectedVersion, ctx) => store.setSync!(key, record, expectedVersion, ctx);
      this.delete = (key, ctx) => store.deleteSync!(key, ctx);
    } else if (timeout === Infinity) {
      this.get = (key, ctx) => store.get(key, ctx);
      this.set = (key, record, expectedVersion, ctx) => store.set(key, record, expectedVersion, ctx);
      this.delete = (key, ctx) => store.delete(key, ctx);
    } else {
      const name = String(store.name);
      this.get = (key, ctx) => within(store.get(key, ctx), timeout, name, 'get');
      this.set = (key, record, expectedVersion, ctx) => within(store.set(key, record, expectedVersion, ctx), timeout, name, 'set');
      this.delete = (key, ctx) => within(store.delete(key, ctx), timeout, name, 'delete');
    }
    if (metrics !== null) {
      const { get, set, delete: del } = this;
      // No closure per call: the start time goes along as an argument.
      this.get = (key, ctx) => {
        const start = performance.now();
        try {
          return timed(metrics, 'get', start, get(key, ctx));
        } catch (error) {
          throw failed(metrics, 'get', start, error);
        }
      };
      this.set = (key, record, expectedVersion, ctx) => {
        const start = performance.now();
        try {
          return timed(metrics, 'set', start, set(key, record, expectedVersion, ctx));
        } catch (error) {
          throw failed(metrics, 'set', start, error);
        }
      };
      this.delete = (key, ctx) => {
        const start = performance.now();
        try {
          return timed(metrics, 'delete', start, del(key, ctx));
        } catch (error) {
          throw failed(metrics, 'delete', start, error);
        }
      };
    }
  }

  /** The live sessions in the store (the `tessera.sessions.active` gauge). @throws {@link NotSupportedError} when it cannot count. */
  countLive(ctx: StoreContext): Promise<number> {
    if (!this.countsLive) return Promise.reject(new NotSupportedError(`the ${this.store.name} store cannot count its sessions`));
    return Promise.resolve(within(this.store.countLive!(ctx), this.timeout, String(this.store.name), 'countLive'));
  }

  /** The live records of a user. @throws {@link NotSupportedError} when the store has no by-user index. */
  listByUser(userId: string, tenant: string | null, ctx: StoreContext): Promise<KeyedRecord[]> {
    if (!this.listsByUser) throw new NotSupportedError(`the ${this.store.name} store cannot list sessions by user`);
    return Promise.resolve(within(this.store.listByUser!(userId, tenant, ctx), this.timeout, String(this.store.name), 'listByUser'));
  }

  /** A page of the live records. @throws {@link NotSupportedError} when the store cannot list its sessions. */
  listSessions(query: ListQuery, ctx: StoreContext): Promise<SessionPage> {
    if (!this.listsSessions) throw new NotSupportedError(`the ${this.store.name} store cannot list its sessions`);
    return Promise.resolve(within(this.store.listSessions!(query, ctx), this.timeout, String(this.store.name), 'listSessions'));
  }

  /** Record a tab's activity. @throws {@link NotSupportedError} when the store keeps none. */
  recordActivity(key: string, tab: string, at: number, expiresAt: number, ctx: StoreContext): Promise<void> {
    return this.#activity('recordActivity', () => this.store.recordActivity!(key, tab, at, expiresAt, ctx));
  }

  /** The live tabs of `key`. @throws {@link NotSupportedError} when the store keeps no activity. */
  activityOf(key: string, ctx: StoreContext): Promise<Record<string, number>> {
    return this.#activity('activityOf', () => this.store.activityOf!(key, ctx));
  }

  /** Sessions by last activity. @throws {@link NotSupportedError} when the store keeps no activity. */
  listActivity(query: ActivityQuery, ctx: StoreContext): Promise<SessionActivity[]> {
    return this.#activity('listActivity', () => this.store.listActivity!(query, ctx));
  }

  #activity<T>(call: string, fn: () => Promise<T>): Promise<T> {
    if (!this.tracksActivity) return Promise.reject(new NotSupportedError(`the ${this.store.name} store keeps no activity`));
    try {
      return Promise.resolve(within(fn(), this.timeout, String(this.store.name), call));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Remove expired records, at most about `limit` when given (one batch of the cleanup loop,
   * `core/cleanup.ts`); `0` for a store that expires them by itself. Held to the same deadline as
   * every call — each batch on its own.
   */
  async deleteExpired(ctx: StoreContext, limit?: number): Promise<number> {
    if (!this.cleansUp) return 0;
    const answer = limit === undefined ? this.store.deleteExpired!(ctx) : this.store.deleteExpired!(ctx, { limit });
    return within(answer, this.timeout, String(this.store.name), 'deleteExpired');
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

/** `answer` of a store call started at `start` (ms, `performance.now()`), its time and failure reported to `metrics`. */
function timed<T>(metrics: MetricsRecorder, operation: StoreOperation, start: number, answer: Step<T>): Step<T> {
  if (!isThenable(answer)) {
    metrics.store(operation, (performance.now() - start) / 1000, false);
    return answer;
  }
  return Promise.resolve(answer).then(
    (value) => {
      metrics.store(operation, (performance.now() - start) / 1000, false);
      return value;
    },
    (error: unknown) => {
      throw failed(metrics, operation, start, error);
    },
  );
}

/** A store call started at `start` failed with `error`: reported to `metrics`; returns `error`, to throw. */
function failed(metrics: MetricsRecorder, operation: StoreOperation, start: number, error: unknown): unknown {
  metrics.store(operation, (performance.now() - start) / 1000, true);
  return error;
}

/**
 * `answer`, or, when it is a promise that does not settle within `timeout` ms, a rejection with
 * {@link StoreUnavailableError}. A later answer (or failure) of the store is dropped.
 */
function within<T>(answer: T | PromiseLike<T>, timeout: number, store: string, call: string): T | Promise<T> {
  if (timeout === Infinity || !isThenable(answer)) return answer as T;
  return new Promise<T>((resolve, reject) => {
    // Judged after the sockets are read (afterPoll): an answer that came while the process was
    // busy for longer than `timeout` is used. Arguments rather than a closure (core/deadline.ts's
    // `within` takes one), so a store call allocates nothing more. Not unref'd: a script awaiting
    // a store that hangs gets this error rather than exiting silently with its promise unsettled.
    const timer = setTimeout(afterPoll, timeout, timedOut, reject, store, call, timeout);
    answer.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function timedOut(reject: (error: unknown) => void, store: string, call: string, timeout: number): void {
  const cause = new Error(`the ${store} store did not answer ${call}() within ${timeout} ms (storeTimeout)`);
  cause.name = 'TimeoutError';
  reject(new StoreUnavailableError(store, cause));
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
