/** Configuration: refused at construction, never per request; no raw session ID in events or logs. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTessera } from '../../src/index.js';
import { ConfigError, SecretError, TesseraError } from '../../src/errors.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { TesseraOptions } from '../../src/options.js';
import { DAY, matrix } from './matrix.js';

describe('configuration (any store)', () => {
  it('refuses to start in production without a secret', () => {
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      assert.throws(() => createTessera({ store: new MemoryStore() }), SecretError);
    } finally {
      process.env.NODE_ENV = env;
    }
  });
});

matrix('configuration', (c) => {
  it('refuses bad durations and shares with ConfigError', () => {
    for (const bad of [{ idleTimeout: -1 }, { idleTimeout: 0 }, { absoluteTimeout: Number.NaN }, { touchAfter: 2 }, { maxWriteAttempts: 0 }]) {
      assert.throws(() => c.setup(bad as Partial<TesseraOptions>), (e: unknown) => e instanceof ConfigError && e instanceof TesseraError, JSON.stringify(bad));
    }
  });

  it('refuses a cleanupInterval longer than a Node.js timer can wait', () => {
    assert.throws(() => c.setup({ cleanupInterval: 30 * DAY }), ConfigError);
  });

  it('refuses a storeTimeout that is not a positive number of ms a timer can wait, or Infinity', () => {
    for (const bad of [0, -1, Number.NaN, 30 * DAY, '5000', null]) {
      assert.throws(() => c.setup({ storeTimeout: bad as number }), ConfigError, String(bad));
    }
    for (const good of [1, 250, Infinity]) assert.equal(c.setup({ storeTimeout: good }).tessera.options.storeTimeout, good);
  });

  it('never puts a raw session ID in events or log lines', async () => {
    const lines: string[] = [];
    const { browser, tessera } = c.setup({ logger: { debug: (f, m) => lines.push(m + JSON.stringify(f)), info: (f, m) => lines.push(m + JSON.stringify(f)) } });
    const seen: unknown[] = [];
    for (const e of ['created', 'destroyed', 'regenerated', 'expired']) tessera.on(e, (p) => seen.push(p));
    const { session } = await browser.request((s) => s.set('a', 1));
    const id1 = session.id;
    const { session: s2 } = await browser.request((s) => s.regenerate());
    await browser.request((s) => s.destroy());
    // A server store reports created, regenerated and destroyed; the cookie store has no 'created'.
    const events = c.server ? 3 : 2;
    assert.ok(lines.length >= events && seen.length >= events);
    for (const text of [...lines, JSON.stringify(seen)]) {
      assert.ok(!text.includes(id1) && !text.includes(s2.id), text);
    }
  });
});
