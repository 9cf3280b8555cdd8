/**
 * Turns rounds into figures (medians, per-round ratios to the baseline) and prints them.
 *
 * Ratios are computed round by round, each scenario against its baseline measured in the same
 * round (seconds apart), and the median of those is reported: a burst of load from another process
 * moves both sides of a pair, and one bad round cannot move a median.
 *
 * @module
 */
import type { Scenario } from '../scenarios.js';
import type { RoundResult } from './harness.js';

/**
 * Median of the finite values (NaN when there are none).
 *
 * @example
 * ```ts
 * median([3, 1, 2, NaN]); // 2
 * ```
 */
export function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A scenario compared with its baseline. */
export interface Comparison {
  baseline: string;
  /** Median over rounds of (this req/s ÷ baseline req/s in the same round). */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  /** Median over rounds of 1e6/rps − 1e6/baseline_rps: wall-clock µs each request costs extra. */
  overheadMicros: number;
  /**
   * Median over rounds of baseline CPU/req ÷ this CPU/req: the share of the baseline's throughput
   * a CPU-bound server keeps. Unlike `ratio`, it does not depend on the load generator keeping up.
   */
  cpuRatio: number;
  cpuRatioMin: number;
  cpuRatioMax: number;
  /** Median over rounds of CPU µs/req − baseline CPU µs/req: the server CPU each request costs extra. */
  cpuOverheadMicros: number;
  target: number | null;
  /** `ratio >= target`; `null` without a target, or when the figures are invalid. */
  pass: boolean | null;
  /** `cpuRatio >= target`; `null` likewise. */
  cpuPass: boolean | null;
}

/** A scenario against a peer library measured in the same rounds (against the same baseline). */
export interface PeerComparison {
  peer: string;
  /** Median over rounds of this req/s ÷ the peer's req/s in the same round. */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  /** Median over rounds of the peer's CPU/req ÷ this CPU/req (above 1: this costs less). */
  cpuRatio: number;
  /** `ratio > 1`; `null` when either side's figures are invalid. */
  pass: boolean | null;
  /** `cpuRatio > 1`; `null` likewise. */
  cpuPass: boolean | null;
}

/** Everything the bench says about one scenario. */
export interface ScenarioSummary {
  name: string;
  title: string;
  description: string;
  rounds: RoundResult[];
  /** Medians over rounds. */
  rps: number;
  cpuMicrosPerRequest: number;
  elu: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  comparison: Comparison | null;
  /** This scenario against the peer it must be ahead of (`ahead` in the scenario table), or `null`. */
  versusPeer: PeerComparison | null;
  /** Why these figures cannot be trusted (errors, non-2xx answers, requests off the measured path). */
  problems: string[];
}

function problemsOf(rounds: readonly RoundResult[]): string[] {
  const sum = (f: (r: RoundResult) => number) => rounds.reduce((n, r) => n + f(r), 0);
  const problems: string[] = [];
  const errors = sum((r) => r.errors);
  const non2xx = sum((r) => r.non2xx);
  const anomalies = sum((r) => r.anomalies);
  const cookieMisses = sum((r) => r.cookieMisses ?? 0);
  if (errors > 0) problems.push(`${errors} connection errors / timeouts`);
  if (non2xx > 0) problems.push(`${non2xx} non-2xx responses`);
  if (anomalies > 0) problems.push(`${anomalies} requests off the measured path (session not found?)`);
  if (cookieMisses > 0) problems.push(`${cookieMisses} responses without a new session cookie for the client to send back`);
  return problems;
}

/**
 * Summarise every scenario; `rounds.get(name)[i]` is round `i` of that scenario. When
 * `brackets.get(name)[i]` is given, round `i` of the scenario is compared with it (the baseline
 * measured around it) instead of with round `i` of the baseline.
 *
 * @example
 * ```ts
 * const summaries = summarise(scenarios, new Map([['bare', bareRounds], ['memory-read', readRounds]]), new Map());
 * summaries[1].comparison?.cpuRatio; // 0.44
 * ```
 */
export function summarise(
  list: readonly Scenario[],
  rounds: ReadonlyMap<string, RoundResult[]>,
  descriptions: ReadonlyMap<string, string>,
  brackets: ReadonlyMap<string, RoundResult[]> = new Map(),
): ScenarioSummary[] {
  const out: ScenarioSummary[] = [];
  for (const scenario of list) {
    const own = rounds.get(scenario.name) ?? [];
    const summary: ScenarioSummary = {
      name: scenario.name,
      title: scenario.title,
      description: descriptions.get(scenario.name) ?? '',
      rounds: own,
      rps: median(own.map((r) => r.rps)),
      cpuMicrosPerRequest: median(own.map((r) => r.cpuMicrosPerRequest)),
      elu: median(own.map((r) => r.elu)),
      latencyP50Ms: median(own.map((r) => r.latencyP50Ms)),
      latencyP99Ms: median(own.map((r) => r.latencyP99Ms)),
      comparison: null,
      versusPeer: null,
      problems: problemsOf(own),
    };
    const peer = scenario.ahead === undefined ? undefined : rounds.get(scenario.ahead);
    if (scenario.ahead !== undefined && peer !== undefined) {
      const pairs = own.flatMap((r, i) => (peer[i] ? [[r, peer[i]] as const] : []));
      const ratios = pairs.map(([r, p]) => r.rps / p.rps);
      const cpuRatio = median(pairs.map(([r, p]) => p.cpuMicrosPerRequest / r.cpuMicrosPerRequest));
      const ratio = median(ratios);
      const invalid = summary.problems.length > 0 || problemsOf(peer).length > 0;
      summary.versusPeer = {
        peer: scenario.ahead,
        ratio,
        ratioMin: Math.min(...ratios),
        ratioMax: Math.max(...ratios),
        cpuRatio,
        pass: invalid || !Number.isFinite(ratio) ? null : ratio > 1,
        cpuPass: invalid || !Number.isFinite(cpuRatio) ? null : cpuRatio > 1,
      };
    }
    const base = scenario.baseline === undefined ? undefined : rounds.get(scenario.baseline);
    if (scenario.baseline !== undefined && base !== undefined) {
      const around = brackets.get(scenario.name);
      const compared = around !== undefined && around.length > 0 ? around : base;
      const pairs = own.flatMap((r, i) => (compared[i] ? [[r, compared[i]] as const] : []));
      const ratios = pairs.map(([r, b]) => r.rps / b.rps);
      const cpuRatios = pairs.map(([r, b]) => b.cpuMicrosPerRequest / r.cpuMicrosPerRequest);
      const ratio = median(ratios);
      const cpuRatio = median(cpuRatios);
      const target = scenario.target ?? null;
      const invalid = summary.problems.length > 0 || problemsOf(base).length > 0;
      const verdict = (value: number) => (target === null || invalid || !Number.isFinite(value) ? null : value >= target);
      summary.comparison = {
        baseline: scenario.baseline,
        ratio,
        ratioMin: Math.min(...ratios),
        ratioMax: Math.max(...ratios),
        overheadMicros: median(pairs.map(([r, b]) => 1e6 / r.rps - 1e6 / b.rps)),
        cpuRatio,
        cpuRatioMin: Math.min(...cpuRatios),
        cpuRatioMax: Math.max(...cpuRatios),
        cpuOverheadMicros: median(pairs.map(([r, b]) => r.cpuMicrosPerRequest - b.cpuMicrosPerRequest)),
        target,
        pass: verdict(ratio),
        cpuPass: verdict(cpuRatio),
      };
    }
    out.push(summary);
  }
  return out;
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const signed = (n: number) => (Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${n.toFixed(1)}` : '-');
const word = (pass: boolean | null) => (pass === null ? 'INVALID' : pass ? 'PASS' : 'FAIL');

/**
 * A plain-text table of the summaries, with PASS / FAIL against each target.
 *
 * @example
 * ```ts
 * console.log(renderTable(summarise(list, rounds, descriptions)));
 * ```
 */
export function renderTable(summaries: readonly ScenarioSummary[]): string {
  const header = ['scenario', 'req/s', 'ratio', '(range)', 'overhead µs', 'CPU µs/req', 'CPU ratio', '(range)', 'CPU overhead µs', 'ELU', 'p99 ms', 'vs', 'target', 'req/s · CPU'];
  const rows = summaries.map((s) => {
    const c = s.comparison;
    const hasTarget = c !== null && c.target !== null;
    return [
      s.title,
      int(s.rps),
      c ? fixed(c.ratio, 3) : '',
      c ? `(${fixed(c.ratioMin, 2)}–${fixed(c.ratioMax, 2)})` : '',
      c ? signed(c.overheadMicros) : '',
      fixed(s.cpuMicrosPerRequest, 1),
      c ? fixed(c.cpuRatio, 3) : '',
      c ? `(${fixed(c.cpuRatioMin, 2)}–${fixed(c.cpuRatioMax, 2)})` : '',
      c ? signed(c.cpuOverheadMicros) : '',
      fixed(s.elu, 2),
      fixed(s.latencyP99Ms, 0),
      c ? c.baseline : '',
      hasTarget ? `≥ ${c.target!.toFixed(2)}` : '',
      hasTarget ? `${word(c.pass)} · ${word(c.cpuPass)}` : '',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const numeric = new Set([1, 2, 4, 5, 6, 8, 9, 10]);
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/**
 * One line per scenario that must be ahead of a peer: req/s and CPU ratios to it, with verdicts.
 *
 * @example
 * ```ts
 * for (const line of peerLines(summaries)) console.log(line);
 * // tessera/fastify read (cookie) vs @fastify/secure-session read (peer): req/s ×1.21 (1.10–1.30), CPU ×1.25 → AHEAD · AHEAD
 * ```
 */
export function peerLines(summaries: readonly ScenarioSummary[]): string[] {
  const titles = new Map(summaries.map((s) => [s.name, s.title]));
  const verdict = (pass: boolean | null) => (pass === null ? 'INVALID' : pass ? 'AHEAD' : 'BEHIND');
  return summaries.flatMap((s) => {
    const v = s.versusPeer;
    if (v === null) return [];
    return [
      `${s.title} vs ${titles.get(v.peer) ?? v.peer}: req/s ×${fixed(v.ratio, 2)} (${fixed(v.ratioMin, 2)}–${fixed(v.ratioMax, 2)}), ` +
        `CPU ×${fixed(v.cpuRatio, 2)} → ${verdict(v.pass)} · ${verdict(v.cpuPass)}`,
    ];
  });
}

/**
 * Warnings about how far the figures can be trusted: invalid rounds, an unsaturated baseline, noise.
 *
 * @example
 * ```ts
 * for (const note of caveats(summaries)) console.log(`! ${note}`);
 * ```
 */
export function caveats(summaries: readonly ScenarioSummary[]): string[] {
  const out: string[] = [];
  const byName = new Map(summaries.map((s) => [s.name, s]));
  const baselines = new Set(summaries.flatMap((s) => (s.comparison ? [s.comparison.baseline] : [])));
  for (const s of summaries) {
    for (const problem of s.problems) out.push(`${s.title}: ${problem}; its figures are not valid.`);
    if (baselines.has(s.name) && s.elu < 0.9) {
      out.push(
        `${s.title} was not saturated (event loop ${Math.round(s.elu * 100)} % busy): the load generator limited it, so its ` +
          'req/s is understated and req/s ratios against it flatter the others. Trust the CPU ratio more.',
      );
    }
    const c = s.comparison;
    if (c && Number.isFinite(c.ratioMin) && c.ratioMax > 1.3 * c.ratioMin && byName.has(c.baseline)) {
      out.push(`${s.title}: req/s ratios ranged ${fixed(c.ratioMin, 2)}–${fixed(c.ratioMax, 2)} over the rounds (noisy machine): read the medians, and rerun with more --rounds if a verdict is close.`);
    }
  }
  return out;
}
