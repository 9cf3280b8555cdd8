/**
 * The `tessera.sessions.active` gauge on stores that cannot count in one query (Redis, file): the
 * count of a walk over the listing, at most once a minute, and never more than a tenth of the
 * time. The rules on a fake walk first, then the gauge scraped on the real stores.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createTessera } from '../../src/index.js';
import { countByWalking, WalkedCount } from '../../src/metrics/walked-count.js';
import { FileStore } from '../../src/stores/file.js';
import { RedisStore } from '../../src/stores/redis.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { ListQuery, SessionPage, SessionStore } from '../../src/stores/store.js';
import { FakeClock } from '../helpers/clock.js';
import { parseExposition } from '../helpers/prometheus.js';
import { REDIS_URL, serviceSkip } from '../helpers/services.js';

const SECRET = 'walked-count-test-secret-0123456789abcdef';
const MINUTE = 60_000;

/** Poll `check` until it holds; fail after `ms` of real time (the walk runs in the background). */
async function eventually(check: () => Promise<boolean>, what: string, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`${what} did not hold within ${ms} ms`);
    await sleep(5);
  }
}

describe('WalkedCount: when it walks', () => {
  /** A walk that answers `counts` in turn, taking `takes` ms of the fake clock, and counts its calls. */
  function walker(clock: FakeClock, counts: (number | Error)[], takes = 0) {
    const calls = { n: 0 };
    const walk = async (): Promise<number> => {
      const answer = counts[calls.n++]!;
      clock.advance(takes);
      if (answer instanceof Error) throw answer;
      return answer;
    };
    return { calls, walk };
  }

  it('the first read waits for a walk; later reads answer the last count and walk again once a minute', async () => {
    const clock = new FakeClock();
    const { calls, walk } = walker(clock, [3, 5]);
    const gauge = new WalkedCount(walk, MINUTE, clock.now);
    assert.equal(await gauge.read(), 3);
    clock.advance(MINUTE - 1);
    assert.equal(await gauge.read(), 3);
    assert.equal(calls.n, 1, 'no walk within the minute');
    clock.advance(1);
    assert.equal(gauge.read(), 3, 'the last count, at once, while the new walk runs');
    assert.equal(calls.n, 2);
    await eventually(async () => gauge.read() === 5, 'the new count');
  });

  it('rests nine times as long as a walk took, so walking takes at most a tenth of the time', async () => {
    const clock = new FakeClock();
    const { calls, walk } = walker(clock, [1, 2], 20_000);
    const gauge = new WalkedCount(walk, MINUTE, clock.now);
    assert.equal(await gauge.read(), 1);
    clock.advance(MINUTE); // 80 s after the start: a minute has passed, but 180 s of rest have not
    await gauge.read();
    assert.equal(calls.n, 1);
    clock.advance(120_000); // 200 s after the start: 20 s of walking, 180 s of rest
    await gauge.read();
    assert.equal(calls.n, 2);
  });

  it('a failed walk keeps the last count and is reported; with none yet, the read fails', async () => {
    const clock = new FakeClock();
    const { calls, walk } = walker(clock, [new Error('store down'), 4, new Error('store down again'), 6]);
    const reported: unknown[] = [];
    const gauge = new WalkedCount(walk, MINUTE, clock.now, (error) => reported.push(error));
    await assert.rejects(async () => gauge.read(), /store down/);
    await assert.rejects(async () => gauge.read(), /store down/, 'within the minute: the same failure');
    assert.equal(calls.n, 1, 'a failed walk waits out the interval too, and is not retried at every read');
    clock.advance(MINUTE);
    assert.equal(await gauge.read(), 4);
    clock.advance(MINUTE);
    assert.equal(gauge.read(), 4);
    await sleep(0);
    assert.equal(calls.n, 3);
    assert.equal(gauge.read(), 4, 'the failure left the count of the walk before');
    assert.deepEqual(reported.map((e) => (e as Error).message), ['store down', 'store down again']);
  });

  it('stops a walk whose listing hands back the cursor it was given', async () => {
    const page = { records: [], next: 'same' };
    await assert.rejects(countByWalking(async () => page, Date.now), /answered the cursor it was given \("same"\)/);
  });

  it("counts only live sessions, not tessera's bookkeeping records, over every page", async () => {
    const now = Date.UTC(2026, 0, 1);
    const rec = (data: string, expiresAt = now + MINUTE) => ({ key: data, record: { data, version: 1, expiresAt, userId: null, tenant: null } });
    const pages = new Map<string | null, SessionPage>([
      [null, { records: [rec('{"d":{}}'), rec(''), rec('1733356800000')], next: 'p2' }],
      ['p2', { records: [rec('{"d":{"a":1}}'), rec('{"d":{}}', now - 1)], next: null }],
    ]);
    const queries: ListQuery[] = [];
    const count = await countByWalking(async (query) => (queries.push(query), pages.get(query.cursor)!), () => now);
    assert.equal(count, 2, 'two live sessions: not a used ticket, a sign-out time or an expired one');
    assert.deepEqual(queries.map((q) => [q.cursor, q.tenant]), [[null, null], ['p2', null]]);
  });
});

const redisSkip = await serviceSkip('Redis', REDIS_URL);
const PREFIX = `tessera-test:walked-${process.pid}-${randomUUID().slice(0, 8)}:`;
const dirs: string[] = [];

after(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  if (redisSkip) return;
  const admin = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1_000);
    if (keys.length > 0) await admin.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await admin.quit();
});

const stores: { name: string; skip: string | false; create: () => SessionStore }[] = [
  { name: 'redis', skip: redisSkip, create: () => new RedisStore({ url: REDIS_URL, prefix: PREFIX }) },
  {
    name: 'file',
    skip: false,
    create: () => {
      const dir = mkdtempSync(join(tmpdir(), 'tessera-walked-'));
      dirs.push(dir);
      return new FileStore({ dir });
    },
  },
];

for (const { name, skip, create } of stores) {
  describe(`tessera_sessions_active on the ${name} store: a walked count`, { skip }, () => {
    it('counts the live sessions, refreshed at most once a minute, leaving out expired ones', async () => {
      const clock = new FakeClock(Date.now());
      const tessera = createTessera({ secrets: [SECRET], store: create(), now: clock.now, idleTimeout: 30 * MINUTE, metrics: {}, cleanupInterval: 0 });
      try {
        const active = async () => parseExposition(await tessera.metrics.prometheus()).samples.get('tessera_sessions_active');
        for (let i = 0; i < 3; i++) await tessera.create({ data: { n: i } });
        assert.equal(await active(), 3, 'the first scrape waits for the walk');
        await tessera.create({ data: { n: 3 } });
        await tessera.create({ data: { n: 4 } });
        assert.equal(await active(), 3, 'within the minute: the last walk\'s count');
        clock.advance(MINUTE);
        assert.equal(await active(), 3, 'a minute on: the last count, and a walk started');
        await eventually(async () => (await active()) === 5, 'the walk counting all five');
        clock.advance(31 * MINUTE); // every session idle past its timeout
        await active();
        await eventually(async () => (await active()) === 0, 'expired sessions left out');
      } finally {
        await tessera.close();
      }
    });
  });
}

describe('tessera_sessions_active on a store of your own without countLive', () => {
  it('is not reported, even when the store can list its sessions (a walk is not its default)', async () => {
    const inner = new MemoryStore();
    const listed: ListQuery[] = [];
    // A store of the app's: tessera's contract, with listSessions and no countLive.
    const store: SessionStore = {
      name: 'own',
      get: (key, ctx) => inner.get(key, ctx),
      set: (key, record, expected, ctx) => inner.set(key, record, expected, ctx),
      delete: (key, ctx) => inner.delete(key, ctx),
      listSessions: (query, ctx) => (listed.push(query), inner.listSessions(query, ctx)),
    };
    const tessera = createTessera({ secrets: [SECRET], store, metrics: {}, cleanupInterval: 0 });
    try {
      await tessera.create({ data: { n: 1 } });
      const { samples } = parseExposition(await tessera.metrics.prometheus());
      assert.equal(samples.has('tessera_sessions_active'), false);
      assert.equal(listed.length, 0, 'its listing was not walked');
    } finally {
      await tessera.close();
    }
  });
});
