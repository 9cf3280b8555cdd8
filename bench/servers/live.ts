/**
 * The live bench's server: node:http + `nodeSessions(tessera).wrap` with live tabs on, holding the
 * streams the load generators open (see bench/lib/live.ts). Run with `--expose-gc`: memory is read
 * after a forced GC.
 *
 * The hub's `maxStreams` is raised to N (its default, 10,000, would refuse the rest with 503).
 *
 * Arguments: `--sessions=N` sessions to make (one per stream, made up front with
 * `tessera.create`, so the memory measured around the streams' opening is the streams' own);
 * `--channel=NAME` the RedisBus channel of this run; `--bus=redis|local`; `--mode=bare` the
 * reference: bare node:http holding the same streams, without sessions or hub.
 *
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { createTessera } from '../../src/index.js';
import { nodeSessions } from '../../src/adapters/node.js';
import { LocalBus, type LiveBus } from '../../src/live/bus.js';
import { STREAM_HEADERS } from '../../src/live/endpoint.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { redisBus } from '../lib/live-bus.js';
import { BROADCAST_EVENT, LIVE_BENCH_SECRET, type MemorySnapshot, type ServerMessage, type ToServer } from '../lib/live-protocol.js';
import { serverArgs } from '../lib/serve.js';

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

/**
 * The reference: an event stream on bare node:http, as the hub's endpoint opens one (same head,
 * socket settings and hello), held in a Set until it closes. No session, no hub.
 */
function holdBare(req: IncomingMessage, res: ServerResponse, held: Set<ServerResponse>): void {
  if (!req.url?.startsWith('/tessera/live?')) {
    res.statusCode = 404;
    res.end();
    return;
  }
  res.writeHead(200, STREAM_HEADERS);
  res.flushHeaders();
  res.socket?.setTimeout(0);
  res.socket?.setNoDelay(true);
  res.write(`retry: 2000\nevent: hello\ndata: {}\n\n`);
  held.add(res);
  res.once('close', () => held.delete(res));
}

let bareSeq = 0;
/** The reference broadcast: one message, serialised once, written to every held response. */
async function broadcastBare(held: Set<ServerResponse>, event: object): Promise<void> {
  const text = `id: ${++bareSeq}\nevent: event\ndata: ${JSON.stringify(event)}\n\n`;
  for (const res of held) res.write(text);
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('bench/servers/live.ts is started by the live bench (npm run bench -- --live)');
  const a = serverArgs();
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
  const tessera = createTessera({ secrets: [LIVE_BENCH_SECRET], store: new MemoryStore({ maxEntries: count + 1_000 }), cookie: { secure: false }, live: { bus, maxStreams: count + 100 } });
  const sessions = nodeSessions(tessera);
  const bare = a.mode === 'bare';
  const held = new Set<ServerResponse>();
  const server = createServer(
    bare
      ? (req, res) => holdBare(req, res, held)
      : sessions.wrap((_req, res) => {
          res.statusCode = 404;
          res.end();
        }),
  );
  // The hub subscribes on the first stream; subscribe now, so the first push is not racing it.
  await tessera.live.start();

  const made: { cookie: string; handle: string }[] = [];
  for (let i = 0; i < count; i++) {
    const { cookie, session } = await tessera.create({ data: { n: i } });
    // What a browser sends once its page loaded: the session cookie and the CSRF token's cookie
    // (without it, every stream's response would set it again, and keep the line in its head).
    const csrf = tessera.csrf.cookieLine(session.handle)?.split(';', 1)[0];
    made.push({ cookie: `${tessera.cookieName}=${cookie}${csrf === undefined ? '' : `; ${csrf}`}`, handle: session.handle });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve);
  });

  // How long the event loop was held up (heartbeat sweeps, broadcasts): for the pushes' figures.
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  process.on('message', (message: ToServer) => {
    if (message.type === 'measure') {
      const memory = memoryNow();
      if (message.heapSnapshot !== undefined) writeHeapSnapshot(message.heapSnapshot);
      lag.reset();
      send({ type: 'measured', memory, streams: bare ? held.size : tessera.live.streams, sessions: bare ? held.size : tessera.live.sessions });
    } else if (message.type === 'lag') {
      send({ type: 'lagged', p99Ms: lag.percentile(99) / 1e6, maxMs: lag.max / 1e6 });
      lag.reset();
    } else if (message.type === 'broadcast') {
      const cpu = process.cpuUsage();
      const t = process.hrtime.bigint().toString();
      const started = performance.now();
      const event = { type: 'event', name: BROADCAST_EVENT, detail: { t, r: message.round } } as const;
      const sent = bare ? broadcastBare(held, event) : tessera.live.broadcastAll(event);
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
    description: bare
      ? 'bare node:http holding each response open in a Set (the reference: no sessions, no hub)'
      : `node:http + nodeSessions(createTessera({ store: MemoryStore, live: { bus: ${busNote} } })).wrap, one session per stream`,
  });
}

main().catch((error: unknown) => {
  send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
});
