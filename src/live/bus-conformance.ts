/**
 * The bus conformance kit: one suite of tests every {@link LiveBus} passes, ours and third
 * parties'. It registers tests with `node:test` by default; pass `describe`/`it` of another runner
 * to use that.
 *
 * The kit makes buses with `create(channel)`: buses made with the same channel must talk to each
 * other as buses of two processes would (for a service bus, simply two instances on one channel),
 * and buses on different channels must not hear each other. Each test uses channels of its own, so
 * several test files can share one service.
 *
 * @example
 * ```ts
 * // test/my-bus.test.ts
 * import { busConformance } from 'tessera/live/bus-conformance';
 * busConformance({ name: 'my bus', create: (channel) => new MyBus({ url: process.env.MY_URL!, channel }) });
 * ```
 * @module
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe as nodeDescribe, it as nodeIt } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BusUnavailableError } from '../errors.js';
import { MAX_BUS_MESSAGE_BYTES, type LiveBus } from './bus.js';

// The contract the kit checks, for those who implement it.
export type { LiveBus } from './bus.js';

/**
 * What a test of the kit gets from the runner: node:test's context, or any object whose `skip`
 * marks the test skipped with a reason.
 *
 * @example
 * ```ts
 * it: (name, options, fn) => vitestIt(name, { skip: !!options.skip }, (ctx) => fn({ skip: (why) => ctx.skip(why) })),
 * ```
 */
export interface BusConformanceTestContext {
  skip?(reason: string): void;
}

type TestFn = (t?: BusConformanceTestContext) => Promise<unknown>;

/** Options of {@link busConformance}. */
export interface BusConformanceOptions {
  /** Name shown in the suite title. */
  name: string;
  /**
   * Make a new bus on `channel` (a name of letters, digits, `-` and `_` the kit makes up per test).
   * Buses made with the same channel must hear each other; the kit closes every bus it made.
   */
  create(channel: string): LiveBus | Promise<LiveBus>;
  /**
   * `false` for a bus whose instances never talk to each other (`LocalBus`, one process): the
   * tests between two buses are then skipped, saying so. Default `true`.
   */
  crossInstance?: boolean;
  /**
   * Cut `bus`'s connections to its service (for example `CLIENT KILL` in Redis,
   * `pg_terminate_backend` in PostgreSQL), as a network failure or a restarted server would. The
   * kit then checks that delivery resumes by itself. Without it, that test is skipped.
   */
  interrupt?(bus: LiveBus): Promise<void>;
  /**
   * Make a bus whose service cannot be reached (a port nothing listens on, a stopped node). The
   * kit checks that `publish` rejects with {@link BusUnavailableError}. Without it, that test is skipped.
   */
  createUnreachable?(channel: string): LiveBus | Promise<LiveBus>;
  /** Milliseconds a message may take to arrive, and delivery to resume after `interrupt`. Default 10000. */
  timeout?: number;
  /** Messages each publisher sends in the ordering test. Default 500. */
  messages?: number;
  /** When a string, every test is registered as skipped with this reason (for example "Redis is down"). */
  skip?: string | false;
  /** The runner's `describe`. Default: `node:test`. */
  describe?: (name: string, fn: () => void) => unknown;
  /** The runner's `it`, taking an options object with `skip` (node:test style) and passing a context with `skip(reason)`. Default: `node:test`. */
  it?: (name: string, options: { skip?: string | boolean }, fn: TestFn) => unknown;
}

/** A bus with what its subscriber received. */
interface Tap {
  bus: LiveBus;
  got: string[];
}

/** Text that UTF-8 must carry exactly: accents, CJK, emoji (surrogate pairs), combining marks, controls, NUL. */
const UNICODE = 'é ß 漢字 😀👩‍👩‍👧 e\u0301 \u0000 \u0001 \t\r\n \u2028 \uFEFF "quoted" \\ :|;';

/** Poll `condition` every 10 ms until it holds, failing after `timeout` ms with `what`. */
async function until(condition: () => boolean, timeout: number, what: string): Promise<void> {
  const end = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > end) assert.fail(`timed out after ${timeout} ms waiting until ${what}`);
    await sleep(10);
  }
}

/** A string of exactly `bytes` UTF-8 bytes mixing 1-, 2-, 3- and 4-byte characters. */
function bigMessage(bytes: number): string {
  const unit = 'a\u00e9\u6f22\u{1F600}'; // 1 + 2 + 3 + 4 bytes
  const whole = unit.repeat(Math.floor(bytes / 10));
  return whole + 'z'.repeat(bytes - Buffer.byteLength(whole));
}

/**
 * Register the conformance suite for a bus.
 *
 * Checks: a message reaches the subscribers of the publishing bus and of another bus once each;
 * every publisher's messages arrive in order (publishes not awaited one by one); a message of
 * {@link MAX_BUS_MESSAGE_BYTES} arrives whole; Unicode text (emoji, combining marks, control
 * characters, NUL) is carried exactly; `publish` after `close` rejects with
 * {@link BusUnavailableError}; `close` is idempotent and stops delivery; buses on different
 * channels do not hear each other; and, with the optional hooks, that delivery resumes by itself
 * after the connections were cut, and that `publish` to an unreachable service rejects with
 * {@link BusUnavailableError}.
 *
 * @example
 * ```ts
 * busConformance({
 *   name: 'redis',
 *   create: (channel) => new RedisBus({ url: 'redis://127.0.0.1:6379', channel }),
 *   createUnreachable: (channel) => new RedisBus({ url: 'redis://127.0.0.1:1', channel }),
 * });
 * ```
 */
export function busConformance(options: BusConformanceOptions): void {
  const describe = options.describe ?? nodeDescribe;
  const it =
    options.it ??
    ((name: string, opts: { skip?: string | boolean }, fn: TestFn) =>
      nodeIt(name, opts, async (t) => {
        await fn(t);
      }));
  const skip = options.skip || false;
  const timeout = options.timeout ?? 10_000;
  const count = options.messages ?? 500;
  const crossInstance = options.crossInstance ?? true;
  const notCross = 'the bus carries messages within one instance only (crossInstance: false)';

  /** Run `fn` with fresh channels; every bus made through `open` is closed afterwards. */
  const withBuses = async (fn: (open: (channel?: number) => Promise<Tap>) => Promise<void>): Promise<void> => {
    const base = `tessera-kit-${process.pid}-${randomBytes(6).toString('hex')}`;
    const made: LiveBus[] = [];
    const open = async (channel = 0): Promise<Tap> => {
      const bus = await options.create(`${base}-${channel}`);
      made.push(bus);
      const got: string[] = [];
      await bus.subscribe((message) => got.push(message));
      return { bus, got };
    };
    try {
      await fn(open);
    } finally {
      await Promise.allSettled(made.map((bus) => bus.close()));
    }
  };
  const unavailable = (error: unknown): boolean => {
    assert.ok(error instanceof BusUnavailableError, `expected a BusUnavailableError, got ${String(error)}`);
    assert.equal(error.code, 'ERR_BUS_UNAVAILABLE');
    return true;
  };

  describe(`bus conformance: ${options.name}`, () => {
    it('delivers a message to the publishing bus and to another bus on the channel, once each', { skip }, (t) =>
      withBuses(async (open) => {
        const a = await open();
        if (!crossInstance) {
          await a.bus.publish('one');
          await a.bus.publish('end');
          await until(() => a.got.includes('end'), timeout, 'the bus heard its own messages');
          assert.deepEqual(a.got, ['one', 'end']);
          return t?.skip?.(`only the publishing bus was checked: ${notCross}`);
        }
        const b = await open();
        await a.bus.publish('from A');
        await b.bus.publish('from B');
        // Each publisher's last message arrives after its first, so a duplicate would show by then.
        await a.bus.publish('end A');
        await b.bus.publish('end B');
        for (const [name, tap] of [['A', a], ['B', b]] as const) {
          await until(() => tap.got.includes('end A') && tap.got.includes('end B'), timeout, `bus ${name} heard both publishers`);
        }
        for (const tap of [a, b]) assert.deepEqual([...tap.got].sort(), ['end A', 'end B', 'from A', 'from B']);
      }),
    );

    it(`keeps each publisher's order (${count} messages each, published without waiting)`, { skip }, () =>
      withBuses(async (open) => {
        const a = await open();
        const b = crossInstance ? await open() : null;
        const publishers = b ? [a, b] : [a];
        await Promise.all(publishers.flatMap((p, n) => Array.from({ length: count }, (_, i) => p.bus.publish(`${n}:${i}`))));
        const want = publishers.length * count;
        for (const tap of publishers) {
          await until(() => tap.got.length >= want, timeout, `${want} messages arrived (got ${tap.got.length})`);
          for (const n of publishers.keys()) {
            const mine = tap.got.filter((m) => m.startsWith(`${n}:`));
            assert.deepEqual(mine, Array.from({ length: count }, (_, i) => `${n}:${i}`), `publisher ${n}'s messages, in order`);
          }
          assert.equal(tap.got.length, want);
        }
      }),
    );

    it(`carries a message of MAX_BUS_MESSAGE_BYTES (${MAX_BUS_MESSAGE_BYTES} bytes) whole`, { skip }, () =>
      withBuses(async (open) => {
        const a = await open();
        const b = crossInstance ? await open() : a;
        const big = bigMessage(MAX_BUS_MESSAGE_BYTES);
        assert.equal(Buffer.byteLength(big), MAX_BUS_MESSAGE_BYTES);
        await a.bus.publish(big);
        await a.bus.publish('after');
        await until(() => b.got.includes('after') && a.got.includes('after'), timeout, 'the big message and the next arrived');
        for (const tap of new Set([a, b])) {
          assert.equal(tap.got.length, 2);
          assert.ok(tap.got[0] === big, `the big message arrived whole (${Buffer.byteLength(tap.got[0] ?? '')} bytes)`);
        }
      }),
    );

    it('carries Unicode text exactly (emoji, combining marks, control characters, NUL)', { skip }, () =>
      withBuses(async (open) => {
        const a = await open();
        const b = crossInstance ? await open() : a;
        const sent = [UNICODE, UNICODE.repeat(300), '', ' ', JSON.stringify({ html: '<p>"x" & \'y\'</p>', n: 1 })];
        for (const message of sent) await a.bus.publish(message);
        await until(() => b.got.length >= sent.length, timeout, 'every message arrived');
        assert.deepEqual(b.got, sent);
      }),
    );

    it('rejects publish after close with BusUnavailableError; close is idempotent and stops delivery', { skip }, () =>
      withBuses(async (open) => {
        const a = await open();
        const b = crossInstance ? await open() : null;
        await a.bus.close();
        await a.bus.close();
        await assert.rejects(a.bus.publish('too late'), unavailable);
        if (b) {
          await b.bus.publish('while A is closed');
          await until(() => b.got.includes('while A is closed'), timeout, 'the open bus heard its message');
          await sleep(50);
        }
        assert.deepEqual(a.got, [], 'the closed bus delivered nothing');
      }),
    );

    it('keeps buses on different channels apart', { skip }, (t) =>
      withBuses(async (open) => {
        if (!crossInstance) return t?.skip?.(notCross);
        const a = await open(1);
        const c = await open(2);
        await c.bus.publish('on channel 2');
        await a.bus.publish('on channel 1');
        await until(() => a.got.includes('on channel 1') && c.got.includes('on channel 2'), timeout, 'each bus heard its own channel');
        await c.bus.publish('channel 2 again');
        await until(() => c.got.includes('channel 2 again'), timeout, 'channel 2 heard its second message');
        assert.deepEqual(a.got, ['on channel 1']);
        assert.deepEqual(c.got, ['on channel 2', 'channel 2 again']);
      }),
    );

    it('resumes delivery by itself after its connections were cut', { skip }, (t) =>
      withBuses(async (open) => {
        if (!options.interrupt) return t?.skip?.('no interrupt hook given');
        if (!crossInstance) return t?.skip?.(notCross);
        const a = await open();
        const b = await open();
        await b.bus.publish('before');
        await until(() => a.got.includes('before'), timeout, 'A heard B before the cut');
        await options.interrupt(a.bus);
        // Publish from each side until the other hears it: publishes may fail while A reconnects.
        for (const [from, to, name] of [[b, a, 'B to A'], [a, b, 'A to B']] as const) {
          const end = Date.now() + timeout;
          let n = 0;
          while (!to.got.some((m) => m.startsWith(`${name} `))) {
            if (Date.now() > end) assert.fail(`delivery ${name} did not resume within ${timeout} ms`);
            await from.bus.publish(`${name} ${n++}`).catch((error: unknown) => unavailable(error));
            await sleep(50);
          }
        }
        // And it stays whole: later messages arrive once, in order.
        const tail = Array.from({ length: 20 }, (_, i) => `tail ${i}`);
        await Promise.all(tail.map((m) => b.bus.publish(m)));
        await until(() => a.got.includes('tail 19'), timeout, 'A heard the last message after the cut');
        assert.deepEqual(a.got.filter((m) => m.startsWith('tail ')), tail);
      }),
    );

    it('rejects publish with BusUnavailableError while its service cannot be reached', { skip }, async (t) => {
      if (!options.createUnreachable) return t?.skip?.('no createUnreachable hook given');
      const bus = await options.createUnreachable(`tessera-kit-${process.pid}-unreachable`);
      try {
        const started = Date.now();
        await assert.rejects(bus.publish('nobody hears this'), unavailable);
        assert.ok(Date.now() - started < timeout, `publish failed within ${timeout} ms`);
      } finally {
        await bus.close();
      }
      await assert.rejects(bus.publish('closed'), unavailable);
    });
  });
}
