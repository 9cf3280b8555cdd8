import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore } from '../../src/stores/memory.js';
import { storeConformance } from '../../src/stores/conformance.js';
import { ConfigError } from '../../src/errors.js';

storeConformance({ name: 'memory', create: () => new MemoryStore() });

describe('MemoryStore bounds', () => {
  const rec = (now: number) => ({ data: 'x', version: 1, expiresAt: now + 60_000, userId: null, tenant: null });

  it('evicts the least recently used record past maxEntries', async () => {
    const store = new MemoryStore({ maxEntries: 3 });
    const ctx = { now: Date.now() };
    for (const k of ['a', 'b', 'c']) await store.set(k, rec(ctx.now), 0, ctx);
    await store.get('a', ctx); // a is now the most recently used
    await store.set('d', rec(ctx.now), 0, ctx);
    assert.equal(store.size, 3);
    assert.equal(await store.get('b', ctx), null, 'b, least recently used, was evicted');
    for (const k of ['a', 'c', 'd']) assert.notEqual(await store.get(k, ctx), null, `${k} kept`);
  });

  it('keeps a session in use while many others are written and evicted', async () => {
    const store = new MemoryStore({ maxEntries: 10 });
    const ctx = { now: Date.now() };
    for (let i = 0; i < 10; i++) await store.set(`k${i}`, rec(ctx.now), 0, ctx);
    for (let i = 10; i < 200; i++) {
      assert.notEqual(await store.get('k0', ctx), null, `k0 still there after ${i - 10} evictions`);
      await store.set(`k${i}`, rec(ctx.now), 0, ctx);
    }
    assert.equal(store.size, 10);
    assert.equal(await store.get('k1', ctx), null, 'unused ones were evicted');
  });

  it('never holds more than maxEntries, however many sessions are written', async () => {
    const store = new MemoryStore({ maxEntries: 100 });
    const ctx = { now: Date.now() };
    for (let i = 0; i < 1_000; i++) await store.set(`k${i}`, rec(ctx.now), 0, ctx);
    assert.equal(store.size, 100);
  });

  it('drops evicted records from the user index', async () => {
    const store = new MemoryStore({ maxEntries: 1 });
    const ctx = { now: Date.now() };
    await store.set('a', { ...rec(ctx.now), userId: 'u' }, 0, ctx);
    await store.set('b', rec(ctx.now), 0, ctx);
    assert.deepEqual(await store.listByUser('u', null, ctx), []);
  });

  it('refuses a non-positive maxEntries', () => {
    assert.throws(() => new MemoryStore({ maxEntries: 0 }), ConfigError);
  });
});
