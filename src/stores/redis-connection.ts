/**
 * The connection of {@link RedisStore}: the ioredis client (the app's, or one made from a URL with
 * fail-fast settings), calls refused at once while it is down or reconnecting, failures as
 * {@link StoreUnavailableError} (a Redis reply refusing the command as is passes unchanged), and
 * closing the client the store made.
 *
 * @module
 * @internal
 */
import type { Cluster, Redis } from 'ioredis';
import { within } from '../core/deadline.js';
import { ConfigError, StoreUnavailableError } from '../errors.js';
import { ioredisFor } from './peer.js';
import { quitWithin, SilenceWatch } from './redis-silence.js';

/** Client states in which a command could only wait or fail: refuse at once instead. */
const DOWN = new Set(['reconnecting', 'close', 'end', 'disconnecting']);
/** Redis replies that mean "not now" rather than "wrong command". */
const TRANSIENT_REPLY = /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|OOM|NOREPLICAS|MOVED|ASK)\b/;
/** The store's name, in the errors. */
const NAME = 'redis';

/**
 * A Redis client as the store uses it.
 *
 * @example
 * ```ts
 * const connection = new RedisConnection(undefined, 'redis://127.0.0.1:6379', 500);
 * const value = await connection.run(() => connection.client.get('tessera:s:key'));
 * await connection.close();
 * ```
 */
export class RedisConnection {
  /** The ioredis client in use (the app's, or the one made from `url`). */
  readonly client: Redis | Cluster;
  readonly #owned: boolean;
  #lastError: unknown = null;
  #closed = false;
  /** The client has been ready: from then on, calls are refused while it is not (see {@link RedisConnection.refuses}). */
  #wasReady = false;
  /** With a client the store made: ms a call may wait for the first connection, and `close` for `QUIT`. */
  readonly #timeout: number;
  /** The silence check of a client the store made; none for a client passed in. */
  readonly #silence: SilenceWatch | null = null;

  /**
   * Use `client`, or connect to `url` (a {@link ConfigError} unless `redis://` or `rediss://`)
   * with `timeout` (ms) for a connect, a command and a silent connection. Give exactly one.
   */
  constructor(client: Redis | Cluster | undefined, url: string | undefined, timeout: number) {
    if (client) {
      this.client = client;
      this.#owned = false;
    } else {
      // Loaded here, not at import, so apps using another store never load ioredis.
      const ioredis = ioredisFor(url, 'RedisStore');
      this.client = new ioredis.Redis(url!, {
        // A command sent while the first connection is being made waits for it; once a connection
        // fails, everything queued or in flight is rejected at once (maxRetriesPerRequest 0) and
        // later calls are refused while ioredis reconnects (see run).
        enableOfflineQueue: true,
        maxRetriesPerRequest: 0,
        connectTimeout: timeout,
        // No commandTimeout or socketTimeout: their timers fire before the socket is read, so
        // after the process stalled for longer than `timeout` they fail commands whose answers
        // have arrived, and drop a healthy connection. SilenceWatch does both jobs.
        retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
      });
      this.#owned = true;
      // Without a listener ioredis prints every connection error; keep the last as the cause.
      this.client.on('error', (error: unknown) => {
        this.#lastError = error;
      });
      this.client.on('ready', () => {
        this.#lastError = null;
      });
      this.#silence = new SilenceWatch(this.client, timeout);
    }
    this.#timeout = timeout;

    if (this.client.status === 'ready') this.#wasReady = true;
    else this.client.once('ready', () => (this.#wasReady = true));
  }

  /** Run one client call, refusing at once while disconnected and mapping failures to {@link StoreUnavailableError}. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    const status = this.client.status;
    if (status !== 'ready' && this.refuses(status)) throw this.down(status);
    this.watch();
    try {
      return await (status === 'ready' ? call() : this.whileConnecting(call()));
    } catch (error) {
      throw this.failure(error);
    }
  }

  /** Before a command is sent: arm the silence check of a client the store made (see {@link SilenceWatch}). */
  watch(): void {
    this.#silence?.watch();
  }

  /**
   * `reply` of a call made before the first connection is ready: it waits for that connection, up
   * to `timeout` (with a client the store made; a client passed in is left to its own settings).
   * Like ioredis's `commandTimeout`, this fails the call, not the command, which is still sent
   * once the connection is ready; like the silence check, it judges after sockets are read.
   */
  whileConnecting<T>(reply: Promise<T>): Promise<T> {
    if (!this.#owned) return reply;
    return within(reply, this.#timeout, () => this.down(this.client.status));
  }

  /**
   * Whether a call is refused at once with the client `status` (not `ready`): while it is down or
   * reconnecting, and, once it has been ready, until it is ready again (a command queued while a
   * new connection is made would wait up to `timeout`). Before the first connection is ready,
   * calls wait for it.
   */
  refuses(status: string): boolean {
    return DOWN.has(status) || this.#wasReady;
  }

  /** The error of a call refused because the client is `status`. */
  down(status: string): StoreUnavailableError {
    return new StoreUnavailableError(NAME, this.#lastError ?? new Error(`Redis connection is ${status}`));
  }

  /** What a failed call rejects with: a Redis reply refusing the command as is, anything else as {@link StoreUnavailableError}. */
  failure(error: unknown): unknown {
    if (error instanceof StoreUnavailableError) return error;
    const reply = error instanceof Error && error.name === 'ReplyError';
    if (reply && !TRANSIENT_REPLY.test(error.message)) return error;
    return new StoreUnavailableError(NAME, error);
  }

  /** A failed `GET`: a key of another type (`WRONGTYPE`, such as an old hash record) is no record; anything else as {@link RedisConnection.failure}. */
  readonly readFailed = (error: unknown): null => {
    if (error instanceof Error && error.name === 'ReplyError' && error.message.startsWith('WRONGTYPE')) return null;
    throw this.failure(error);
  };

  /** Close the client made from `url` (a client passed in stays open). Idempotent. */
  async close(): Promise<void> {
    if (!this.#owned || this.#closed) return;
    this.#closed = true;
    this.#silence?.stop();
    await quitWithin(this.client, this.#timeout);
  }
}
