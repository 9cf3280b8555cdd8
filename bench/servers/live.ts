/**
 * The live bench's server: node:http + `nodeSessions(tessera).wrap` with live tabs on, holding the
 * streams the load generators open (see bench/lib/live.ts). Run with `--expose-gc`: memory is read
 * after a forced GC.
 *
 * Arguments: `--sessions=N` sessions to make (one per stream, made up front with
 * `tessera.create`, so the memory measured around the streams' opening is the streams' own);
 * `--channel=NAME` the RedisBus channel of this run; `--bus=redis|local`.
 *
 * @module
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createTessera } from '../../src/index.js';
import { nodeSessions } from '../../src/adapters/node.js';
import { LocalBus, type LiveBus } from '../../src/live/bus.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { redisBus } from '../lib/live-bus.js';
import { BROADCAST_EVENT, LIVE_BENCH_SECRET, type MemorySnapshot, type ServerMessage, type ToServer } from '../lib/live-protocol.js';

function args(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const arg of process.argv.slice(2)) {
    const m = /^--([^=]+)=(.*)$/.exec(arg);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

function send(message: ServerMessage): void {
  process.send?.(message);
}

/** Memory after a full GC (twice: the first may leave weak and finalised objects for the second). */
function memoryNow(): MemorySnapshot {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run the live bench server with --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('bench/servers/live.ts is started by the live bench (npm run bench -- --live)');
  const a = args();
  const count = Number(a.sessions ?? '0');
  if (!Number.isInteger(count) || count < 1) throw new Error(`--sessions must be a positive integer, not ${a.sessions}`);
  let bus: LiveBus = new LocalBus();
  let busNote = 'LocalBus';
  if (a.bus === 'redis') {
    const made = await redisBus(a.channel ?? `tessera_bench_${process.pid}:live`);
    if ('bus' in made) {
      bus = made.bus;
      busNote = `RedisBus, channel ${a.channel}`;
    } else busNote = `LocalBus (${made.reason})`;
  }
  const tessera = createTessera({ secrets: [LIVE_BENCH_SECRET], store: new MemoryStore({ maxEntries: count + 1_000 }), cookie: { secure: false }, live: { bus } });
  const sessions = nodeSessions(tessera);
  const server = createServer(
    sessions.wrap((_req, res) => {
      res.statusCode = 404;
      res.end();
    }),
  );
  // The hub subscribes on the first stream; subscribe now, so the first push is not racing it.
  await tessera.live.start();

  const made: { cookie: string; handle: string }[] = [];
  for (let i = 0; i < count; i++) {
    const { cookie, session } = await tessera.create({ data: { n: i } });
    made.push({ cookie: `${tessera.cookieName}=${cookie}`, handle: session.handle });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve);
  });

  process.on('message', (message: ToServer) => {
    if (message.type === 'measure') {
      const memory = memoryNow();
      send({ type: 'measured', memory, streams: tessera.live.streams, sessions: tessera.live.sessions });
    } else if (message.type === 'broadcast') {
      const cpu = process.cpuUsage();
      const t = process.hrtime.bigint().toString();
      const started = performance.now();
      const sent = tessera.live.broadcastAll({ type: 'event', name: BROADCAST_EVENT, detail: { t, r: message.round } });
      // Delivered here synchronously; the responses' corked writes go out on the next tick.
      const callMs = performance.now() - started;
      setImmediate(() => {
        const spent = process.cpuUsage(cpu);
        const flushMs = performance.now() - started;
        sent.then(
          () => send({ type: 'broadcasted', round: message.round, callMs, flushMs, cpuMs: (spent.user + spent.system) / 1000 }),
          (error: unknown) => send({ type: 'failed', error: `broadcastAll: ${String(error)}` }),
        );
      });
    }
  });
  process.on('SIGINT', () => {});
  process.on('disconnect', () => {
    server.closeAllConnections();
    server.close();
    void tessera.close().finally(() => process.exit(0));
  });

  send({
    type: 'ready',
    port: (server.address() as AddressInfo).port,
    sessions: made.splice(0),
    bus: bus instanceof LocalBus ? 'local' : 'redis',
    busNote,
    description: `node:http + nodeSessions(createTessera({ store: MemoryStore, live: { bus: ${busNote} } })).wrap, one session per stream`,
  });
}

main().catch((error: unknown) => {
  send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
});
