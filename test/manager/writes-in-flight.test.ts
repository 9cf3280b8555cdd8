/**
 * Changes while a write is in flight: a change made while a commit waits on the store, or after it
 * failed, is written by the next commit, on top of whatever another request wrote meanwhile.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { StoreUnavailableError } from '../../src/errors.js';
import { failNext, holdWrites, HOUR, MINUTE, matrix, tick } from './matrix.js';

matrix(
  'changes while a write is in flight',
  (c) => {
    it('a failed write keeps its changes, and they survive a conflict on the retry', async () => {
      const { store, tessera } = c.setup();
      const { id } = await tessera.create({ data: { a: 0 } });
      const session = (await tessera.load(id))!;
      failNext(store, 'set'); // the next write fails, in whichever form (promise or synchronous) the manager uses
      session.set('a', 1);
      await assert.rejects(session.save(), StoreUnavailableError);
      await tessera.set(id, 'c', 3); // another request writes meanwhile: the retry will conflict
      session.set('b', 2);
      await session.save();
      assert.deepEqual((await tessera.load(id))!.toJSON(), { a: 1, b: 2, c: 3 });
    });

    // Only a store answering with promises has a write in flight while the handler runs.
    if (!c.synchronous) {
      it('keeps a change made while the previous commit waits on the store', async () => {
        const { store, browser, tessera } = c.setup();
        const { session } = await browser.request(async (s) => {
          const release = holdWrites(store);
          s.set('a', 1);
          await tick(); // the commit of a is now waiting on the store
          s.set('b', 2);
          release();
          await s.save();
        });
        assert.deepEqual((await tessera.load(session.id))?.toJSON(), { a: 1, b: 2 });
      });

      it('keeps a change made while a touch is being written', async () => {
        const { store, browser, clock, tessera } = c.setup({ idleTimeout: HOUR, touchAfter: 0.1 });
        const { session } = await browser.request((s) => s.set('cart', ['apple']));
        clock.advance(30 * MINUTE);
        const release = holdWrites(store); // the touch queued at load waits on the store
        await browser.request(async (s) => {
          await tick();
          s.set('cart', ['apple', 'pear']);
          release();
          await s.save();
        });
        assert.deepEqual(await tessera.get(session.id, 'cart'), ['apple', 'pear']);
      });

      it('regenerate while a write is in flight keeps the data under the new ID and retires the old', async () => {
        const { store, browser, tessera } = c.setup();
        const { session: before } = await browser.request((s) => s.set('cart', ['apple']));
        const { session: after } = await browser.request(async (s) => {
          const release = holdWrites(store);
          s.set('attempt', 1);
          await tick();
          s.regenerate();
          s.userId = 'alice';
          release();
          await s.save();
        });
        const reloaded = await tessera.load(after.id);
        assert.deepEqual(reloaded?.toJSON(), { cart: ['apple'], attempt: 1 });
        assert.equal(reloaded?.userId, 'alice');
        assert.equal(await tessera.isValid(before.id), false);
      });
    }
  },
  // A commit that writes to a store: server stores.
  (c) => c.server,
);
