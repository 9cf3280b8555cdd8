/**
 * The `tessera.sessions.active` gauge for a store that can list its sessions but cannot count
 * them in one query (RedisStore, FileStore): a walk over every session, page by page, whose count
 * the gauge answers until the next walk.
 *
 * @module
 * @internal
 */
import { isExpired, isSessionRecord, type ListQuery, type SessionPage, type StoreContext } from '../stores/store.js';

/** Records per page of a walk. */
const PAGE = 1000;

/** How often a walk may start at most (ms), by default. */
export const WALK_INTERVAL = 60_000;

/**
 * How many times the last walk's duration must pass after it ends before the next one starts:
 * walking takes at most a tenth of the store's time, however large it grows.
 */
const REST = 9;

/**
 * Count the live sessions of a store that lists them (`listSessions`), leaving out tessera's
 * bookkeeping records, as `countLive` would.
 *
 * @example
 * ```ts
 * const n = await countByWalking((query, ctx) => store.listSessions!(query, ctx), Date.now);
 * ```
 */
export async function countByWalking(list: (query: ListQuery, ctx: StoreContext) => Promise<SessionPage>, now: () => number): Promise<number> {
  let count = 0;
  let cursor: string | null = null;
  do {
    const at = now();
    const page: SessionPage = await list({ tenant: null, cursor, limit: PAGE }, { now: at });
    for (const { record } of page.records) if (!isExpired(record, at) && isSessionRecord(record.data)) count++;
    // A listing that hands back the cursor it was given would never end.
    if (page.next !== null && page.next === cursor) throw new Error(`listSessions answered the cursor it was given (${JSON.stringify(cursor)}): the walk stops`);
    cursor = page.next;
  } while (cursor !== null);
  return count;
}

/**
 * A count kept from walk to walk. {@link WalkedCount.read} answers the last count at once and
 * starts a new walk when the last one is due again: at most once per `interval`, and no sooner
 * than {@link REST} times the last walk's duration after it ended. Only the first read waits for
 * a walk. A walk that fails leaves the last count in place (the first read then fails, and the
 * gauge is left out of that scrape), and is told to `onError` (tessera reports it: the logger).
 *
 * @example
 * ```ts
 * const gauge = new WalkedCount(() => countByWalking(list, Date.now), 60_000, Date.now);
 * const active = await gauge.read();
 * ```
 */
export class WalkedCount {
  readonly #walk: () => Promise<number>;
  readonly #interval: number;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  #count: number | null = null;
  #walking: Promise<number> | null = null;
  /** Why the last walk failed, while no walk has succeeded. */
  #failure: unknown = null;
  /** When the next walk may start. */
  #due = -Infinity;

  constructor(walk: () => Promise<number>, interval: number, now: () => number, onError: (error: unknown) => void = () => {}) {
    this.#walk = walk;
    this.#interval = interval;
    this.#now = now;
    this.#onError = onError;
  }

  /** The last count, and a new walk started when one is due; the first read waits for its walk. */
  read(): number | Promise<number> {
    if (this.#walking === null && this.#now() >= this.#due) this.#walking = this.#start();
    return this.#count ?? this.#walking ?? Promise.reject(this.#failure);
  }

  #start(): Promise<number> {
    const startedAt = this.#now();
    const walking = this.#walk().then((count) => (this.#count = count));
    const ended = (failure: unknown = null): void => {
      this.#failure = failure;
      const endedAt = this.#now();
      this.#due = Math.max(startedAt + this.#interval, endedAt + REST * (endedAt - startedAt));
      this.#walking = null;
    };
    walking.then(
      () => ended(),
      (error: unknown) => {
        ended(error);
        this.#onError(error);
      },
    );
    return walking;
  }
}
