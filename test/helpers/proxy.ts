/**
 * A TCP proxy in front of a real service, for fault tests:
 * - `drop()` cuts every connection and refuses new ones (the service looks down to the client:
 *   resets, refused connects), `restore()` lets them through again;
 * - `partition()` is a silent network partition: nothing is forwarded either way and nothing is
 *   closed — bytes sent are held, as a network that drops packets holds them in the sender's
 *   retransmissions — and new connections are accepted (the proxy is local, so a client's connect
 *   succeeds) but get no answer; `heal()` forwards what was held and goes on, as retransmissions
 *   do once the network is back. A connection a side closed meanwhile is closed on the other side
 *   at `heal()`.
 * The service itself keeps running, so data written before the fault is still there after.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket | null;
}

export class FaultProxy {
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  readonly #target: { host: string; port: number };
  #down = false;
  #partitioned = false;
  port = 0;

  private constructor(host: string, port: number) {
    this.#target = { host, port };
    this.#server = createServer((client) => {
      if (this.#down) {
        client.destroy();
        return;
      }
      const pair: Pair = { client, upstream: null };
      this.#pairs.add(pair);
      client.on('error', () => this.#cut(pair));
      client.on('close', () => {
        if (!this.#partitioned) this.#cut(pair);
      });
      if (this.#partitioned) client.pause();
      else this.#link(pair);
    });
  }

  /** Start a proxy to `url`'s host and port, on a free local port. */
  static async start(url: string): Promise<FaultProxy> {
    const { hostname, port } = new URL(url);
    const proxy = new FaultProxy(hostname, Number(port));
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.#server.address() as { port: number }).port;
    return proxy;
  }

  /** `url` with host and port replaced by the proxy's. */
  url(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  /** Open connections (each a client and its upstream). */
  get connections(): number {
    return this.#pairs.size;
  }

  /** Cut every open connection and refuse new ones. */
  drop(): void {
    this.#down = true;
    this.#partitioned = false;
    for (const pair of this.#pairs) this.#cut(pair);
  }

  /** Accept connections again. */
  restore(): void {
    this.#down = false;
  }

  /** Forward nothing, close nothing, answer nothing: a silent partition. */
  partition(): void {
    this.#partitioned = true;
    for (const { client, upstream } of this.#pairs) {
      client.unpipe();
      client.pause();
      if (upstream) {
        upstream.unpipe();
        upstream.pause();
      }
    }
  }

  /** End the partition: deliver what was held, connect the connections that waited, close what a side closed. */
  heal(): void {
    this.#partitioned = false;
    for (const pair of this.#pairs) {
      const { client, upstream } = pair;
      if (client.destroyed || upstream?.destroyed) this.#cut(pair);
      else if (upstream === null) this.#link(pair);
      else {
        client.pipe(upstream);
        upstream.pipe(client);
      }
    }
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #link(pair: Pair): void {
    const upstream = (pair.upstream = connect(this.#target));
    upstream.on('error', () => this.#cut(pair));
    upstream.on('close', () => {
      if (!this.#partitioned) this.#cut(pair);
    });
    pair.client.pipe(upstream);
    upstream.pipe(pair.client);
    pair.client.resume();
  }

  #cut(pair: Pair): void {
    this.#pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  }
}
