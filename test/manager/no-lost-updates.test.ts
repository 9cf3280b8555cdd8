/**
 * No lost updates: overlapping requests on one session each write only what they changed, on top
 * of what the other wrote (compare-and-set, re-applied on conflict). Server stores only: with the
 * cookie store the browser keeps the last cookie, and two requests cannot be merged (documented).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Browser } from '../helpers/browser.js';
import { matrix } from './matrix.js';

matrix(
  'no lost updates',
  (c) => {
    it('two overlapping requests changing different keys both survive', async () => {
      const { tessera } = c.setup();
      const a = new Browser(tessera);
      await a.request((s) => s.set('x', 0));
      const b = new Browser(tessera);
      b.cookie = a.cookie;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const slow = a.request(async (s) => {
        await gate;
        s.set('x', 1);
      });
      await b.request((s) => s.set('y', 2));
      release();
      await slow;
      assert.deepEqual((await a.request((s) => s.toJSON())).result, { x: 1, y: 2 });
    });
  },
  (c) => c.server,
);
