/**
 * RedisStore against the real Redis at REDIS_URL (skipped with a reason when it is not reachable,
 * a failure with TESSERA_REQUIRE_SERVICES=1). Every store gets its own key prefix under one prefix
 * of this run, and every key under it is deleted at the end: other test processes share the
 * server. Fault tests put a TCP proxy between the store and Redis.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
import { nodeSessions } from '../../src/adapters/node.js';
import { ConfigError, StoreUnavailableError } from '../../src/errors.js';
import { Tessera } from '../../src/manager.js';
import { storeConformance } from '../../src/stores/conformance.js';
import { RedisStore, type RedisStoreOptions } from '../../src/stores/redis.js';
import type { StoreRecord } from '../../src/stores/store.js';
import { FakeClock } from '../helpers/clock.js';
import { FaultProxy } from '../helpers/proxy.js';
import { REDIS_URL, serviceSkip } from '../helpers/services.js';

const skip = await serviceSkip('Redis', REDIS_URL);
const HOUR = 3_600_000;
/** Upper bound for "fails quickly": the fault-test stores use a 1 s timeout. */
const QUICK_MS = 1_500;
/** Upper bound for "refused at once" while ioredis is known to be reconnecting (not waiting for its next attempt). */
const AT_ONCE_MS = 250;

// ------------------------------------------------------------------ keys of this run

const RUN = `tessera-test:${process.pid}-${randomUUID().slice(0, 8)}:`;
let counter = 0;
const admin = skip ? null : new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });

/** A prefix no other store or test process uses; its keys are deleted after the file. */
function uniquePrefix(): string {
  return `${RUN}${counter++}:`;
}

async function keysUnder(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await admin!.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
    cursor = next;
    out.push(...batch);
  } while (cursor !== '0');
  return out.sort();
}

after(async () => {
  if (!admin) return;
  const keys = await keysUnder(RUN);
  if (keys.length > 0) await admin.del(...keys);
  await admin.quit();
});

function store(options: Partial<RedisStoreOptions> = {}): RedisStore {
  return new RedisStore({ url: REDIS_URL, prefix: uniquePrefix(), timeout: 1_000, ...options });
}

function record(over: Partial<StoreRecord> = {}, now = Date.now()): StoreRecord {
  return { data: '{"d":{}}', version: 1, expiresAt: now + HOUR, userId: null, tenant: null, ...over };
}

/** Poll `check` every 10 ms until it holds; fail after `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 3_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`${what} did not hold within ${ms} ms`);
    await sleep(10);
  }
}

// ------------------------------------------------------------------ the kit, in both index modes

storeConformance({ name: 'redis', skip, create: () => store() });
storeConformance({ name: 'redis, atomicIndex: false (the Cluster mode)', skip, create: () => store({ atomicIndex: false }) });

// ------------------------------------------------------------------ Redis specifics

describe('RedisStore', () => {
  it('gives every record a native TTL of expiresAt - now on the caller clock, index included', { skip }, async () => {
    const s = store();
    const clock = new FakeClock(); // far from the real time: the TTL must follow the caller's clock
    const ctx = { now: clock.now() };
    try {
      assert.equal('deleteExpired' in s, false, 'nothing for a cleanup timer to do: Redis expires records itself');
      await s.set('k', record({ userId: 'u1', expiresAt: ctx.now + 60_000 }, ctx.now), 0, ctx);
      const ttl = await admin!.pttl(`${s.prefix}s:k`);
      assert.ok(ttl > 58_000 && ttl <= 60_000, `record PTTL ${ttl} ≈ 60 s`);
      const indexTtl = await admin!.pttl(`${s.prefix}u:u1`);
      assert.ok(indexTtl > 58_000 && indexTtl <= 60_000, `index PTTL ${indexTtl} ≈ 60 s`);

      // A touch moves the TTL with expiresAt.
      clock.advance(30_000);
      const later = { now: clock.now() };
      assert.equal(await s.set('k', record({ userId: 'u1', version: 2, expiresAt: later.now + HOUR }, later.now), 1, later), true);
      const touched = await admin!.pttl(`${s.prefix}s:k`);
      assert.ok(touched > HOUR - 2_000 && touched <= HOUR, `record PTTL ${touched} ≈ 1 h after the touch`);
      assert.ok((await admin!.pttl(`${s.prefix}u:u1`)) > HOUR - 2_000, 'the index lives as long as its longest member');
    } finally {
      await s.close();
    }
  });

  it('writes only under its prefix, `tessera:` by default', { skip }, async () => {
    const s = store();
    const now = Date.now();
    try {
      await s.set('k', record({ data: 'D', userId: 'u1', tenant: 'acme' }, now), 0, { now });
      assert.deepEqual(await keysUnder(s.prefix), [`${s.prefix}s:k`, `${s.prefix}u:u1`]);
      assert.equal(await admin!.get(`${s.prefix}s:k`), `t1:1:${now + HOUR}:2:4:u1acmeD`);
    } finally {
      await s.close();
    }

    const plain = new RedisStore({ url: REDIS_URL });
    const key = `${RUN}default-prefix`; // a key of this run, so cleanup could find a leftover by pattern too
    try {
      assert.equal(plain.prefix, 'tessera:');
      await plain.set(key, record({}, now), 0, { now });
      assert.equal(await admin!.exists(`tessera:s:${key}`), 1);
    } finally {
      await plain.delete(key);
      await plain.close();
    }
    assert.equal(await admin!.exists(`tessera:s:${key}`), 0);
  });

  it('reads with one command and compare-and-sets with one script call, on a client it does not close', { skip }, async () => {
    const client = new Redis(REDIS_URL);
    await client.ping();
    const sent: string[] = [];
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((command, stream) => {
      sent.push(command.name);
      return send(command, stream);
    }) as typeof client.sendCommand;
    const s = new RedisStore({ client, prefix: uniquePrefix() });
    const now = Date.now();
    try {
      const counted = async (fn: () => Promise<unknown>): Promise<string[]> => {
        sent.length = 0;
        await fn();
        return [...sent];
      };
      assert.deepEqual(await counted(() => s.set('k', record({ userId: 'u1' }, now), 0, { now })), ['evalsha']);
      assert.deepEqual(await counted(() => s.get('k', { now })), ['get']);
      assert.deepEqual(await counted(() => s.set('k2', record({ userId: 'u1' }, now), 0, { now })), ['evalsha']);
      assert.deepEqual(await counted(() => s.listByUser('u1', null, { now })), ['zrange', 'mget'], 'the records in one MGET');
      assert.deepEqual(await counted(() => s.set('k', record({ version: 2 }, now), 1, { now })), ['evalsha']);
      assert.deepEqual(await counted(() => s.set('k', record({ version: 2 }, now), 1, { now })), ['evalsha'], 'a conflict too');
      assert.deepEqual(await counted(() => s.delete('k')), ['evalsha']);
      await s.close();
      assert.equal(client.status, 'ready', 'a client passed in stays open');
      assert.equal(await client.ping(), 'PONG');
    } finally {
      await s.close();
      await client.quit();
    }
  });

  for (const atomicIndex of [true, false]) {
    describe(`user index (atomicIndex: ${atomicIndex})`, () => {
      it('forgets a destroyed session and one whose TTL ran out', { skip }, async () => {
        const s = store({ atomicIndex });
        const now = Date.now();
        const index = `${s.prefix}u:u1`;
        const listed = async () => (await s.listByUser('u1', null, { now })).map((r) => r.key).sort();
        try {
          await s.set('a', record({ userId: 'u1' }, now), 0, { now });
          await s.set('b', record({ userId: 'u1' }, now), 0, { now });
          assert.deepEqual(await admin!.zrange(index, 0, -1), ['a', 'b']);

          await s.delete('a');
          assert.deepEqual(await listed(), ['b']);
          assert.equal(await admin!.zscore(index, 'a'), null, 'the destroyed session left the index');

          // Let Redis expire b for real (a few ms), as it would at the end of its TTL.
          await admin!.pexpire(`${s.prefix}s:b`, 5);
          await eventually(async () => (await admin!.exists(`${s.prefix}s:b`)) === 0, 2_000, 'b expired in Redis');
          assert.deepEqual(await listed(), []);
          assert.equal(await admin!.exists(index), 0, 'the emptied index is gone');
        } finally {
          await s.close();
        }
      });

      it('moves a reassigned or signed-out session between users', { skip }, async () => {
        const s = store({ atomicIndex });
        const now = Date.now();
        const score = String(now + HOUR);
        try {
          await s.set('k', record({ userId: 'u1' }, now), 0, { now });
          await s.set('k', record({ userId: 'u2', version: 2 }, now), 1, { now });
          assert.equal(await admin!.zscore(`${s.prefix}u:u2`, 'k'), score, 'indexed under the new user at once');
          // The split mode leaves the old entry for listByUser to prune; the atomic one moves it.
          if (atomicIndex) assert.equal(await admin!.zscore(`${s.prefix}u:u1`, 'k'), null);
          assert.deepEqual(await s.listByUser('u1', null, { now }), []);
          assert.equal(await admin!.zscore(`${s.prefix}u:u1`, 'k'), null, 'gone from the old user after a listing');

          await s.set('k', record({ userId: null, version: 3 }, now), 2, { now });
          assert.deepEqual(await s.listByUser('u2', null, { now }), []);
          assert.equal(await admin!.exists(`${s.prefix}u:u2`), 0, 'sign-out empties the index');
        } finally {
          await s.close();
        }
      });
    });
  }

  it('never prunes a session that became the user\'s while listByUser ran (Cluster mode)', { skip }, async () => {
    const client = new Redis(REDIS_URL);
    const s = new RedisStore({ client, prefix: uniquePrefix(), atomicIndex: false });
    const now = Date.now();
    try {
      await s.set('k', record({ userId: 'u1' }, now), 0, { now });
      await s.set('k', record({ userId: 'u2', version: 2 }, now), 1, { now }); // u1's entry for k is now stale
      // Between listByUser's read of k (u2's) and its ZREM, another request gives k back to u1.
      const zrem = client.zrem.bind(client) as (...args: unknown[]) => Promise<number>;
      let raced = false;
      (client as unknown as { zrem: typeof zrem }).zrem = async (...args) => {
        if (!raced) {
          raced = true;
          assert.equal(await s.set('k', record({ userId: 'u1', version: 3 }, now), 2, { now }), true);
        }
        return zrem(...args);
      };
      assert.deepEqual((await s.listByUser('u1', null, { now })).map((r) => r.key), ['k']);
      assert.ok(raced, 'the race happened');
      assert.notEqual(await admin!.zscore(`${s.prefix}u:u1`, 'k'), null, 'k is still in u1\'s index');
    } finally {
      await client.quit();
    }
  });

  it('keeps a session in its user\'s index when Redis fails right after the write (Cluster mode)', { skip }, async () => {
    const client = new Redis(REDIS_URL);
    const s = new RedisStore({ client, prefix: uniquePrefix(), atomicIndex: false });
    const now = Date.now();
    try {
      // The write lands; every index command sent after that fails (the connection dropped).
      type Script = (...args: unknown[]) => Promise<number>;
      const scripts = client as unknown as { tesseraSet: Script; tesseraIndex: Script };
      const { tesseraSet, tesseraIndex } = scripts;
      let landed = false;
      scripts.tesseraSet = async (...args) => {
        const result = await tesseraSet.apply(client, args);
        landed = true;
        return result;
      };
      scripts.tesseraIndex = (...args) => (landed ? Promise.reject(new Error('Connection is closed.')) : tesseraIndex.apply(client, args));
      await assert.rejects(s.set('k', record({ userId: 'u1' }, now), 0, { now }), StoreUnavailableError);
      assert.notEqual(await s.get('k', { now }), null, 'the record was written');
      assert.deepEqual((await s.listByUser('u1', null, { now })).map((r) => r.key), ['k'], 'and is listed for its user');
    } finally {
      await client.quit();
    }
  });

  it('never writes a session its user\'s index could not take: the index node failing alone (Cluster mode)', { skip }, async () => {
    const client = new Redis(REDIS_URL);
    const s = new RedisStore({ client, prefix: uniquePrefix(), atomicIndex: false });
    const now = Date.now();
    try {
      // The record's node accepts writes; the index's node (another slot, another node) is down.
      type Script = (...args: unknown[]) => Promise<number>;
      const scripts = client as unknown as { tesseraIndex: Script };
      const { tesseraIndex } = scripts;
      scripts.tesseraIndex = () => Promise.reject(Object.assign(new Error('CLUSTERDOWN The cluster is down'), { name: 'ReplyError' }));
      await assert.rejects(s.set('k', record({ userId: 'u1' }, now), 0, { now }), StoreUnavailableError);
      scripts.tesseraIndex = tesseraIndex; // the index node is back
      assert.equal(await s.get('k', { now }), null, 'the record was not written, so no live session is missing from the index');
      assert.deepEqual(await s.listByUser('u1', null, { now }), []);
      // And the session is written and listed once the write is retried.
      assert.equal(await s.set('k', record({ userId: 'u1' }, now), 0, { now }), true);
      assert.deepEqual((await s.listByUser('u1', null, { now })).map((r) => r.key), ['k']);
    } finally {
      await client.quit();
    }
  });

  it('works on a client with its own keyPrefix', { skip }, async () => {
    const outer = uniquePrefix();
    const client = new Redis(REDIS_URL, { keyPrefix: outer });
    const s = new RedisStore({ client, prefix: 'sess:' });
    const now = Date.now();
    try {
      await s.set('k', record({ userId: 'u1' }, now), 0, { now });
      assert.deepEqual(await keysUnder(outer), [`${outer}sess:s:k`, `${outer}sess:u:u1`]);
      await s.set('k', record({ userId: 'u2', version: 2 }, now), 1, { now });
      assert.deepEqual(await keysUnder(outer), [`${outer}sess:s:k`, `${outer}sess:u:u2`], 'the script moved the entry under the client prefix');
      assert.deepEqual((await s.listByUser('u2', null, { now })).map((r) => r.key), ['k']);
    } finally {
      await client.quit();
    }
  });

  it('refuses bad options at construction', { skip }, () => {
    assert.throws(() => new RedisStore({}), ConfigError);
    assert.throws(() => new RedisStore({ url: REDIS_URL, client: new Redis({ lazyConnect: true }) }), ConfigError);
    assert.throws(() => new RedisStore({ url: 'http://127.0.0.1:6379' }), { name: 'ConfigError', message: 'RedisStore url must be a redis:// or rediss:// URL' });
    assert.throws(() => new RedisStore({ url: 'not a url' }), { name: 'ConfigError', message: /RedisStore url must be/ });
    assert.throws(() => new RedisStore({ url: REDIS_URL, timeout: 0 }), ConfigError);
    const cluster = new Cluster([{ host: '127.0.0.1', port: 6379 }], { lazyConnect: true });
    assert.throws(() => new RedisStore({ client: cluster, atomicIndex: true }), /Cluster/);
    assert.equal(new RedisStore({ client: cluster }).atomicIndex, false, 'a Cluster client gets the split index');
    cluster.disconnect();
  });

  it('does not load ioredis until a store is made', { skip }, () => {
    const code = `
      import { createRequire } from 'node:module';
      await import(${JSON.stringify(new URL('../../src/stores/redis.ts', import.meta.url).href)});
      const loaded = Object.keys(createRequire(import.meta.url).cache).some((p) => p.includes('/node_modules/ioredis/'));
      process.stdout.write(String(loaded));
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { timeout: 20_000 });
    assert.equal(out.toString(), 'false');
  });
});

// ------------------------------------------------------------------ the record format

/** The commands Redis runs (as MONITOR reports them, on a connection of its own) that name a key under `prefix`, while `fn` runs. */
async function commandsOn(prefix: string, fn: () => Promise<unknown>): Promise<string[][]> {
  const monitor = await admin!.monitor();
  const seen: string[][] = [];
  const end = `${prefix}end-of-monitoring:${randomUUID()}`;
  let ended!: () => void;
  const endSeen = new Promise<void>((resolve) => (ended = resolve));
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args.includes(end)) ended();
    else if (args.some((arg) => arg.startsWith(prefix))) seen.push([args[0]!.toLowerCase(), ...args.slice(1)]);
  });
  try {
    await fn();
    // Sent after fn's commands were answered: once MONITOR shows it, it has shown them all.
    await admin!.exists(end);
    await Promise.race([endSeen, sleep(3_000, null, { ref: false }).then(() => assert.fail('MONITOR did not report the end marker'))]);
    return seen;
  } finally {
    monitor.disconnect();
  }
}

/**
 * User IDs and tenants that a header could get wrong: empty, the delimiter, digits and colons
 * that look like the header's own fields, multi-byte UTF-8 (lengths count bytes, not UTF-16
 * units), control characters, and IDs longer than the 128 bytes the scripts read at first.
 */
const AWKWARD: [userId: string | null, tenant: string | null][] = [
  [null, null],
  ['', null],
  [null, ''],
  ['', ''],
  [':', ':'],
  ['u:1:2:', ':3:4'],
  ['12', '34'],
  ['t1:1:1:::', 't1:'],
  ['ユーザー', 'テナント'],
  ['\u{1F469}\u200D\u{1F4BB} \u00fc', '\u00e9'],
  ['line\nbreak\r\0', 'tab\t'],
  [`${'x'.repeat(300)}:\u00fc`, 'y'.repeat(200)],
];
/** Data that looks like a header too. */
const AWKWARD_DATA = 't1:9:9:1:1:ab{"d":{"s":"\u00fc:"}}';

describe('RedisStore record format', () => {
  it('stores one string per record: the documented header, then the data', { skip }, async () => {
    const s = store();
    const now = Date.now();
    try {
      const r = record({ data: '{"d":{"a":"\u00e9"}}', version: 3, userId: '\u00fc:1', tenant: '' }, now);
      await s.set('k', r, 0, { now });
      assert.equal(await admin!.type(`${s.prefix}s:k`), 'string');
      // userId "ü:1" is 4 bytes of UTF-8 (3 characters); tenant '' is 0 bytes, null would be empty.
      assert.deepEqual(await admin!.getBuffer(`${s.prefix}s:k`), Buffer.from(`t1:3:${now + HOUR}:4:0:\u00fc:1{"d":{"a":"\u00e9"}}`));
      assert.deepEqual(await s.get('k', { now }), r);

      await s.set('n', record({ data: 'D' }, now), 0, { now });
      assert.equal(await admin!.get(`${s.prefix}s:n`), `t1:1:${now + HOUR}:::D`, 'null userId and tenant: empty lengths');
    } finally {
      await s.close();
    }
  });

  for (const atomicIndex of [true, false]) {
    it(`round-trips awkward user IDs and tenants, in the header and the index (atomicIndex: ${atomicIndex})`, { skip }, async () => {
      const s = store({ atomicIndex });
      const now = Date.now();
      const ctx = { now };
      const listed = async (user: string, tenant: string | null) => (await s.listByUser(user, tenant, ctx)).map((r) => r.key).sort();
      try {
        for (const [i, [userId, tenant]] of AWKWARD.entries()) {
          const key = `k${i}`;
          const what = `userId ${JSON.stringify(userId)}, tenant ${JSON.stringify(tenant)}`;
          const r = record({ data: AWKWARD_DATA, userId, tenant }, now);
          assert.equal(await s.set(key, r, 0, ctx), true, what);
          assert.deepEqual(await s.get(key, ctx), r, what);
          // The write script reads the version from the header: a stale write is refused.
          assert.equal(await s.set(key, record({ version: 2, userId, tenant }, now), 0, ctx), false, `${what}: create over a live record`);
          if (userId !== null) {
            assert.deepEqual(await s.listByUser(userId, tenant, ctx), [{ key, record: r }], what);
            assert.deepEqual(await listed(userId, `${tenant ?? ''}-another`), [], `${what}: another tenant`);
          }
          // Reassign: the write script reads the old user from the header to move the entry.
          const moved = record({ data: AWKWARD_DATA, version: 2, userId: 'other', tenant }, now);
          assert.equal(await s.set(key, moved, 1, ctx), true, what);
          assert.deepEqual(await s.get(key, ctx), moved, what);
          if (userId !== null) {
            if (atomicIndex) assert.equal(await admin!.zscore(`${s.prefix}u:${userId}`, key), null, `${what}: moved out of the old user's index`);
            assert.deepEqual(await listed(userId, null), [], what);
          }
          assert.ok((await listed('other', null)).includes(key), what);
          // And back, so that the delete script has the awkward user to read.
          assert.equal(await s.set(key, record({ data: AWKWARD_DATA, version: 3, userId, tenant }, now), 2, ctx), true, what);
          await s.delete(key);
          assert.equal(await s.get(key, ctx), null, what);
          if (userId !== null) {
            if (atomicIndex) assert.equal(await admin!.zscore(`${s.prefix}u:${userId}`, key), null, `${what}: deleted from the index`);
            assert.deepEqual(await listed(userId, null), [], what);
          }
        }
      } finally {
        await s.close();
      }
    });
  }

  it('reads a record with exactly one GET, as the server counts it (MONITOR)', { skip }, async () => {
    const s = store();
    const now = Date.now();
    try {
      await s.set('k', record({ userId: 'u1', tenant: 'acme' }, now), 0, { now });
      await s.set('j', record({ userId: 'u1' }, now), 0, { now });
      assert.deepEqual(await commandsOn(s.prefix, () => s.get('k', { now })), [['get', `${s.prefix}s:k`]]);
      assert.deepEqual(await commandsOn(s.prefix, () => s.get('missing', { now })), [['get', `${s.prefix}s:missing`]]);
      assert.deepEqual(
        (await commandsOn(s.prefix, () => s.listByUser('u1', null, { now }))).map(([name]) => name),
        ['zrange', 'mget'],
        'a listing: the index, then every record in one MGET',
      );
    } finally {
      await s.close();
    }
  });

  for (const atomicIndex of [true, false]) {
    it(`treats a hash record of the earlier format as no session, and a write replaces it (atomicIndex: ${atomicIndex})`, { skip }, async () => {
      const s = store({ atomicIndex });
      const now = Date.now();
      const ctx = { now };
      const old = async (key: string) => {
        await admin!.hset(`${s.prefix}s:${key}`, { data: '{"d":{"old":1}}', version: '1', expiresAt: String(now + HOUR), userId: 'u1', tenant: 'acme' });
        await admin!.pexpire(`${s.prefix}s:${key}`, HOUR);
        await admin!.zadd(`${s.prefix}u:u1`, now + HOUR, key);
      };
      try {
        await old('k');
        await old('d');
        assert.equal(await s.get('k', ctx), null, 'not found, no WRONGTYPE');
        assert.equal(await s.set('k', record({ version: 2 }, now), 1, ctx), false, 'not a live record to update');
        assert.equal(await admin!.type(`${s.prefix}s:k`), 'hash', 'a refused write changes nothing');

        const fresh = record({ data: 'new', userId: 'u2', tenant: 'acme' }, now);
        assert.equal(await s.set('k', fresh, 0, ctx), true, 'created over it');
        assert.equal(await admin!.type(`${s.prefix}s:k`), 'string');
        assert.deepEqual(await s.get('k', ctx), fresh);
        const ttl = await admin!.pttl(`${s.prefix}s:k`);
        assert.ok(ttl > HOUR - 2_000 && ttl <= HOUR, `PTTL ${ttl}`);
        // The atomic scripts read the old hash's userId, so its index entry goes with it.
        if (atomicIndex) assert.equal(await admin!.zscore(`${s.prefix}u:u1`, 'k'), null);

        await s.delete('d');
        assert.equal(await admin!.exists(`${s.prefix}s:d`), 0, 'deleted');
        if (atomicIndex) assert.equal(await admin!.zscore(`${s.prefix}u:u1`, 'd'), null);

        await old('l');
        assert.deepEqual(await s.listByUser('u1', null, ctx), [], 'a listing skips it and prunes its entry');
        assert.equal(await admin!.zscore(`${s.prefix}u:u1`, 'l'), null);
        assert.deepEqual((await s.listByUser('u2', null, ctx)).map((r) => r.key), ['k']);

        // Any other value that is not a record reads as none too, and is replaced.
        await admin!.set(`${s.prefix}s:f`, 'not a record', 'PX', HOUR);
        await admin!.set(`${s.prefix}s:g`, 't1:1:', 'PX', HOUR);
        assert.equal(await s.get('f', ctx), null);
        assert.equal(await s.get('g', ctx), null);
        assert.equal(await s.set('f', record({}, now), 0, ctx), true);
        assert.notEqual(await s.get('f', ctx), null);
      } finally {
        await s.close();
      }
    });
  }

  it('gives a browser whose session is still in the earlier format a fresh session, not an error', { skip }, async () => {
    const s = store();
    const app = await startApp(s);
    try {
      const first = await request(`${app.url}/`);
      assert.equal(first.body, '1');
      assert.equal((await request(`${app.url}/`, first.cookie!)).body, '2');
      // Rewrite the session as the earlier version of the store wrote it: a hash of the same fields.
      const [key] = await keysUnder(`${s.prefix}s:`);
      const current = await s.get(key!.slice(`${s.prefix}s:`.length), { now: Date.now() });
      assert.ok(current);
      await admin!.del(key!);
      await admin!.hset(key!, { data: current.data, version: String(current.version), expiresAt: String(current.expiresAt) });
      await admin!.pexpire(key!, HOUR);

      const reply = await request(`${app.url}/`, first.cookie!);
      assert.equal(reply.status, 200, reply.body);
      assert.equal(reply.body, '1', 'a fresh session');
      assert.ok(reply.cookie && reply.cookie !== first.cookie, 'with a new cookie');
      assert.equal((await request(`${app.url}/`, reply.cookie)).body, '2');
    } finally {
      await app.close();
    }
  });
});

// ------------------------------------------------------------------ faults, through a real server

interface App {
  url: string;
  close(): Promise<void>;
}

/** A real http server: `/` counts views in the session (saved before answering), `/health` never touches it. */
async function startApp(s: RedisStore): Promise<App> {
  const tessera = new Tessera({ store: s, secrets: ['x'.repeat(32)], cleanupInterval: 0, logger: {} });
  const sessions = nodeSessions(tessera);
  const server = createServer(
    sessions.wrap(async (req, res) => {
      if (req.url === '/health') {
        res.end('ok');
        return;
      }
      const session = await sessions.load(req, res);
      const views = ((session.get('views') as number | undefined) ?? 0) + 1;
      session.set('views', views);
      await session.save();
      res.end(String(views));
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await tessera.close();
    },
  };
}

interface Reply {
  status: number;
  body: string;
  cookie: string | null;
  ms: number;
}

/** One request, bounded: a hang fails the test instead of stalling it. */
async function request(url: string, cookie?: string): Promise<Reply> {
  const start = Date.now();
  const res = await fetch(url, { headers: cookie ? { cookie } : {}, signal: AbortSignal.timeout(5_000) });
  const body = await res.text();
  return { status: res.status, body, cookie: res.headers.get('set-cookie')?.split(';')[0] ?? null, ms: Date.now() - start };
}

describe('RedisStore when Redis is unreachable', () => {
  it('answers 503 quickly while Redis is down at start, keeps serving, and recovers by itself', { skip }, async () => {
    const proxy = await FaultProxy.start(REDIS_URL);
    proxy.drop();
    const app = await startApp(store({ url: proxy.url(REDIS_URL) }));
    try {
      const first = await request(`${app.url}/`);
      assert.equal(first.status, 503);
      assert.match(first.body, /session store "redis" is unavailable; try again shortly/);
      assert.ok(first.ms < QUICK_MS, `first 503 in ${first.ms} ms`);
      // Once the outage is known, requests are refused at once rather than held until the next reconnect attempt.
      await sleep(300);
      for (let i = 0; i < 5; i++) {
        const reply = await request(`${app.url}/`);
        assert.equal(reply.status, 503);
        assert.ok(reply.ms < AT_ONCE_MS, `503 in ${reply.ms} ms`);
      }
      assert.equal((await request(`${app.url}/health`)).status, 200, 'the process is up and serving');

      proxy.restore();
      let reply: Reply | null = null;
      await eventually(async () => (reply = await request(`${app.url}/`)).status === 200, 5_000, 'recovery');
      assert.equal(reply!.body, '1');
    } finally {
      await app.close();
      await proxy.close();
    }
  });

  it('answers 503 within 1 s by default when Redis goes silent (a partition), and recovers by itself once the network is back', { skip }, async () => {
    const proxy = await FaultProxy.start(REDIS_URL);
    // The defaults: no timeout given.
    const app = await startApp(new RedisStore({ url: proxy.url(REDIS_URL), prefix: uniquePrefix() }));
    try {
      const first = await request(`${app.url}/`);
      assert.equal(first.status, 200);
      const cookie = first.cookie!;
      proxy.partition();
      // Sent on the connection that has gone silent: nothing comes back, nothing is closed.
      const inFlight = await Promise.all(Array.from({ length: 5 }, () => request(`${app.url}/`, cookie)));
      for (const reply of inFlight) {
        assert.equal(reply.status, 503, reply.body);
        assert.ok(reply.ms < 1_000, `503 in ${reply.ms} ms`);
      }
      // Later, while ioredis makes new connections that get no answer either.
      for (let i = 0; i < 5; i++) {
        await sleep(100);
        const reply = await request(`${app.url}/`, cookie);
        assert.equal(reply.status, 503, reply.body);
        assert.ok(reply.ms < 1_000, `503 in ${reply.ms} ms`);
      }
      assert.equal((await request(`${app.url}/health`)).status, 200, 'the process is up and serving');

      proxy.heal();
      let reply: Reply | null = null;
      await eventually(async () => (reply = await request(`${app.url}/`, cookie)).status === 200, 5_000, 'recovery');
      assert.equal(reply!.body, '2', 'the same session, its views from before the partition kept');
    } finally {
      await app.close();
      await proxy.close();
    }
  });

  it('answers 503 when Redis drops mid-load, then recovers with the data written before', { skip }, async () => {
    const proxy = await FaultProxy.start(REDIS_URL);
    const app = await startApp(store({ url: proxy.url(REDIS_URL) }));
    try {
      // A session written before the outage.
      const first = await request(`${app.url}/`);
      assert.equal(first.status, 200);
      const cookie = first.cookie!;
      for (let i = 2; i <= 5; i++) assert.equal((await request(`${app.url}/`, cookie)).body, String(i));

      // Load: 10 clients creating sessions in a loop; the proxy drops in the middle of it.
      const before: Reply[] = [];
      const during: Reply[] = [];
      let down = false;
      let stop = false;
      const worker = async () => {
        while (!stop) {
          const started = down; // sorted by when the request started: in flight at the drop counts as before
          const reply = await request(`${app.url}/`);
          (started ? during : before).push(reply);
        }
      };
      const workers = Array.from({ length: 10 }, worker);
      await sleep(150);
      proxy.drop();
      down = true;
      await sleep(300);
      const ours = await request(`${app.url}/`, cookie);
      stop = true;
      await Promise.all(workers);

      assert.ok(before.some((r) => r.status === 200), 'requests succeeded before the drop');
      for (const r of [...before, ...during]) assert.ok(r.status === 200 || r.status === 503, `status ${r.status}: ${r.body}`);
      assert.ok(during.length > 0, 'requests were made during the outage');
      assert.ok(during.every((r) => r.status === 503), 'every request started after the drop got 503');
      assert.ok(during.every((r) => r.ms < QUICK_MS), `every request answered within ${QUICK_MS} ms`);
      assert.equal(ours.status, 503, 'the session is not replaced by a fresh one while Redis is down');
      assert.equal(ours.cookie, null);

      proxy.restore();
      let reply: Reply | null = null;
      await eventually(async () => (reply = await request(`${app.url}/`, cookie)).status === 200, 5_000, 'recovery');
      assert.equal(reply!.body, '6', 'the views counted before the outage are still there');
      assert.equal(reply!.cookie, null, 'same session, no new cookie');
    } finally {
      await app.close();
      await proxy.close();
    }
  });

  it('fails a read fast: in flight when the connection drops, or made while the client reconnects', { skip }, async () => {
    const proxy = await FaultProxy.start(REDIS_URL);
    // A client of the user's that waits long between reconnect attempts: a read queued until the
    // next attempt would take seconds, so only a store that refuses at once passes.
    const client = new Redis(proxy.url(REDIS_URL), { maxRetriesPerRequest: 0, retryStrategy: () => 3_000 });
    client.on('error', () => {});
    const s = new RedisStore({ client, prefix: uniquePrefix() });
    const now = Date.now();
    const unavailable = (error: unknown) => error instanceof StoreUnavailableError && error.status === 503;
    try {
      await s.set('k', record({}, now), 0, { now });
      assert.notEqual(await s.get('k', { now }), null);
      const inFlight = s.get('k', { now }); // sent, not yet answered
      proxy.drop();
      let start = Date.now();
      await assert.rejects(inFlight, unavailable);
      assert.ok(Date.now() - start < AT_ONCE_MS, 'failed when the connection dropped');
      await eventually(async () => client.status === 'reconnecting', 2_000, 'the client is reconnecting');
      start = Date.now();
      await assert.rejects(s.get('k', { now }), unavailable);
      assert.ok(Date.now() - start < AT_ONCE_MS, 'refused at once');
    } finally {
      client.disconnect();
      await proxy.close();
    }
  });

  it('keeps the answers and the connection after the process was blocked for longer than timeout', { skip, timeout: 20_000 }, async () => {
    const s = store({ timeout: 200 });
    const now = Date.now();
    let connections = 0;
    s.client.on('connect', () => connections++);
    try {
      await s.set('k', record({ data: 'saved' }, now), 0, { now });
      const before = connections;
      for (let round = 0; round < 2; round++) {
        const reading = s.get('k', { now }); // written to the socket now
        const until = performance.now() + 1_000;
        while (performance.now() < until); // the answer arrives while the process is blocked
        assert.equal((await reading)?.data, 'saved', `round ${round}: the answer that arrived during the block is used`);
      }
      await sleep(300); // a silence check armed before the block has run by now
      assert.equal(s.client.status, 'ready');
      assert.equal(connections, before, 'the connection was kept (not dropped and made again)');
    } finally {
      await s.close();
    }
  });

  it('fails a call within about timeout when Redis accepts the connection but never answers', { skip, timeout: 20_000 }, async () => {
    const proxy = await FaultProxy.start(REDIS_URL);
    proxy.partition(); // from the start: the TCP connection opens, nothing ever comes back
    const s = store({ url: proxy.url(REDIS_URL), timeout: 300 });
    const now = Date.now();
    try {
      for (const call of [() => s.get('k', { now }), () => s.set('k', record({}, now), 0, { now })]) {
        const start = Date.now();
        await assert.rejects(call(), (error: unknown) => error instanceof StoreUnavailableError && error.status === 503);
        const ms = Date.now() - start;
        assert.ok(ms < 1_500, `failed after ${ms} ms (timeout 300)`);
      }
      proxy.heal();
      await eventually(async () => (await s.set('k', record({}, now), 0, { now }).catch(() => false)) === true, 5_000, 'recovery');
    } finally {
      await s.close();
      await proxy.close();
    }
  });

  it('gives up on new connections that stay silent during a partition, and makes others', { skip, timeout: 20_000 }, async () => {
    const proxy = await FaultProxy.start(REDIS_URL);
    const s = store({ url: proxy.url(REDIS_URL), timeout: 300 });
    let connects = 0;
    s.client.on('connect', () => connects++);
    const now = Date.now();
    try {
      await s.set('k', record({}, now), 0, { now });
      proxy.partition();
      await assert.rejects(s.get('k', { now }), (error: unknown) => error instanceof StoreUnavailableError);
      const before = connects;
      // Each new connection opens (TCP), then its handshake gets no answer: dropped after the
      // timeout, not kept until the operating system gives up on it.
      await eventually(async () => connects >= before + 3, 5_000, 'three more connections made');
    } finally {
      await s.close();
      await proxy.close();
    }
  });

  it('close() ends within about timeout when Redis has gone silent', { skip, timeout: 20_000 }, async () => {
    const proxy = await FaultProxy.start(REDIS_URL);
    const s = store({ url: proxy.url(REDIS_URL), timeout: 300 });
    const now = Date.now();
    try {
      await s.set('k', record({}, now), 0, { now });
      proxy.partition();
      const started = Date.now();
      await s.close();
      assert.ok(Date.now() - started < 1_500, `closed in ${Date.now() - started} ms (timeout 300)`);
      assert.ok((s.client as Redis).stream.destroyed, 'the socket is closed, not left half-open to hold the process');
    } finally {
      await proxy.close();
    }
  });

  it('rejects store calls with StoreUnavailableError, not a hang', { skip }, async () => {
    const proxy = await FaultProxy.start(REDIS_URL);
    const s = store({ url: proxy.url(REDIS_URL) });
    const now = Date.now();
    try {
      await s.set('k', record({ userId: 'u1' }, now), 0, { now });
      proxy.drop();
      await sleep(300);
      for (const call of [() => s.get('k', { now }), () => s.set('k', record({ version: 2 }, now), 1, { now }), () => s.delete('k'), () => s.listByUser('u1', null, { now })]) {
        const start = Date.now();
        await assert.rejects(call(), (error: unknown) => error instanceof StoreUnavailableError && error.code === 'ERR_STORE_UNAVAILABLE' && error.status === 503);
        assert.ok(Date.now() - start < AT_ONCE_MS, 'refused at once');
      }
      proxy.restore();
      await eventually(async () => (await s.get('k', { now }).catch(() => null)) !== null, 5_000, 'recovery');
    } finally {
      await s.close();
      await proxy.close();
    }
  });
});
