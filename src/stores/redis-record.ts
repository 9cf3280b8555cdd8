/**
 * What {@link RedisStore} keeps in Redis: a record as one string (a `t1:` header with version,
 * expiry, user and tenant, then the data), read in place, and the Lua scripts that write and
 * delete records and keep each user's index, atomically on one node.
 *
 * @module
 * @internal
 */
import type { Cluster, Redis } from 'ioredis';
import type { StoreRecord } from './store.js';

/**
 * The scripts {@link RedisStore} defines on its client (run with EVALSHA).
 *
 * @example
 * ```ts
 * await client.tesseraSet(recordKey, '0', String(now), ttl, String(expiresAt), userId ?? '', userId ? '1' : '', indexBase, key, encode(record));
 * ```
 */
export interface Scripts {
  tesseraSet(key: string, ...args: string[]): Promise<number>;
  tesseraDelete(key: string, indexBase: string, member: string, activity: string): Promise<number>;
  tesseraIndex(index: string, score: string, member: string, ttl: string, now: string): Promise<number>;
}
/**
 * A client with the store's scripts defined.
 *
 * @example
 * ```ts
 * const client = redis as Client; // after defineCommand('tesseraSet', ...) and the others
 * ```
 */
export type Client = (Redis | Cluster) & Scripts;

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

// The header of the record at `key`: its version, expiresAt and userId (false when it has none).
// Version and expiresAt are false when the value is not a record in the format (missing, or
// another type); for a hash record of earlier versions of this store, the userId is still returned,
// so that its index entry can go. Reads the first 128 bytes, and the userId apart when it runs past
// them, never the whole session.
const HEADER_FN = `
local function header(key)
  local head = redis.pcall('GETRANGE', key, 0, 127)
  if type(head) ~= 'string' then
    local user = redis.pcall('HGET', key, 'userId')
    return false, false, type(user) == 'string' and user
  end
  local version, expiresAt, ulen, from = string.match(head, '^t1:(%d+):([^:]+):(%d*):%d*:()')
  version, expiresAt = tonumber(version), tonumber(expiresAt)
  if not (version and expiresAt) then return false, false, false end
  if ulen == '' then return version, expiresAt, false end
  local to = from + tonumber(ulen) - 1
  if to <= #head then return version, expiresAt, string.sub(head, from, to) end
  return version, expiresAt, redis.call('GETRANGE', key, from - 1, to - 1)
end
`;

/**
 * The compare-and-set write (see below).
 *
 * @example
 * ```ts
 * client.defineCommand('tesseraSet', { numberOfKeys: 1, lua: SET_LUA });
 * ```
 */
// KEYS[1] record. ARGV: 1 expected version, 2 now, 3 ttl, 4 expiresAt, 5 userId, 6 '1' when there
// is a user, 7 index base ('' = the caller updates the index), 8 member, 9 the value (header and data).
export const SET_LUA = `${INDEX_FN}${HEADER_FN}
local version, expiresAt, was = header(KEYS[1])
if version and expiresAt > tonumber(ARGV[2]) then
  if version ~= tonumber(ARGV[1]) then return 0 end
elseif ARGV[1] ~= '0' then
  return 0
end
redis.call('SET', KEYS[1], ARGV[9], 'PX', ARGV[3])
local base = ARGV[7]
if base ~= '' then
  local user = ARGV[6] == '1' and ARGV[5]
  if was and was ~= user then redis.call('ZREM', base .. was, ARGV[8]) end
  if user then index(base .. user, ARGV[4], ARGV[8], ARGV[3], ARGV[2]) end
end
return 1
`;

/**
 * The delete, with the user index entry and the activity (see below).
 *
 * @example
 * ```ts
 * client.defineCommand('tesseraDelete', { numberOfKeys: 1, lua: DELETE_LUA });
 * ```
 */
// KEYS[1] record. ARGV: 1 index base ('' = leave the index to listByUser), 2 member, 3 the
// session's activity hash ('' = the caller deletes it).
export const DELETE_LUA = `${HEADER_FN}
if ARGV[3] ~= '' then redis.call('DEL', ARGV[3]) end
if ARGV[1] ~= '' then
  local _, _, user = header(KEYS[1])
  if user then redis.call('ZREM', ARGV[1] .. user, ARGV[2]) end
end
return redis.call('DEL', KEYS[1])
`;

/**
 * The user index update alone (Cluster mode).
 *
 * @example
 * ```ts
 * client.defineCommand('tesseraIndex', { numberOfKeys: 1, lua: INDEX_LUA });
 * ```
 */
// KEYS[1] index. ARGV: 1 expiresAt, 2 member, 3 ttl, 4 now.
export const INDEX_LUA = `${INDEX_FN}
index(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1
`;

/**
 * The record's value: the header (see `RedisStore`'s module comment), then the data.
 *
 * @example
 * ```ts
 * encode({ data: '{}', version: 1, expiresAt: 1767225600000, userId: 'u1', tenant: null }); // 't1:1:1767225600000:2::u1{}'
 * ```
 */
export function encode(record: StoreRecord): string {
  const { userId, tenant } = record;
  const ulen = userId === null ? '' : Buffer.byteLength(userId);
  const tlen = tenant === null ? '' : Buffer.byteLength(tenant);
  return `t1:${record.version}:${record.expiresAt}:${ulen}:${tlen}:${userId ?? ''}${tenant ?? ''}${record.data}`;
}

const COLON = 0x3a;
/** Where {@link field} stopped: just past the `:` ending the field it read. (Saves an allocation per field.) */
let cursor = 0;

/**
 * The decimal integer in `value` from {@link cursor} up to the next `:`, moving the cursor past
 * it: -1 when the field is empty, NaN when it is unterminated or, unless `lenient`, not all digits.
 * With `lenient` (expiresAt), a field that is not a plain integer short enough to add up exactly
 * is read with `Number`, as `String(expiresAt)` wrote it.
 */
function field(value: Buffer, lenient: boolean): number {
  const start = cursor;
  let n = 0;
  for (let i = start; i < value.length; i++) {
    const c = value[i]!;
    if (c === COLON) {
      cursor = i + 1;
      if (i === start) return -1;
      return i - start > 15 && lenient ? Number(value.toString('latin1', start, i)) : n;
    }
    if (c < 0x30 || c > 0x39) {
      if (!lenient) return NaN;
      const end = value.indexOf(COLON, i);
      if (end < 0) return NaN;
      cursor = end + 1;
      return Number(value.toString('latin1', start, end));
    }
    n = n * 10 + (c - 0x30);
  }
  return NaN;
}

/**
 * The record in a value read with `GET`, or `null` when there is none, it is expired at `now`, or
 * the value is not a record in this format.
 *
 * @example
 * ```ts
 * const record = decode(await client.getBuffer(recordKey), Date.now());
 * ```
 */
export function decode(value: Buffer | null, now: number): StoreRecord | null {
  // "t1:"
  if (value === null || value.length < 7 || value[0] !== 0x74 || value[1] !== 0x31 || value[2] !== COLON) return null;
  cursor = 3;
  const version = field(value, false);
  const expiresAt = field(value, true);
  if (!(version >= 0) || !(expiresAt > now)) return null;
  const ulen = field(value, false);
  const tlen = field(value, false);
  if (!(ulen >= -1 && tlen >= -1)) return null;
  let at = cursor;
  if (at + (ulen > 0 ? ulen : 0) + (tlen > 0 ? tlen : 0) > value.length) return null;
  let userId: string | null = null;
  let tenant: string | null = null;
  if (ulen >= 0) userId = value.toString('utf8', at, (at += ulen));
  if (tlen >= 0) tenant = value.toString('utf8', at, (at += tlen));
  return { data: value.toString('utf8', at, value.length), version, expiresAt, userId, tenant };
}
