/**
 * A load generator of the live bench: opens its share of the streams with node:http (one keep-alive
 * Agent, every socket bound to the loopback address it is given, so ephemeral ports do not run
 * short), reads just enough SSE (each message's `event` and `data`), and measures the delivery
 * latency of the bench's stamped events against `process.hrtime.bigint()`, the clock every process
 * shares. See bench/lib/live.ts.
 *
 * @module
 */
import { readdirSync } from 'node:fs';
import { Agent, request, type IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { BROADCAST_EVENT, PUSH_EVENT, type GeneratorMessage, type StreamSpec, type ToGenerator } from '../lib/live-protocol.js';

function send(message: GeneratorMessage): void {
  process.send?.(message);
}

let opened = 0;
let closed = 0;
const broadcasts = new Map<number, number[]>();
const pushes: number[] = [];

/** One SSE message's `event` and `data` (the bench's events only need those). */
function onMessage(block: string, now: bigint, hello: () => void): void {
  const e = block.indexOf('event: ');
  if (e === -1) return; // a comment (": ping") or the retry line
  const end = block.indexOf('\n', e);
  const event = block.slice(e + 7, end === -1 ? undefined : end);
  if (event === 'hello') return hello();
  if (event !== 'event') return;
  const d = block.indexOf('data: ');
  if (d === -1) return;
  const data = JSON.parse(block.slice(d + 6, block.indexOf('\n', d) === -1 ? undefined : block.indexOf('\n', d))) as {
    name: string;
    detail: { t: string; r?: number };
  };
  const ms = Number(now - BigInt(data.detail.t)) / 1e6;
  if (data.name === PUSH_EVENT) pushes.push(ms);
  else if (data.name === BROADCAST_EVENT) {
    const round = data.detail.r ?? 0;
    let list = broadcasts.get(round);
    if (list === undefined) broadcasts.set(round, (list = []));
    list.push(ms);
    if (list.length === opened) send({ type: 'round', round });
  }
}

/** Read `res` as an event stream; `hello` runs when the hub's `hello` arrives (the stream is held). */
function read(res: IncomingMessage, hello: () => void): void {
  let buffer = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    const now = process.hrtime.bigint();
    buffer = buffer === '' ? chunk : buffer + chunk;
    let start = 0;
    let end: number;
    while ((end = buffer.indexOf('\n\n', start)) !== -1) {
      onMessage(buffer.slice(start, end), now, hello);
      start = end + 2;
    }
    buffer = start === buffer.length ? '' : buffer.slice(start);
  });
}

function open(port: number, localAddress: string, streams: readonly StreamSpec[], concurrency: number): void {
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const started = performance.now();
  let next = 0;
  let failed = 0;
  let done = 0;
  const errors: string[] = [];
  const finish = (): void => {
    if (++done < streams.length) return startNext();
    let fds = -1;
    try {
      fds = readdirSync('/proc/self/fd').length;
    } catch {
      // not Linux
    }
    send({ type: 'opened', opened, failed, errors, ms: performance.now() - started, fds });
  };
  const fail = (why: string): void => {
    failed++;
    if (errors.length < 5) errors.push(why);
    finish();
  };
  const startNext = (): void => {
    if (next >= streams.length) return;
    const spec = streams[next++]!;
    let settled = false;
    let held = false;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: `/tessera/live?tab=${spec.tab}`,
        localAddress,
        agent,
        headers: { accept: 'text/event-stream', cookie: spec.cookie, 'sec-fetch-site': 'same-origin' },
      },
      (res) => {
        if (res.statusCode !== 200) {
          settled = true;
          res.resume();
          return fail(`status ${res.statusCode}`);
        }
        read(res, () => {
          if (settled) return;
          settled = true;
          held = true;
          opened++;
          finish();
        });
        res.once('close', () => {
          if (held) closed++;
          else if (!settled) {
            settled = true;
            fail('closed before hello');
          }
        });
      },
    );
    req.on('error', (error) => {
      if (settled) return;
      settled = true;
      fail(error.message);
    });
    req.end();
  };
  for (let i = 0; i < Math.min(concurrency, streams.length); i++) startNext();
  if (streams.length === 0) send({ type: 'opened', opened: 0, failed: 0, errors: [], ms: 0, fds: -1 });
}

if (!process.send) {
  console.error('bench/servers/live-load.ts is started by the live bench (npm run bench -- --live)');
  process.exit(2);
}
process.on('message', (message: ToGenerator) => {
  if (message.type === 'open') open(message.port, message.localAddress, message.streams, message.concurrency);
  else if (message.type === 'report') {
    send({ type: 'latencies', broadcasts: Object.fromEntries([...broadcasts].map(([r, list]) => [String(r), list])), pushes, closed });
  }
});
process.on('SIGINT', () => {});
// The bench went away: never outlive it (the sockets close with the process).
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
