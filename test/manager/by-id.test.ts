/**
 * Operations by ID, without a request. Server stores only: a session sealed in a cookie lives in
 * the browser (the cookie store's NotSupportedError is tested in test/stores/cookie.test.ts).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SessionNotFoundError, SessionStateError } from '../../src/errors.js';
import { HOUR, MINUTE, matrix } from './matrix.js';

matrix(
  'operations by ID',
  (c) => {
    it('get / set / delete / clear / refresh / destroy without a request', async () => {
      const { tessera, clock } = c.setup({ idleTimeout: HOUR });
      const { id } = await tessera.create({ data: { a: 1 }, userId: 'u1', ip: '192.0.2.1' });
      assert.equal(await tessera.get(id, 'a'), 1);
      await tessera.set(id, 'b', { nested: [1, 2] });
      assert.deepEqual(await tessera.get(id, 'b'), { nested: [1, 2] });
      assert.equal(await tessera.delete(id, 'a'), true);
      assert.equal(await tessera.delete(id, 'a'), false);
      assert.equal(await tessera.get(id, 'a'), undefined);
      clock.advance(50 * MINUTE);
      await tessera.refresh(id);
      clock.advance(50 * MINUTE);
      assert.equal(await tessera.isValid(id), true, 'refresh extended the expiry');
      await tessera.clear(id);
      assert.deepEqual((await tessera.load(id))?.toJSON(), {});
      assert.equal((await tessera.load(id))?.userId, 'u1', 'clear keeps the session and its user');
      assert.equal(await tessera.destroy(id), true);
      assert.equal(await tessera.destroy(id), false);
      assert.equal(await tessera.isValid(id), false);
    });

    it('isValid / isExpired follow the clock', async () => {
      const { tessera, clock } = c.setup({ idleTimeout: HOUR });
      const { id } = await tessera.create({ data: { a: 1 } });
      assert.equal(await tessera.isValid(id), true);
      assert.equal(await tessera.isExpired(id), false);
      clock.advance(HOUR);
      assert.equal(await tessera.isValid(id), false);
      assert.equal(await tessera.isExpired(id), true);
    });

    it('writing to an unknown or expired session throws SessionNotFoundError; reading gives undefined', async () => {
      const { tessera, clock } = c.setup({ idleTimeout: HOUR });
      const unknown = 'A'.repeat(43);
      await assert.rejects(tessera.set(unknown, 'a', 1), (e: unknown) => e instanceof SessionNotFoundError && e.code === 'ERR_SESSION_NOT_FOUND');
      await assert.rejects(tessera.clear('not even an id'), SessionNotFoundError);
      assert.equal(await tessera.get(unknown, 'a'), undefined);
      await assert.rejects(tessera.get(42 as never, 'a'), TypeError);
      const { id } = await tessera.create({ data: { a: 1 } });
      clock.advance(HOUR);
      await assert.rejects(tessera.set(id, 'a', 2), SessionNotFoundError, 'expired');
      assert.equal(await tessera.get(id, 'a'), undefined);
    });

    it('rejects values that are not JSON', async () => {
      const { tessera } = c.setup();
      const { id } = await tessera.create();
      await assert.rejects(tessera.set(id, 'f', () => 1), SessionStateError);
      await assert.rejects(tessera.set(id, 'b', 1n), SessionStateError);
    });
  },
  (c) => c.server,
);
