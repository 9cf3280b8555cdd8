/**
 * The cap on session data (`maxDataBytes`, bytes of its JSON in UTF-8): a value alone over it is
 * refused at `set`, a session grown over it at its write (server stores commit after the handler's
 * synchronous code; the cookie store seals at once, so there it is at `set` too), always with
 * `PayloadTooLargeError` (status 413), and what the store held before stays readable.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, PayloadTooLargeError } from '../../src/errors.js';
import { DEFAULTS, type TesseraOptions } from '../../src/options.js';
import type { Session } from '../../src/session.js';
import { COMBINATIONS, matrix } from './matrix.js';

/** `{"a":"<value>"}` is 8 bytes around the value: 496 × 'é' (2 bytes each) makes exactly 1000. */
const AT_CAP = 'é'.repeat(496);

const tooLarge = (size: number, limit: number) => (e: unknown) =>
  e instanceof PayloadTooLargeError && e.code === 'ERR_PAYLOAD_TOO_LARGE' && e.status === 413 && e.size === size && e.limit === limit;

/** Make `change`, then save: the error it meets, at the change or at the write, or `null`. */
async function attempt(session: Session, change: (s: Session) => void): Promise<unknown> {
  try {
    change(session);
    await session.save();
    return null;
  } catch (error) {
    return error;
  }
}

describe('maxDataBytes (configuration)', () => {
  it('defaults to 64 KiB, and refuses anything but a positive integer or Infinity at construction', () => {
    assert.equal(DEFAULTS.maxDataBytes, 65_536);
    const c = COMBINATIONS[0]!;
    assert.equal(c.setup().tessera.options.maxDataBytes, 65_536);
    assert.equal(c.setup({ maxDataBytes: Infinity }).tessera.options.maxDataBytes, Infinity);
    for (const bad of [0, -1, 1.5, Number.NaN, -Infinity, '1000']) {
      assert.throws(() => c.setup({ maxDataBytes: bad } as unknown as Partial<TesseraOptions>), ConfigError, String(bad));
    }
  });
});

matrix('session data cap (maxDataBytes)', (c) => {
  it('refuses a value alone over the cap at set, update and create, keeping the session as it was', async () => {
    const { browser, tessera } = c.setup({ maxDataBytes: 1000 });
    await browser.request((s) => s.set('small', 'ok'));
    await browser.request((s) => {
      assert.throws(() => s.set('big', 'x'.repeat(1000)), tooLarge(1002, 1000));
      assert.throws(() => s.set('big', { list: ['y'.repeat(1000)] }), tooLarge(1013, 1000));
      assert.throws(() => s.update('big', () => 'z'.repeat(2000)), tooLarge(2002, 1000));
      assert.equal(s.has('big'), false);
    });
    assert.deepEqual((await browser.request((s) => s.toJSON())).result, { small: 'ok' });
    if (c.server) await assert.rejects(tessera.create({ data: { big: 'x'.repeat(1000) } }), tooLarge(1002, 1000));
  });

  it('counts the whole data as JSON in UTF-8 bytes: exactly the cap is written, a byte more is refused, and what was stored stays', async () => {
    const { browser, tessera, another } = c.setup({ maxDataBytes: 1000 });
    const { session } = await browser.request((s) => s.set('a', AT_CAP));
    assert.equal((await browser.request((s) => s.get('a'))).result, AT_CAP);
    const { result: error } = await browser.request((s) => attempt(s, (x) => x.set('a', `${AT_CAP}x`)));
    assert.ok(tooLarge(1001, 1000)(error), String(error));
    const { result: grown } = await browser.request((s) => attempt(s, (x) => x.set('b', 1)));
    assert.ok(grown instanceof PayloadTooLargeError, 'a new key on a session at the cap');
    assert.equal((await browser.request((s) => s.get('a'))).result, AT_CAP, 'the stored session is unchanged');
    if (c.server) {
      assert.deepEqual(await another().get(session.id, 'a'), AT_CAP, 'as another process reads it');
      await assert.rejects(tessera.set(session.id, 'b', 1), PayloadTooLargeError);
      assert.deepEqual(await another().get(session.id, 'b'), undefined);
    }
  });

  it('caps at 64 KiB by default: a 10 MB value is refused', async () => {
    const { browser } = c.setup();
    await browser.request((s) => s.set('small', 'ok'));
    await browser.request((s) => {
      assert.throws(() => s.set('big', 'x'.repeat(10_000_000)), tooLarge(10_000_002, 65_536));
    });
    assert.deepEqual((await browser.request((s) => s.toJSON())).result, { small: 'ok' });
  });

  // The cookie store's own limit (a 4 KB cookie) is far below the default cap.
  if (c.server) {
    it('grows past the default cap, many keys at a time, only when the cap is raised or lifted', async () => {
      const values = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v'.repeat(1400)]));
      const capped = c.setup();
      const { result: error } = await capped.browser.request((s) => attempt(s, (x) => Object.entries(values).forEach(([k, v]) => x.set(k, v))));
      assert.ok(error instanceof PayloadTooLargeError && error.limit === 65_536, String(error));
      assert.deepEqual((await capped.browser.request((s) => s.keys())).result, [], 'nothing was stored');
      for (const maxDataBytes of [1_000_000, Infinity]) {
        const { browser } = c.setup({ maxDataBytes });
        await browser.request((s) => Object.entries(values).forEach(([k, v]) => s.set(k, v)));
        assert.deepEqual((await browser.request((s) => s.toJSON())).result, values);
      }
    });
  }
});
