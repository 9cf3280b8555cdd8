/**
 * express-session stores as tessera stores: the conformance kit against a real connect-redis and
 * a real connect-pg-simple store (skipped with a reason when Redis or PostgreSQL is down), and
 * what the adapter does with a suite-style callback store (express-session's own MemoryStore).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import connectPgSimple from 'connect-pg-simple';
import { RedisStore as ConnectRedis } from 'connect-redis';
import expressSession from 'express-session';
import { ExpressStoreAdapter, isExpressStore } from '../../../src/adapters/express/store-compat.js';
import { StoreUnavailableError } from '../../../src/errors.js';
import { Tessera } from '../../../src/manager.js';
import { storeConformance } from '../../../src/stores/conformance.js';
import { MemoryStore } from '../../../src/stores/memory.js';
import type { StoreRecord } from '../../../src/stores/store.js';
import { connectServices } from '../../helpers/connect-services.js';

const HOUR = 3_600_000;
const SECRET = 'store-compat-test-secret-0123456789abcdef';
const { redisSkip, pgSkip, redis, pool, run: RUN, tables, cleanup } = await connectServices('compat');
let counter = 0;
const PgStore = connectPgSimple(expressSession);

after(cleanup);

function connectRedis(): ConnectRedis {
  return new ConnectRedis({ client: redis!, prefix: `${RUN}${counter++}:` });
}

async function connectPg(): Promise<InstanceType<typeof PgStore>> {
  const tableName = `tessera_compat_${process.pid}_${counter++}`;
  tables.push(tableName);
  // connect-pg-simple's own table.sql, but its fixed constraint name would clash between tables.
  await pool!.query(`CREATE TABLE "${tableName}" (sid varchar PRIMARY KEY, sess json NOT NULL, expire timestamp(6) NOT NULL)`);
  // The pool is the test's: the store does not end it on close().
  return new PgStore({ pool: pool!, tableName, pruneSessionInterval: false });
}

storeConformance({ name: 'connect-redis, through the express-session store adapter', skip: redisSkip, writers: 30, create: () => new ExpressStoreAdapter(connectRedis()) });
storeConformance({ name: 'connect-pg-simple, through the express-session store adapter', skip: pgSkip, writers: 30, create: async () => new ExpressStoreAdapter(await connectPg()) });
storeConformance({ name: "express-session's MemoryStore, through the express-session store adapter", writers: 30, create: () => new ExpressStoreAdapter(new expressSession.MemoryStore()) });

function record(over: Partial<StoreRecord> = {}, now = Date.now()): StoreRecord {
  return { data: '{"d":{}}', version: 1, expiresAt: now + HOUR, userId: null, tenant: null, ...over };
}

describe('ExpressStoreAdapter', () => {
  it('recognises express-session stores and not tessera stores', () => {
    assert.equal(isExpressStore(new expressSession.MemoryStore()), true);
    assert.equal(isExpressStore(new MemoryStore()), false);
    assert.equal(isExpressStore({ get() {}, set() {} }), false);
  });

  it('gives the store an expiry on the real clock, whatever tessera’s clock says', async () => {
    const inner = new expressSession.MemoryStore();
    const store = new ExpressStoreAdapter(inner);
    const past = Date.UTC(2001, 0, 1);
    await store.set('k', record({ expiresAt: past + HOUR }, past), 0, { now: past });
    const stored = await new Promise<expressSession.SessionData>((resolve, reject) =>
      inner.get('k', (err, sess) => (err ? reject(err) : resolve(sess!))),
    );
    const expires = new Date(stored.cookie.expires as unknown as string).getTime();
    assert.ok(Math.abs(expires - (Date.now() + HOUR)) < 5_000, 'the store sees an hour from now');
  });

  it('reads a session the store holds that is not tessera’s as none', async () => {
    const inner = new expressSession.MemoryStore();
    inner.set('legacy', { cookie: { originalMaxAge: HOUR, expires: new Date(Date.now() + HOUR) } as never, views: 3 } as never);
    assert.equal(await new ExpressStoreAdapter(inner).get('legacy', { now: Date.now() }), null);
  });

  it('turns a store failure into StoreUnavailableError: a callback error, a throw, a rejection', async () => {
    const boom = new Error('down');
    const failing = [
      { get: (_: string, cb: (e: unknown) => void) => cb(boom), set() {}, destroy() {} },
      { get: () => { throw boom; }, set() {}, destroy() {} },
      { get: () => Promise.reject(boom), set() {}, destroy() {} },
    ];
    for (const inner of failing) {
      await assert.rejects(new ExpressStoreAdapter(inner).get('k', { now: Date.now() }), (e: unknown) => e instanceof StoreUnavailableError && e.cause === boom);
    }
  });

  it('lists a user’s sessions through all() when the store has it, and offers no listing otherwise', async () => {
    const withAll = new ExpressStoreAdapter(new expressSession.MemoryStore());
    const tessera = new Tessera({ store: withAll, secrets: [SECRET], cleanupInterval: 0, logger: {} });
    try {
      await tessera.create({ userId: 'u1' });
      await tessera.create({ userId: 'u2' });
      await tessera.create({ userId: 'u1' });
      const listed = await tessera.listByUser('u1');
      assert.deepEqual(listed.map((s) => s.userId), ['u1', 'u1']);
      await tessera.destroyByUser('u1');
      assert.deepEqual(await tessera.listByUser('u1'), []);
      assert.equal((await tessera.listByUser('u2')).length, 1);
    } finally {
      await tessera.close();
    }
    const without = new ExpressStoreAdapter({ get() {}, set() {}, destroy() {} });
    assert.equal(without.listByUser, undefined);
  });
});
