/**
 * The cleanup loop (src/core/cleanup.ts) through `tessera.cleanupExpired()`: a backlog of expired
 * sessions goes in several batches, with the event loop turning between them, every expired
 * record removed and no live one; progress reported batch by batch; a store that ignores the
 * limit still cleaned; one timer run at a time; `close()` stops a run. On SQLite, memory and (when
 * it runs) PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, describe, it, mock } from 'node:test';
import pg from 'pg';
import { FIRST_LIMIT } from '../../src/core/cleanup.js';
import { Tessera, type CleanupProgress } from '../../src/manager.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { PostgresStore } from '../../src/stores/postgres.js';
import { SqliteStore } from '../../src/stores/sqlite.js';
import type { SessionStore, StoreContext, StoreRecord } from '../../src/stores/store.js';
import { FakeClock } from '../helpers/clock.js';
import { PG_URL, serviceSkip } from '../helpers/services.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const EXPIRED = 3_000;
const LIVE = 50;

function record(expiresAt: number): StoreRecord {
  return { data: '{"d":{"n":1}}', version: 1, expiresAt, userId: null, tenant: null };
}

/** `EXPIRED` records that expire in a minute and `LIVE` that live an hour; then the clock moves 2 minutes. */
async function backlog(store: SessionStore, clock: FakeClock): Promise<void> {
  const now = clock.now();
  for (let i = 0; i < EXPIRED; i++) await store.set(`old${i}`, record(now + MINUTE), 0, { now });
  for (let i = 0; i < LIVE; i++) await store.set(`live${i}`, record(now + HOUR), 0, { now });
  clock.advance(2 * MINUTE);
}

async function remaining(store: SessionStore, clock: FakeClock): Promise<{ old: number; live: number }> {
  const ctx = { now: clock.now() };
  let old = 0;
  let live = 0;
  for (let i = 0; i < EXPIRED; i++) if ((await store.get(`old${i}`, ctx)) !== null) old++;
  for (let i = 0; i < LIVE; i++) if ((await store.get(`live${i}`, ctx)) !== null) live++;
  return { old, live };
}

/**
 * Run `cleanupExpired` while an immediate keeps re-arming itself, and note, for each batch after
 * the first, whether the event loop turned (the immediate ran) since the batch before.
 */
async function cleanWatching(tessera: Tessera): Promise<{ removed: number; reports: CleanupProgress[]; turned: boolean[] }> {
  const reports: CleanupProgress[] = [];
  const turned: boolean[] = [];
  let ran = false;
  let spinning = true;
  const spin = () => {
    ran = true;
    if (spinning) setImmediate(spin);
  };
  setImmediate(spin);
  try {
    const removed = await tessera.cleanupExpired({
      onProgress: (p) => {
        if (reports.length > 0) turned.push(ran);
        ran = false;
        reports.push(p);
      },
    });
    return { removed, reports, turned };
  } finally {
    spinning = false;
  }
}

function checkRun({ removed, reports, turned }: Awaited<ReturnType<typeof cleanWatching>>): void {
  assert.equal(removed, EXPIRED);
  assert.ok(reports.length >= 3, `several batches (${reports.length})`);
  assert.ok(reports[0]!.removed <= FIRST_LIMIT, 'the first batch is at most the first limit');
  for (let i = 1; i < reports.length; i++) {
    assert.ok(reports[i]!.removed >= reports[i - 1]!.removed, 'the count only grows');
    assert.equal(reports[i]!.batches, i + 1);
  }
  assert.deepEqual(
    reports.map((p) => p.done),
    reports.map((_, i) => i === reports.length - 1),
    'done on the last report only',
  );
  assert.equal(reports.at(-1)!.removed, EXPIRED);
  assert.ok(turned.every(Boolean), 'the event loop turned between every two batches');
}

function tesseraOn(store: SessionStore, clock: FakeClock): Tessera {
  return new Tessera({ store, secrets: ['x'.repeat(32)], now: clock.now, cleanupInterval: 0, logger: {} });
}

describe('cleanupExpired in batches', () => {
  it('SQLite: removes a backlog in several batches, the event loop turning between them, and keeps live sessions', async () => {
    const clock = new FakeClock();
    const store = new SqliteStore({ path: ':memory:' });
    const tessera = tesseraOn(store, clock);
    try {
      await backlog(store, clock);
      checkRun(await cleanWatching(tessera));
      assert.deepEqual(await remaining(store, clock), { old: 0, live: LIVE });
      assert.equal(await tessera.cleanupExpired(), 0, 'nothing left');
    } finally {
      await tessera.close();
    }
  });

  it('memory: the same, going on from where the previous batch stopped', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const tessera = tesseraOn(store, clock);
    try {
      await backlog(store, clock);
      checkRun(await cleanWatching(tessera));
      assert.deepEqual(await remaining(store, clock), { old: 0, live: LIVE });
      assert.equal(store.size, LIVE);
    } finally {
      await tessera.close();
    }
  });

  it('works with a store that ignores the limit (written before it): one call removes all, the next finds nothing', async () => {
    const clock = new FakeClock();
    const inner = new MemoryStore();
    const limits: unknown[] = [];
    const old: SessionStore = {
      name: 'old',
      get: (key, ctx) => inner.get(key, ctx),
      set: (key, r, v, ctx) => inner.set(key, r, v, ctx),
      delete: (key, ctx) => inner.delete(key, ctx),
      deleteExpired(ctx: StoreContext, ...rest: unknown[]) {
        limits.push(rest[0]);
        return inner.deleteExpired(ctx); // no limit passed on
      },
    };
    const tessera = tesseraOn(old, clock);
    try {
      await backlog(inner, clock);
      const reports: CleanupProgress[] = [];
      assert.equal(await tessera.cleanupExpired({ onProgress: (p) => reports.push(p) }), EXPIRED);
      assert.equal(limits.length, 2, 'called twice');
      assert.deepEqual(limits[0], { limit: FIRST_LIMIT });
      assert.deepEqual(reports.map((p) => [p.removed, p.done]), [[EXPIRED, false], [EXPIRED, true]]);
      assert.deepEqual(await remaining(inner, clock), { old: 0, live: LIVE });
    } finally {
      await tessera.close();
    }
  });

  it('close() stops a run after its current batch', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const tessera = tesseraOn(store, clock);
    await backlog(store, clock);
    const reports: CleanupProgress[] = [];
    const removed = await tessera.cleanupExpired({
      onProgress: (p) => {
        reports.push(p);
        if (p.batches === 1) void tessera.close();
      },
    });
    assert.equal(reports.length, 2, 'one batch, then the report that it stopped');
    assert.deepEqual(reports.at(-1), { ...reports.at(-1)!, removed, batches: 1, done: true });
    assert.ok(removed > 0 && removed < EXPIRED, `stopped part way (${removed})`);
  });

  it('the timer starts no run while its previous one is still going', async () => {
    mock.timers.enable({ apis: ['setInterval'] });
    const clock = new FakeClock();
    const inner = new MemoryStore();
    let calls = 0;
    let release: () => void = () => {};
    const slow: SessionStore = {
      name: 'slow',
      get: (key, ctx) => inner.get(key, ctx),
      set: (key, r, v, ctx) => inner.set(key, r, v, ctx),
      delete: (key, ctx) => inner.delete(key, ctx),
      async deleteExpired() {
        calls++;
        await new Promise<void>((resolve) => (release = resolve));
        return 0;
      },
    };
    const tessera = new Tessera({ store: slow, secrets: ['x'.repeat(32)], now: clock.now, cleanupInterval: 5 * MINUTE, logger: {} });
    try {
      mock.timers.tick(5 * MINUTE);
      mock.timers.tick(5 * MINUTE);
      mock.timers.tick(5 * MINUTE);
      assert.equal(calls, 1, 'one run, still waiting for its store');
      release();
      await new Promise((resolve) => setImmediate(resolve));
      mock.timers.tick(5 * MINUTE);
      assert.equal(calls, 2, 'the next tick after it ended starts the next');
      release();
    } finally {
      mock.timers.reset();
      await tessera.close();
    }
  });
});

const pgSkip = await serviceSkip('PostgreSQL', PG_URL);

describe('cleanupExpired in batches on PostgreSQL', () => {
  const table = `tessera_cleanup${process.pid}`;
  after(async () => {
    if (pgSkip) return;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP TABLE IF EXISTS "${table}", "${table}_act" CASCADE`);
    await admin.end();
  });

  it('removes a backlog in several batches and keeps live sessions', { skip: pgSkip }, async () => {
    const clock = new FakeClock();
    const store = new PostgresStore({ connectionString: PG_URL, table });
    const tessera = tesseraOn(store, clock);
    try {
      await store.migrate();
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      // Inserted in one statement: the store's writes one by one would take seconds here.
      const now = clock.now();
      await admin.query(
        `INSERT INTO "${table}" (key, data, version, expires_at) SELECT 'old' || i, '{}', 1, $1::bigint FROM generate_series(0, $3::int - 1) i
         UNION ALL SELECT 'live' || i, '{}', 1, $2::bigint FROM generate_series(0, $4::int - 1) i`,
        [now + MINUTE, now + HOUR, EXPIRED, LIVE],
      );
      await admin.end();
      clock.advance(2 * MINUTE);
      const { removed, reports } = await cleanWatching(tessera);
      assert.equal(removed, EXPIRED);
      assert.ok(reports.length >= 2, `several batches (${reports.length})`);
      const check = new pg.Client({ connectionString: PG_URL });
      await check.connect();
      const { rows } = await check.query<{ live: string; all: string }>(`SELECT count(*) FILTER (WHERE key LIKE 'live%') AS live, count(*) AS all FROM "${table}"`);
      await check.end();
      assert.deepEqual(rows[0], { live: String(LIVE), all: String(LIVE) }, 'only the live rows are left');
    } finally {
      await tessera.close();
    }
  });
});
