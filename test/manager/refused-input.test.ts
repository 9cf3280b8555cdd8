/** Refused input: values JSON cannot hold are refused at once; a throwing listener harms nothing. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SessionStateError } from '../../src/errors.js';
import { failNext, matrix } from './matrix.js';

matrix('refused input', (c) => {
  it('refuses nested values that are not JSON, and the __proto__ key, at set', async () => {
    const { browser } = c.setup();
    await browser.request((s) => {
      const cycle: Record<string, unknown> = {};
      cycle.self = cycle;
      assert.throws(() => s.set('big', { n: 1n }), SessionStateError);
      assert.throws(() => s.set('cycle', cycle), SessionStateError);
      assert.throws(() => s.set('__proto__', { admin: true }), SessionStateError);
      s.set('fine', { n: 1 });
    });
    assert.deepEqual((await browser.request((s) => s.toJSON())).result, { fine: { n: 1 } });
  });

  // create() works without a request: server stores only.
  if (c.server) {
    it('create() validates lifetime and user like a request does', async () => {
      const { tessera } = c.setup();
      for (const lifetime of [Number.NaN, Number.POSITIVE_INFINITY, 0, -5]) {
        await assert.rejects(tessera.create({ lifetime }), SessionStateError, String(lifetime));
      }
      await assert.rejects(tessera.create({ userId: '' }), SessionStateError);
    });
  }

  // A commit that fails on its own, after the handler, is a server store's write.
  if (c.server) {
    it('survives a commitError listener that throws, and later commits still run', async () => {
      const { browser, tessera, store } = c.setup();
      failNext(store, 'set', 1, new Error('blip'));
      tessera.on('commitError', () => {
        throw new Error('listener bug');
      });
      const warnings: string[] = [];
      const onWarning = (w: Error) => warnings.push(w.message);
      process.on('warning', onWarning);
      try {
        await browser.request(async (s) => {
          s.set('a', 1);
          await new Promise((r) => setImmediate(r));
          await new Promise((r) => setImmediate(r)); // the unobserved failure is reported
          s.set('b', 2);
          await s.save().catch(() => {});
          await s.save();
        }).catch(() => {});
        await new Promise((r) => setImmediate(r));
        assert.ok(warnings.some((w) => /listener or logger threw/.test(w)));
        assert.deepEqual((await browser.request((s) => s.toJSON())).result, { a: 1, b: 2 });
      } finally {
        process.off('warning', onWarning);
      }
    });
  }
});
