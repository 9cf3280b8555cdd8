/**
 * `npm run bench:faults`: heavy work and faults under traffic (docs/benchmarks.md, "Faults and
 * heavy work under traffic").
 *
 * 1. **Cleanup under load.** tessera on node:http with the `memory-read` handler on a
 *    `SqliteStore`, driven by autocannon (10 connections) from this process: its throughput and
 *    event-loop delay for `--duration` seconds, then the same while it removes `--rows` expired
 *    rows (inserted beforehand in one transaction), once per `--modes` entry — `paced`
 *    (`tessera.cleanupExpired()`), `store` (the store's own loop, as tessera called it before: 500
 *    rows per statement, `setImmediate` between), `one` (a single `DELETE`) — then normal again.
 * 2. **Silent partitions.** tessera on a `RedisStore` and a `PostgresStore` (default timeouts)
 *    behind a TCP proxy in this process; `--workers` clients loop on requests; the proxy stops
 *    forwarding (nothing closed, nothing answered) for `--partition` seconds, then forwards again.
 *    Reported: how long requests took to get their 503, and how long after the network came back
 *    the first and the last client got a 200 again.
 *
 *   npm run bench:faults                                  # both parts: about 4 minutes
 *   npm run bench:faults -- --only cleanup --rows 200000 --duration 10
 *   npm run bench:faults -- --only cleanup --modes paced --checkpoint inline   # SQLite's own checkpoints
 *   npm run bench:faults -- --only partition
 *   npm run bench:faults -- --only partition --timeouts-before   # the stores' limits of before
 *   npm run bench:faults -- --out faults.json             # also the results as JSON
 *
 * The server runs in a child process, compiled as in `npm run bench` (bench/lib/build.ts). A
 * measurement, not a test: the exit code is 0 whatever the figures.
 *
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { FaultProxy } from '../test/helpers/proxy.js';
import { buildForBench, privateBuildFolder } from './lib/build.js';
import type { CleanMode, FaultsChildMessage, FaultsParentMessage } from './lib/faults-protocol.js';
import { PG_URL, REDIS_URL } from './lib/services.js';
import { connect } from 'node:net';

const { values: flags } = parseArgs({
  options: {
    only: { type: 'string' },
    rows: { type: 'string', default: '1000000' },
    duration: { type: 'string', default: '30' },
    modes: { type: 'string', default: 'paced,store' },
    checkpoint: { type: 'string', default: 'background' },
    connections: { type: 'string', default: '10' },
    workers: { type: 'string', default: '8' },
    partition: { type: 'string', default: '5' },
    'timeouts-before': { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  console.log(`Usage: npm run bench:faults -- [options]
  --only cleanup|partition   one part (default both)
  --rows N                   expired rows to clean (default 1000000)
  --duration S               seconds of each throughput window (default 30)
  --modes a,b                cleanup modes: paced (tessera's), store (the store's own loop), one (one DELETE); default paced,store
  --checkpoint background|inline   the SqliteStore's checkpoints: its thread (default) or SQLite's own, on the event loop
  --connections N            autocannon connections (default 10)
  --workers N                clients looping on requests during a partition (default 8)
  --partition S              seconds the network stays silent (default 5)
  --timeouts-before          partitions with the stores' limits of before 2026-12-05 (Redis 2 s, no socket
                             timeout; PostgreSQL 5 s to connect, 10 s per query), for comparison
  --out FILE                 also write the results as JSON`);
  process.exit(0);
}
const ROWS = Number(flags.rows);
const DURATION = Number(flags.duration);
const CONNECTIONS = Number(flags.connections);
const WORKERS = Number(flags.workers);
const PARTITION_S = Number(flags.partition);
const MODES = flags.modes!.split(',') as CleanMode[];
for (const mode of MODES) if (!['paced', 'store', 'one'].includes(mode)) throw new Error(`unknown cleanup mode ${mode}`);
const CHECKPOINT = flags.checkpoint!;
if (!['background', 'inline'].includes(CHECKPOINT)) throw new Error(`unknown checkpoint ${CHECKPOINT}`);

const log = (line: string) => process.stderr.write(`${line}\n`);
const results: Record<string, unknown> = { date: new Date().toISOString(), cpus: os.cpus().length, loadavg: os.loadavg() };

// ------------------------------------------------------------------ the server process

class Server {
  readonly #child: ChildProcess;
  /** Messages not yet asked for, and the waiters for those not yet come, by type. */
  readonly #queued = new Map<string, FaultsChildMessage[]>();
  readonly #waiting = new Map<string, ((m: FaultsChildMessage) => void)[]>();
  port = 0;
  cookie = '';

  constructor(compiled: string, args: string[]) {
    this.#child = fork(join(compiled, 'bench/servers/faults.js'), args, {
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child.on('message', (m: FaultsChildMessage) => {
      if (m.type === 'failed') {
        log(`server failed: ${m.error}`);
        process.exit(1);
      }
      const waiter = this.#waiting.get(m.type)?.shift();
      if (waiter) waiter(m);
      else this.#queued.set(m.type, [...(this.#queued.get(m.type) ?? []), m]);
    });
  }

  async ready(): Promise<void> {
    const m = await this.next('ready');
    this.port = m.port;
    this.cookie = m.cookie;
  }

  next<T extends FaultsChildMessage['type']>(type: T): Promise<Extract<FaultsChildMessage, { type: T }>> {
    const queued = this.#queued.get(type)?.shift();
    if (queued) return Promise.resolve(queued as Extract<FaultsChildMessage, { type: T }>);
    return new Promise((resolve) => {
      this.#waiting.set(type, [...(this.#waiting.get(type) ?? []), (m) => resolve(m as Extract<FaultsChildMessage, { type: T }>)]);
    });
  }

  send(message: FaultsParentMessage): void {
    this.#child.send(message);
  }

  async gate(open: boolean): Promise<void> {
    this.send({ type: 'gate', open });
    await this.next('gated');
  }

  async mark(): Promise<Extract<FaultsChildMessage, { type: 'mark' }>> {
    this.send({ type: 'mark' });
    return this.next('mark');
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.send({ type: 'stop' });
    await exited;
  }
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));

// ------------------------------------------------------------------ 1. cleanup under load

interface Window {
  seconds: number;
  rps: number;
  latencyP99Ms: number;
  non2xx: number;
  errors: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  elu: number;
  /** Expired rows tessera's cleanup removed during the window. */
  removed: number;
}

async function load(server: Server, seconds: number, until?: Promise<unknown>): Promise<Window> {
  const first = await server.mark();
  const instance = autocannon({ url: `http://127.0.0.1:${server.port}/`, connections: CONNECTIONS, duration: seconds, headers: { cookie: server.cookie } });
  void until?.then(() => instance.stop());
  const result = await instance;
  const mark = await server.mark();
  return {
    seconds: round(result.duration, 2),
    rps: Math.round(result.requests.total / result.duration),
    latencyP99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    loopDelayP99Ms: round(mark.p99, 2),
    loopDelayMaxMs: round(mark.max, 1),
    elu: round(mark.elu, 3),
    removed: mark.removed - first.removed,
  };
}

function describeWindow(label: string, w: Window, normal?: Window): string {
  const ratio = normal ? ` (${round(w.rps / normal.rps, 2)} of normal)` : '';
  return `${label.padEnd(34)} ${String(w.rps).padStart(6)} req/s${ratio} over ${w.seconds} s; loop delay p99 ${w.loopDelayP99Ms} ms, max ${w.loopDelayMaxMs} ms; latency p99 ${w.latencyP99Ms} ms; ELU ${w.elu}${w.non2xx + w.errors ? `; ${w.non2xx} non-2xx, ${w.errors} errors` : ''}`;
}

async function cleanupPart(compiled: string): Promise<void> {
  const dir = mkdtempSync(join(os.tmpdir(), 'tessera-faults-'));
  const server = new Server(compiled, ['--store=sqlite', `--dir=${dir}`, `--checkpoint=${CHECKPOINT}`]);
  try {
    await server.ready();
    log(`cleanup under load: SqliteStore in ${dir} (checkpoint: ${CHECKPOINT}), ${CONNECTIONS} connections, ${DURATION} s windows, ${ROWS.toLocaleString('en')} expired rows`);
    await load(server, 3); // warm-up
    const normal = await load(server, DURATION);
    log(describeWindow('normal', normal));
    const runs: Record<string, unknown>[] = [];
    for (const mode of MODES) {
      server.send({ type: 'fill', rows: ROWS });
      const filled = await server.next('filled');
      log(`  ${ROWS.toLocaleString('en')} expired rows inserted in ${round(filled.ms / 1000, 1)} s (one transaction)`);
      await load(server, 2); // the insert's checkpoint and caches settle
      if (mode === 'paced') {
        runs.push(await bracketed(server, normal, filled.ms));
        continue;
      }
      server.send({ type: 'clean', mode });
      const cleaned = server.next('cleaned');
      const during = await load(server, DURATION, cleaned);
      const done = await cleaned;
      log(describeWindow(`while cleaning (${mode})`, during, normal));
      log(`  removed ${done.removed.toLocaleString('en')} rows in ${round(done.ms / 1000, 2)} s`);
      runs.push({ mode, fillSeconds: round(filled.ms / 1000, 2), during, ratio: round(during.rps / normal.rps, 3), removed: done.removed, cleanupSeconds: round(done.ms / 1000, 2) });
    }
    const after = await load(server, DURATION);
    log(describeWindow('normal, after', after));
    results.cleanup = { rows: ROWS, connections: CONNECTIONS, checkpoint: CHECKPOINT, normal, runs, after };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Seconds of one window of the bracketed measurement. */
const WINDOW_S = 5;

/**
 * tessera's paced cleanup, measured in turns: a normal window, a cleaning window, a normal one, …
 * (`--duration` seconds of cleaning in all, in windows of {@link WINDOW_S}), the cleanup held
 * between two batches during the normal ones. Each cleaning window is compared with the mean of
 * the normal windows around it, seconds apart, so the drift of a shared machine moves both sides.
 * The cleanup then runs to its end, unmeasured.
 */
async function bracketed(server: Server, normal: Window, fillMs: number): Promise<Record<string, unknown>> {
  await server.gate(false);
  server.send({ type: 'clean', mode: 'paced' });
  const cleaned = server.next('cleaned');
  const normals: Window[] = [await load(server, WINDOW_S)];
  const cleaning: Window[] = [];
  for (let i = 0; i < Math.max(1, Math.round(DURATION / WINDOW_S)); i++) {
    await server.gate(true);
    cleaning.push(await load(server, WINDOW_S));
    await server.gate(false);
    normals.push(await load(server, WINDOW_S));
  }
  await server.gate(true);
  const started = performance.now();
  const done = await cleaned;
  const ratios = cleaning.map((w, i) => w.rps / ((normals[i]!.rps + normals[i + 1]!.rps) / 2));
  const median = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid]! : round((sorted[mid - 1]! + sorted[mid]!) / 2, 3);
  };
  const seconds = cleaning.reduce((t, w) => t + w.seconds, 0);
  const removedWhileMeasured = cleaning.reduce((t, w) => t + w.removed, 0);
  const p99s = cleaning.map((w) => w.loopDelayP99Ms);
  const normalP99s = normals.map((w) => w.loopDelayP99Ms);
  const figures = {
    mode: 'paced',
    fillSeconds: round(fillMs / 1000, 2),
    windows: WINDOW_S,
    ratioMedian: round(median(ratios), 3),
    ratioRange: [round(Math.min(...ratios), 3), round(Math.max(...ratios), 3)],
    rpsCleaning: Math.round(cleaning.reduce((t, w) => t + w.rps * w.seconds, 0) / seconds),
    rpsNormalAround: Math.round(normals.reduce((t, w) => t + w.rps * w.seconds, 0) / normals.reduce((t, w) => t + w.seconds, 0)),
    loopDelayP99Cleaning: { median: median(p99s), max: Math.max(...p99s) },
    loopDelayP99Normal: { median: median(normalP99s), max: Math.max(...normalP99s) },
    loopDelayMaxCleaning: Math.max(...cleaning.map((w) => w.loopDelayMaxMs)),
    latencyP99Cleaning: Math.max(...cleaning.map((w) => w.latencyP99Ms)),
    rowsPerSecondWhileMeasured: Math.round(removedWhileMeasured / seconds),
    removedWhileMeasured,
    removed: done.removed,
    batches: done.batches,
    finishedSecondsAfterMeasuring: round((performance.now() - started) / 1000, 1),
    cleaning,
    normals,
  };
  log(
    `while cleaning (paced), ${cleaning.length} windows of ${WINDOW_S} s between normal ones: ${figures.rpsCleaning} req/s against ${figures.rpsNormalAround} around them, ` +
      `ratio median ${figures.ratioMedian} (${figures.ratioRange.join('–')}); loop delay p99 median ${figures.loopDelayP99Cleaning.median} ms, max ${figures.loopDelayP99Cleaning.max} ms ` +
      `(normal windows: ${figures.loopDelayP99Normal.median}, ${figures.loopDelayP99Normal.max}); loop delay max ${figures.loopDelayMaxCleaning} ms; latency p99 ≤ ${figures.latencyP99Cleaning} ms; ` +
      `${figures.rowsPerSecondWhileMeasured} rows/s removed while measured`,
  );
  log(`  (the first normal window, before: ${normal.rps} req/s) removed ${done.removed.toLocaleString('en')} rows in all, ${done.batches} batches; finished ${figures.finishedSecondsAfterMeasuring} s after the measurement`);
  return figures;
}

// ------------------------------------------------------------------ 2. silent partitions

interface Sample {
  start: number;
  end: number;
  status: number;
}

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.setTimeout(1_000, () => socket.destroy());
    socket.once('connect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('close', () => resolve(false));
    socket.once('error', () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function partitionOne(compiled: string, name: 'redis' | 'postgres', target: string): Promise<void> {
  if (!(await reachable(target))) {
    log(`skipping the ${name} partition: ${new URL(target).host} is not reachable`);
    return;
  }
  const proxy = await FaultProxy.start(target);
  const server = new Server(compiled, [`--store=${name}`, `--url=${proxy.url(target)}`, `--timeouts=${flags['timeouts-before'] ? 'before' : 'default'}`]);
  try {
    await server.ready();
    const url = `http://127.0.0.1:${server.port}/`;
    const samples: Sample[] = [];
    let running = true;
    const t0 = performance.now();
    const now = () => performance.now() - t0;
    const worker = async () => {
      while (running) {
        const start = now();
        let status = 0;
        try {
          const res = await fetch(url, { headers: { cookie: server.cookie }, signal: AbortSignal.timeout(15_000) });
          await res.arrayBuffer();
          status = res.status;
        } catch {
          status = -1;
        }
        samples.push({ start, end: now(), status });
        // About 100 requests a second in all: light traffic, so the figures are the store's.
        await sleep(WORKERS * 10);
      }
    };
    const workers = Array.from({ length: WORKERS }, worker);
    await sleep(3_000);
    const cut = now();
    proxy.partition();
    await sleep(PARTITION_S * 1_000);
    const healed = now();
    proxy.heal();
    await sleep(8_000);
    running = false;
    await Promise.all(workers);

    // In flight when the network went silent; sent during the partition and answered before it
    // ended; sent during it and answered after it (they waited across the heal); sent after it.
    const inFlight = samples.filter((s) => s.start < cut && s.end > cut);
    const during = samples.filter((s) => s.start >= cut && s.end <= healed);
    const across = samples.filter((s) => s.start >= cut && s.start < healed && s.end > healed);
    const sentAfter = samples.filter((s) => s.start >= healed);
    const firstOk = samples.find((s) => s.end > healed && s.status === 200);
    const lastBad = samples.filter((s) => s.end > healed && s.status !== 200).at(-1);
    const waits = during.map((s) => s.end - s.start).sort((a, b) => a - b);
    const pct = (p: number) => (waits.length ? round(waits[Math.min(waits.length - 1, Math.floor((p / 100) * waits.length))]!, 0) : NaN);
    const statuses = (list: Sample[]) => [...new Set(list.map((s) => s.status))].sort();
    const figures = {
      inFlight: { count: inFlight.length, statuses: statuses(inFlight), msAfterCutMax: round(Math.max(0, ...inFlight.map((s) => s.end - cut)), 0) },
      during: { count: during.length, statuses: statuses(during), waitP50Ms: pct(50), waitP99Ms: pct(99), waitMaxMs: round(waits.at(-1) ?? NaN, 0) },
      acrossHeal: { count: across.length, statuses: statuses(across) },
      recovery: {
        firstOkMsAfterHeal: firstOk ? round(firstOk.end - healed, 0) : null,
        lastFailureMsAfterHeal: lastBad ? round(lastBad.end - healed, 0) : 0,
        sentAfter: sentAfter.length,
        sentAfterOk: sentAfter.filter((s) => s.status === 200).length,
      },
    };
    log(
      `${name} partition (${PARTITION_S} s, ${WORKERS} clients${flags['timeouts-before'] ? ', limits of before' : ''}): ` +
        (inFlight.length ? `${inFlight.length} in flight at the cut answered ${figures.inFlight.statuses.join('/')} within ${figures.inFlight.msAfterCutMax} ms of it; ` : '') +
        `${during.length} sent and answered during it: ${figures.during.statuses.join('/')}, waiting p50 ${figures.during.waitP50Ms} ms, p99 ${figures.during.waitP99Ms} ms, max ${figures.during.waitMaxMs} ms; ` +
        `${across.length} answered across the heal (${figures.acrossHeal.statuses.join('/')}); ` +
        `first 200 ${figures.recovery.firstOkMsAfterHeal} ms after the network came back, last failure ${figures.recovery.lastFailureMsAfterHeal} ms after it; ` +
        `${figures.recovery.sentAfterOk} of ${figures.recovery.sentAfter} requests sent after it answered 200`,
    );
    (results.partition ??= {} as Record<string, unknown>) as Record<string, unknown>;
    (results.partition as Record<string, unknown>)[name] = figures;
  } finally {
    await server.stop();
    await proxy.close();
  }
}

// ------------------------------------------------------------------ main

const load1 = os.loadavg()[0]!;
log(`bench:faults on ${os.cpus().length} CPUs, load average ${round(load1, 2)}${load1 > os.cpus().length ? ' (busy: figures will be low)' : ''}`);
// A build of its own: the shared one may be rebuilt by another bench meanwhile.
const compiled = buildForBench(privateBuildFolder('faults'));
try {
  if (flags.only === undefined || flags.only === 'cleanup') await cleanupPart(compiled);
  if (flags.only === undefined || flags.only === 'partition') {
    await partitionOne(compiled, 'redis', REDIS_URL);
    await partitionOne(compiled, 'postgres', PG_URL);
  }
} finally {
  rmSync(compiled, { recursive: true, force: true });
}
if (flags.out) writeFileSync(flags.out, `${JSON.stringify(results, null, 2)}\n`);
process.exit(0);
