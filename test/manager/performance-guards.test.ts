/**
 * Performance guards. Each test here checks an implementation detail that exists only for speed
 * (or memory), not a behaviour a user sees: the other manager tests pass with or without it. They
 * are here so that a change which silently drops one of these speed-ups — and the bench figure that
 * justified it (docs/benchmarks.md) — fails a test that says which one. Each says what it guards
 * and why. If a speed-up is removed on purpose, remove its guard with it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tessera } from '../../src/manager.js';
import { SECRET } from './matrix.js';

describe('performance guards (the manager alone)', () => {
  // Guards the size limit of the decoded-record cache (core/codec.ts DECODED_MAX_LENGTH): it keeps
  // small records only, so a process with large sessions does not hold them all in memory.
  it('does not keep large records in memory (a store that keeps nothing shows the manager alone)', async () => {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const nothing = { name: 'nothing', get: async () => null, set: async () => true, delete: async () => {} };
    const tessera = new Tessera({ secrets: [SECRET], store: nothing, cleanupInterval: 0, logger: {} });
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 200; i++) await tessera.create({ data: { draft: `${i}`.padEnd(256 * 1024, 'x') } });
    gc();
    const retainedMb = (process.memoryUsage().heapUsed - before) / 1e6;
    assert.ok(retainedMb < 20, `retained ${retainedMb.toFixed(0)} MB after 200 sessions of 256 KB (kept in full, it would be ~100 MB)`);
  });
});
