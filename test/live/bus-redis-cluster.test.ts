/**
 * RedisBus on a Redis Cluster of this file's own (test/helpers/redis-cluster.ts: three masters):
 * the bus conformance kit over sharded pub/sub, each bus's client connected first to a different
 * node; the sharded subscription surviving its connection being killed; and a publish refused with
 * BusUnavailableError while the node owning the channel is down. Then the Redis session store's
 * conformance suite on the same cluster. Skipped, saying why, when redis-server is not installed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { busConformance } from '../../src/live/bus-conformance.js';
import type { LiveBus } from '../../src/live/bus.js';
import { RedisBus } from '../../src/live/redis.js';
import { storeConformance } from '../../src/stores/conformance.js';
import { RedisStore } from '../../src/stores/redis.js';
import { freePort } from '../helpers/ports.js';
import { redisClusterSkip, startRedisCluster, type ClusterNode, type RedisCluster } from '../helpers/redis-cluster.js';

const skip = redisClusterSkip();
const cluster: RedisCluster | null = skip ? null : await startRedisCluster(3);
const clients: Cluster[] = [];
after(async () => {
  for (const client of clients) client.disconnect();
  await cluster?.stop();
});

/** A Cluster client that starts from `node` and fails fast; disconnected after the file. */
function clusterClient(node: ClusterNode, connectionName?: string): Cluster {
  const client = new Cluster([node], {
    redisOptions: { connectionName, commandTimeout: 2_000, maxRetriesPerRequest: 0 },
    clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  });
  client.on('error', () => {}); // a node being killed is part of the test
  clients.push(client);
  return client;
}

/** Kill every connection named `<anything>name` on every node; how many there were. */
async function killConnections(name: string): Promise<number> {
  let killed = 0;
  for (const node of cluster!.nodes) {
    const list = await cluster!.cli(node, 'CLIENT', 'LIST');
    const ids = list
      .split('\n')
      .filter((line) => new RegExp(`name=\\S*${name} `).test(line))
      .map((line) => /\bid=(\d+)/.exec(line)![1]!);
    for (const id of ids) await cluster!.cli(node, 'CLIENT', 'KILL', 'ID', id);
    killed += ids.length;
  }
  return killed;
}

const names = new WeakMap<LiveBus, string>();
let made = 0;

busConformance({
  name: 'redis cluster (sharded pub/sub)',
  skip,
  create(channel) {
    const name = `tessera-test-${process.pid}-${randomBytes(4).toString('hex')}`;
    // Each bus starts from another node: publishers connected to different nodes.
    const bus = new RedisBus({ client: clusterClient(cluster!.nodes[made++ % 3]!, name), channel, connectionName: name });
    names.set(bus, name);
    return bus;
  },
  async interrupt(bus) {
    assert.ok((await killConnections(names.get(bus)!)) >= 2, "the bus's publishing and sharded subscriber connections were killed");
  },
  createUnreachable: async (channel) => new RedisBus({ client: clusterClient({ host: '127.0.0.1', port: await freePort() }), channel, timeout: 500 }),
});

describe('RedisBus on a cluster', { skip }, () => {
  it('subscribes with SSUBSCRIBE on the node owning the channel, and publishes with SPUBLISH (no fan-out to other nodes)', async () => {
    const channel = `tessera-test-${process.pid}-${randomBytes(4).toString('hex')}`;
    const bus = new RedisBus({ client: clusterClient(cluster!.nodes[0]!), channel });
    try {
      await bus.subscribe(() => {});
      const counts = await Promise.all(cluster!.nodes.map(async (node) => Number((await cluster!.cli(node, 'PUBSUB', 'SHARDNUMSUB', channel)).split('\n')[1])));
      assert.deepEqual(counts.sort(), [0, 0, 1], 'one shard subscriber, on one node');
      const plain = await Promise.all(cluster!.nodes.map(async (node) => Number((await cluster!.cli(node, 'PUBSUB', 'NUMSUB', channel)).split('\n')[1])));
      assert.deepEqual(plain, [0, 0, 0], 'no classic subscription');
    } finally {
      await bus.close();
    }
  });

  it("works with a client that has a keyPrefix (ioredis prefixes shard channels, which are keys)", async () => {
    const channel = `tessera-test-${process.pid}-${randomBytes(4).toString('hex')}`;
    const client = new Cluster([cluster!.nodes[2]!], { keyPrefix: 'app:' });
    clients.push(client);
    const bus = new RedisBus({ client, channel });
    const got: string[] = [];
    try {
      await bus.subscribe((m) => got.push(m));
      await bus.publish('prefixed');
      const end = Date.now() + 5_000;
      while (got.length === 0 && Date.now() < end) await sleep(10);
      assert.deepEqual(got, ['prefixed']);
    } finally {
      await bus.close();
    }
  });

  it('rejects publish with BusUnavailableError while the node owning the channel is down, and delivers again once it is back', async () => {
    const channel = `tessera-test-${process.pid}-${randomBytes(4).toString('hex')}`;
    const publisher = new RedisBus({ client: clusterClient(cluster!.nodes[0]!), channel, timeout: 1_000 });
    const listener = new RedisBus({ client: clusterClient(cluster!.nodes[1]!), channel, timeout: 1_000 });
    const got: string[] = [];
    try {
      await listener.subscribe((m) => got.push(m));
      await publisher.publish('before');
      const owner = await ownerOf(channel);
      await cluster!.kill(owner);
      const started = Date.now();
      await assert.rejects(publisher.publish('while down'), { code: 'ERR_BUS_UNAVAILABLE' });
      assert.ok(Date.now() - started < 5_000, `refused within 5 s (took ${Date.now() - started} ms)`);
      await cluster!.restart(owner);
      const end = Date.now() + 20_000;
      for (let n = 0; !got.some((m) => m.startsWith('after ')); n++) {
        if (Date.now() > end) assert.fail(`delivery did not resume; got ${JSON.stringify(got)}`);
        await publisher.publish(`after ${n}`).catch(() => {});
        await sleep(100);
      }
      assert.equal(got[0], 'before');
      assert.ok(!got.includes('while down'));
    } finally {
      await Promise.all([publisher.close(), listener.close()]);
    }
  });
});

/** The node whose slots include `channel`'s (from CLUSTER NODES: `<id> <host:port@bus> <flags> ... <slot ranges>`). */
async function ownerOf(channel: string): Promise<ClusterNode> {
  const first = cluster!.nodes[0]!;
  const slot = Number(await cluster!.cli(first, 'CLUSTER', 'KEYSLOT', channel));
  for (const line of (await cluster!.cli(first, 'CLUSTER', 'NODES')).trim().split('\n')) {
    const fields = line.split(' ');
    const port = Number(/:(\d+)@/.exec(fields[1]!)![1]);
    const owns = fields.slice(8).some((range) => {
      const [from, to = from] = range.split('-').map(Number);
      return slot >= from! && slot <= to!;
    });
    if (owns) return cluster!.nodes.find((node) => node.port === port)!;
  }
  throw new Error(`no node owns slot ${slot}`);
}

storeConformance({
  name: 'redis store on a cluster',
  skip,
  create: () => new RedisStore({ client: clusterClient(cluster!.nodes[made++ % 3]!), prefix: `tessera-test:${process.pid}-${randomBytes(4).toString('hex')}:` }),
});
