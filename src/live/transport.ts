/**
 * The hub's way between processes: a message is applied to this process's streams at once and
 * published on the bus for the others; what the bus brings is applied here, except this hub's own
 * messages (every bus delivers a publisher's messages back to it). Messages name sessions by
 * handle only.
 *
 * @module
 * @internal
 */
import { BusUnavailableError, LiveError, TesseraError } from '../errors.js';
import type { Logger } from '../options.js';
import { MAX_BUS_MESSAGE_BYTES, type LiveBus } from './bus.js';
import type { HubMessage, StreamRegistry } from './registry.js';

/** A message as a hub sends it: without the sender, which the transport adds. */
export type Outgoing = HubMessage extends infer M ? (M extends HubMessage ? Omit<M, 'h'> : never) : never;

/**
 * Delivers hub messages here and everywhere.
 *
 * @example
 * ```ts
 * const transport = new HubTransport(bus, registry, logger, hubId);
 * await transport.send({ op: 'session', ks: [handle], e: { type: 'reload' } });
 * ```
 */
export class HubTransport {
  readonly bus: LiveBus;
  readonly #registry: StreamRegistry;
  readonly #logger: Logger;
  /** This hub's name on the bus, to know its own messages when they come back. */
  readonly #id: string;
  #subscribed: Promise<void> | null = null;
  #closed = false;

  constructor(bus: LiveBus, registry: StreamRegistry, logger: Logger, id: string) {
    this.#id = id;
    this.bus = bus;
    this.#registry = registry;
    this.#logger = logger;
  }

  /**
   * Apply `message` here and publish it. Rejects with {@link LiveError} (413) when it is too long
   * for the bus, and with {@link BusUnavailableError} when the bus cannot take it (it was applied
   * here all the same).
   */
  async send(outgoing: Outgoing): Promise<void> {
    if (this.#closed) throw new BusUnavailableError('tessera.live was closed');
    const message = { ...outgoing, h: this.#id } as HubMessage;
    const text = JSON.stringify(message);
    if (text.length > MAX_BUS_MESSAGE_BYTES / 3 && Buffer.byteLength(text) > MAX_BUS_MESSAGE_BYTES) {
      throw new LiveError(`the push is ${Buffer.byteLength(text)} bytes, over the ${MAX_BUS_MESSAGE_BYTES}-byte limit: push a smaller fragment`, { status: 413 });
    }
    this.#registry.apply(message);
    await this.#publish(text);
  }

  /** {@link HubTransport.send} for the core's hooks, which have nobody to reject: a failure is logged. */
  sendQuietly(outgoing: Outgoing): void {
    if (this.#closed) return;
    this.send(outgoing).catch((error: unknown) => {
      this.#logger.warn?.({ error: String(error) }, `tessera: live ${outgoing.op} not published to other processes`);
    });
  }

  async #publish(text: string): Promise<void> {
    try {
      void this.start().catch(() => {});
      await this.bus.publish(text);
    } catch (error) {
      if (error instanceof TesseraError) throw error;
      throw new BusUnavailableError(`the ${this.bus.name} bus could not take the push: ${String(error)}`, { cause: error });
    }
  }

  /**
   * Subscribe to the bus, once: a bus that cannot reach its service yet keeps trying by itself, so
   * a rejection means "not yet" (it is logged) and is never retried here — subscribing again
   * would deliver every message twice. Resolves when subscribed.
   */
  start(): Promise<void> {
    if (this.#subscribed === null) {
      this.#subscribed = this.bus.subscribe(this.#receive);
      this.#subscribed.catch((error: unknown) => {
        this.#logger.warn?.({ error: String(error) }, `tessera: the ${this.bus.name} bus is not subscribed yet (it keeps trying)`);
      });
    }
    return this.#subscribed;
  }

  #receive = (text: string): void => {
    let message: HubMessage;
    try {
      message = JSON.parse(text) as HubMessage;
    } catch {
      this.#logger.warn?.({}, 'tessera: an unreadable message on the live bus was ignored');
      return;
    }
    if (message === null || typeof message !== 'object' || message.h === this.#id) return;
    try {
      this.#registry.apply(message);
    } catch (error) {
      this.#logger.warn?.({ error: String(error) }, 'tessera: a live bus message could not be delivered');
    }
  };

  /** Whether {@link HubTransport.close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Stop sending and close the bus. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.bus.close();
  }
}
