/**
 * The store contract. A store keeps opaque session records under opaque keys, plus the few fields
 * it may index (expiry, user, tenant, version). Serialisation, encryption and policy belong to the
 * manager, so a store is small: three required methods (and a `name`), and a few optional
 * abilities tessera detects once, when it is made.
 *
 * Contracts every store keeps (the conformance kit in `tessera/stores/conformance` checks them):
 * - `get` of a missing or expired key resolves `null`. A rejection means the store failed
 *   (throw {@link StoreUnavailableError} when the backing service cannot be reached), never "not found".
 * - `set` is compare-and-set on `version`: it writes only when the live record's version equals
 *   `expectedVersion` (`0`: only when no live record exists) and resolves `false` otherwise,
 *   changing nothing.
 * - `delete` of a missing key is a no-op.
 * - Records are immutable once handed over: neither side mutates a record after passing it on.
 *
 * @module
 */

/**
 * One stored session.
 *
 * @example
 * ```ts
 * const record: StoreRecord = { data: '{"v":1}', version: 1, expiresAt: Date.now() + 3600_000, userId: null, tenant: null };
 * ```
 */
export interface StoreRecord {
  /** The serialised session, opaque to the store (it may be encrypted). */
  readonly data: string;
  /** Version for compare-and-set; the first write has version 1, each later write one more. */
  readonly version: number;
  /** When the record expires, in milliseconds since the epoch. The store may drop it after this. */
  readonly expiresAt: number;
  /** The user the session belongs to, for the by-user index; `null` when nobody signed in. */
  readonly userId: string | null;
  /** The tenant of the session, for the tenant index; `null` without tenants. */
  readonly tenant: string | null;
}

/**
 * Passed to every store call. `now` is the manager's clock (so a store decides expiry with the same
 * time as the manager, and tests can use a fake clock).
 */
export interface StoreContext {
  /** Current time in milliseconds since the epoch. */
  readonly now: number;
}

/** A record with its key, as returned by listing abilities. */
export interface KeyedRecord {
  readonly key: string;
  readonly record: StoreRecord;
}

/**
 * A session store.
 *
 * @example
 * ```ts
 * class MyStore implements SessionStore {
 *   readonly name = 'mine';
 *   async get(key: string, ctx: StoreContext) { ... }
 *   async set(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext) { ... }
 *   async delete(key: string, ctx: StoreContext) { ... }
 * }
 * ```
 */
export interface SessionStore {
  /** A short name for messages and logs (`memory`, `sqlite`, ...). */
  readonly name: string;
  /** The live record under `key`, or `null` when there is none or it has expired. */
  get(key: string, ctx: StoreContext): Promise<StoreRecord | null>;
  /**
   * Compare-and-set: write `record` if the live record's version is `expectedVersion` (`0`: no live
   * record). Resolves `true` when written, `false` on a version conflict.
   */
  set(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): Promise<boolean>;
  /** Remove the record under `key`; a missing key is a no-op. */
  delete(key: string, ctx: StoreContext): Promise<void>;

  // Optional abilities. Each is detected once, when tessera is made (a store missing one simply
  // does not offer it); the conformance kit tests each one a store has and says which it skipped.

  /**
   * Optional, with `setSync` and `deleteSync` (all three or none): {@link SessionStore.get},
   * answered synchronously, for stores that work in process (memory, SQLite). tessera then reads
   * and writes without waiting for a promise, and `loadSync()` works. Each form behaves exactly as
   * its promise form and throws where that rejects. {@link SynchronousStore} derives the promise
   * forms from these.
   */
  getSync?(key: string, ctx: StoreContext): StoreRecord | null;
  /** Optional: {@link SessionStore.set}, answered synchronously (see {@link SessionStore.getSync}). */
  setSync?(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): boolean;
  /** Optional: {@link SessionStore.delete}, answered synchronously (see {@link SessionStore.getSync}). */
  deleteSync?(key: string, ctx: StoreContext): void;

  /**
   * Optional: remove records expired at `ctx.now`; resolves how many were removed. tessera calls
   * it on a timer (`cleanupInterval`) and from `cleanupExpired()`. A store that expires records by
   * itself (Redis TTLs) leaves it out.
   *
   * tessera passes `options.limit`: remove at most that many (one short statement or sweep), so a
   * call never holds the event loop, a lock or a connection for long. tessera calls again, with the
   * same `ctx.now`, pausing between calls, for as long as a call removes `limit` or more; an answer
   * below `limit` ends the run. Without `limit` (a direct call), remove every expired record. A
   * store may ignore `limit` (as stores written before it did): its one call removes everything,
   * and the next finds nothing.
   */
  deleteExpired?(ctx: StoreContext, options?: DeleteExpiredOptions): Promise<number>;
  /** Optional: the live records of a user (within `tenant`, when not `null`), from an index. */
  listByUser?(userId: string, tenant: string | null, ctx: StoreContext): Promise<KeyedRecord[]>;
  /**
   * Optional: one page of the live records, for operators (`tessera.admin`, the CLI, the admin
   * page). Pages follow each other by `cursor`; together they give every record that stays live
   * meanwhile, in an order of the store's choosing — each once, except in stores that scan a hash
   * table that may grow meanwhile (Redis `SCAN`), which may give a record twice. A page may hold
   * fewer records than `limit`, even none, while more follow: only `next: null` ends a listing.
   */
  listSessions?(query: ListQuery, ctx: StoreContext): Promise<SessionPage>;
  /**
   * Optional: how many live sessions the store holds at `ctx.now` — records unexpired, leaving out
   * tessera's bookkeeping records (see {@link isSessionRecord}). Read by the `tessera.sessions.active`
   * gauge at each scrape (metrics on), so it should be one query, not a walk over a network.
   * tessera's own RedisStore and FileStore have none: their gauge is the count of a walk over
   * their listing, made at most once a minute and answered until the next. Another store without
   * it has no gauge.
   */
  countLive?(ctx: StoreContext): Promise<number>;
  /** Optional: release connections, file handles and timers. */
  close?(): Promise<void>;

  // Optional, all three or none: per-tab activity (see {@link SessionActivity}). tessera records
  // it, throttled, for requests and streams that name their tab; docs/activity.md.

  /**
   * Optional: note that tab `tab` of the session under `key` was active at `at`. An upsert that
   * keeps the later time (an earlier `at` never moves it back); the entry lives until `expiresAt`
   * (later writes may extend it, never shorten it), and goes with the session: `delete(key)` and
   * `deleteExpired` remove it. The session's record need not exist.
   */
  recordActivity?(key: string, tab: string, at: number, expiresAt: number, ctx: StoreContext): Promise<void>;
  /** Optional (with {@link SessionStore.recordActivity}): the live tabs of `key`, tab → last activity (ms); `{}` when none. */
  activityOf?(key: string, ctx: StoreContext): Promise<Record<string, number>>;
  /**
   * Optional (with {@link SessionStore.recordActivity}): the sessions whose last activity (the
   * latest of their tabs) is in `[since, before)` and whose record is live, most recent first, at
   * most `limit`; each with all its live tabs.
   */
  listActivity?(query: ActivityQuery, ctx: StoreContext): Promise<SessionActivity[]>;
}

/**
 * A page request of {@link SessionStore.listSessions}.
 *
 * @example
 * ```ts
 * let cursor: string | null = null;
 * do {
 *   const page: SessionPage = await store.listSessions!({ tenant: null, cursor, limit: 500 }, { now: Date.now() });
 *   for (const { key, record } of page.records) console.log(key, record.userId);
 *   cursor = page.next;
 * } while (cursor !== null);
 * ```
 */
export interface ListQuery {
  /** Only the sessions of this tenant; `null`: of every tenant. */
  readonly tenant: string | null;
  /** Where to go on: the `next` of the previous page, or `null` for the first page. */
  readonly cursor: string | null;
  /** How many records a page holds at most (a positive integer; stores that scan, as Redis, treat it as a hint and may give a few more). */
  readonly limit: number;
}

/**
 * A page of {@link SessionStore.listSessions}.
 *
 * @example
 * ```ts
 * const page: SessionPage = await store.listSessions!({ tenant: null, cursor: null, limit: 100 }, { now: Date.now() });
 * if (page.next !== null) console.log('more follow');
 * ```
 */
export interface SessionPage {
  readonly records: KeyedRecord[];
  /** The cursor of the next page; `null` when the listing is complete. */
  readonly next: string | null;
}

/**
 * What {@link SessionStore.deleteExpired} is asked.
 *
 * @example
 * ```ts
 * const removed = await store.deleteExpired!({ now: Date.now() }, { limit: 500 } satisfies DeleteExpiredOptions);
 * ```
 */
export interface DeleteExpiredOptions {
  /** Remove at most this many records in this call (a positive integer); none given: every expired record. */
  readonly limit?: number;
}

/**
 * What {@link SessionStore.listActivity} is asked.
 *
 * @example
 * ```ts
 * const online = await store.listActivity!({ since: now - 60_000, before: Infinity, tenant: null, limit: 100 }, { now });
 * ```
 */
export interface ActivityQuery {
  /** Sessions last active at or after this time (ms). */
  readonly since: number;
  /** ...and before this time (ms, exclusive; `Infinity`: no bound). */
  readonly before: number;
  /** Only the sessions of this tenant; `null`: of every tenant. */
  readonly tenant: string | null;
  /** At most this many sessions (a positive integer). */
  readonly limit: number;
}

/**
 * One session's activity, as {@link SessionStore.listActivity} lists it: its key, the user and
 * tenant of its record, and its tabs.
 *
 * @example
 * ```ts
 * const entry: SessionActivity = { key, userId: 'u1', tenant: null, tabs: { k3Jd9_aQ0xZ: 1767225600000 } };
 * ```
 */
export interface SessionActivity {
  readonly key: string;
  readonly userId: string | null;
  readonly tenant: string | null;
  /** Tab → last activity (ms since the epoch). */
  readonly tabs: Readonly<Record<string, number>>;
}

/**
 * The latest time of a session's tabs; `-Infinity` for none. Stores use it to order sessions.
 *
 * @example
 * ```ts
 * lastOf({ a: 1_000, b: 3_000 }); // 3_000
 * ```
 */
export function lastOf(tabs: Readonly<Record<string, number>>): number {
  let last = -Infinity;
  for (const tab in tabs) if (tabs[tab]! > last) last = tabs[tab]!;
  return last;
}

/**
 * @internal The mark of a store that keeps the record objects it is given, in this process, and
 * returns those same objects from `get`: only tessera's own MemoryStore sets it. tessera then
 * gives it records that carry their decoded session (see `core/codec.ts`). Not exported from the
 * package: a store that copied such a record would lose its `data`, a getter.
 *
 * @example
 * ```ts
 * class MemoryStore { readonly [RETAINS_RECORDS] = true; }
 * ```
 */
export const RETAINS_RECORDS: unique symbol = Symbol('tessera.retainsRecords');

/**
 * @internal The mark of a store whose live sessions tessera may count by walking its listing for
 * the `tessera.sessions.active` gauge, having no `countLive`: tessera's own RedisStore and
 * FileStore. Another store's listing may cost more than a walk a minute should (a scan billed by
 * the read): without `countLive` it has no gauge.
 *
 * @example
 * ```ts
 * class FileStore { readonly [COUNTED_BY_WALKING] = true; }
 * ```
 */
export const COUNTED_BY_WALKING: unique symbol = Symbol('tessera.countedByWalking');

/**
 * Whether `data` (a record's) is a session's, not one of the bookkeeping records tessera keeps in
 * the same store: a used live ticket (empty data), or a time (digits): a user's "sign out
 * everywhere", or when an express-session cookie was adopted (`migrateFrom`).
 * For {@link SessionStore.countLive}.
 *
 * @example
 * ```ts
 * isSessionRecord('{"d":{}}'); // true
 * isSessionRecord('1733356800000'); // false
 * ```
 */
export function isSessionRecord(data: string): boolean {
  return data !== '' && !/^[0-9]+$/.test(data);
}

/**
 * Whether a record is expired at `now`. Stores use this so they all draw the line the same way.
 *
 * @example
 * ```ts
 * if (isExpired(record, ctx.now)) return null;
 * ```
 */
export function isExpired(record: Pick<StoreRecord, 'expiresAt'>, now: number): boolean {
  return record.expiresAt <= now;
}

/**
 * A base for stores that work in process and answer synchronously: implement `getSync`, `setSync`
 * and `deleteSync` (with the contracts of {@link SessionStore.get}, `set` and `delete`), and the
 * promise forms come from this class. tessera then reads and writes without waiting on a promise,
 * and `loadSync()` works with the store.
 *
 * @example
 * ```ts
 * class MapStore extends SynchronousStore {
 *   readonly name = 'map';
 *   readonly #records = new Map<string, StoreRecord>();
 *   getSync(key: string, ctx: StoreContext) {
 *     const r = this.#records.get(key);
 *     return r && !isExpired(r, ctx.now) ? r : null;
 *   }
 *   setSync(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext) {
 *     if ((this.getSync(key, ctx)?.version ?? 0) !== expectedVersion) return false;
 *     this.#records.set(key, record);
 *     return true;
 *   }
 *   deleteSync(key: string) {
 *     this.#records.delete(key);
 *   }
 * }
 * ```
 */
export abstract class SynchronousStore implements SessionStore {
  abstract readonly name: string;
  abstract getSync(key: string, ctx: StoreContext): StoreRecord | null;
  abstract setSync(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): boolean;
  abstract deleteSync(key: string, ctx: StoreContext): void;

  async get(key: string, ctx: StoreContext): Promise<StoreRecord | null> {
    return this.getSync(key, ctx);
  }

  async set(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): Promise<boolean> {
    return this.setSync(key, record, expectedVersion, ctx);
  }

  async delete(key: string, ctx: StoreContext): Promise<void> {
    this.deleteSync(key, ctx);
  }
}

/**
 * One page of {@link SessionStore.listSessions} over records held in process, in key order: the
 * cursor is the last key of the page before. For stores that keep their records in a `Map`.
 *
 * @example
 * ```ts
 * const page = pageByKey(map.entries(), { tenant: null, cursor: null, limit: 100 }, Date.now(), (record) => record);
 * ```
 */
export function pageByKey<T>(entries: Iterable<[string, T]>, query: ListQuery, now: number, recordOf: (value: T) => StoreRecord): SessionPage {
  const found: KeyedRecord[] = [];
  for (const [key, value] of entries) {
    if (query.cursor !== null && key <= query.cursor) continue;
    const record = recordOf(value);
    if (isExpired(record, now) || (query.tenant !== null && record.tenant !== query.tenant)) continue;
    found.push({ key, record });
  }
  found.sort((a, b) => (a.key < b.key ? -1 : 1));
  if (found.length <= query.limit) return { records: found, next: null };
  const records = found.slice(0, query.limit);
  return { records, next: records[records.length - 1]!.key };
}
