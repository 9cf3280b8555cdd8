import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { requestInput } from '../src/adapters/kit.js';
import { nodeSessions } from '../src/adapters/node.js';
import { ConfigError, NotSupportedError, TenantError } from '../src/errors.js';
import { TAB_HEADER } from '../src/live/protocol.js';
import { Tessera } from '../src/manager.js';
import type { Logger } from '../src/options.js';
import { CookieStore } from '../src/stores/cookie.js';
import { MemoryStore } from '../src/stores/memory.js';
import { SqliteStore } from '../src/stores/sqlite.js';
import type { SessionStore } from '../src/stores/store.js';
import { FakeClock } from './helpers/clock.js';

const SECRET = 'activity-test-secret-0123456789abcdef-xyz';
const TAB_A = 'tabAAAAAAAAAAAAAAAAAAA';
const TAB_B = 'tabBBBBBBBBBBBBBBBBBBB';
const MINUTE = 60_000;
/** Let a fire-and-forget write land. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

const STORES: ReadonlyArray<readonly [string, () => SessionStore]> = [
  ['memory', () => new MemoryStore()],
  ['sqlite', () => new SqliteStore({ path: ':memory:' })],
];

function make(store: SessionStore | CookieStore, clock: FakeClock, extra: Partial<ConstructorParameters<typeof Tessera>[0]> = {}, logger: Logger = {}) {
  return new Tessera({ secrets: [SECRET], store, now: clock.now, cleanupInterval: 0, logger, csrf: false, ...extra });
}

for (const [name, makeStore] of STORES) {
  describe(`activity tracking on ${name}`, () => {
    it('records a tab at most once per interval per process, and reads it back four ways', async () => {
      const clock = new FakeClock();
      const tessera = make(makeStore(), clock, { activity: { interval: 30_000 } });
      const { session } = await tessera.create({ userId: 'u1' });
      const start = clock.time;
      tessera.activity.record(session.handle, TAB_A, clock.time);
      await settle();
      clock.advance(10_000);
      tessera.activity.record(session.handle, TAB_A, clock.time); // throttled
      tessera.activity.record(session.handle, TAB_B, clock.time); // another tab: not throttled
      await settle();
      assert.equal(await tessera.activity.lastActivity(session, TAB_A), start);
      assert.equal(await tessera.activity.lastActivity(session.handle, TAB_B), start + 10_000);
      assert.equal(await tessera.activity.lastActivity(session, 'tabZZZZZZZZZ'), null);
      clock.advance(25_000);
      tessera.activity.record(session.handle, TAB_A, clock.time); // 35 s after the first write
      await settle();
      const tabs = { [TAB_A]: start + 35_000, [TAB_B]: start + 10_000 };
      assert.deepEqual(await tessera.activity.sessionActivity(session), tabs);
      assert.deepEqual(await tessera.activity.sessionActivities(session), { [session.handle]: tabs });
      assert.deepEqual(await tessera.activity.sessionActivities(), { [session.handle]: tabs });
      const [online] = await tessera.activity.activeSessions({ since: start });
      assert.deepEqual(online, { handle: session.handle, userId: 'u1', tenant: null, lastActiveAt: start + 35_000, tabs });
      // A handle that names nothing has no activity.
      assert.deepEqual(await tessera.activity.sessionActivity('not-a-handle'), {});
      await tessera.close();
    });

    it('activeSessions lists the most recent first, by since, tenant and limit', async () => {
      const clock = new FakeClock();
      const tessera = make(makeStore(), clock);
      const t0 = clock.time;
      const a = (await tessera.create({ userId: 'ann', tenant: 'acme' })).session.handle;
      const b = (await tessera.create({ userId: 'bob', tenant: 'beta' })).session.handle;
      const c = (await tessera.create({ userId: 'cat', tenant: 'acme' })).session.handle;
      tessera.activity.record(a, TAB_A, t0 - 5 * MINUTE);
      tessera.activity.record(b, TAB_A, t0 - MINUTE);
      tessera.activity.record(c, TAB_A, t0 - 10 * MINUTE);
      tessera.activity.record(c, TAB_B, t0 - 2 * MINUTE);
      await settle();
      const handles = async (query: Parameters<typeof tessera.activity.activeSessions>[0]) =>
        (await tessera.activity.activeSessions(query)).map((s) => s.handle);
      assert.deepEqual(await handles({ since: t0 - 60 * MINUTE }), [b, c, a]);
      assert.deepEqual(await handles({ since: t0 - 3 * MINUTE }), [b, c], 'c counts by its latest tab');
      assert.deepEqual(await handles({ since: t0 - 60 * MINUTE, tenant: 'acme' }), [c, a]);
      assert.deepEqual(await handles({ since: t0 - 60 * MINUTE, limit: 1 }), [b]);
      const [cat] = await tessera.activity.activeSessions({ since: t0 - 3 * MINUTE, tenant: 'acme' });
      assert.deepEqual(cat?.tabs, { [TAB_A]: t0 - 10 * MINUTE, [TAB_B]: t0 - 2 * MINUTE });
      assert.equal(cat?.userId, 'cat');
      await assert.rejects(tessera.activity.activeSessions({ since: t0, tenant: '' }), TenantError);
      await assert.rejects(tessera.activity.activeSessions({ since: t0, limit: 0 }), TypeError);
      await assert.rejects(tessera.activity.activeSessions({ since: Number.NaN }), TypeError);
      // A destroyed session is no longer online, and its activity is gone.
      await tessera.destroyByHandle(b, { anyUser: true });
      assert.deepEqual(await handles({ since: t0 - 60 * MINUTE }), [c, a]);
      assert.deepEqual(await tessera.activity.sessionActivity(b), {});
      await tessera.close();
    });

    it('signs out sessions idle past the limit, through the destroy path, and counts them', async () => {
      const clock = new FakeClock();
      const tessera = make(makeStore(), clock, { activity: { signOutIdleAfter: 30 * MINUTE } });
      const idle = await tessera.create({ userId: 'u1' });
      const busy = await tessera.create({ userId: 'u1' });
      const apiClient = await tessera.create({ userId: 'u2' }); // never names a tab
      tessera.activity.record(idle.session.handle, TAB_A, clock.time);
      tessera.activity.record(busy.session.handle, TAB_A, clock.time);
      await settle();
      clock.advance(20 * MINUTE);
      tessera.activity.record(busy.session.handle, TAB_B, clock.time);
      await settle();
      assert.equal(await tessera.activity.signOutIdle(), 0, 'nobody idle for 30 minutes yet');
      clock.advance(15 * MINUTE);
      const destroyed: unknown[] = [];
      tessera.on('destroyed', (event) => destroyed.push(event));
      assert.equal(await tessera.activity.signOutIdle(), 1);
      assert.equal(destroyed.length, 1, 'a destroyed event went out (the live hub closes the streams on it)');
      assert.equal(await tessera.isValid(idle.id), false);
      assert.equal(await tessera.isValid(busy.id), true);
      assert.equal(await tessera.isValid(apiClient.id), true, 'a session without tabs is left to idleTimeout');
      assert.equal(await tessera.activity.signOutIdle(10 * MINUTE), 1, 'an explicit limit');
      assert.equal(await tessera.isValid(busy.id), false);
      await tessera.close();
    });
  });
}

describe('activity from requests', () => {
  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));

  it('a request with a valid x-tessera-tab header records its tab through the node adapter; others record nothing', async () => {
    const clock = new FakeClock();
    const tessera = make(new MemoryStore(), clock, { cookie: { secure: false } });
    const sessions = nodeSessions(tessera);
    let handle = '';
    const server = createServer(
      sessions.wrap(async (req, res) => {
        const session = await sessions.load(req, res);
        session.set('n', (session.get<number>('n') ?? 0) + 1);
        handle = session.handle;
        res.end('ok');
      }),
    );
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const first = await fetch(url, { headers: { [TAB_HEADER]: TAB_A } });
    const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!;
    await settle();
    assert.deepEqual(await tessera.activity.sessionActivity(handle), {}, 'a new session is not stored yet when it loads: nothing recorded');
    await fetch(url, { headers: { cookie } });
    await fetch(url, { headers: { cookie, [TAB_HEADER]: '<script>' } });
    await settle();
    assert.deepEqual(await tessera.activity.sessionActivity(handle), {}, 'no header, or not a tab ID: nothing recorded');
    const t0 = clock.time;
    await fetch(url, { headers: { cookie, [TAB_HEADER]: TAB_A } });
    await settle();
    assert.deepEqual(await tessera.activity.sessionActivity(handle), { [TAB_A]: t0 });
    clock.advance(45_000);
    await fetch(url, { headers: { cookie, [TAB_HEADER]: TAB_A } });
    await settle();
    assert.equal(await tessera.activity.lastActivity(handle, TAB_A), t0 + 45_000);
    const [online] = await tessera.activity.activeSessions({ since: t0 });
    assert.equal(online?.handle, handle);
    await tessera.close();
  });

  it("the adapter kit takes the header's value as the request's tab; a repeated header names none", () => {
    assert.equal(requestInput(undefined, null, null, null, TAB_A).tab, TAB_A);
    assert.equal(requestInput(undefined, null, null, null, [TAB_A, TAB_B]).tab, null);
    assert.equal(requestInput(undefined, null, null, null).tab, null);
  });

  it('a store failure goes to the logger, never to the request', async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    store.recordActivity = async () => {
      throw new Error('disk on fire');
    };
    const warnings: string[] = [];
    const tessera = make(store, clock, {}, { warn: (fields, message) => warnings.push(`${message} ${String(fields?.error)}`) });
    const { session } = await tessera.create({});
    assert.doesNotThrow(() => tessera.activity.record(session.handle, TAB_A, clock.time));
    await settle();
    assert.match(warnings.join('\n'), /recording activity failed Error: disk on fire/);
    await tessera.close();
  });
});

describe('activity configuration and stores without it', () => {
  it('CookieStore keeps no activity: reads are refused, recording does nothing', async () => {
    const clock = new FakeClock();
    const tessera = make(new CookieStore({ revocation: new MemoryStore() }), clock);
    assert.equal(tessera.activity.enabled, false);
    tessera.activity.record('x'.repeat(43), TAB_A, clock.time);
    await assert.rejects(tessera.activity.sessionActivity('x'.repeat(43)), NotSupportedError);
    await assert.rejects(tessera.activity.activeSessions({ since: 0 }), NotSupportedError);
    await assert.rejects(tessera.activity.signOutIdle(MINUTE), NotSupportedError);
    assert.throws(() => make(new CookieStore({ revocation: new MemoryStore() }), clock, { activity: { signOutIdleAfter: MINUTE } }), ConfigError);
    await tessera.close();
  });

  it('refuses bad options and a store with part of the ability at start-up', () => {
    const clock = new FakeClock();
    assert.throws(() => make(new MemoryStore(), clock, { activity: { interval: 10 } }), ConfigError);
    assert.throws(() => make(new MemoryStore(), clock, { activity: { interval: 60_000, signOutIdleAfter: 30_000 } }), ConfigError);
    const partial = new MemoryStore();
    (partial as { listActivity?: unknown }).listActivity = undefined;
    assert.throws(() => make(partial, clock), ConfigError);
  });

  it('signOutIdle needs a limit', async () => {
    const tessera = make(new MemoryStore(), new FakeClock());
    await assert.rejects(tessera.activity.signOutIdle(), ConfigError);
    await tessera.close();
  });
});
