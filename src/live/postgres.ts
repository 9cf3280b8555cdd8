/**
 * The PostgreSQL bus: live pushes between processes over `LISTEN` / `NOTIFY`, through `pg`
 * (node-postgres, an optional peer dependency loaded when the first bus is made). No table, no
 * schema: a message longer than a NOTIFY payload may be (under 8000 bytes) is sent as several
 * notifications in one statement and put back together by every subscriber.
 *
 * @example
 * ```ts
 * import { PostgresBus } from 'tessera/live/postgres';
 * const bus = new PostgresBus({ connectionString: 'postgres://root@127.0.0.1:5432/test' });
 * await bus.subscribe((message) => console.log(message));
 * await bus.publish('hello'); // every process listening on `tessera_live` gets it, this one included
 * ```
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type * as Pg from 'pg';
import { BusUnavailableError, ConfigError } from '../errors.js';
import { loadPeer } from '../stores/peer.js';
import { timedQuery } from '../stores/postgres-query.js';
import type { LiveBus } from './bus.js';
import { deliverAll, within } from './bus.js';
import { Reassembler, splitMessage } from './postgres-chunks.js';

/**
 * Options of {@link PostgresBus}: a `pool`, or the settings of the pool the bus makes.
 *
 * @example
 * ```ts
 * const options: PostgresBusOptions = { connectionString: process.env.DATABASE_URL, channel: 'myapp_live' };
 * const bus = new PostgresBus(options);
 * ```
 */
export interface PostgresBusOptions {
  /**
   * A `pg.Pool` to use; the bus never ends it. It keeps one of the pool's connections for
   * listening (so the pool has one fewer for queries) and publishes through the others. Give the
   * pool a `connectionTimeoutMillis`, so a publish fails fast when the database cannot be reached.
   * Not together with `connectionString` or `poolConfig`.
   */
  pool?: Pg.Pool;
  /** `postgres://user:password@host:5432/database`. Without it and `pool`, pg reads `PGHOST`, `PGUSER`, ... */
  connectionString?: string;
  /** Further settings of the pool the bus makes (`max`, `ssl`, ...). Default `max` is 2. */
  poolConfig?: Pg.PoolConfig;
  /** The channel: letters, digits, `_`, `-`, `.` and `:`, at most 63 characters, case-sensitive. Default `tessera_live`. */
  channel?: string;
  /**
   * Milliseconds a connection may take to open and a publish to be answered before it fails with
   * {@link BusUnavailableError}, and that `subscribe` waits for the first `LISTEN` (it keeps trying
   * afterwards). Default 2000.
   */
  timeout?: number;
  /** The `application_name` of the listening connection (as `pg_stat_activity` shows it). Default `tessera-live`. */
  applicationName?: string;
  /** Called with errors of the listening connection and of idle pooled ones, for logging. The bus reconnects by itself. */
  onError?: (error: Error) => void;
}

const CHANNEL = /^[A-Za-z0-9_.:-]{1,63}$/;
/** Payloads per NOTIFY statement at most (a statement carries every message queued meanwhile). */
const BATCH = 1_000;
/** One publish: a notification per payload, in order, in one statement. */
const NOTIFY = { text: 'SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p' };
/** Reconnection delays of the listener: 100 ms doubling up to 5 s, with jitter. */
const backoff = (attempt: number): number => Math.min(100 * 2 ** attempt, 5_000) * (0.75 + Math.random() / 2);

/** A publish waiting for its statement. */
interface Pending {
  payloads: string[];
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * A {@link LiveBus} over PostgreSQL `LISTEN` / `NOTIFY`.
 *
 * - **Delivery:** every bus on the same database and `channel` gets every message once, in each
 *   publisher's order, the publishing bus included (a notification goes to every listening
 *   connection, the sender's too). Messages of any size and content, NUL included: a message over
 *   about 7.8 KB (or holding NUL) goes as several notifications in one statement, reassembled by
 *   each subscriber, so it arrives whole or, when the listener drops in the middle, not at all.
 * - **Publishing:** `pg_notify` through the pool. Publishes are sent one statement at a time, in
 *   order; those made while a statement runs go together in the next one.
 * - **Listening:** one connection of the pool is kept for `LISTEN` once `subscribe` is called.
 *   When it drops, the bus connects and listens again by itself (100 ms, doubling up to 5 s).
 * - **Outages:** `publish` rejects with {@link BusUnavailableError} when the database cannot be
 *   reached — at once while the listener's last attempt to reconnect failed, otherwise after at
 *   most `timeout`. Nothing is queued for later.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { PostgresBus } from 'tessera/live/postgres';
 *
 * const bus = new PostgresBus({ connectionString: process.env.DATABASE_URL, channel: 'myapp_live' });
 * // Or on the app's pool, which the bus will not end:
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 2_000 });
 * const shared = new PostgresBus({ pool });
 * ```
 */
export class PostgresBus implements LiveBus {
  readonly name = 'postgres';
  /** The channel the bus notifies and listens on. */
  readonly channel: string;
  readonly #pool: Pg.Pool;
  readonly #owned: boolean;
  readonly #timeout: number;
  readonly #applicationName: string;
  readonly #onError: (error: Error) => void;
  /** This bus's ID in its payloads (see postgres-chunks.ts). */
  readonly #id = randomBytes(8).toString('base64url');
  #seq = 0;
  readonly #queue: Pending[] = [];
  #flushing: Promise<void> | null = null;
  readonly #delivers = new Set<(message: string) => void>();
  readonly #reassembler = new Reassembler();
  #listener: Pg.PoolClient | null = null;
  #subscribed: Promise<void> | null = null;
  #onListening: (() => void) | null = null;
  #retry: NodeJS.Timeout | null = null;
  #attempt = 0;
  /** Whether the listener's last attempt to connect failed: the database is taken to be unreachable. */
  #unreachable = false;
  #lastError: unknown = null;
  #closed = false;

  constructor(options: PostgresBusOptions = {}) {
    this.channel = options.channel ?? 'tessera_live';
    if (typeof this.channel !== 'string' || !CHANNEL.test(this.channel)) {
      throw new ConfigError('PostgresBus channel must be 1 to 63 letters, digits, `_`, `-`, `.` or `:`');
    }
    this.#timeout = options.timeout ?? 2_000;
    if (!Number.isInteger(this.#timeout) || this.#timeout < 1) throw new ConfigError('PostgresBus timeout must be a positive integer (milliseconds)');
    this.#applicationName = options.applicationName ?? 'tessera-live';
    if (!/^[ -~]{1,63}$/.test(this.#applicationName)) throw new ConfigError('PostgresBus applicationName must be 1 to 63 printable ASCII characters');
    const onError = options.onError;
    this.#onError = (error) => {
      this.#lastError = error;
      try {
        onError?.(error);
      } catch {
        // A failing log callback must not become an uncaught exception.
      }
    };
    if (options.pool) {
      if (options.connectionString !== undefined || options.poolConfig !== undefined) {
        throw new ConfigError('PostgresBus takes either `pool` or `connectionString`/`poolConfig`, not both');
      }
      this.#pool = options.pool;
      this.#owned = false;
    } else {
      // Loaded here, not at import, so apps using another bus never load pg.
      const pg = loadPeer<typeof Pg>('pg', 'PostgresBus');
      this.#pool = new pg.Pool({
        max: 2,
        fallback_application_name: 'tessera',
        connectionTimeoutMillis: this.#timeout,
        keepAlive: true,
        allowExitOnIdle: true,
        ...options.poolConfig,
        ...(options.connectionString === undefined ? {} : { connectionString: options.connectionString }),
      });
      this.#owned = true;
    }
    // An idle pooled connection that breaks makes the pool emit 'error'; unhandled, it would crash.
    this.#pool.on('error', this.#onError);
  }

  /**
   * Start delivering the channel's messages to `deliver` (further calls add further receivers).
   * Resolves once the listening connection ran `LISTEN`; rejects with {@link BusUnavailableError}
   * when that takes longer than `timeout` — the bus still keeps trying, and delivery starts by
   * itself once the database is reachable.
   *
   * @example
   * ```ts
   * await bus.subscribe((message) => hub.receive(message));
   * ```
   */
  async subscribe(deliver: (message: string) => void): Promise<void> {
    if (this.#closed) throw new BusUnavailableError('the PostgreSQL bus was closed');
    this.#delivers.add(deliver);
    if (!this.#subscribed) {
      this.#subscribed = new Promise<void>((resolve) => {
        this.#onListening = resolve;
      });
      void this.#listen();
    }
    await within(this.#subscribed, this.#timeout, () => this.#unavailable(`could not listen within ${this.#timeout} ms (still trying)`));
  }

  /**
   * Notify every bus on the channel of `message` (`pg_notify`, in one or more payloads). Rejects
   * with {@link BusUnavailableError} when the database cannot take it (unreachable, timed out,
   * closed bus).
   *
   * @example
   * ```ts
   * await bus.publish(JSON.stringify({ to: sessionKey, event: { type: 'reload' } }));
   * ```
   */
  publish(message: string): Promise<void> {
    if (typeof message !== 'string') return Promise.reject(new TypeError('PostgresBus.publish takes a string'));
    if (this.#closed) return Promise.reject(new BusUnavailableError('the PostgreSQL bus was closed'));
    if (this.#unreachable) return Promise.reject(this.#unavailable('the database cannot be reached (reconnecting)'));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ payloads: splitMessage(message, this.#id, this.#seq++), resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  /**
   * Stop delivering, close the listening connection, and end the pool the bus made (a pool you
   * gave stays open). Publishes already made are sent first. Idempotent; `publish` then rejects
   * with {@link BusUnavailableError}.
   *
   * @example
   * ```ts
   * process.on('SIGTERM', () => void bus.close());
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#delivers.clear();
    if (this.#retry) clearTimeout(this.#retry);
    const listener = this.#listener;
    this.#listener = null;
    // Destroyed, not returned to the pool: it is still listening.
    listener?.release(true);
    await this.#flushing;
    if (this.#owned) await this.#pool.end();
    this.#pool.off('error', this.#onError);
  }

  /** Send the queued publishes, one statement at a time, in order. */
  async #flush(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch: Pending[] = [];
      let payloads: string[] = [];
      while (this.#queue.length > 0 && (batch.length === 0 || payloads.length + this.#queue[0]!.payloads.length <= BATCH)) {
        const next = this.#queue.shift()!;
        batch.push(next);
        payloads = payloads.concat(next.payloads);
      }
      try {
        // unnest yields the array in order, and PostgreSQL delivers a transaction's notifications in the order they were sent.
        // Timed by timedQuery, not pg's query_timeout: an answer that came while the process
        // was busy for longer than the timeout is still taken as a success.
        await timedQuery(this.#pool, NOTIFY, [this.channel, payloads], this.#timeout);
        for (const p of batch) p.resolve();
      } catch (error) {
        const failure = this.#unavailable('publish failed', error);
        for (const p of batch) p.reject(failure);
      }
    }
    this.#flushing = null;
  }

  /** Connect the listener and `LISTEN`; on failure, or when it drops later, try again after a backoff. */
  async #listen(): Promise<void> {
    this.#retry = null;
    if (this.#closed) return;
    let client: Pg.PoolClient | null = null;
    try {
      client = await this.#pool.connect();
      client.on('error', (error) => this.#dropped(client!, error));
      client.on('end', () => this.#dropped(client!, new Error('the listening connection ended')));
      client.on('notification', (n) => this.#notified(n));
      if (this.#closed) throw new Error('closed');
      await client.query(`SET application_name = '${this.#applicationName.replaceAll("'", "''")}'`);
      await client.query(`LISTEN "${this.channel}"`);
    } catch (error) {
      if (client) client.release(true);
      if (this.#closed) return;
      this.#unreachable = true;
      this.#onError(error instanceof Error ? error : new Error(String(error)));
      this.#retry = setTimeout(() => void this.#listen(), backoff(this.#attempt++));
      this.#retry.unref();
      return;
    }
    this.#listener = client;
    this.#attempt = 0;
    this.#unreachable = false;
    this.#lastError = null;
    this.#onListening?.();
  }

  /** The listening connection failed: forget it and any message half received, and listen again. */
  #dropped(client: Pg.PoolClient, error: Error): void {
    if (this.#listener !== client) return;
    this.#listener = null;
    this.#reassembler.clear();
    client.release(true);
    if (this.#closed) return;
    this.#onError(error);
    this.#retry = setTimeout(() => void this.#listen(), backoff(this.#attempt++));
    this.#retry.unref();
  }

  #notified({ channel, payload }: Pg.Notification): void {
    if (this.#closed || channel !== this.channel || payload === undefined) return;
    const message = this.#reassembler.add(payload);
    if (message !== null) deliverAll(this.#delivers, message);
  }

  #unavailable(why: string, cause?: unknown): BusUnavailableError {
    return new BusUnavailableError(`the PostgreSQL bus is unavailable: ${why}`, { cause: cause ?? this.#lastError ?? undefined });
  }
}
