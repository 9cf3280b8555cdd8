/**
 * The bus: what carries live pushes between server processes. A push made in one process is
 * published on the bus; every process's hub receives it and delivers it to the streams it holds.
 *
 * The contract is small — `subscribe`, `publish`, `close` — and a bus carries opaque strings: the
 * hub encodes and decodes messages (they name sessions by store key, never by session ID).
 * Implementations: {@link LocalBus} (one process), `RedisBus` (`tessera/live/redis`, Redis pub/sub,
 * sharded pub/sub on a cluster) and `PostgresBus` (`tessera/live/postgres`, LISTEN/NOTIFY). The
 * bus conformance kit (`tessera/live/bus-conformance`) tests any of them.
 *
 * @module
 */
import { BusUnavailableError } from '../errors.js';

/**
 * A bus between the processes of one app.
 *
 * Contract (the bus conformance kit checks it):
 * - After `subscribe(deliver)` resolves, every message any subscriber of the same bus (same
 *   service and channel, in any process — this one included) publishes reaches `deliver` once,
 *   in the order its publisher published it.
 * - `publish` resolves once the message was handed to the service. It rejects with
 *   {@link BusUnavailableError} when it cannot be (the service is down, the bus is closed); it does
 *   not queue messages for later, so a push made during an outage is reported failed, not delivered
 *   late and out of order.
 * - A subscription survives outages: when the service is back, the bus subscribes again by itself
 *   and delivery resumes (messages published meanwhile are lost, as with any pub/sub).
 * - Messages up to {@link MAX_BUS_MESSAGE_BYTES} are carried whole.
 * - `close` ends the subscription and releases connections the bus made (not those it was given).
 *   Idempotent.
 *
 * @example
 * ```ts
 * const bus: LiveBus = new LocalBus();
 * await bus.subscribe((message) => console.log('got', message));
 * await bus.publish('hello');
 * ```
 */
export interface LiveBus {
  /** A short name for messages and logs (`local`, `redis`, `postgres`). */
  readonly name: string;
  /** Start delivering messages to `deliver`. Called once per bus by the hub. */
  subscribe(deliver: (message: string) => void): Promise<void>;
  /** Send `message` to every subscriber. Rejects with {@link BusUnavailableError} when it cannot. */
  publish(message: string): Promise<void>;
  /** Stop delivering and release the bus's own connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * The longest message (in UTF-8 bytes) every bus carries whole: the hub refuses a push whose
 * encoded message is longer.
 *
 * @example
 * ```ts
 * if (Buffer.byteLength(html) > MAX_BUS_MESSAGE_BYTES) throw new Error('push a smaller fragment');
 * ```
 */
export const MAX_BUS_MESSAGE_BYTES = 256 * 1024;

/**
 * The bus of a single process: messages go to this process's subscribers, synchronously in
 * publication order. The default when `live.bus` is not given; with several processes, use
 * `RedisBus` or `PostgresBus`.
 *
 * @example
 * ```ts
 * const tessera = createTessera({ secrets, live: { bus: new LocalBus() } }); // the same as the default
 * ```
 */
export class LocalBus implements LiveBus {
  readonly name = 'local';
  readonly #subscribers = new Set<(message: string) => void>();
  #closed = false;

  async subscribe(deliver: (message: string) => void): Promise<void> {
    if (this.#closed) throw new BusUnavailableError('the local bus was closed');
    this.#subscribers.add(deliver);
  }

  async publish(message: string): Promise<void> {
    if (this.#closed) throw new BusUnavailableError('the local bus was closed');
    deliverAll(this.#subscribers, message);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#subscribers.clear();
  }
}

export { within } from '../core/deadline.js';

/**
 * Hand `message` to each receiver. A receiver that throws is a bug in it: the error is reported as
 * Node reports a throwing listener (an uncaught exception on the next tick), outside the client
 * library's message handling, so the bus's connection stays sound and the other receivers still
 * get the message.
 *
 * @example
 * ```ts
 * deliverAll(this.#delivers, message);
 * ```
 */
export function deliverAll(receivers: Iterable<(message: string) => void>, message: string): void {
  for (const deliver of receivers) {
    try {
      deliver(message);
    } catch (error) {
      process.nextTick(() => {
        throw error;
      });
    }
  }
}
