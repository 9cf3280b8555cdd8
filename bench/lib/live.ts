/**
 * The live bench (`npm run bench -- --live`): one server process holding N open event streams,
 * opened by load-generator processes of its own, and what they cost and how fast pushes reach them.
 *
 * One run at one N:
 * 1. the server (bench/servers/live.ts: node:http + `nodeSessions(tessera).wrap`, live tabs on a
 *    RedisBus when there is one) makes N sessions — one per stream — and listens;
 * 2. its memory is read after a forced GC; the generators (bench/servers/live-load.ts, each with
 *    its own loopback source address) open their share of the N streams, a few at a time each;
 *    a stream counts as open when the hub's `hello` arrived on it;
 * 3. the server's memory is read again, and the hub's stream count: (after − before) / N is the
 *    memory per idle stream;
 * 4. `broadcastAll` of a stamped event, a few times: each generator measures every stream's delivery;
 * 5. with Redis and `RedisBus`: another process (bench/servers/live-push.ts) with its own tessera
 *    pushes stamped events by handle to single tabs, paced out, while every stream is open.
 *
 * Every child is killed at the end, on failure, and by {@link stopLiveChildren} (Ctrl-C).
 *
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { redisBusUnavailable } from './live-bus.js';
import type { GeneratorMessage, MemorySnapshot, PusherMessage, ServerMessage, StreamSpec, ToGenerator, ToPusher, ToServer } from './live-protocol.js';
import { BENCH_PREFIX } from './services.js';

const BENCH_DIR = fileURLToPath(new URL('../', import.meta.url));

/** What one live run does. */
export interface LiveBenchOptions {
  /** Streams to open (one session each). */
  n: number;
  /** `bare`: the reference server — bare node:http holding the streams, no sessions, no hub, no pushes. */
  mode?: 'tessera' | 'bare';
  /** Load-generator processes (default: one per 6,000 streams, at least 1). */
  generators?: number;
  /** `broadcastAll` rounds measured (default 3). */
  broadcasts?: number;
  /** Pushes from another process through Redis (default 200; 0: none). */
  pushes?: number;
  /** Milliseconds between two pushes (default 10). */
  pushIntervalMs?: number;
  /** Streams each generator has opening at once (default 64). */
  concurrency?: number;
  /** The folder from `buildForBench()`: children run compiled JavaScript. Without it, TypeScript under tsx. */
  compiled?: string;
  /** Write heap snapshots of the server before and after the streams open into this folder (`live-<N>-before.heapsnapshot`, `-after`). */
  heapSnapshots?: string;
  /** Extra node flags for the server (e.g. `--cpu-prof`). */
  serverFlags?: readonly string[];
  /** Progress lines. */
  progress?: (line: string) => void;
}

/** Delivery latencies (ms). */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** What one live run measured. */
export interface LiveResult {
  n: number;
  mode: 'tessera' | 'bare';
  generators: number;
  description: string;
  /** `redis` or `local`, and why. */
  bus: string;
  /** Wall time from the first stream asked for to the last one open (ms). */
  openMs: number;
  /** Streams whose `hello` arrived. */
  opened: number;
  failed: number;
  openErrors: string[];
  /** `tessera.live.streams` once every generator was done. */
  hubStreams: number;
  memoryBefore: MemorySnapshot;
  memoryAfter: MemorySnapshot;
  /** (after − before) / N, bytes. */
  rssPerStream: number;
  heapPerStream: number;
  /** The server's memory once the broadcasts were delivered: each tab now keeps them for a reconnect. */
  memoryAfterBroadcasts: MemorySnapshot;
  /** (heap after the broadcasts − heap with idle streams) / N / rounds: what one kept event costs per tab, bytes. */
  heapPerKeptEvent: number;
  /** Per round: deliveries, latencies, and how long `broadcastAll` took in the server (ms). */
  broadcastRounds: (LatencySummary & { round: number; callMs: number; flushMs: number; cpuMs: number })[];
  /** Every round's deliveries together. */
  broadcast: LatencySummary;
  /** The pushes from another process, or why they were not measured. */
  push: (LatencySummary & { sent: number; errors: string[]; loopDelayP99Ms: number; loopDelayMaxMs: number }) | { skipped: string };
  /** Streams that closed during the run (should be 0). */
  closed: number;
  /** Open files of each generator once its streams were open. */
  generatorFds: number[];
  seconds: number;
}

/**
 * The p-th percentile (nearest rank) of `values`, sorted in place.
 *
 * @example
 * ```ts
 * percentile([5, 1, 3], 0.5); // 3
 * ```
 */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

function summarise(values: number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  const list = Array.from(sorted);
  return { count: list.length, p50: percentile(list, 0.5), p99: percentile(list, 0.99), max: list.length > 0 ? list[list.length - 1]! : Number.NaN };
}

const running = new Set<Child<unknown, unknown>>();

/** A child process of the live bench, and the messages it sent. */
class Child<In, Out> {
  readonly #child: ChildProcess;
  readonly #inbox: Out[] = [];
  #waiters: (() => void)[] = [];
  #exited: string | null = null;

  constructor(
    readonly name: string,
    module: string,
    args: readonly string[],
    runtime: { compiled?: string | undefined; flags?: readonly string[] },
  ) {
    const path = runtime.compiled ? join(runtime.compiled, 'bench', module.replace(/\.ts$/, '.js')) : join(BENCH_DIR, module);
    this.#child = fork(path, [...args], {
      execArgv: [...(runtime.compiled ? [] : ['--import', 'tsx']), ...(runtime.flags ?? [])],
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    running.add(this as Child<unknown, unknown>);
    this.#child.on('message', (message: Out) => {
      this.#inbox.push(message);
      this.#wake();
    });
    this.#child.on('exit', (code, signal) => {
      running.delete(this as Child<unknown, unknown>);
      this.#exited = `${name} exited (code ${code}, signal ${signal})`;
      this.#wake();
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  send(message: In): void {
    this.#child.send(message as object);
  }

  /** The first message (taken from the inbox) of `type`, within `ms`; a `failed` message rejects. */
  async next<T extends Out & { type: string }>(type: T['type'], ms: number, match: (m: T) => boolean = () => true): Promise<T> {
    const deadline = performance.now() + ms;
    for (;;) {
      const i = this.#inbox.findIndex((m) => {
        const t = (m as { type: string }).type;
        return t === 'failed' || (t === type && match(m as unknown as T));
      });
      if (i !== -1) {
        const m = this.#inbox.splice(i, 1)[0] as unknown as T & { error?: string };
        if (m.type === 'failed') throw new Error(`${this.name} failed:\n${m.error}`);
        return m;
      }
      if (this.#exited !== null) throw new Error(`${this.#exited} while waiting for '${type}'`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${this.name}: no '${type}' within ${Math.round(ms / 1000)} s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Stop the child: it exits when its IPC channel closes; SIGKILL after 5 s. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (child.connected) child.disconnect();
    else child.kill('SIGKILL');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Stop every child of the live bench still running (for Ctrl-C and failures).
 *
 * @example
 * ```ts
 * process.once('SIGINT', () => void stopLiveChildren().finally(() => process.exit(130)));
 * ```
 */
export async function stopLiveChildren(): Promise<void> {
  await Promise.allSettled([...running].map((c) => c.stop()));
}

let addresses = 0;
/**
 * A loopback source address not used before by this process, in a /24 of its own (from the
 * process ID), so neither this run's earlier generators nor a run a minute ago (their sockets in
 * TIME_WAIT hold their ports) take the ephemeral ports a generator needs.
 */
function nextLocalAddress(): string {
  const k = addresses++;
  return `127.${1 + (process.pid % 250)}.${Math.floor(k / 250) % 250}.${2 + (k % 250)}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Run the live bench at one N.
 *
 * @example
 * ```ts
 * const result = await runLiveBench({ n: 2_000, compiled: buildForBench() });
 * result.opened === 2_000; result.broadcast.p99; // ms
 * ```
 */
export async function runLiveBench(options: LiveBenchOptions): Promise<LiveResult> {
  const n = options.n;
  const progress = options.progress ?? (() => {});
  const generators = Math.max(1, Math.min(n, options.generators ?? Math.ceil(n / 6_000)));
  const rounds = options.broadcasts ?? 3;
  const pushes = options.pushes ?? 200;
  const intervalMs = options.pushIntervalMs ?? 10;
  const concurrency = options.concurrency ?? 64;
  const runtime = { compiled: options.compiled };
  const started = performance.now();
  const channel = `${BENCH_PREFIX}${process.pid}_${randomBytes(4).toString('hex')}:live`;
  const bare = options.mode === 'bare';
  const pushSkip = bare ? 'the bare reference has no hub' : pushes === 0 ? 'no pushes asked for' : await redisBusUnavailable();

  const children: Child<unknown, unknown>[] = [];
  const track = <C extends Child<never, unknown>>(c: C): C => (children.push(c as unknown as Child<unknown, unknown>), c);
  try {
    const server = track(
      new Child<ToServer, ServerMessage>('live server', 'servers/live.ts', [`--sessions=${n}`, `--channel=${channel}`, `--bus=${pushSkip === undefined ? 'redis' : 'local'}`, `--mode=${bare ? 'bare' : 'tessera'}`], {
        ...runtime,
        flags: ['--expose-gc', ...(options.serverFlags ?? [])],
      }),
    );
    const gens = Array.from({ length: generators }, (_, g) => track(new Child<ToGenerator, GeneratorMessage>(`load generator ${g + 1}`, 'servers/live-load.ts', [], runtime)));
    const ready = await server.next<Extract<ServerMessage, { type: 'ready' }>>('ready', 60_000 + n * 2);
    for (const g of gens) await g.next('ready', 30_000);
    const sessions = ready.sessions;
    const tabs = sessions.map((_, i) => `benchtab-${i.toString(36).padStart(6, '0')}`);
    progress(`  live N=${n.toLocaleString('en-US')}: server up (${ready.busNote}), ${n.toLocaleString('en-US')} sessions made; opening streams from ${generators} generator(s)…`);

    const snapshot = (when: string) => (options.heapSnapshots === undefined ? {} : { heapSnapshot: join(options.heapSnapshots, `live-${n}-${when}.heapsnapshot`) });
    server.send({ type: 'measure', ...snapshot('before') });
    const before = await server.next<Extract<ServerMessage, { type: 'measured' }>>('measured', 120_000);

    // Open: generator g gets streams g, g + G, g + 2G, …
    const openStart = performance.now();
    gens.forEach((g, gi) => {
      const streams: StreamSpec[] = [];
      for (let i = gi; i < n; i += generators) streams.push({ cookie: sessions[i]!.cookie, tab: tabs[i]! });
      g.send({ type: 'open', port: ready.port, localAddress: nextLocalAddress(), streams, concurrency });
    });
    const opens = await Promise.all(gens.map((g) => g.next<Extract<GeneratorMessage, { type: 'opened' }>>('opened', 60_000 + n * 5)));
    const openMs = performance.now() - openStart;
    const opened = opens.reduce((s, o) => s + o.opened, 0);
    const failed = opens.reduce((s, o) => s + o.failed, 0);
    progress(`  live N=${n.toLocaleString('en-US')}: ${opened.toLocaleString('en-US')} streams open in ${(openMs / 1000).toFixed(1)} s${failed > 0 ? `, ${failed} failed (${opens.flatMap((o) => o.errors).slice(0, 3).join('; ')})` : ''}`);

    await sleep(1_000);
    server.send({ type: 'measure', ...snapshot('after') });
    const after = await server.next<Extract<ServerMessage, { type: 'measured' }>>('measured', 120_000);

    const calls = new Map<number, { callMs: number; flushMs: number; cpuMs: number }>();
    for (let round = 1; round <= rounds; round++) {
      server.send({ type: 'broadcast', round });
      const done = await server.next<Extract<ServerMessage, { type: 'broadcasted' }>>('broadcasted', 30_000, (m) => m.round === round);
      calls.set(round, { callMs: done.callMs, flushMs: done.flushMs, cpuMs: done.cpuMs });
      // Each generator says when all its streams got the round; a missing one is counted below.
      await Promise.all(
        gens.map((g, i) => (opens[i]!.opened === 0 ? undefined : g.next<Extract<GeneratorMessage, { type: 'round' }>>('round', 30_000, (m) => m.round === round).catch(() => undefined))),
      );
      await sleep(300);
    }

    server.send({ type: 'measure' });
    const afterBroadcasts = await server.next<Extract<ServerMessage, { type: 'measured' }>>('measured', 120_000);

    let push: LiveResult['push'] = { skipped: pushSkip ?? 'no stream opened' };
    if (pushSkip === undefined && opened > 0) {
      const pusher = track(new Child<ToPusher, PusherMessage>('pusher', 'servers/live-push.ts', [`--channel=${channel}`], runtime));
      await pusher.next('ready', 30_000);
      server.send({ type: 'lag' });
      await server.next('lagged', 30_000);
      // Tabs spread over every generator: every (N / pushes)-th stream.
      const step = Math.max(1, Math.floor(n / pushes));
      const targets = Array.from({ length: Math.min(pushes, n) }, (_, k) => ({ handle: sessions[(k * step) % n]!.handle, tab: tabs[(k * step) % n]! }));
      pusher.send({ type: 'push', targets, count: pushes, intervalMs });
      const pushed = await pusher.next<Extract<PusherMessage, { type: 'pushed' }>>('pushed', pushes * intervalMs + 60_000);
      await sleep(500);
      server.send({ type: 'lag' });
      const lag = await server.next<Extract<ServerMessage, { type: 'lagged' }>>('lagged', 30_000);
      push = { sent: pushed.sent, errors: pushed.errors, loopDelayP99Ms: lag.p99Ms, loopDelayMaxMs: lag.maxMs, ...summarise([]) };
    }

    for (const g of gens) g.send({ type: 'report' });
    const reports = await Promise.all(gens.map((g) => g.next<Extract<GeneratorMessage, { type: 'latencies' }>>('latencies', 30_000)));
    const broadcastRounds = Array.from({ length: rounds }, (_, k) => {
      const round = k + 1;
      return { round, ...(calls.get(round) ?? { callMs: Number.NaN, flushMs: Number.NaN, cpuMs: Number.NaN }), ...summarise(reports.flatMap((r) => r.broadcasts[String(round)] ?? [])) };
    });
    if ('sent' in push) push = { ...push, ...summarise(reports.flatMap((r) => r.pushes)) };
    return {
      n,
      mode: bare ? 'bare' : 'tessera',
      generators,
      description: ready.description,
      bus: ready.busNote,
      openMs,
      opened,
      failed,
      openErrors: opens.flatMap((o) => o.errors).slice(0, 5),
      hubStreams: after.streams,
      memoryBefore: before.memory,
      memoryAfter: after.memory,
      rssPerStream: (after.memory.rss - before.memory.rss) / n,
      heapPerStream: (after.memory.heapUsed - before.memory.heapUsed) / n,
      memoryAfterBroadcasts: afterBroadcasts.memory,
      heapPerKeptEvent: rounds === 0 ? Number.NaN : (afterBroadcasts.memory.heapUsed - after.memory.heapUsed) / n / rounds,
      broadcastRounds,
      broadcast: summarise(reports.flatMap((r) => Object.values(r.broadcasts).flat())),
      push,
      closed: reports.reduce((s, r) => s + r.closed, 0),
      generatorFds: opens.map((o) => o.fds),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    // Generators first (the client side closes), then the server and the pusher.
    await Promise.allSettled(children.slice(1).map((c) => c.stop()));
    await Promise.allSettled(children.slice(0, 1).map((c) => c.stop()));
  }
}
