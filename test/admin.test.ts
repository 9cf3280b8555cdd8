import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { AdminSession } from '../src/admin.js';
import { NotSupportedError } from '../src/errors.js';
import { Tessera } from '../src/manager.js';
import type { Session } from '../src/session.js';
import { CookieStore } from '../src/stores/cookie.js';
import { FileStore } from '../src/stores/file.js';
import { MemoryStore } from '../src/stores/memory.js';
import { SqliteStore } from '../src/stores/sqlite.js';
import type { SessionStore } from '../src/stores/store.js';
import { FakeClock } from './helpers/clock.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SECRET = 'admin-test-secret-0123456789abcdef-xyz-42';
const TAB_A = 'tabAAAAAAAAAAAAAAAAAAA';
const TAB_B = 'tabBBBBBBBBBBBBBBBBBBB';
const MINUTE = 60_000;
/** Record a tab's activity in the store, awaited (`tessera.activity.record` writes in the background). */
const touch = (tessera: Tessera, handle: string, tab: string, at: number) =>
  (tessera.store as SessionStore).recordActivity!(handle, tab, at, at + 60 * MINUTE, { now: at });

const STORES: ReadonlyArray<readonly [string, () => SessionStore, () => void]> = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-admin-'));
  let n = 0;
  return [
    ['memory', () => new MemoryStore(), () => {}],
    ['sqlite', () => new SqliteStore({ path: ':memory:' }), () => {}],
    ['file', () => new FileStore({ dir: join(dir, String(n++)) }), () => rmSync(dir, { recursive: true, force: true })],
  ] as const;
})();

function make(store: SessionStore | CookieStore, clock: FakeClock): Tessera {
  return new Tessera({ secrets: [SECRET], store, now: clock.now, cleanupInterval: 0, logger: {}, csrf: false, activity: { interval: 1_000 } });
}

/** Every session of a listing, page by page. */
async function all(tessera: Tessera, query: Parameters<Tessera['admin']['list']>[0] = {}): Promise<{ sessions: AdminSession[]; pages: number }> {
  const sessions: AdminSession[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await tessera.admin.list({ ...query, cursor });
    sessions.push(...page.sessions);
    cursor = page.next;
    pages++;
  } while (cursor !== null);
  return { sessions, pages };
}

for (const [name, makeStore, cleanup] of STORES) {
  describe(`tessera.admin on ${name}`, () => {
    after(cleanup);
    it('lists every session page by page, by tenant and by user, with metadata and activity', async () => {
      const clock = new FakeClock();
      const tessera = make(makeStore(), clock);
      const made: Session[] = [];
      for (let i = 0; i < 7; i++) {
        const tenant = i < 3 ? 'acme' : null;
        made.push((await tessera.create({ userId: i % 2 === 0 ? `u${i % 4}` : null, tenant, ip: `192.0.2.${i}`, userAgent: `agent ${i}` })).session);
      }
      await touch(tessera, made[1]!.handle, TAB_A, clock.time);

      const listed = await all(tessera, { limit: 2 });
      assert.ok(listed.pages >= 4, `7 sessions, 2 a page: ${listed.pages} pages`);
      assert.deepEqual(listed.sessions.map((s) => s.handle).sort(), made.map((s) => s.handle).sort());
      const first = listed.sessions.find((s) => s.handle === made[1]!.handle)!;
      assert.equal(first.ip, '192.0.2.1');
      assert.equal(first.userAgent, 'agent 1');
      assert.equal(first.lastActiveAt, clock.time);
      assert.deepEqual(first.tabs, { [TAB_A]: clock.time });
      assert.equal(listed.sessions.find((s) => s.handle === made[2]!.handle)!.lastActiveAt, null);
      for (const s of listed.sessions) assert.ok(!JSON.stringify(s).includes(made[0]!.id), 'no session ID in what operators see');

      assert.equal((await all(tessera, { tenant: 'acme' })).sessions.length, 3);
      const u0 = await tessera.admin.list({ userId: 'u0' });
      assert.deepEqual(u0.sessions.map((s) => s.handle).sort(), [made[0]!.handle, made[4]!.handle].sort());
      assert.equal(u0.next, null);
      assert.deepEqual((await tessera.admin.list({ userId: 'u0', tenant: 'acme' })).sessions.map((s) => s.handle), [made[0]!.handle]);
      await tessera.close();
    });

    it('lists the recently active, most recent first, and pages on without losing ties', async () => {
      const clock = new FakeClock();
      const tessera = make(makeStore(), clock);
      const start = clock.time;
      const sessions: Session[] = [];
      for (let i = 0; i < 6; i++) sessions.push((await tessera.create({ userId: `u${i}` })).session);
      // Activity at start + 0, +1 min, +1 min, +1 min, +3 min; the last session never active.
      const at = [0, 1, 1, 1, 3];
      for (const [i, minutes] of at.entries()) await touch(tessera, sessions[i]!.handle, TAB_A, start + minutes * MINUTE);
      clock.advance(4 * MINUTE);

      const recent = await all(tessera, { activeSince: start + MINUTE, limit: 2 });
      assert.deepEqual(recent.sessions.map((s) => s.userId), ['u4', ...recent.sessions.slice(1).map((s) => s.userId)]);
      assert.deepEqual(recent.sessions.map((s) => s.userId).sort(), ['u1', 'u2', 'u3', 'u4'], 'three tied at +1 min, all listed once over the pages');
      assert.equal(recent.pages, 2);
      assert.deepEqual((await tessera.admin.list({ activeSince: new Date(start + 2 * MINUTE) })).sessions.map((s) => s.userId), ['u4']);
      // By user and recent activity together.
      assert.deepEqual((await tessera.admin.list({ userId: 'u0', activeSince: start + MINUTE })).sessions, []);
      assert.equal((await tessera.admin.list({ userId: 'u0', activeSince: start })).sessions.length, 1);
      await tessera.close();
    });

    it('shows one session by handle with its tabs; nothing for unknown handles', async () => {
      const clock = new FakeClock();
      const tessera = make(makeStore(), clock);
      const { session } = await tessera.create({ userId: 'u1', data: { cart: [1] } });
      await touch(tessera, session.handle, TAB_A, clock.time);
      await touch(tessera, session.handle, TAB_B, clock.time + 5);
      const shown = await tessera.admin.show(session.handle);
      assert.equal(shown!.userId, 'u1');
      assert.deepEqual(shown!.tabs, { [TAB_A]: clock.time, [TAB_B]: clock.time + 5 });
      assert.equal(shown!.lastActiveAt, clock.time + 5);
      assert.equal(await tessera.admin.show('nope'), null);
      assert.equal(await tessera.admin.show(session.id), null, 'a session ID is not a handle');
      clock.advance(25 * 60 * MINUTE); // past the idle timeout
      assert.equal(await tessera.admin.show(session.handle), null, 'an expired session is not shown');
      await tessera.close();
    });

    it('revokes one session or a user\'s, emitting revoked; the revoked cookie starts a new session', async () => {
      const clock = new FakeClock();
      const tessera = make(makeStore(), clock);
      const revoked: unknown[] = [];
      tessera.on('revoked', (event) => revoked.push(event));
      const a = await tessera.create({ userId: 'u1' });
      const b = await tessera.create({ userId: 'u1' });
      const c = await tessera.create({ userId: 'u2' });
      assert.equal(await tessera.admin.revoke(a.session.handle), true);
      assert.equal(await tessera.admin.revoke(a.session.handle), false, 'already gone');
      assert.equal(await tessera.load(a.id), null);
      assert.deepEqual(revoked, [{ type: 'revoked', at: (revoked[0] as { at: number }).at, ref: a.session.handle.slice(0, 12), userId: 'u1', tenant: null, ip: null, userAgent: null, reason: 'operator' }]);
      assert.equal(await tessera.admin.revokeUser('u1'), 1);
      assert.equal(await tessera.load(b.id), null);
      assert.notEqual(await tessera.load(c.id), null, 'another user\'s session stays');
      assert.equal(revoked.length, 2);
      assert.equal(await tessera.admin.revokeUser('nobody'), 0);
      await tessera.close();
    });

    it('counts sessions, signed-in users, tenants and the recently active, telling progress', async () => {
      const clock = new FakeClock();
      const tessera = make(makeStore(), clock);
      await tessera.create({ userId: 'u1' });
      await tessera.create({ userId: 'u1' });
      await tessera.create({ userId: 'u2', tenant: 'acme' });
      const { session } = await tessera.create({});
      await touch(tessera, session.handle, TAB_A, clock.time);
      const progress: number[] = [];
      const stats = await tessera.admin.stats({ onProgress: (n) => progress.push(n) });
      assert.deepEqual(stats, { sessions: 4, signedIn: 3, users: 2, byTenant: { '': 3, acme: 1 }, activeLast5Minutes: 1 });
      assert.equal(progress.at(-1), 4);
      assert.equal((await tessera.admin.stats({ tenant: 'acme' })).sessions, 1);
      await tessera.close();
    });
  });
}

describe('tessera.admin: bad input and stores that cannot answer', () => {
  it('refuses malformed queries with a TypeError', async () => {
    const tessera = make(new MemoryStore(), new FakeClock());
    for (const query of [{ limit: 0 }, { limit: 1.5 }, { limit: 5_000 }, { userId: '' }, { tenant: '' }, { activeSince: Number.NaN }, { activeSince: new Date('x') }]) {
      await assert.rejects(tessera.admin.list(query as never), TypeError, JSON.stringify(query));
    }
    await assert.rejects(tessera.admin.list({ activeSince: 0, cursor: 'garbage' }), TypeError);
    await assert.rejects(tessera.admin.show(42 as never), TypeError);
    await assert.rejects(tessera.admin.revokeUser(''), TypeError);
    await tessera.close();
    await assert.rejects(tessera.admin.list(), /closed/);
  });

  it('says NotSupported for sessions sealed in cookies', async () => {
    const tessera = make(new CookieStore({ revocation: false }), new FakeClock());
    await assert.rejects(tessera.admin.list(), NotSupportedError);
    await assert.rejects(tessera.admin.show('x'.repeat(43)), NotSupportedError);
    await assert.rejects(tessera.admin.stats(), NotSupportedError);
    await tessera.close();
  });

  it('says NotSupported for a store that cannot list', async () => {
    const inner = new MemoryStore();
    const store: SessionStore = { name: 'minimal', get: (k, c) => inner.get(k, c), set: (k, r, v, c) => inner.set(k, r, v, c), delete: (k, c) => inner.delete(k, c) };
    const tessera = make(store, new FakeClock());
    await assert.rejects(tessera.admin.list(), NotSupportedError);
    await assert.rejects(tessera.admin.list({ activeSince: 0 }), NotSupportedError);
    await tessera.close();
  });
});
