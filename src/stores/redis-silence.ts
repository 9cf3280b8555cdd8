/**
 * The silence check of a Redis connection tessera made: a connection that stays silent for
 * `timeout` while commands wait for their answers is dropped, so ioredis fails those commands at
 * once and makes a new connection. It replaces ioredis's `commandTimeout` and `socketTimeout`,
 * whose timers fire before the socket is read: after the process stalled for longer than the
 * timeout (a long garbage collection, a starved CPU), they fail commands whose answers have
 * arrived, and drop a healthy connection.
 *
 * Redis answers a connection's commands in order, so silence is what a partition, a dead server
 * or a blocked one (a long script) looks like, and a command never waits behind answers that keep
 * coming. When the timer finds the connection silent for `timeout`, the verdict waits for the end
 * of that loop turn (`setImmediate`), after the sockets are read, and the connection is dropped
 * only if nothing was heard in between. One timer per connection while commands wait, not one
 * per command.
 *
 * @module
 * @internal
 */
import type { Cluster, Redis } from 'ioredis';
import { within } from '../core/deadline.js';

/**
 * Watches `client` (a `Redis` tessera made, with `maxRetriesPerRequest: 0` so that dropping the
 * connection fails what waits on it) for silence longer than `timeout` ms.
 *
 * @example
 * ```ts
 * const silence = new SilenceWatch(client, 500);
 * silence.watch(); // before each command
 * await client.get(key);
 * silence.stop(); // when closing
 * ```
 */
export class SilenceWatch {
  readonly #client: Redis;
  readonly #timeout: number;
  #stopped = false;
  /** When the connection was last heard from, or when commands started waiting on a quiet one (`performance.now()`). */
  #heardAt = 0;
  /** The armed check: its timer, or its judgement at the end of this loop turn. */
  #watchdog: ReturnType<typeof setTimeout> | undefined;
  #judgement: ReturnType<typeof setImmediate> | undefined;
  /** The `#heardAt` a pending judgement saw when the timer fired. */
  #judged = 0;
  /** A check found a connection being set up with nothing waiting (see {@link SilenceWatch.#idle}). */
  #quietSetUp = false;

  constructor(client: Redis, timeout: number) {
    this.#client = client;
    this.#timeout = timeout;
    // Each new connection: note when it is heard from, and time its handshake (AUTH, SELECT, the
    // INFO ready check), which no call arms while calls are refused during a reconnect; its
    // silence counts from now, not from the last connection's.
    client.on('connect', () => {
      client.stream.on('data', this.#heard);
      this.#heardAt = performance.now();
      this.#quietSetUp = false;
      this.#arm();
    });
  }

  /** Before a command is sent: arm the check (commands starting to wait on a quiet connection count their silence from now). */
  watch(): void {
    if (this.#client.commandQueue.length === 0) this.#heardAt = performance.now();
    this.#arm();
  }

  /** Stop watching (the client is being closed). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#watchdog);
    clearImmediate(this.#judgement);
    this.#watchdog = this.#judgement = undefined;
  }

  #arm(): void {
    if (this.#watchdog === undefined && this.#judgement === undefined && !this.#stopped) this.#watchdog = setTimeout(this.#check, this.#timeout).unref();
  }

  /**
   * Whether nothing waits for an answer. While a new connection is still being set up ('connect':
   * ioredis may retry its ready check later, when Redis is loading its data), the check is armed
   * again so the next handshake command is timed too (see {@link SilenceWatch.#check}).
   */
  #idle(): boolean {
    if (this.#client.commandQueue.length > 0) return false;
    if (this.#client.status === 'connect') {
      this.#quietSetUp = true;
      this.#arm();
    }
    return true;
  }

  /** The connection was heard from (a `data` event). */
  readonly #heard = (): void => {
    this.#heardAt = performance.now();
  };

  /**
   * The silence timer fired (timers phase). A connection quiet for less than `timeout` is checked
   * again when it could be; one quiet for longer is judged at the end of this loop turn, after a
   * poll of the sockets, and only if nothing was heard meanwhile (see {@link SilenceWatch.#judge}).
   */
  readonly #check = (): void => {
    this.#watchdog = undefined;
    if (this.#stopped || this.#idle()) return;
    if (this.#quietSetUp) {
      // A set-up command went out since the last check found nothing waiting: when, is not
      // known, so its silence counts from now.
      this.#quietSetUp = false;
      this.#heardAt = performance.now();
      this.#arm();
      return;
    }
    const silent = performance.now() - this.#heardAt;
    if (silent < this.#timeout) {
      this.#watchdog = setTimeout(this.#check, Math.ceil(this.#timeout - silent)).unref();
      return;
    }
    this.#judged = this.#heardAt;
    this.#judgement = setImmediate(this.#judge);
  };

  /**
   * After the sockets were read: drop the connection if it is still silent, with commands waiting.
   * Heard from since the timer fired (an answer read after a stall, or commands that started
   * waiting since), it is checked again later instead.
   */
  readonly #judge = (): void => {
    this.#judgement = undefined;
    const client = this.#client;
    if (this.#stopped || this.#idle()) return;
    if (this.#heardAt !== this.#judged) {
      const quiet = performance.now() - this.#heardAt;
      this.#watchdog = setTimeout(this.#check, Math.max(1, Math.ceil(this.#timeout - quiet))).unref();
      return;
    }
    const silent = Math.round(performance.now() - this.#heardAt);
    client.stream.destroy(new Error(`Redis sent nothing for ${silent} ms while commands waited (timeout ${this.#timeout} ms)`));
  };
}

/**
 * Close `client`: `QUIT` when it is up, so the server has let go when this resolves, but at most
 * `timeout` ms (judged after the sockets are read; a silent connection would never answer it),
 * then a hard disconnect that closes the socket at once (ioredis's own `disconnect` half-closes it
 * and keeps a two-second timer, which would hold the process open that long).
 *
 * @example
 * ```ts
 * await quitWithin(client, 500);
 * ```
 */
export async function quitWithin(client: Redis | Cluster, timeout: number): Promise<void> {
  if (client.status === 'ready') {
    const quit = client.quit().then(
      () => true,
      () => false,
    );
    const done = await within(quit, timeout, () => false).catch(() => false);
    if (done) return;
  }
  const stream = client.isCluster ? undefined : (client as Redis).stream;
  client.disconnect();
  stream?.destroy();
}
