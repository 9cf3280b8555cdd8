/**
 * The live bench's figures as tables, with the targets of issue 11 and PASS / FAIL, and what the
 * per-stream figures say about a larger N.
 *
 * @module
 */
import type { LiveResult } from './live.js';

/**
 * The targets (at N = 18,000; the same limits are shown at every N).
 *
 * @example
 * ```ts
 * result.rssPerStream < LIVE_TARGETS.bytesPerStream; // PASS
 * ```
 */
export const LIVE_TARGETS = {
  /** Memory per idle stream: RSS and heap growth over N, each under this (bytes). */
  bytesPerStream: 8 * 1024,
  /** p99 of a `broadcastAll`'s delivery to every stream (ms). */
  broadcastP99Ms: 250,
  /** p99 of a push from another process, through Redis, to one tab (ms). */
  pushP99Ms: 10,
} as const;

/** The verdicts of one run: `null` when not measured. */
export interface LiveVerdicts {
  /** Every stream open (the generators' count and the hub's both N). */
  open: boolean;
  rss: boolean;
  heap: boolean;
  /** Every round reached every stream, with p99 under the target. */
  broadcast: boolean;
  push: boolean | null;
}

/**
 * PASS / FAIL of each target for one run.
 *
 * @example
 * ```ts
 * liveVerdicts(result).broadcast; // true
 * ```
 */
export function liveVerdicts(r: LiveResult): LiveVerdicts {
  const everyRound = r.broadcastRounds.every((b) => b.count === r.n);
  return {
    open: r.opened === r.n && r.hubStreams === r.n && r.failed === 0,
    rss: r.rssPerStream < LIVE_TARGETS.bytesPerStream,
    heap: r.heapPerStream < LIVE_TARGETS.bytesPerStream,
    broadcast: everyRound && r.broadcast.p99 < LIVE_TARGETS.broadcastP99Ms,
    push: 'skipped' in r.push ? null : r.push.count === r.push.sent && r.push.sent > 0 && r.push.p99 < LIVE_TARGETS.pushP99Ms,
  };
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const ms = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(0)) : '-');
const kb = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(1)} KB` : '-');
const label = (r: LiveResult) => `${int(r.n)}${r.mode === 'bare' ? ' (bare)' : ''}`;
const word = (pass: boolean | null) => (pass === null ? 'SKIP' : pass ? 'PASS' : 'FAIL');

function table(header: readonly string[], rows: readonly (readonly string[])[], left = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i < left ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/**
 * Two plain-text tables: the figures at each N, and each target with its verdict at each N.
 *
 * @example
 * ```ts
 * console.log(renderLiveTables(results));
 * ```
 */
export function renderLiveTables(results: readonly LiveResult[]): string {
  const figures = table(
    ['N', 'gens', 'open s', 'open', 'RSS/stream', 'heap/stream', 'bcast p50', 'p99', 'max ms', 'server ms', 'CPU ms', 'push p50', 'p99', 'max ms', 'loop max ms'],
    results.map((r) => {
      const calls = r.broadcastRounds;
      const median = (f: (b: (typeof calls)[number]) => number) => {
        const v = calls.map(f).sort((a, b) => a - b);
        return v.length === 0 ? Number.NaN : v[v.length >> 1]!;
      };
      const push = 'skipped' in r.push ? null : r.push;
      return [
        label(r),
        String(r.generators),
        (r.openMs / 1000).toFixed(1),
        int(r.opened),
        kb(r.rssPerStream),
        kb(r.heapPerStream),
        ms(r.broadcast.p50),
        ms(r.broadcast.p99),
        ms(r.broadcast.max),
        ms(median((b) => b.flushMs)),
        ms(median((b) => b.cpuMs)),
        push ? ms(push.p50) : 'skipped',
        push ? ms(push.p99) : '',
        push ? ms(push.max) : '',
        push ? ms(push.loopDelayMaxMs) : '',
      ];
    }),
  );
  const verdicts = results.map(liveVerdicts);
  const row = (title: string, cell: (r: LiveResult, v: LiveVerdicts) => string) => [title, ...results.map((r, i) => cell(r, verdicts[i]!))];
  const targets = table(
    ['target', ...results.map((r) => `N = ${label(r)}`)],
    [
      row('every stream open (= N)', (r, v) => `${int(Math.min(r.opened, r.hubStreams))} ${word(v.open)}`),
      row(`RSS per idle stream < ${LIVE_TARGETS.bytesPerStream / 1024} KB`, (r, v) => `${kb(r.rssPerStream)} ${word(v.rss)}`),
      row(`heap per idle stream < ${LIVE_TARGETS.bytesPerStream / 1024} KB`, (r, v) => `${kb(r.heapPerStream)} ${word(v.heap)}`),
      row(`broadcastAll to all, p99 < ${LIVE_TARGETS.broadcastP99Ms} ms`, (r, v) => `${ms(r.broadcast.p99)} ms ${word(v.broadcast)}`),
      row(`push via Redis, p99 < ${LIVE_TARGETS.pushP99Ms} ms`, (r, v) => ('skipped' in r.push ? 'SKIP' : `${ms(r.push.p99)} ms ${word(v.push)}`)),
    ],
  );
  return `${figures}\n\n${targets}`;
}

/**
 * Notes under the tables: the legend, what did not reach every stream, skipped pushes, and what
 * the per-stream figures of the largest N say about 50,000 streams in one process.
 *
 * @example
 * ```ts
 * for (const line of liveNotes(results)) console.log(line);
 * ```
 */
export function liveNotes(results: readonly LiveResult[]): string[] {
  const out = [
    'open s: time to open all N (each stream counted when the hub\'s hello arrived). RSS/heap per stream: growth of the',
    'server\'s RSS and V8 heap (after a forced GC) from before the streams opened to after, ÷ N. bcast: delivery latency',
    'of broadcastAll to every stream (all rounds), stamped with process.hrtime in the server and read in the generators.',
    'server ms / CPU ms: median over rounds of the broadcast in the server (call + its writes) and the CPU it took.',
    'push: a process with its own tessera pushing by handle to single tabs through a RedisBus, stamped likewise; loop max:',
    'the server\'s longest event-loop delay while they ran (a heartbeat pings every stream in one pass, and holds pushes up).',
    '(bare): the reference, bare node:http holding the same streams in a Set (no sessions, no hub): what Node itself costs.',
  ];
  const kept = results.filter((r) => Number.isFinite(r.heapPerKeptEvent));
  if (kept.length > 0) {
    out.push(
      `replay: each tab keeps its last events for a reconnect; heap per kept event per stream after the broadcasts: ` +
        kept.map((r) => `${Math.round(r.heapPerKeptEvent)} B (N=${label(r)})`).join(', ') + '.',
    );
  }
  for (const r of results) {
    const short = r.broadcastRounds.filter((b) => b.count < r.opened);
    if (short.length > 0) out.push(`! N=${int(r.n)}: broadcast rounds ${short.map((b) => `${b.round} reached ${int(b.count)}`).join(', ')} of ${int(r.opened)} streams.`);
    if (r.failed > 0) out.push(`! N=${int(r.n)}: ${int(r.failed)} streams failed to open (${r.openErrors.join('; ')}).`);
    if (r.closed > 0) out.push(`! N=${int(r.n)}: ${int(r.closed)} streams closed during the run.`);
    if (!('skipped' in r.push) && r.push.errors.length > 0) out.push(`! N=${int(r.n)}: push errors: ${r.push.errors.join('; ')}`);
  }
  const skipped = results.find((r) => 'skipped' in r.push);
  if (skipped && 'skipped' in skipped.push) out.push(`! pushes from another process skipped: ${skipped.push.skipped}`);
  const big = results.filter((r) => r.mode === 'tessera').reduce<LiveResult | undefined>((a, r) => (a === undefined || r.n > a.n ? r : a), undefined);
  if (big !== undefined && big.n >= 1_000) {
    const at = 50_000;
    const rss = big.memoryBefore.rss + big.rssPerStream * at;
    const cpu = [...big.broadcastRounds].map((b) => b.cpuMs).sort((a, b) => a - b)[big.broadcastRounds.length >> 1] ?? Number.NaN;
    out.push(
      `50,000 streams in one process, from N=${int(big.n)}: RSS ≈ ${int(rss / 1024 ** 2)} MB (${int(big.memoryBefore.rss / 1024 ** 2)} MB before the streams + ` +
        `${kb(big.rssPerStream)} each), heap ≈ +${int((big.heapPerStream * at) / 1024 ** 2)} MB; a broadcastAll ≈ ${int((cpu / big.n) * at)} ms of server CPU ` +
        `(${((cpu / big.n) * 1000).toFixed(1)} µs per stream); 50,000+ open files (ulimit -n) and ≥ 2 client addresses or ports.`,
    );
  }
  return out;
}
