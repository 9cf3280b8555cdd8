/**
 * The child side of the bench: every server under test is a small module that calls
 * {@link serveBench} with a set-up function returning its request handler. This file owns the
 * node:http server, the IPC protocol (see ./protocol.ts) and the CPU / event-loop accounting, so a
 * new scenario's server is only its handler.
 *
 * @module
 */
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { ChildMessage, ParentMessage } from './protocol.js';

/** What a server module's set-up returns. */
export interface BenchServerSetup {
  /** The request handler under test. It is given to `http.createServer` as is: nothing wraps it. */
  handler: RequestListener;
  /** Headers the load generator sends; connection `i` uses `headerSets[i % length]`. */
  headerSets?: Record<string, string>[];
  /**
   * The load generator keeps each response's `Set-Cookie` and sends it back with the connection's
   * next request, as a browser would (for sessions sealed in the cookie, which change it on every
   * write). A response without one is counted, and makes the figures invalid.
   */
  followCookies?: boolean;
  /** One line for the report (for example the store and its options). */
  description?: string;
  /** Release resources (stores, connections) when the bench ends. */
  close?: () => unknown;
}

/** What a server module's set-up receives. */
export interface BenchServerContext {
  /** `--name=value` arguments from the scenario table (a bare `--flag` is `'true'`). */
  readonly args: Readonly<Record<string, string>>;
  /** Connections the load generator opens, for servers that hand out one session per connection. */
  readonly connections: number;
  /**
   * Count a request that did not take the measured path (a session not found, a value missing).
   * Call it only on the unexpected branch, so the measured path pays nothing for it.
   */
  anomaly(): void;
}

/**
 * A bench server's `--name=value` arguments (`--name` alone is `'true'`), as the harness passes them.
 *
 * @example
 * ```ts
 * const { store = 'sqlite' } = serverArgs();
 * ```
 */
export function serverArgs(argv: readonly string[] = process.argv.slice(2)): Record<string, string> {
  const out: Record<string, string> = {};
  for (const arg of argv) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(arg);
    if (m) out[m[1]!] = m[2] ?? 'true';
  }
  return out;
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

/**
 * Run a server under test in this (child) process and talk to the bench over IPC.
 *
 * @example
 * ```ts
 * // bench/servers/bare.ts
 * import { serveBench } from '../lib/serve.js';
 * serveBench(() => ({ handler: (_req, res) => res.end('hello') }));
 * ```
 */
export function serveBench(setup: (ctx: BenchServerContext) => BenchServerSetup | Promise<BenchServerSetup>): void {
  if (!process.send) {
    console.error('bench server modules are started by `npm run bench`, not directly');
    process.exit(2);
  }
  let anomalies = 0;
  const ctx: BenchServerContext = {
    args: serverArgs(),
    connections: Number(process.env.BENCH_CONNECTIONS ?? 10),
    anomaly: () => {
      anomalies++;
    },
  };

  void (async () => {
    const built = await setup(ctx);
    const server = createServer(built.handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });

    let cpu: NodeJS.CpuUsage | null = null;
    let elu: EventLoopUtilization | null = null;
    process.on('message', (message: ParentMessage) => {
      if (message.type === 'begin') {
        anomalies = 0;
        elu = performance.eventLoopUtilization();
        cpu = process.cpuUsage();
        send({ type: 'begun' });
      } else if (message.type === 'end') {
        const spent = process.cpuUsage(cpu ?? undefined);
        const loop = performance.eventLoopUtilization(elu ?? undefined);
        send({ type: 'stats', cpuMicros: spent.user + spent.system, elu: loop.utilization, anomalies });
      }
    });
    // Ctrl-C reaches the whole process group: let the bench stop us (below), after our clean-up.
    process.on('SIGINT', () => {});
    // The bench went away (finished, crashed or interrupted): never outlive it.
    process.on('disconnect', () => {
      server.close();
      server.closeAllConnections();
      void Promise.resolve(built.close?.()).finally(() => process.exit(0));
    });

    const ready: ChildMessage = {
      type: 'ready',
      port: (server.address() as AddressInfo).port,
      headerSets: built.headerSets ?? [],
    };
    if (built.description !== undefined) ready.description = built.description;
    if (built.followCookies) ready.followCookies = true;
    send(ready);
  })().catch((error: unknown) => {
    send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  });
}
