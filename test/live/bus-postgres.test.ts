/**
 * PostgresBus against the real PostgreSQL at PG_URL (skipped with a reason when it is not
 * reachable, a failure with TESSERA_REQUIRE_SERVICES=1): the bus conformance kit, with the bus's
 * connections terminated (`pg_terminate_backend`, found by their application_name) for the outage
 * test and a port nothing listens on for the unreachable one; then what the kit cannot see.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ConfigError } from '../../src/errors.js';
import { busConformance } from '../../src/live/bus-conformance.js';
import type { LiveBus } from '../../src/live/bus.js';
import { PostgresBus } from '../../src/live/postgres.js';
import { splitMessage } from '../../src/live/postgres-chunks.js';
import { substitutePeer } from '../../src/stores/peer.js';
import { freePort } from '../helpers/ports.js';
import { PG_URL, serviceSkip } from '../helpers/services.js';

const skip = await serviceSkip('PostgreSQL', PG_URL);
const admin = skip ? null : new pg.Pool({ connectionString: PG_URL, max: 2 });
after(() => admin?.end());

/** The application_name of each bus the kit made (its listener and its pool's connections). */
const names = new WeakMap<LiveBus, string>();
const unique = (): string => `tessera-test-${process.pid}-${randomBytes(4).toString('hex')}`;

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > end) assert.fail(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

busConformance({
  name: 'postgres',
  skip,
  create(channel) {
    const name = unique();
    const bus = new PostgresBus({ connectionString: PG_URL, channel, applicationName: name, poolConfig: { application_name: name } });
    names.set(bus, name);
    return bus;
  },
  async interrupt(bus) {
    // In the target list, so it runs only for the rows the WHERE keeps.
    const { rows } = await admin!.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [names.get(bus)]);
    assert.ok(rows.length >= 1, 'the listener (and any pooled connection) was terminated');
  },
  createUnreachable: async (channel) => new PostgresBus({ connectionString: `postgres://root@127.0.0.1:${await freePort()}/test`, channel, timeout: 500 }),
});

describe('PostgresBus', { skip }, () => {
  it('refuses bad options at construction with ConfigError', () => {
    const bad = [
      { channel: '' },
      { channel: 'has space' },
      { channel: 'x'.repeat(64) },
      { timeout: 0 },
      { applicationName: '' },
      { pool: admin!, connectionString: PG_URL },
    ];
    for (const options of bad) assert.throws(() => new PostgresBus(options), ConfigError, JSON.stringify(options.channel ?? Object.keys(options)));
  });

  it('says which package to install when pg is missing', () => {
    substitutePeer('pg', 'tessera-test-not-installed');
    try {
      assert.throws(() => new PostgresBus({ connectionString: PG_URL }), { code: 'ERR_CONFIG', message: /npm install pg/ });
    } finally {
      substitutePeer('pg', undefined);
    }
  });

  it('hears plain NOTIFY payloads of the format, and sends a 256 KiB message as payloads under 8000 bytes', async () => {
    const channel = unique();
    const bus = new PostgresBus({ pool: admin!, channel });
    const got: string[] = [];
    try {
      await bus.subscribe((m) => got.push(m));
      await admin!.query('SELECT pg_notify($1, $2)', [channel, 'outsider0000:1:0:1:thello from psql']);
      await admin!.query('SELECT pg_notify($1, $2)', [channel, 'not in the format']);
      await waitFor(() => got.length === 1, 'the payload in the format arrived');
      assert.deepEqual(got, ['hello from psql']);
    } finally {
      await bus.close();
    }
    const payloads = splitMessage('\u{1F600}'.repeat(65_536), 'AbCdEfGhIjK', 1);
    assert.ok(payloads.length > 1 && payloads.every((p) => Buffer.byteLength(p) < 8_000), 'each payload fits in a NOTIFY');
    assert.ok((await admin!.query('SELECT 1')).rowCount === 1, 'a given pool stays open after close');
  });

  it('drops a message whose parts were interrupted, and delivers the next whole', async () => {
    const channel = unique();
    const bus = new PostgresBus({ pool: admin!, channel });
    const got: string[] = [];
    try {
      await bus.subscribe((m) => got.push(m));
      const [first] = splitMessage('x'.repeat(20_000), 'Interrupted', 1);
      await admin!.query('SELECT pg_notify($1, $2)', [channel, first]);
      await bus.publish('next');
      await waitFor(() => got.length > 0, 'the next message arrived');
      assert.deepEqual(got, ['next']);
    } finally {
      await bus.close();
    }
  });

  it('a publish answered while the process was blocked for longer than `timeout` succeeds', { timeout: 20_000 }, async () => {
    const bus = new PostgresBus({ connectionString: PG_URL, channel: unique(), timeout: 200 });
    const got: string[] = [];
    try {
      await bus.subscribe((m) => got.push(m));
      await bus.publish('warm-up'); // a pooled connection to publish on
      for (let round = 0; round < 2; round++) {
        const published = bus.publish(`m${round}`);
        await new Promise((resolve) => setImmediate(resolve)); // the statement is sent by now
        const until = performance.now() + 1_000;
        while (performance.now() < until); // its answer arrives while the process is blocked
        await published;
      }
      await waitFor(() => got.length === 3, 'every message arrived');
    } finally {
      await bus.close();
    }
  });

  it('rejects subscribe with BusUnavailableError after `timeout` when PostgreSQL cannot be reached, and publish at once afterwards', async () => {
    const bus = new PostgresBus({ connectionString: `postgres://root@127.0.0.1:${await freePort()}/test`, timeout: 300 });
    try {
      await assert.rejects(bus.subscribe(() => {}), { code: 'ERR_BUS_UNAVAILABLE' });
      const started = Date.now();
      await assert.rejects(bus.publish('x'), { code: 'ERR_BUS_UNAVAILABLE' });
      assert.ok(Date.now() - started < 50, 'refused without trying while the listener cannot reconnect');
    } finally {
      await bus.close();
    }
  });
});
