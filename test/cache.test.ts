import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GenerationalCache } from '../src/cache.js';

describe('GenerationalCache', () => {
  it('never holds more than max entries, and keeps the newest half', () => {
    const cache = new GenerationalCache<number, number>(100);
    for (let i = 0; i < 1_000; i++) {
      cache.set(i, i * 2);
      assert.ok(cache.size <= 100, `size ${cache.size} after ${i + 1} inserts`);
    }
    for (let i = 950; i < 1_000; i++) assert.equal(cache.get(i), i * 2);
    assert.equal(cache.get(0), undefined);
  });

  it('keeps an entry that is read while younger entries push others out', () => {
    const cache = new GenerationalCache<string, string>(10);
    cache.set('hot', 'h');
    for (let i = 0; i < 100; i++) {
      cache.set(`cold${i}`, 'c');
      assert.equal(cache.get('hot'), 'h', `lost after ${i + 1} inserts`);
    }
    assert.equal(cache.get('cold0'), undefined);
  });

  it('forgets deleted keys in either generation', () => {
    const cache = new GenerationalCache<string, number>(4);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3); // a and b are now old
    cache.delete('a');
    cache.delete('c');
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.get('c'), undefined);
    assert.equal(cache.get('b'), 2);
  });

  it('refuses a size it cannot split in two generations', () => {
    assert.throws(() => new GenerationalCache(1), TypeError);
    assert.throws(() => new GenerationalCache(2.5), TypeError);
  });
});
