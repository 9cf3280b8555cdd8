/**
 * Sessions in Redis (a single node, Sentinel, or Redis Cluster) through `ioredis`. Records expire
 * by themselves (native TTL), so no cleanup job runs; compare-and-set is one Lua script.
 *
 * Key layout, under `prefix` (default `tessera:`):
 * - `<prefix>s:<key>` — a hash `{ data, version, expiresAt, userId?, tenant? }` with a TTL of
 *   `expiresAt - ctx.now`;
 * - `<prefix>u:<userId>` — the user's index: a sorted set of record keys scored by `expiresAt`,
 *   living as long as its longest-lived member.
 *
 * Needs Redis 6.2 or later (`ZADD GT`).
 *
 * @module
 */
import { createRequire } from 'node:module';
import type { Cluster, Redis } from 'ioredis';
import { ConfigError, StoreUnavailableError } from '../errors.js';
import type { KeyedRecord, SessionStore, StoreContext, StoreRecord } from './store.js';

/** Options of {@link RedisStore}: give either `client` or `url`. */
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
  /** With `url`: milliseconds a connect or a command may take before the call fails with {@link StoreUnavailableError}. Default 2000. */
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

/** The scripts {@link RedisStore} defines on its client (run with EVALSHA). */
interface Scripts {
  tesseraSet(key: string, ...args: string[]): Promise<number>;
  tesseraDelete(key: string, indexBase: string, member: string): Promise<number>;
  tesseraIndex(index: string, score: string, member: string, ttl: string, now: string): Promise<number>;
}
type Client = (Redis | Cluster) & Scripts;

// Add `member` to the index `idx` (ZADD GT: a score never moves back, so a late, older write
// cannot shorten it), drop members expired on the caller clock, and keep the index alive as long
// as its longest-lived member.
const INDEX_FN = `
local function index(idx, score, member, ttl, now)
  redis.call('ZADD', idx, 'GT', score, member)
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', now)
  if redis.call('PTTL', idx) < tonumber(ttl) then redis.call('PEXPIRE', idx, ttl) end
end
`;

// KEYS[1] record. ARGV: 1 expected version, 2 now, 3 ttl, 4 expiresAt, 5 userId, 6 '1' when there
// is a user, 7 index base ('' = the caller updates the index), 8 member, 9.. the hash's fields.
const SET_LUA = `${INDEX_FN}
local cur = redis.call('HMGET', KEYS[1], 'version', 'expiresAt', 'userId')
if cur[1] and tonumber(cur[2]) > tonumber(ARGV[2]) then
  if tonumber(cur[1]) ~= tonumber(ARGV[1]) then return 0 end
elseif ARGV[1] ~= '0' then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 9))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local base = ARGV[7]
if base ~= '' then
  local user = ARGV[6] == '1' and ARGV[5]
  if cur[3] and cur[3] ~= user then redis.call('ZREM', base .. cur[3], ARGV[8]) end
  if user then index(base .. user, ARGV[4], ARGV[8], ARGV[3], ARGV[2]) end
end
return 1
`;

// KEYS[1] record. ARGV: 1 index base ('' = leave the index to listByUser), 2 member.
const DELETE_LUA = `
if ARGV[1] ~= '' then
  local user = redis.call('HGET', KEYS[1], 'userId')
  if user then redis.call('ZREM', ARGV[1] .. user, ARGV[2]) end
end
return redis.call('DEL', KEYS[1])
`;

// KEYS[1] index. ARGV: 1 expiresAt, 2 member, 3 ttl, 4 now.
const INDEX_LUA = `${INDEX_FN}
index(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1
`;

const FIELDS = ['data', 'version', 'expiresAt', 'userId', 'tenant'] as const;
/** Client states in which a command could only wait or fail: refuse at once instead. */
const DOWN = new Set(['reconnecting', 'close', 'end', 'disconnecting']);
/** Redis replies that mean "not now" rather than "wrong command". */
const TRANSIENT_REPLY = /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|OOM|NOREPLICAS|MOVED|ASK)\b/;

/**
 * Sessions in Redis, with native expiry, Lua compare-and-set and a per-user index.
 *
 * - **Round trips:** `get` is one `HMGET`; `set` and `delete` are one `EVALSHA` each. With
 *   `atomicIndex` off, a write of a signed-in session also indexes it before the write and again
 *   after it: three round trips, one after the other.
 * - **Expiry:** every record gets a TTL of `expiresAt - ctx.now`, so Redis drops it by itself
 *   (`expiresNatively`); `get` also hides a record whose `expiresAt` has passed on the caller clock.
 * - **User index:** with `atomicIndex` (a single node) the write and delete scripts move the
 *   record between users' indexes atomically. On a Cluster a script may touch only keys of one
 *   slot, so the index is updated by separate commands (before and after each write), and
 *   `listByUser` checks each entry against its record, pruning stale ones (deleted, expired, or now
 *   another user's). Either way an entry may be stale, but a live session is never missing from
 *   its user's index, so "sign out everywhere" finds every session.
 * - **Failures:** while the client is disconnected every call rejects at once with
 *   {@link StoreUnavailableError} (adapters answer 503); ioredis reconnects in the background and
 *   calls succeed again as soon as it has. A client the store made has an `error` listener, so
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
  readonly expiresNatively = true;
  /** The ioredis client in use (yours, or the one made from `url`). */
  readonly client: Redis | Cluster;
  /** The key prefix. */
  readonly prefix: string;
  /** Whether the write script updates the user index itself (see {@link RedisStoreOptions.atomicIndex}). */
  readonly atomicIndex: boolean;
  readonly #scripts: Scripts;
  readonly #owned: boolean;
  /** Index key prefix as the script sees it: with the client's own `keyPrefix`, which scripts' ARGV don't get. */
  readonly #indexBase: string;
  #lastError: unknown = null;
  #closed = false;

  constructor(options: RedisStoreOptions) {
    const { client, url } = options;
    if ((client === undefined) === (url === undefined)) throw new ConfigError('RedisStore needs exactly one of `client` or `url`');
    this.prefix = options.prefix ?? 'tessera:';
    if (typeof this.prefix !== 'string') throw new ConfigError('RedisStore prefix must be a string');
    const timeout = options.timeout ?? 2_000;
    if (!Number.isInteger(timeout) || timeout < 1) throw new ConfigError('RedisStore timeout must be a positive integer (milliseconds)');

    if (client) {
      this.client = client;
      this.#owned = false;
    } else {
      let protocol = '';
      try {
        protocol = new URL(url!).protocol;
      } catch {
        // reported below
      }
      if (protocol !== 'redis:' && protocol !== 'rediss:') throw new ConfigError('RedisStore url must be a redis:// or rediss:// URL');
      // Loaded here, not at import, so apps using another store never load ioredis.
      const ioredis = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
      this.client = new ioredis.Redis(url!, {
        // A command sent while the first connection is being made waits for it; once a connection
        // fails, everything queued or in flight is rejected at once (maxRetriesPerRequest 0) and
        // later calls are refused while ioredis reconnects (see #run).
        enableOfflineQueue: true,
        maxRetriesPerRequest: 0,
        connectTimeout: timeout,
        commandTimeout: timeout,
        retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
      });
      this.#owned = true;
      // Without a listener ioredis prints every connection error; keep the last as the cause.
      this.client.on('error', (error: unknown) => {
        this.#lastError = error;
      });
      this.client.on('ready', () => {
        this.#lastError = null;
      });
    }

    this.atomicIndex = options.atomicIndex ?? !this.client.isCluster;
    if (this.atomicIndex && this.client.isCluster) {
      throw new ConfigError('RedisStore atomicIndex cannot be used with a Redis Cluster client (its scripts may touch one slot only)');
    }
    this.#indexBase = `${this.client.options.keyPrefix ?? ''}${this.prefix}u:`;
    this.client.defineCommand('tesseraSet', { lua: SET_LUA, numberOfKeys: 1 });
    this.client.defineCommand('tesseraDelete', { lua: DELETE_LUA, numberOfKeys: 1 });
    this.client.defineCommand('tesseraIndex', { lua: INDEX_LUA, numberOfKeys: 1 });
    this.#scripts = this.client as Client;
  }

  async get(key: string, ctx: StoreContext): Promise<StoreRecord | null> {
    const [data, version, expiresAt, userId, tenant] = await this.#run(() => this.client.hmget(this.#recordKey(key), ...FIELDS));
    if (data == null || Number(expiresAt) <= ctx.now) return null;
    return { data, version: Number(version), expiresAt: Number(expiresAt), userId: userId ?? null, tenant: tenant ?? null };
  }

  async set(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): Promise<boolean> {
    const { data, version, expiresAt, userId, tenant } = record;
    const ttl = String(Math.max(1, Math.ceil(expiresAt - ctx.now)));
    const fields = ['data', data, 'version', String(version), 'expiresAt', String(expiresAt)];
    if (userId !== null) fields.push('userId', userId);
    if (tenant !== null) fields.push('tenant', tenant);
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
          ...fields,
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

  async delete(key: string): Promise<void> {
    await this.#run(() => this.#scripts.tesseraDelete(this.#recordKey(key), this.atomicIndex ? this.#indexBase : '', key));
  }

  async listByUser(userId: string, tenant: string | null, ctx: StoreContext): Promise<KeyedRecord[]> {
    const index = this.#indexKey(userId);
    const keys = await this.#run(() => this.client.zrange(index, `(${ctx.now}`, '+inf', 'BYSCORE'));
    const records = await Promise.all(keys.map((key) => this.get(key, ctx)));
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
    if (!this.#owned || this.#closed) return;
    this.#closed = true;
    if (this.client.status === 'ready') {
      try {
        await this.client.quit();
        return;
      } catch {
        // fall through to a hard disconnect
      }
    }
    this.client.disconnect();
  }

  #recordKey(key: string): string {
    return `${this.prefix}s:${key}`;
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
    const again = await Promise.all(keys.map((key) => this.get(key, ctx)));
    const back: KeyedRecord[] = [];
    for (const [i, key] of keys.entries()) {
      const record = again[i];
      if (record?.userId !== userId) continue;
      await this.#index(userId, key, record, ctx);
      back.push({ key, record });
    }
    return back;
  }

  /** Run one client call, refusing at once while disconnected and mapping failures to {@link StoreUnavailableError}. */
  async #run<T>(call: () => Promise<T>): Promise<T> {
    const status = this.client.status;
    if (DOWN.has(status)) throw new StoreUnavailableError(this.name, this.#lastError ?? new Error(`Redis connection is ${status}`));
    try {
      return await call();
    } catch (error) {
      const reply = error instanceof Error && error.name === 'ReplyError';
      if (reply && !TRANSIENT_REPLY.test(error.message)) throw error;
      throw new StoreUnavailableError(this.name, error);
    }
  }
}
