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
import { ConfigError, StoreUnavailableError } from '../errors.js';
import { ioredisFor } from './peer.js';
import { requireFromTessera } from './peer-require.js';

/**
 * Whether the installed ioredis has a working `socketTimeout`: 5.4.2 or later (5.4.0 and 5.4.1
 * could time out connections that were answering, and reconnect in a loop: ioredis #1919). An
 * unreadable version is taken as recent.
 */
function socketTimeoutWorks(): boolean {
  try {
    const { version } = requireFromTessera('ioredis/package.json') as { version?: string };
    const [major = NaN, minor = NaN, patch = NaN] = String(version).split('.').map((n) => parseInt(n, 10));
    if ([major, minor, patch].some(Number.isNaN)) return true;
    return major > 5 || (major === 5 && (minor > 4 || (minor === 4 && patch >= 2)));
  } catch {
    return true;
  }
}

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
        commandTimeout: timeout,
        // A connection silent for `timeout` while a command waits is dropped (and made again): in
        // a silent partition it would otherwise stay "ready", and every call would wait it out.
        // ioredis before 5.4.2 could drop healthy connections with it, over and over (#1919).
        ...(socketTimeoutWorks() ? { socketTimeout: timeout } : {}),
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
    }

    if (this.client.status === 'ready') this.#wasReady = true;
    else this.client.once('ready', () => (this.#wasReady = true));
  }

  /** Run one client call, refusing at once while disconnected and mapping failures to {@link StoreUnavailableError}. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    const status = this.client.status;
    if (status !== 'ready' && this.refuses(status)) throw this.down(status);
    try {
      return await call();
    } catch (error) {
      throw this.failure(error);
    }
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
    if (this.client.status === 'ready') {
      try {
        await this.client.quit();
        return;
      } catch {
        // fall through to a hard disconnect
      }
    }
    this.client.disconnect();
  }
}
