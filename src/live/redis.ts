/**
 * The Redis bus: live pushes between processes over Redis pub/sub, through `ioredis` (an optional
 * peer dependency, loaded when the first bus is made). On a Redis Cluster it uses sharded pub/sub
 * (`SPUBLISH` / `SSUBSCRIBE`, Redis 7 or later), so a message goes to the one shard that owns the
 * channel instead of to every node.
 *
 * @example
 * ```ts
 * import { RedisBus } from 'tessera/live/redis';
 * const bus = new RedisBus({ url: 'redis://127.0.0.1:6379' });
 * await bus.subscribe((message) => console.log(message));
 * await bus.publish('hello'); // every process subscribed to `tessera:live` gets it, this one included
 * ```
 *
 * @module
 */
import type { Cluster, Redis } from 'ioredis';
import { afterPoll } from '../core/deadline.js';
import { BusUnavailableError, ConfigError } from '../errors.js';
import { ioredisFor } from '../stores/peer.js';
import { quitWithin, SilenceWatch } from '../stores/redis-silence.js';
import type { LiveBus } from './bus.js';
import { deliverAll, within } from './bus.js';

/**
 * Options of {@link RedisBus}: give either `client` or `url`.
 *
 * @example
 * ```ts
 * const options: RedisBusOptions = { url: 'redis://127.0.0.1:6379', channel: 'myapp:live', timeout: 1_000 };
 * const bus = new RedisBus(options);
 * ```
 */
export interface RedisBusOptions {
  /**
   * An ioredis `Redis` or `Cluster` client to publish with; the bus does not close it. The bus
   * makes its own subscriber connection(s) from it with `duplicate()` (a subscribed connection
   * cannot publish). With a `Cluster`, the bus uses sharded pub/sub. For a publish that is in
   * flight when a connection drops to fail fast too, give the client a `commandTimeout` and
   * `maxRetriesPerRequest: 0` (a `Cluster`: in `redisOptions`).
   */
  client?: Redis | Cluster;
  /** Connect to this URL (`redis://` or `rediss://`) with fail-fast settings; the bus closes its connections. */
  url?: string;
  /** The pub/sub channel: every bus on the same Redis and channel hears the others. Default `tessera:live`. */
  channel?: string;
  /**
   * Milliseconds a connect may take and a connection may stay silent while a command waits (with
   * `url`: a publish, a connection's set-up or a `SUBSCRIBE`; the connection is then dropped and
   * made again, and a publish rejects), that `close` waits for `QUIT`, and that `subscribe` waits
   * for the first subscription before it rejects (it keeps trying in the background). Default 2000.
   */
  timeout?: number;
  /** The name the bus's own connections show in `CLIENT LIST`. Default `tessera-live`. */
  connectionName?: string;
}

/** Client states in which a publish could only wait or fail: refuse at once instead. */
const DOWN = new Set(['reconnecting', 'close', 'end', 'disconnecting']);

/** The subscriber's reconnection delays: 100 ms, 200 ms, ... up to 2 s, for ever. */
const retryForever = (attempt: number): number => Math.min(attempt * 100, 2_000);

/**
 * A {@link LiveBus} over Redis pub/sub (sharded pub/sub on a Cluster).
 *
 * - **Delivery:** every bus on the same Redis (or Cluster) and `channel` gets every message once,
 *   in each publisher's order, the publishing bus included. Messages are Redis strings, so any
 *   size up to Redis's 512 MB, any content.
 * - **Connections:** one to publish (yours, or one made from `url`) and, once `subscribe` is
 *   called, a subscriber made with `duplicate()` (on a Cluster, ioredis's sharded subscriber, which
 *   connects to the node owning the channel's slot and follows it when the slot moves).
 * - **Outages:** while the publishing connection is down, `publish` rejects at once with
 *   {@link BusUnavailableError} (nothing is queued for later). The subscriber reconnects by itself
 *   and subscribes again; messages published meanwhile are lost, as with any pub/sub.
 * - **`close`:** ends the subscription and the connections the bus made; a client you gave stays open.
 *
 * @example
 * ```ts
 * import { Cluster } from 'ioredis';
 * import { RedisBus } from 'tessera/live/redis';
 *
 * const bus = new RedisBus({ url: process.env.REDIS_URL!, channel: 'myapp:live' });
 * // On a Redis Cluster (sharded pub/sub), with a client of your own that the bus will not close:
 * const cluster = new Cluster([{ host: 'redis-1', port: 6379 }], { redisOptions: { commandTimeout: 2_000 } });
 * const clusterBus = new RedisBus({ client: cluster });
 * ```
 */
export class RedisBus implements LiveBus {
  readonly name = 'redis';
  /** The channel the bus publishes on and listens to. */
  readonly channel: string;
  /** The client the bus publishes with (yours, or the one made from `url`). */
  readonly client: Redis | Cluster;
  readonly #owned: boolean;
  readonly #timeout: number;
  readonly #connectionName: string;
  readonly #delivers = new Set<(message: string) => void>();
  #subscriber: Redis | Cluster | null = null;
  /** Settles when the channel is first subscribed; `subscribe` waits for it (up to `timeout`). */
  #subscribed: Promise<void> | null = null;
  #lastError: unknown = null;
  #closed = false;
  /** The silence check of the client made from `url` (see {@link SilenceWatch}); none for a client passed in. */
  #silence: SilenceWatch | null = null;
  /** The same for the subscriber made from it (its handshake and its SUBSCRIBE). */
  #subscriberSilence: SilenceWatch | null = null;

  constructor(options: RedisBusOptions) {
    const { client, url } = options;
    if ((client === undefined) === (url === undefined)) throw new ConfigError('RedisBus needs exactly one of `client` or `url`');
    this.channel = options.channel ?? 'tessera:live';
    if (typeof this.channel !== 'string' || this.channel === '') throw new ConfigError('RedisBus channel must be a non-empty string');
    this.#timeout = options.timeout ?? 2_000;
    if (!Number.isInteger(this.#timeout) || this.#timeout < 1) throw new ConfigError('RedisBus timeout must be a positive integer (milliseconds)');
    this.#connectionName = options.connectionName ?? 'tessera-live';
    if (!/^[!-~]+$/.test(this.#connectionName)) throw new ConfigError('RedisBus connectionName must be printable ASCII without spaces');
    if (client) {
      this.client = client;
      this.#owned = false;
      return;
    }
    // Loaded here, not at import, so apps using another bus never load ioredis.
    const ioredis = ioredisFor(url, 'RedisBus');
    this.client = new ioredis.Redis(url!, {
      // A publish is sent only on a ready connection (see #ready); once a connection fails, what
      // is in flight is rejected at once: nothing is delivered late.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: this.#timeout,
      // No commandTimeout: its timer fires before the socket is read, and after a stall would
      // fail publishes that were delivered. SilenceWatch drops a connection silent for `timeout`.
      connectionName: this.#connectionName,
      retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
    });
    this.#owned = true;
    this.#silence = new SilenceWatch(this.client, this.#timeout);
    this.#watch(this.client);
  }

  /**
   * Start delivering the channel's messages to `deliver` (further calls add further receivers).
   * Resolves once Redis confirmed the subscription; rejects with {@link BusUnavailableError} when
   * that takes longer than `timeout` — the bus still keeps trying, and delivery starts by itself
   * once Redis is reachable.
   *
   * @example
   * ```ts
   * await bus.subscribe((message) => hub.receive(message));
   * ```
   */
  async subscribe(deliver: (message: string) => void): Promise<void> {
    if (this.#closed) throw new BusUnavailableError('the Redis bus was closed');
    this.#delivers.add(deliver);
    this.#subscribed ??= this.client.isCluster ? this.#subscribeSharded(this.client as Cluster) : this.#subscribePlain(this.client as Redis);
    await within(this.#subscribed, this.#timeout, () => this.#unavailable(`could not subscribe within ${this.#timeout} ms (still trying)`));
  }

  /**
   * Publish `message` to every bus on the channel (`PUBLISH`; `SPUBLISH` on a Cluster). Rejects
   * with {@link BusUnavailableError} when Redis cannot take it (disconnected, timed out, closed bus).
   *
   * @example
   * ```ts
   * await bus.publish(JSON.stringify({ to: sessionKey, event: { type: 'reload' } }));
   * ```
   */
  async publish(message: string): Promise<void> {
    if (typeof message !== 'string') throw new TypeError('RedisBus.publish takes a string');
    if (this.#closed) throw new BusUnavailableError('the Redis bus was closed');
    await this.#ready();
    this.#silence?.watch();
    try {
      if (this.client.isCluster) await this.client.spublish(this.channel, message);
      else await this.client.publish(this.channel, message);
    } catch (error) {
      throw this.#unavailable('publish failed', error);
    }
  }

  /**
   * Stop delivering, end the subscriber connection(s) and the connection made from `url` (a client
   * you gave stays open). Idempotent; `publish` then rejects with {@link BusUnavailableError}.
   *
   * @example
   * ```ts
   * process.on('SIGTERM', () => void bus.close());
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#silence?.stop();
    this.#subscriberSilence?.stop();
    this.#delivers.clear();
    await Promise.all([this.#subscriber && quitWithin(this.#subscriber, this.#timeout), this.#owned && quitWithin(this.client, this.#timeout)]);
  }

  /**
   * Wait until the publishing client is connected: at once when it is, up to `timeout` while it
   * makes its first connection, and not at all (refused) while it is reconnecting. A publish is
   * never left in ioredis's offline queue, to go out late.
   */
  async #ready(): Promise<void> {
    const client = this.client;
    if (client.status === 'ready') return;
    if (DOWN.has(client.status)) throw this.#unavailable(`the Redis connection is ${client.status}`);
    if (client.status === 'wait') client.connect().catch(() => {}); // lazyConnect: the error is reported below
    let timer: NodeJS.Timeout | undefined;
    let ready: (() => void) | undefined;
    let failed: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        ready = resolve;
        // The first connection failed (ioredis now waits to try again): refuse now, not at the timeout.
        failed = () => reject(this.#unavailable('could not connect'));
        client.once('ready', ready);
        client.once('reconnecting', failed);
        client.once('end', failed);
        // Judged after the sockets are read: a 'ready' that came during a stall still counts.
        timer = setTimeout(afterPoll, this.#timeout, () => reject(this.#unavailable(`not connected within ${this.#timeout} ms`)));
      });
    } finally {
      clearTimeout(timer);
      client.off('ready', ready!);
      client.off('reconnecting', failed!);
      client.off('end', failed!);
    }
    if (this.#closed) throw new BusUnavailableError('the Redis bus was closed');
  }

  /** A plain Redis: a duplicate that subscribes again on every (re)connection. */
  #subscribePlain(client: Redis): Promise<void> {
    const sub = client.duplicate({
      connectionName: this.#connectionName,
      lazyConnect: false,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      // Subscribed here on every 'ready' instead, so a subscription refused while connecting is tried again too.
      autoResubscribe: false,
      retryStrategy: retryForever,
    });
    this.#subscriber = sub;
    this.#watch(sub);
    // A subscriber made from the bus's own client is watched like it: a new connection that stays
    // silent is dropped and made again (a client passed in brings its own settings to its duplicate).
    const silence = this.#owned ? new SilenceWatch(sub, this.#timeout) : null;
    this.#subscriberSilence = silence;
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.#deliver(message);
    });
    return new Promise<void>((resolve) => {
      sub.on('ready', () => {
        silence?.watch();
        sub.subscribe(this.channel).then(
          () => resolve(),
          (error: unknown) => {
            // The connection dropped again: the next 'ready' subscribes.
            this.#lastError = error;
          },
        );
      });
    });
  }

  /** A Cluster: ioredis's sharded subscriber (one connection to the node owning the channel's slot). */
  #subscribeSharded(client: Cluster): Promise<void> {
    const sub = client.duplicate([], {
      shardedSubscribers: true,
      lazyConnect: false,
      enableOfflineQueue: true,
      clusterRetryStrategy: retryForever,
      redisOptions: { ...client.options.redisOptions, connectionName: this.#connectionName },
    });
    this.#subscriber = sub;
    this.#watch(sub);
    // ioredis puts the client's keyPrefix in front of a shard channel (a key, to Redis), both
    // ways, and hands it back with the message.
    const shardChannel = `${client.options.keyPrefix ?? ''}${this.channel}`;
    sub.on('smessage', (channel: string, message: string) => {
      if (channel === shardChannel) this.#deliver(message);
    });
    return new Promise<void>((resolve) => {
      // ioredis remembers the channel and subscribes again whenever its subscriber reconnects or
      // the slot moves; the first SSUBSCRIBE needs the slot map, which 'ready' guarantees.
      const first = (): void => {
        sub.ssubscribe(this.channel).then(
          () => resolve(),
          (error: unknown) => {
            this.#lastError = error;
            if (!this.#closed) setTimeout(first, 200).unref();
          },
        );
      };
      if (sub.status === 'ready') first();
      else sub.once('ready', first);
    });
  }

  #deliver(message: string): void {
    if (!this.#closed) deliverAll(this.#delivers, message);
  }

  /** Keep a connection's last error as the cause of the next refusal (and stop ioredis printing each one). */
  #watch(client: Redis | Cluster): void {
    client.on('error', (error: unknown) => {
      this.#lastError = error;
    });
    client.on('ready', () => {
      this.#lastError = null;
    });
  }

  #unavailable(why: string, cause?: unknown): BusUnavailableError {
    return new BusUnavailableError(`the Redis bus is unavailable: ${why}`, { cause: cause ?? this.#lastError ?? undefined });
  }
}
