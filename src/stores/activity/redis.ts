/**
 * The activity of {@link RedisStore}. Keys, under the store's `prefix`:
 * - `<prefix>a:<key>` — a hash per session: tab → `<at>:<expiresAt>`, with a TTL as long as its
 *   longest-lived tab (relative to the caller's clock, like the records);
 * - `<prefix>{activity}:recent` — a sorted set of session keys scored by last activity;
 * - `<prefix>{activity}:expiry` — the same keys scored by their latest `expiresAt`, to prune the
 *   first (each write drops up to 100 expired members from both).
 *
 * The two sorted sets share a hash tag, so on a Redis Cluster they live in one slot and one script
 * updates both; a session's hash is written by a script of its own (one key).
 *
 * @module
 * @internal
 */
import type { Cluster, Redis } from 'ioredis';
import { lastOf, type ActivityQuery, type SessionActivity, type StoreContext, type StoreRecord } from '../store.js';

// KEYS[1] the session's hash. ARGV: 1 tab, 2 at, 3 expiresAt, 4 ttl. Keeps the later of each time.
const RECORD_LUA = `
local at, exp = ARGV[2], ARGV[3]
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local a, e = string.match(current, '^([^:]+):(.+)$')
  if a and tonumber(a) > tonumber(at) then at = a end
  if e and tonumber(e) > tonumber(exp) then exp = e end
end
redis.call('HSET', KEYS[1], ARGV[1], at .. ':' .. exp)
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return 1
`;

// KEYS[1] recent, KEYS[2] expiry. ARGV: 1 session key, 2 at, 3 expiresAt, 4 now.
const RECENT_LUA = `
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], 'GT', ARGV[3], ARGV[1])
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[4], 'LIMIT', 0, 100)
if #gone > 0 then
  redis.call('ZREM', KEYS[1], unpack(gone))
  redis.call('ZREM', KEYS[2], unpack(gone))
end
return #gone
`;

interface Scripts {
  tesseraActivity(hash: string, tab: string, at: string, expiresAt: string, ttl: string): Promise<number>;
  tesseraRecent(recent: string, expiry: string, key: string, at: string, expiresAt: string, now: string): Promise<number>;
}

/** The live tabs of a session's hash at `now`. */
function liveTabs(hash: Record<string, string>, now: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tab in hash) {
    const value = hash[tab]!;
    const colon = value.indexOf(':');
    const at = Number(value.slice(0, colon));
    if (colon > 0 && Number(value.slice(colon + 1)) > now && Number.isFinite(at)) out[tab] = at;
  }
  return out;
}

/** A score bound for ZRANGEBYSCORE: `-inf`/`+inf`, or `(x` when exclusive. */
function score(time: number, exclusive: boolean): string {
  if (time === Infinity) return '+inf';
  if (time === -Infinity) return '-inf';
  return exclusive ? `(${time}` : String(time);
}

/**
 * Per-tab activity in Redis, for {@link RedisStore}, which passes its call runner (status check
 * and error mapping) and its record reader (for the user and tenant of listed sessions).
 *
 * @example
 * ```ts
 * const activity = new RedisActivity(client, 'tessera:', (call) => run(call), (keys, ctx) => read(keys, ctx));
 * await activity.record(key, tab, now, now + 3_600_000, { now });
 * ```
 */
export class RedisActivity {
  readonly #client: Redis | Cluster;
  readonly #scripts: Scripts;
  readonly #prefix: string;
  readonly #recent: string;
  readonly #expiry: string;
  readonly #run: <T>(call: () => Promise<T>) => Promise<T>;
  readonly #read: (keys: string[], ctx: StoreContext) => Promise<(StoreRecord | null)[]>;

  constructor(
    client: Redis | Cluster,
    prefix: string,
    run: <T>(call: () => Promise<T>) => Promise<T>,
    read: (keys: string[], ctx: StoreContext) => Promise<(StoreRecord | null)[]>,
  ) {
    this.#client = client;
    this.#prefix = prefix;
    this.#recent = `${prefix}{activity}:recent`;
    this.#expiry = `${prefix}{activity}:expiry`;
    this.#run = run;
    this.#read = read;
    client.defineCommand('tesseraActivity', { lua: RECORD_LUA, numberOfKeys: 1 });
    client.defineCommand('tesseraRecent', { lua: RECENT_LUA, numberOfKeys: 2 });
    this.#scripts = client as unknown as Scripts;
  }

  async record(key: string, tab: string, at: number, expiresAt: number, ctx: StoreContext): Promise<void> {
    const ttl = String(Math.max(1, Math.ceil(expiresAt - ctx.now)));
    const [a, e] = [String(at), String(Math.ceil(expiresAt))];
    // Two slots on a Cluster: two scripts, sent together.
    await Promise.all([
      this.#run(() => this.#scripts.tesseraActivity(this.#hash(key), tab, a, e, ttl)),
      this.#run(() => this.#scripts.tesseraRecent(this.#recent, this.#expiry, key, a, e, String(ctx.now))),
    ]);
  }

  async of(key: string, ctx: StoreContext): Promise<Record<string, number>> {
    return liveTabs(await this.#run(() => this.#client.hgetall(this.#hash(key))), ctx.now);
  }

  /**
   * Walks the recent set from `before` down to `since`, a page at a time, keeping the sessions
   * whose record is live (of the tenant): a tenant's query reads the other tenants' entries too.
   */
  async list(query: ActivityQuery, ctx: StoreContext): Promise<SessionActivity[]> {
    const page = Math.max(50, Math.min(query.limit * 2, 1_000));
    const out: Array<SessionActivity & { last: number }> = [];
    const max = score(query.before, true);
    const min = score(query.since, false);
    for (let offset = 0; out.length < query.limit; offset += page) {
      const keys = await this.#run(() => this.#client.zrevrangebyscore(this.#recent, max, min, 'LIMIT', offset, page));
      if (keys.length === 0) break;
      const [hashes, records] = await Promise.all([Promise.all(keys.map((key) => this.of(key, ctx))), this.#read(keys, ctx)]);
      keys.forEach((key, i) => {
        const record = records[i];
        if (!record || (query.tenant !== null && record.tenant !== query.tenant)) return;
        const tabs = hashes[i]!;
        const last = lastOf(tabs);
        if (last !== -Infinity && last >= query.since && last < query.before) out.push({ key, userId: record.userId, tenant: record.tenant, tabs, last });
      });
      if (keys.length < page) break;
    }
    out.sort((a, b) => b.last - a.last || (a.key < b.key ? -1 : 1));
    return out.slice(0, query.limit).map(({ key, userId, tenant, tabs }) => ({ key, userId, tenant, tabs }));
  }

  /**
   * Remove a session's activity (its record was deleted): its hash. Its entries in the sorted sets
   * name a session without a record, which listings skip, and go when they expire.
   */
  async forget(key: string): Promise<void> {
    await this.#run(() => this.#client.del(this.#hash(key)));
  }

  #hash(key: string): string {
    return `${this.#prefix}a:${key}`;
  }
}
