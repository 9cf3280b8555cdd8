/**
 * Sessions in Redis (a single node, Sentinel, or Redis Cluster) through `ioredis`. Records expire
 * by themselves (native TTL), so no cleanup job runs; compare-and-set is one Lua script.
 *
 * Key layout, under `prefix` (default `tessera:`):
 * - `<prefix>s:<key>` — a string: a short header, then the session data, with a TTL of
 *   `expiresAt - ctx.now`. The header is
 *   `t1:<version>:<expiresAt>:<userId bytes>:<tenant bytes>:<userId><tenant>`: a format tag, the
 *   two numbers in decimal, the UTF-8 byte lengths of `userId` and `tenant` (empty for `null`, `0`
 *   for an empty string), then the two strings themselves, unescaped. Being length-prefixed, any
 *   user ID or tenant round-trips, `:` included. For example, version 3 of a session of user
 *   `u1` in tenant `acme`: `t1:3:1767225600000:2:4:u1acme{"d":{...}}`; signed out, no tenant:
 *   `t1:3:1767225600000:::{"d":{...}}`.
 * - `<prefix>u:<userId>` — the user's index: a sorted set of record keys scored by `expiresAt`,
 *   living as long as its longest-lived member.
 * - `<prefix>a:<key>`, `<prefix>{activity}:recent` and `<prefix>{activity}:expiry` — per-tab
 *   activity (see `activity/redis.ts` and docs/activity.md).
 *
 * A value that is not in this format — such as the hash records of earlier versions of this
 * store, which `GET` answers with `WRONGTYPE` — reads as no session, and a write replaces it.
 *
 * Needs Redis 6.2 or later (`ZADD GT`).
 *
 * @example
 * ```ts
 * import { RedisStore } from 'tessera/stores/redis';
 * const store = new RedisStore({ url: 'redis://127.0.0.1:6379' });
 * // redis-cli GET 'tessera:s:<key>'  →  "t1:1:1767225600000:::{\"d\":{\"views\":1},...}"
 * ```
 *
 * @module
 */
import type { Cluster, Redis } from 'ioredis';
import { decode, DELETE_LUA, encode, INDEX_LUA, SET_LUA, type Client, type Scripts } from './redis-record.js';
import { scanPage } from './redis-scan.js';
import { ConfigError } from '../errors.js';
import { RedisActivity } from './activity/redis.js';
import { RedisConnection } from './redis-connection.js';
import { COUNTED_BY_WALKING, type ActivityQuery, type KeyedRecord, type ListQuery, type SessionActivity, type SessionPage, type SessionStore, type StoreContext, type StoreRecord } from './store.js';

/**
 * Options of {@link RedisStore}: give either `client` or `url`.
 *
 * @example
 * ```ts
 * const options: RedisStoreOptions = { url: 'redis://127.0.0.1:6379', prefix: 'myapp:sess:', timeout: 1_000 };
 * const store = new RedisStore(options);
 * ```
 */
export interface RedisStoreOptions {
  /**
   * An ioredis `Redis` or `Cluster` client to use; the store does not close it. The store refuses
   * calls at once while the client is reconnecting; for commands already in flight when a
   * connection drops to fail fast too, create a `Redis` with `maxRetriesPerRequest: 0` and a
   * `commandTimeout` (a `Cluster` with `redisOptions: { commandTimeout }`).
   */
  client?: Redis | Cluster;
  /** Connect to this URL (`redis://` or `rediss://`) with fail-fast settings; the store closes the connection. */
  url?: string;
  /** Prefix of every key the store writes. Default `tessera:`. Avoid `{hash tags}` in it on a Cluster. */
  prefix?: string;
  /**
   * With `url`: milliseconds a connect or a command may take before the call fails with
   * {@link StoreUnavailableError} (adapters answer 503), and that the connection may stay silent
   * while a command waits for its answer before it is dropped and made again; also the longest
   * `close()` waits for Redis to answer `QUIT` before it closes the connection anyway. Default 500.
   *
   * A silent network partition (packets dropped, nothing closed) is only ever seen as silence: the
   * calls then in flight fail after `timeout` (judged after the socket has been read, so a process
   * that was busy for longer still uses the answers that came meanwhile), the connection is
   * dropped, and calls are refused at once until a new one is ready — ioredis tries again every
   * 100 ms to 1 s, so the store recovers by itself. A healthy Redis answers a session command in well under a millisecond; what makes it
   * slower than `timeout` — a `KEYS` or a long script of another client, a large fork for `BGSAVE`,
   * an AOF `fsync` the disk cannot keep up with (Redis then delays writes up to 2 s) — costs 503s
   * and a reconnect instead of slow answers. Raise it (say 2000) for a distant or busy Redis.
   */
  timeout?: number;
  /**
   * Update the user index inside the write script, atomically and in the same round trip. That
   * script touches index keys it cannot declare in advance, which a single Redis node allows but
   * Redis Cluster (and some Redis-compatible servers) does not. When `false`, the index is updated
   * by separate commands before and after each write of a signed-in session (three round trips
   * instead of one) and `listByUser` checks every entry against its record, pruning stale ones.
   * Default: `false` for a `Cluster` client, `true` otherwise.
   */
  atomicIndex?: boolean;
}

/**
 * Sessions in Redis, with native expiry, Lua compare-and-set and a per-user index.
 *
 * - **Round trips:** `get` is one `GET` (each record is one string: a short header, then the
 *   data; see the module comment); `set` and `delete` are one `EVALSHA` each. With `atomicIndex`
 *   off, a write of a signed-in session also indexes it before the write and again after it: three
 *   round trips, one after the other. `listByUser` reads the index, then the records with one
 *   `MGET` (on a Cluster, one `GET` each, in parallel).
 * - **Expiry:** every record gets a TTL of `expiresAt - ctx.now`, so Redis drops it by itself
 *   (so it has no `deleteExpired`, and tessera runs no cleanup timer for it); `get` also hides a record whose `expiresAt` has passed on the caller clock.
 * - **User index:** with `atomicIndex` (a single node) the write and delete scripts move the
 *   record between users' indexes atomically. On a Cluster a script may touch only keys of one
 *   slot, so the index is updated by separate commands (before and after each write), and
 *   `listByUser` checks each entry against its record, pruning stale ones (deleted, expired, or now
 *   another user's). Either way an entry may be stale, but a live session is never missing from
 *   its user's index, so "sign out everywhere" finds every session.
 * - **Failures:** while the client is disconnected or reconnecting every call rejects at once with
 *   {@link StoreUnavailableError} (adapters answer 503); ioredis reconnects in the background and
 *   calls succeed again as soon as it has. A connection that goes silent (a network partition)
 *   fails the calls in flight after `timeout` and is then dropped and made again (see
 *   {@link RedisStoreOptions.timeout}). A client the store made has an `error` listener, so
 *   ioredis does not print every failed reconnect; the last error is the rejection's `cause`.
 *
 * ioredis is loaded when the first store is made, so apps using other stores never load it.
 *
 * @example
 * ```ts
 * import { createTessera } from 'tessera';
 * import { RedisStore } from 'tessera/stores/redis';
 *
 * const tessera = createTessera({ secrets: [secret], store: new RedisStore({ url: process.env.REDIS_URL! }) });
 *
 * // Or with a client of your own (for example a Cluster), which the store will not close:
 * import { Cluster } from 'ioredis';
 * const cluster = new Cluster([{ host: 'redis-1', port: 6379 }], { redisOptions: { commandTimeout: 2_000 } });
 * const store = new RedisStore({ client: cluster, prefix: 'myapp:sess:' });
 * ```
 */
export class RedisStore implements SessionStore {
  readonly name = 'redis';
  /** @internal The active-sessions gauge walks the listing (no `countLive`). */
  readonly [COUNTED_BY_WALKING] = true;
  /** The ioredis client in use (yours, or the one made from `url`). */
  readonly client: Redis | Cluster;
  /** The key prefix. */
  readonly prefix: string;
  /** Whether the write script updates the user index itself (see {@link RedisStoreOptions.atomicIndex}). */
  readonly atomicIndex: boolean;
  readonly #scripts: Scripts;
  readonly #connection: RedisConnection;
  /** Index key prefix as the script sees it: with the client's own `keyPrefix`, which scripts' ARGV don't get. */
  readonly #indexBase: string;
  /** `<prefix>s:`, the start of every record key (the client adds its own `keyPrefix` to keys). */
  readonly #recordBase: string;
  readonly #activity: RedisActivity;
  /** `<prefix>a:` with the client's `keyPrefix`, as the delete script sees the activity hash. */
  readonly #activityBase: string;

  constructor(options: RedisStoreOptions) {
    const { client, url } = options;
    if ((client === undefined) === (url === undefined)) throw new ConfigError('RedisStore needs exactly one of `client` or `url`');
    this.prefix = options.prefix ?? 'tessera:';
    if (typeof this.prefix !== 'string') throw new ConfigError('RedisStore prefix must be a string');
    const timeout = options.timeout ?? 500;
    if (!Number.isInteger(timeout) || timeout < 1) throw new ConfigError('RedisStore timeout must be a positive integer (milliseconds)');

    this.#connection = new RedisConnection(client, url, timeout);
    this.client = this.#connection.client;
    this.atomicIndex = options.atomicIndex ?? !this.client.isCluster;
    if (this.atomicIndex && this.client.isCluster) {
      throw new ConfigError('RedisStore atomicIndex cannot be used with a Redis Cluster client (its scripts may touch one slot only)');
    }
    this.#indexBase = `${this.client.options.keyPrefix ?? ''}${this.prefix}u:`;
    this.#recordBase = `${this.prefix}s:`;
    this.#activityBase = `${this.client.options.keyPrefix ?? ''}${this.prefix}a:`;
    this.client.defineCommand('tesseraSet', { lua: SET_LUA, numberOfKeys: 1 });
    this.client.defineCommand('tesseraDelete', { lua: DELETE_LUA, numberOfKeys: 1 });
    this.client.defineCommand('tesseraIndex', { lua: INDEX_LUA, numberOfKeys: 1 });
    this.#scripts = this.client as Client;
    this.#activity = new RedisActivity(this.client, this.prefix, (call) => this.#run(call), (keys, ctx) => this.#read(keys, ctx));
  }

  /**
   * The live record under `key`: one `GET`, its header parsed in place. `null` when there is none,
   * when it has expired on `ctx.now`, or when the key holds something else (such as a hash record
   * of an earlier version of this store).
   *
   * @example
   * ```ts
   * const record = await store.get(key, { now: Date.now() }); // { data, version, expiresAt, userId, tenant } | null
   * ```
   */
  get(key: string, ctx: StoreContext): Promise<StoreRecord | null> {
    // The hot path: the connection's run (its status check and error mapping), without its async frame and closure.
    const connection = this.#connection;
    const status = this.client.status;
    if (status !== 'ready' && connection.refuses(status)) return Promise.reject(connection.down(status));
    connection.watch();
    const now = ctx.now;
    let reply: Promise<Buffer | null>;
    try {
      reply = this.client.getBuffer(this.#recordBase + key);
      if (status !== 'ready') reply = connection.whileConnecting(reply);
    } catch (error) {
      return Promise.reject(error).then(undefined, connection.readFailed);
    }
    return reply.then((value) => decode(value, now), connection.readFailed);
  }

  /**
   * Compare-and-set: write `record` when the live record's version is `expectedVersion` (`0`: when
   * there is no live record), with a TTL of `record.expiresAt - ctx.now`. One script call (three
   * round trips for a signed-in session with `atomicIndex: false`).
   *
   * @example
   * ```ts
   * const now = Date.now();
   * const written = await store.set(key, { data: '{}', version: 1, expiresAt: now + 3_600_000, userId: 'u1', tenant: null }, 0, { now });
   * ```
   */
  async set(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): Promise<boolean> {
    const { expiresAt, userId } = record;
    const ttl = String(Math.max(1, Math.ceil(expiresAt - ctx.now)));
    const value = encode(record);
    const write = (): Promise<number> =>
      this.#run(() =>
        this.#scripts.tesseraSet(
          this.#recordKey(key),
          String(expectedVersion),
          String(ctx.now),
          ttl,
          String(expiresAt),
          userId ?? '',
          userId === null ? '0' : '1',
          this.atomicIndex ? this.#indexBase : '',
          key,
          value,
        ),
      );
    if (this.atomicIndex || userId === null) return (await write()) === 1;
    // Split mode: the record and the index are on different nodes, so either can fail alone.
    // Index first and write only once that succeeded, so a failing index node cannot leave a
    // written session out of its user's index (a write that then fails or conflicts leaves a
    // stale entry, which listByUser prunes). Index again after the write, so a prune that ran in
    // between cannot drop it (see #prune).
    await this.#index(userId, key, record, ctx);
    if ((await write()) !== 1) return false;
    await this.#index(userId, key, record, ctx);
    return true;
  }

  /**
   * Remove the record under `key` (and, with `atomicIndex`, its user's index entry); a missing key is a no-op.
   *
   * @example
   * ```ts
   * await store.delete(key);
   * ```
   */
  async delete(key: string): Promise<void> {
    // With atomicIndex the script deletes the session's activity too; otherwise a DEL beside it.
    const [indexBase, activity] = this.atomicIndex ? [this.#indexBase, this.#activityBase + key] : ['', ''];
    const deleted = this.#run(() => this.#scripts.tesseraDelete(this.#recordKey(key), indexBase, key, activity));
    await (this.atomicIndex ? deleted : Promise.all([deleted, this.#activity.forget(key)]));
  }

  /** A page of the live records: one `SCAN` step over the record keys (node by node on a Cluster). */
  listSessions(query: ListQuery, ctx: StoreContext): Promise<SessionPage> {
    const base = `${this.client.options.keyPrefix ?? ''}${this.#recordBase}`;
    return this.#run(() => scanPage(this.client, base, query, ctx, (keys, at) => this.#read(keys, at)));
  }

  /** Per-tab activity: a hash per session and two sorted sets (see the module comment). */
  recordActivity(key: string, tab: string, at: number, expiresAt: number, ctx: StoreContext): Promise<void> {
    return this.#activity.record(key, tab, at, expiresAt, ctx);
  }

  activityOf(key: string, ctx: StoreContext): Promise<Record<string, number>> {
    return this.#activity.of(key, ctx);
  }

  listActivity(query: ActivityQuery, ctx: StoreContext): Promise<SessionActivity[]> {
    return this.#activity.list(query, ctx);
  }

  /**
   * The live records of `userId` (within `tenant`, unless `null`): the user's index, then the
   * records it names (one `MGET`; on a Cluster, a `GET` each). Entries whose record is gone,
   * expired, or another user's are pruned from the index.
   *
   * @example
   * ```ts
   * const sessions = await store.listByUser('user-42', null, { now: Date.now() });
   * for (const { key, record } of sessions) console.log(key, record.expiresAt);
   * ```
   */
  async listByUser(userId: string, tenant: string | null, ctx: StoreContext): Promise<KeyedRecord[]> {
    const index = this.#indexKey(userId);
    const keys = await this.#run(() => this.client.zrange(index, `(${ctx.now}`, '+inf', 'BYSCORE'));
    const records = await this.#read(keys, ctx);
    const out: KeyedRecord[] = [];
    const stale: string[] = [];
    keys.forEach((key, i) => {
      const record = records[i];
      if (!record || record.userId !== userId) stale.push(key);
      else if (tenant === null || record.tenant === tenant) out.push({ key, record });
    });
    if (stale.length > 0) {
      for (const found of await this.#prune(userId, stale, ctx)) {
        if (tenant === null || found.record.tenant === tenant) out.push(found);
      }
    }
    return out;
  }

  /** Close the connection the store opened from `url` (a client you passed in stays open). Idempotent. */
  async close(): Promise<void> {
    await this.#connection.close();
  }

  #recordKey(key: string): string {
    return this.#recordBase + key;
  }

  /** The records under `keys` (`null` for those missing, expired or not records), in order. */
  async #read(keys: string[], ctx: StoreContext): Promise<(StoreRecord | null)[]> {
    if (keys.length === 0) return [];
    // MGET answers nil for a key of another type (no WRONGTYPE). A Cluster refuses an MGET across
    // slots, and sessions are spread over all of them: one GET each there.
    if (this.client.isCluster) return Promise.all(keys.map((key) => this.get(key, ctx)));
    const values = await this.#run(() => this.client.mgetBuffer(keys.map((key) => this.#recordBase + key)));
    return values.map((value) => decode(value, ctx.now));
  }

  #indexKey(userId: string): string {
    return `${this.prefix}u:${userId}`;
  }

  #index(userId: string, key: string, record: StoreRecord, ctx: StoreContext): Promise<number> {
    const ttl = String(Math.max(1, Math.ceil(record.expiresAt - ctx.now)));
    return this.#run(() => this.#scripts.tesseraIndex(this.#indexKey(userId), String(record.expiresAt), key, ttl, String(ctx.now)));
  }

  /**
   * Remove stale entries from a user's index, then read their records again: one that became the
   * user's meanwhile (its write finished between our read and the ZREM) is put back and returned.
   * Writers index after writing, so this re-check can never miss one.
   */
  async #prune(userId: string, keys: string[], ctx: StoreContext): Promise<KeyedRecord[]> {
    await this.#run(() => this.client.zrem(this.#indexKey(userId), ...keys));
    const again = await this.#read(keys, ctx);
    const back: KeyedRecord[] = [];
    for (const [i, key] of keys.entries()) {
      const record = again[i];
      if (record?.userId !== userId) continue;
      await this.#index(userId, key, record, ctx);
      back.push({ key, record });
    }
    return back;
  }

  /** Run one client call through the connection (refused at once while down; failures as {@link StoreUnavailableError}). */
  #run<T>(call: () => Promise<T>): Promise<T> {
    return this.#connection.run(call);
  }
}
