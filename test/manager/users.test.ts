/**
 * A user's sessions: listing and signing out, across tenants. Server stores only: the cookie store
 * keeps no by-user index (its NotSupportedError is tested in test/stores/cookie.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tessera } from '../../src/manager.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { matrix } from './matrix.js';

matrix(
  'users',
  (c) => {
    it('lists a user’s sessions and signs out the others', async () => {
      const { tessera } = c.setup();
      const mine = await tessera.create({ userId: 'ann', userAgent: 'laptop', data: { a: 1 } });
      await tessera.create({ userId: 'ann', userAgent: 'phone', data: { a: 1 } });
      await tessera.create({ userId: 'bob', data: { a: 1 } });
      const list = await tessera.listByUser('ann');
      assert.deepEqual(list.map((s) => s.userAgent).sort(), ['laptop', 'phone']);
      assert.ok(list.every((s) => !JSON.stringify(s).includes(mine.id)), 'no session IDs in listings');
      assert.equal(await tessera.destroyByUser('ann', { except: mine.id }), 1);
      assert.deepEqual((await tessera.listByUser('ann')).map((s) => s.userAgent), ['laptop']);
      assert.equal(await tessera.isValid(mine.id), true);
    });

    it('destroyByUser keeps the excepted session whatever its tenant', async () => {
      const { tessera } = c.setup();
      const mine = await tessera.create({ userId: 'ann', tenant: 'acme', data: { a: 1 } });
      const other = await tessera.create({ userId: 'ann', tenant: 'globex', data: { a: 1 } });
      assert.equal(await tessera.destroyByUser('ann', { except: mine.id }), 1);
      assert.equal(await tessera.isValid(mine.id, { tenant: 'acme' }), true);
      assert.equal(await tessera.isValid(other.id, { tenant: 'globex' }), false);
    });

    it('"sign out this device": user B cannot destroy user A’s session by its handle; A can', async () => {
      const { tessera } = c.setup();
      const destroyed: unknown[] = [];
      tessera.on('destroyed', (e) => destroyed.push(e));
      const ann = await tessera.create({ userId: 'ann', data: { a: 1 } });
      const [handle] = (await tessera.listByUser('ann')).map((s) => s.handle);
      assert.equal(await tessera.destroyByHandle(handle!, { userId: 'bob' }), false, 'not bob’s');
      assert.equal(await tessera.isValid(ann.id), true, 'still alive');
      assert.equal(await tessera.destroyByHandle(handle!, { userId: 'ann', tenant: 'acme' }), false, 'ann’s, but not in that tenant');
      assert.equal(await tessera.isValid(ann.id), true);
      assert.equal(destroyed.length, 0);
      assert.equal(await tessera.destroyByHandle(handle!, { userId: 'ann' }), true);
      assert.equal(await tessera.isValid(ann.id), false);
      assert.equal(destroyed.length, 1);
      assert.equal(await tessera.destroyByHandle(handle!, { userId: 'ann' }), false, 'gone: nothing to destroy');
    });

    it('destroyByHandle checks the tenant: a user of one tenant cannot destroy a namesake’s session in another', async () => {
      const { tessera } = c.setup();
      const acme = await tessera.create({ userId: 'ann', tenant: 'acme', data: { a: 1 } });
      const [info] = await tessera.listByUser('ann', { tenant: 'acme' });
      assert.equal(await tessera.destroyByHandle(info!.handle, { userId: 'ann', tenant: 'globex' }), false);
      assert.equal(await tessera.destroyByHandle(info!.handle, { userId: 'ann' }), false, 'no tenant given: only a session without one');
      assert.equal(await tessera.isValid(acme.id, { tenant: 'acme' }), true);
      assert.equal(await tessera.destroyByHandle(info!.handle, { userId: 'ann', tenant: 'acme' }), true);
      assert.equal(await tessera.isValid(acme.id, { tenant: 'acme' }), false);
    });

    it('destroyByHandle with anyUser destroys whoever’s session it is (admin tools); without an owner it refuses', async () => {
      const { tessera } = c.setup();
      const ann = await tessera.create({ userId: 'ann', tenant: 'acme', data: { a: 1 } });
      const [info] = await tessera.listByUser('ann');
      for (const bad of [undefined, {}, { userId: '' }, { userId: 1 }, { anyUser: false }, { anyUser: true, userId: 'ann' }]) {
        await assert.rejects(tessera.destroyByHandle(info!.handle, bad as never), TypeError, JSON.stringify(bad));
      }
      assert.equal(await tessera.isValid(ann.id, { tenant: 'acme' }), true);
      assert.equal(await tessera.destroyByHandle('not-a-handle', { anyUser: true }), false);
      assert.equal(await tessera.destroyByHandle(info!.handle, { anyUser: true }), true);
      assert.equal(await tessera.isValid(ann.id, { tenant: 'acme' }), false);
    });

    it('destroyByUser destroys only sessions still signed in as that user', async () => {
      const { tessera, browser } = c.setup();
      await browser.request((s) => {
        s.set('a', 1);
        s.userId = 'ann';
      });
      await tessera.create({ userId: 'ann', data: { a: 1 } });
      assert.equal(await tessera.destroyByUser('ann'), 2);
      assert.equal((await browser.request((s) => s.get('a'))).result, undefined);
    });
  },
  (c) => c.server,
);

describe('an empty tenant name in operations by ID', () => {
  it('is refused with ERR_TENANT, never taken as "no tenant"', async () => {
    const tessera = new Tessera({ secrets: ['users-test-secret-0123456789abcdefgh'], store: new MemoryStore(), cleanupInterval: 0, logger: {} });
    const { id } = await tessera.create({ data: { a: 1 } });
    const refused = (e: unknown) => (e as { code?: string }).code === 'ERR_TENANT';
    await assert.rejects(tessera.get(id, 'a', { tenant: '' }), refused);
    await assert.rejects(tessera.load(id, { tenant: '' }), refused);
    await assert.rejects(tessera.destroy(id, { tenant: '' }), refused);
    await assert.rejects(tessera.listByUser('u', { tenant: '' }), refused);
    await assert.rejects(tessera.create({ tenant: '' }), refused);
    await assert.rejects(tessera.destroyByHandle('x', { userId: 'u', tenant: '' }), refused);
    assert.equal(await tessera.get(id, 'a'), 1, 'the session without a tenant is untouched');
  });
});
