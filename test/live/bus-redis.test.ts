/**
 * RedisBus against the real Redis at REDIS_URL (skipped with a reason when it is not reachable, a
 * failure with TESSERA_REQUIRE_SERVICES=1): the bus conformance kit, with the bus's connections
 * killed by name (`CLIENT KILL ID`) for the outage test and a port nothing listens on for the
 * unreachable one; then what the kit cannot see (options, a given client).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { ConfigError } from '../../src/errors.js';
import { busConformance } from '../../src/live/bus-conformance.js';
import type { LiveBus } from '../../src/live/bus.js';
import { RedisBus } from '../../src/live/redis.js';
import { substitutePeer } from '../../src/stores/peer.js';
import { freePort } from '../helpers/ports.js';
import { FaultProxy } from '../helpers/proxy.js';
import { REDIS_URL, serviceSkip } from '../helpers/services.js';

const skip = await serviceSkip('Redis', REDIS_URL);
const admin = skip ? null : new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
after(() => admin?.disconnect());

/** The connection name of each bus the kit made: unique, so a kill hits that bus alone. */
const names = new WeakMap<LiveBus, string>();

/** Kill every connection named `name` (the bus's publisher and subscriber); how many there were. */
async function killConnections(name: string): Promise<number> {
  const list = (await admin!.client('LIST')) as string;
  const ids = list
    .split('\n')
    .filter((line) => line.includes(` name=${name} `))
    .map((line) => /\bid=(\d+)/.exec(line)![1]!);
  for (const id of ids) await admin!.client('KILL', 'ID', id);
  return ids.length;
}

busConformance({
  name: 'redis',
  skip,
  create(channel) {
    const name = `tessera-test-${process.pid}-${randomBytes(4).toString('hex')}`;
    const bus = new RedisBus({ url: REDIS_URL, channel, connectionName: name });
    names.set(bus, name);
    return bus;
  },
  async interrupt(bus) {
    assert.equal(await killConnections(names.get(bus)!), 2, 'the publisher and the subscriber were killed');
  },
  createUnreachable: async (channel) => new RedisBus({ url: `redis://127.0.0.1:${await freePort()}`, channel, timeout: 500 }),
});

describe('RedisBus', { skip }, () => {
  it('refuses bad options at construction with ConfigError', () => {
    for (const options of [{}, { url: REDIS_URL, client: admin! }, { url: 'http://x' }, { url: REDIS_URL, channel: '' }, { url: REDIS_URL, timeout: 0 }, { url: REDIS_URL, connectionName: 'a b' }]) {
      assert.throws(() => new RedisBus(options), ConfigError, JSON.stringify(Object.keys(options)));
    }
  });

  it('says which package to install when ioredis is missing', () => {
    substitutePeer('ioredis', 'tessera-test-not-installed');
    try {
      assert.throws(() => new RedisBus({ url: REDIS_URL }), { code: 'ERR_CONFIG', message: /npm install ioredis/ });
    } finally {
      substitutePeer('ioredis', undefined);
    }
  });

  it('publishes with a given client, subscribes on a duplicate of it, and leaves the client open on close', async () => {
    const client = new Redis(REDIS_URL);
    try {
      const channel = `tessera-test-${process.pid}-${randomBytes(4).toString('hex')}`;
      const bus = new RedisBus({ client, channel });
      const got: string[] = [];
      await bus.subscribe((m) => got.push(m));
      assert.equal(await client.publish(channel, 'from outside'), 1, 'one subscriber: the bus');
      await bus.publish('from the bus');
      const end = Date.now() + 5_000;
      while (got.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(got, ['from outside', 'from the bus']);
      await bus.close();
      assert.equal(client.status, 'ready');
      assert.equal(await client.publish(channel, 'nobody'), 0, 'the subscriber connection is gone');
    } finally {
      client.disconnect();
    }
  });

  it('rejects a publish waiting for the first connection as soon as that connection fails, not at the timeout', async () => {
    const bus = new RedisBus({ url: `redis://127.0.0.1:${await freePort()}`, timeout: 5_000 });
    try {
      const started = Date.now();
      await assert.rejects(bus.publish('x'), { code: 'ERR_BUS_UNAVAILABLE' });
      assert.ok(Date.now() - started < 1_000, `refused in ${Date.now() - started} ms`);
    } finally {
      await bus.close();
    }
  });

  it('a publish answered while the process was blocked for longer than `timeout` succeeds', { timeout: 20_000 }, async () => {
    const bus = new RedisBus({ url: REDIS_URL, channel: `tessera-test-${process.pid}-${randomBytes(4).toString('hex')}`, timeout: 200 });
    try {
      await bus.publish('warm-up');
      for (let round = 0; round < 2; round++) {
        const published = bus.publish(`m${round}`);
        await new Promise((resolve) => setImmediate(resolve)); // sent by now
        const until = performance.now() + 1_000;
        while (performance.now() < until); // its answer arrives while the process is blocked
        await published;
      }
      assert.equal(bus.client.status, 'ready', 'the connection was kept');
    } finally {
      await bus.close();
    }
  });

  it('drops a connection that stays silent while a publish waits (a partition), and connects again', { timeout: 20_000 }, async () => {
    const proxy = await FaultProxy.start(REDIS_URL);
    const bus = new RedisBus({ url: proxy.url(REDIS_URL), timeout: 300 });
    let connects = 0;
    bus.client.on('connect', () => connects++);
    try {
      await bus.publish('before');
      proxy.partition();
      const started = Date.now();
      await assert.rejects(bus.publish('during'), { code: 'ERR_BUS_UNAVAILABLE' });
      assert.ok(Date.now() - started < 1_500, `rejected after ${Date.now() - started} ms (timeout 300)`);
      proxy.heal();
      const end = Date.now() + 5_000;
      let delivered = false;
      while (!delivered && Date.now() < end) {
        delivered = await bus.publish('after').then(() => true, () => false);
        if (!delivered) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(delivered, 'publishes again once the network is back');
      assert.ok(connects >= 2, `a new connection was made (${connects})`);
    } finally {
      await bus.close();
      await proxy.close();
    }
  });

  it('drops a subscriber connection whose set-up gets no answer, and makes another', { timeout: 20_000 }, async () => {
    const proxy = await FaultProxy.start(REDIS_URL);
    proxy.partition(); // connections open, nothing is ever answered
    const bus = new RedisBus({ url: proxy.url(REDIS_URL), timeout: 300 });
    // The subscriber is a duplicate of the bus's client: count its connections.
    let subscriberConnects = 0;
    const duplicate = bus.client.duplicate.bind(bus.client) as Redis['duplicate'];
    (bus.client as Redis).duplicate = (options) => {
      const sub = duplicate(options);
      sub.on('connect', () => subscriberConnects++);
      return sub;
    };
    try {
      await assert.rejects(bus.subscribe(() => {}), { code: 'ERR_BUS_UNAVAILABLE' });
      const end = Date.now() + 5_000;
      while (subscriberConnects < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      assert.ok(subscriberConnects >= 3, `the subscriber gave up on silent connections and made others (${subscriberConnects})`);
    } finally {
      const closing = Date.now();
      await bus.close();
      assert.ok(Date.now() - closing < 1_500, `close() did not wait on the silent connections (${Date.now() - closing} ms)`);
      await proxy.close();
    }
  });

  it('close() ends within about `timeout` when Redis has gone silent', { timeout: 20_000 }, async () => {
    const proxy = await FaultProxy.start(REDIS_URL);
    const bus = new RedisBus({ url: proxy.url(REDIS_URL), channel: `tessera-test-${process.pid}-${randomBytes(4).toString('hex')}`, timeout: 300 });
    try {
      await bus.subscribe(() => {});
      await bus.publish('before');
      proxy.partition();
      const started = Date.now();
      await bus.close();
      assert.ok(Date.now() - started < 1_500, `closed in ${Date.now() - started} ms (timeout 300)`);
      assert.ok((bus.client as Redis).stream.destroyed, 'the socket is closed, not left half-open to hold the process');
    } finally {
      await proxy.close();
    }
  });

  it('rejects subscribe with BusUnavailableError after `timeout` when Redis cannot be reached', async () => {
    const bus = new RedisBus({ url: `redis://127.0.0.1:${await freePort()}`, timeout: 300 });
    try {
      await assert.rejects(bus.subscribe(() => {}), { code: 'ERR_BUS_UNAVAILABLE' });
    } finally {
      await bus.close();
    }
  });
});
