/**
 * The hub's heartbeat: every `heartbeat` ms, a ping on every open stream, tabs past their
 * reconnect window forgotten ({@link StreamRegistry.sweep}), and the sessions past their known
 * expiry checked with the store — ended when gone, extended when renewed.
 *
 * @module
 * @internal
 */
import type { StreamRegistry } from './registry.js';

/**
 * The timer and one pass of the hub's upkeep.
 *
 * @example
 * ```ts
 * const heartbeat = new Heartbeat(registry, (key) => backend.expiryByKey(key), options.heartbeat);
 * heartbeat.start(); // when the first stream is attached
 * await heartbeat.tick(); // what the timer runs
 * heartbeat.stop();
 * ```
 */
export class Heartbeat {
  readonly #registry: StreamRegistry;
  readonly #expiryOf: (key: string) => Promise<number | null | undefined>;
  readonly #interval: number;
  #timer: NodeJS.Timeout | null = null;
  #ticking = false;

  /** `expiryOf(key)`: the session's expiry now, `null` when it is gone, `undefined` when only a new request can tell. */
  constructor(registry: StreamRegistry, expiryOf: (key: string) => Promise<number | null | undefined>, interval: number) {
    this.#registry = registry;
    this.#expiryOf = expiryOf;
    this.#interval = interval;
  }

  /** Run {@link Heartbeat.tick} every `interval` ms from now on (once started, again does nothing); the timer keeps no process alive. */
  start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => this.tick(), this.#interval);
    this.#timer.unref();
  }

  /** Stop the timer. */
  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
  }

  /** One pass; a pass still running when the next is due makes that one do nothing. */
  async tick(): Promise<void> {
    // One pass at a time: a pass over many streams yields to the event loop, and may outlast the interval.
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      await this.#expire(await this.#registry.sweep());
    } finally {
      this.#ticking = false;
    }
  }

  /** Check with the store the sessions whose known expiry passed; end the streams of those gone. */
  async #expire(due: readonly string[]): Promise<void> {
    for (const key of due) {
      let expiresAt: number | null | undefined;
      try {
        expiresAt = await this.#expiryOf(key);
      } catch {
        continue; // The store is down: try again next time.
      }
      // Gone: told. Only the browser's newest cookie can tell (a sealed session): it reconnects with it.
      if (expiresAt === null) this.#registry.end(key, 'expired');
      else if (expiresAt === undefined) this.#registry.end(key, null);
      else this.#registry.extend(key, expiresAt);
    }
  }
}
