/**
 * A TCP proxy in front of a real service, for fault tests: `drop()` cuts every connection and
 * refuses new ones (the service looks down to the client), `restore()` lets them through again.
 * The service itself keeps running, so data written before the fault is still there after.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class FaultProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #down = false;
  port = 0;

  private constructor(targetHost: string, targetPort: number) {
    this.#server = createServer((client) => {
      if (this.#down) {
        client.destroy();
        return;
      }
      const upstream = connect({ host: targetHost, port: targetPort });
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
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

  /** Cut every open connection and refuse new ones. */
  drop(): void {
    this.#down = true;
    for (const s of this.#sockets) s.destroy();
  }

  /** Accept connections again. */
  restore(): void {
    this.#down = false;
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
