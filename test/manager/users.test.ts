/**
 * A user's sessions: listing and signing out, across tenants. Server stores only: the cookie store
 * keeps no by-user index (its NotSupportedError is tested in test/stores/cookie.test.ts).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
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
  },
  (c) => c.server,
);
