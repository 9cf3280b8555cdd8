/**
 * The live bench (bench/lib/live.ts) at a tiny N, so it cannot rot silently: its server, load
 * generator and pusher processes start, every stream opens, a broadcast reaches every stream, and
 * pushes from another process through Redis reach theirs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runLiveBench } from '../../bench/lib/live.js';
import { liveVerdicts } from '../../bench/lib/live-report.js';
import { REDIS_URL, serviceSkip } from '../helpers/services.js';

const skipRedis = await serviceSkip('Redis', REDIS_URL);

describe('live bench', () => {
  it('opens 50 streams from a load generator, and one broadcastAll reaches all 50', async () => {
    const result = await runLiveBench({ n: 50, generators: 1, broadcasts: 1, pushes: 0 });
    assert.equal(result.opened, 50, `every stream opened (${result.openErrors.join('; ')})`);
    assert.equal(result.failed, 0);
    assert.equal(result.hubStreams, 50, 'the hub holds every stream');
    assert.equal(result.broadcastRounds.length, 1);
    assert.equal(result.broadcastRounds[0]!.count, 50, 'the broadcast reached every stream');
    assert.ok(result.broadcast.p99 >= 0 && result.broadcast.p99 < 30_000, `a delivery latency was measured (${result.broadcast.p99} ms)`);
    assert.ok(result.heapPerStream > 0, 'the server grew by its streams');
    assert.equal(result.closed, 0, 'no stream closed during the run');
    assert.equal(liveVerdicts(result).open, true);
    assert.deepEqual(result.push, { skipped: 'no pushes asked for' });
  });

  it('pushes by handle from another process through a RedisBus reach their tabs', { skip: skipRedis }, async () => {
    const result = await runLiveBench({ n: 20, generators: 1, broadcasts: 1, pushes: 10, pushIntervalMs: 5 });
    assert.equal(result.opened, 20);
    assert.match(result.bus, /^RedisBus/);
    assert.ok(!('skipped' in result.push), 'the pushes ran');
    if ('skipped' in result.push) return;
    assert.equal(result.push.sent, 10, `every push was taken by the bus (${result.push.errors.join('; ')})`);
    assert.equal(result.push.count, 10, 'every push reached its tab in the server process');
  });
});
