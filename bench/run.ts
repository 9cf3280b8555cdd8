/**
 * `npm run bench`: throughput of tessera on node:http against a bare node:http server, in one run.
 *
 * Each server runs in its own child process; autocannon drives it from this process. After a
 * warm-up, the scenarios are measured in interleaved rounds (bare, read, write, then the next round
 * starting one further along; a baseline's scenarios run right next to it), and the report gives
 * medians over rounds and, for each scenario with a baseline, the median of its per-round ratios.
 * Scenarios whose service (Redis, PostgreSQL) does not answer are skipped, saying why. A failed
 * target prints FAIL but the exit code stays 0: this is a measurement, not a test. See
 * docs/benchmarks.md.
 *
 *   npm run bench                                  # the default: about three minutes
 *   npm run bench -- --rounds 9 --duration 5       # steadier figures, longer
 *   npm run bench -- --only memory-read            # one scenario (and its baseline)
 *   npm run bench -- --json > bench.json           # machine-readable, progress on stderr
 *   npm run bench -- --out bench.json              # the table, and the JSON saved to a file
 *   npm run bench -- --live                        # live streams only: N = 2,000, 6,000, 18,000
 *
 * The default run ends with the live bench at a small N (bench/lib/live.ts): one server holding
 * N open event streams opened by load-generator processes, its memory per stream, and how fast a
 * broadcast and a push from another process reach them.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { buildForBench } from './lib/build.js';
import { ServerProcess, type LoadOptions, type RoundResult } from './lib/harness.js';
import { caveats, peerLines, renderTable, summarise, type ScenarioSummary } from './lib/report.js';
import { runLiveBench, stopLiveChildren, type LiveResult } from './lib/live.js';
import { LIVE_TARGETS, liveNotes, liveVerdicts, renderLiveTables } from './lib/live-report.js';
import { scenarios, type Scenario } from './scenarios.js';

const HELP = `Usage: npm run bench -- [options]

  --rounds N        measured rounds per scenario (default 7; 5 for the Redis and PostgreSQL pairs)
  --duration S      seconds per measurement (default 2)
  --warmup S        warm-up seconds per server before the first round (default 3)
  --connections N   concurrent connections (default 10)
  --pipelining N    pipelined requests per connection (default 1: none, like browsers)
  --only a,b        only these scenarios (their baselines are added)
  --json            print the results as JSON on stdout (progress goes to stderr)
  --out FILE        also write the JSON results to FILE
  --profile DIR     run each server with --cpu-prof, writing .cpuprofile files to DIR/<scenario>/
                    (read them with: node --import tsx bench/profile.ts FILE); the live server also
                    writes heap snapshots before and after its streams open (DIR/live-<N>-*.heapsnapshot;
                    compare them with: node --import tsx bench/heap.ts BEFORE AFTER)
  --node-flags "…"  extra node flags for the server processes (e.g. "--max-semi-space-size=32")
  --tsx             run the servers' TypeScript under the tsx loader instead of compiling first
  --live            only the live bench: open event streams at N = 2,000, 6,000 and 18,000
                    (the default run does N = 2,000 after the scenarios; --only leaves it out)
  --live-n a,b      only the live bench, at these N (at most 18,000: a process may hold 20,000 files)
  --live-bare       with --live: also the reference at each N, bare node:http holding the streams
  --list            list the scenarios and exit
  --help            this text`;

function numberFlag(name: string, value: string | undefined, fallback: number, kind: 'integer' | 'positive' | 'non-negative'): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  const ok = Number.isFinite(n) && (kind === 'non-negative' ? n >= 0 : n > 0) && (kind !== 'integer' || Number.isInteger(n));
  if (!ok) {
    console.error(`--${name} must be a ${kind === 'integer' ? 'positive integer' : `${kind} number`}, not ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
}

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    pipelining: { type: 'string' },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
    profile: { type: 'string' },
    tsx: { type: 'boolean', default: false },
    'node-flags': { type: 'string' },
    live: { type: 'boolean', default: false },
    'live-bare': { type: 'boolean', default: false },
    'live-n': { type: 'string' },
    list: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

/** The live bench's N in the default run; `--live` runs {@link LIVE_NS}. */
const DEFAULT_LIVE_N = 2_000;
const LIVE_NS = [2_000, 6_000, 18_000];
/** Most streams one server may hold here: a process may have 20,000 open files, and needs a few of its own. */
const MAX_LIVE_N = 18_000;
const liveOnly = flags.live || flags['live-n'] !== undefined;
const liveNs = flags['live-n'] !== undefined ? flags['live-n'].split(',').map((v) => numberFlag('live-n', v.trim(), 0, 'integer')) : liveOnly ? LIVE_NS : flags.only ? [] : [DEFAULT_LIVE_N];
for (const n of liveNs) {
  if (n > MAX_LIVE_N) {
    console.error(`--live-n: ${n} streams is more than one process may hold here (at most ${MAX_LIVE_N}: the limit of open files is 20,000)`);
    process.exit(2);
  }
}

if (flags.help) {
  console.log(HELP);
  process.exit(0);
}
if (flags.list) {
  for (const s of scenarios) {
    const vs = s.baseline ? `  vs ${s.baseline}${s.target !== undefined ? `, target ≥ ${s.target}` : ''}` : '';
    console.log(`${s.name.padEnd(20)} ${s.title}${vs}${s.optional ? '  (only with --only)' : ''}`);
  }
  console.log(`${'live'.padEnd(20)} N open event streams on node:http (--live, --live-n; N = ${DEFAULT_LIVE_N} in the default run)`);
  process.exit(0);
}

const rounds = numberFlag('rounds', flags.rounds, 7, 'integer');
const warmup = numberFlag('warmup', flags.warmup, 3, 'non-negative');
const load: LoadOptions = {
  duration: numberFlag('duration', flags.duration, 2, 'positive'),
  connections: numberFlag('connections', flags.connections, 10, 'integer'),
  pipelining: numberFlag('pipelining', flags.pipelining, 1, 'integer'),
};
/** A scenario's rounds: `--rounds` for every scenario when given, else its own default or 7. */
const roundsOf = (s: Scenario): number => (flags.rounds === undefined ? (s.rounds ?? rounds) : rounds);
/** A scenario's load: `--duration` for every scenario when given, else its own default or 2 s. */
const loadOf = (s: Scenario): LoadOptions => (flags.duration === undefined && s.duration !== undefined ? { ...load, duration: s.duration } : load);

/**
 * The order of one round: the servers taking part (those with rounds left), each baseline with its
 * scenarios, every scenario bracketed by a measurement of its baseline just before and just after
 * (B S1 B S2 B …), so each ratio compares measurements a few seconds apart and a burst of load from
 * elsewhere moves both sides. The groups and the scenarios within each rotate by one each round,
 * so nothing always runs first or right after the same server.
 */
function roundOrder(servers: readonly ServerProcess[], round: number): ServerProcess[] {
  const groups = new Map<string, { base: ServerProcess | undefined; scenarios: ServerProcess[] }>();
  for (const server of servers) {
    if (round >= roundsOf(server.scenario)) continue;
    const name = server.scenario.baseline ?? server.scenario.name;
    const group = groups.get(name) ?? { base: undefined, scenarios: [] };
    if (server.scenario.baseline === undefined) group.base = server;
    else group.scenarios.push(server);
    groups.set(name, group);
  }
  const rotate = <T>(list: readonly T[]): T[] => list.map((_, i) => list[(i + round) % list.length]!);
  return rotate([...groups.values()]).flatMap(({ base, scenarios }) => {
    if (base === undefined) return rotate(scenarios);
    return [base, ...rotate(scenarios).flatMap((s) => [s, base])];
  });
}

/** The mean of two measurements of a baseline: what a scenario measured between them is compared with. */
function bracket(before: RoundResult, after: RoundResult): RoundResult {
  const mean = (f: (r: RoundResult) => number) => (f(before) + f(after)) / 2;
  return {
    ...after,
    rps: mean((r) => r.rps),
    cpuMicrosPerRequest: mean((r) => r.cpuMicrosPerRequest),
    elu: mean((r) => r.elu),
    latencyP50Ms: mean((r) => r.latencyP50Ms),
    latencyP99Ms: mean((r) => r.latencyP99Ms),
  };
}
// Human output goes to stdout, unless stdout carries the JSON.
const say = (line = ''): void => void (flags.json ? process.stderr : process.stdout).write(`${line}\n`);
const progress = (line: string): void => void process.stderr.write(`${line}\n`);

/** The scenarios to run: `--only` plus the baselines they need, minus those that cannot run here. */
async function select(): Promise<Scenario[]> {
  const byName = new Map(scenarios.map((s) => [s.name, s]));
  let wanted = new Set(scenarios.filter((s) => !s.optional).map((s) => s.name));
  if (flags.only) {
    wanted = new Set();
    for (const name of flags.only.split(',').map((n) => n.trim()).filter(Boolean)) {
      const s = byName.get(name);
      if (!s) {
        console.error(`unknown scenario ${JSON.stringify(name)}; --list shows them`);
        process.exit(2);
      }
      wanted.add(name);
      if (s.baseline) wanted.add(s.baseline);
      if (s.ahead) wanted.add(s.ahead);
    }
  }
  const skipped = new Map<string, string>();
  for (const s of scenarios) {
    if (!wanted.has(s.name)) continue;
    const reason = await s.skip?.();
    if (reason) skipped.set(s.name, reason);
  }
  for (const s of scenarios) {
    if (wanted.has(s.name) && !skipped.has(s.name) && s.baseline && skipped.has(s.baseline)) {
      skipped.set(s.name, `its baseline ${s.baseline} is skipped`);
    }
  }
  for (const [name, reason] of skipped) say(`skipping ${name}: ${reason}`);
  const list = scenarios.filter((s) => wanted.has(s.name) && !skipped.has(s.name));
  for (const s of list) {
    const base = s.baseline === undefined ? undefined : byName.get(s.baseline);
    if (base && roundsOf(base) !== roundsOf(s)) throw new Error(`scenarios.ts: ${s.name} and its baseline ${base.name} must have the same rounds`);
    const peer = s.ahead === undefined ? undefined : byName.get(s.ahead);
    if (peer && (peer.baseline !== s.baseline || roundsOf(peer) !== roundsOf(s))) throw new Error(`scenarios.ts: ${s.name} and its peer ${peer.name} must share a baseline and rounds`);
  }
  return list;
}

function machine() {
  const cpus = os.cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: os.availableParallelism(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    loadAverage: os.loadavg().map((n) => Number(n.toFixed(2))),
  };
}

/** The request/response scenarios: run them, print their table, return their summaries. */
async function runScenarios(list: readonly Scenario[], compiled: string | undefined, before: ReturnType<typeof machine>): Promise<ScenarioSummary[]> {
  const plans = new Map<string, string[]>();
  for (const s of list) {
    const plan = `${roundsOf(s)} rounds × ${loadOf(s).duration} s`;
    plans.set(plan, [...(plans.get(plan) ?? []), s.name]);
  }
  say(
    `${[...plans].map(([plan, names]) => (plans.size === 1 ? plan : `${plan} (${names.join(', ')})`)).join('; ')}; ` +
      `${load.connections} connections, ${warmup} s warm-up per server` +
      (plans.size === 1 ? `; scenarios: ${list.map((s) => s.name).join(', ')}` : ''),
  );
  if (before.cpus < 2) say('! fewer than 2 CPUs: the load generator and the server share one, so ratios understate overhead');

  const servers = list.map((s) => new ServerProcess(s));
  const stopAll = () => Promise.allSettled(servers.map((s) => s.stop()));
  process.once('SIGINT', () => void stopAll().finally(() => process.exit(130)));
  try {
    for (const server of servers) {
      const nodeOptions = (flags['node-flags'] ?? '').split(/\s+/).filter(Boolean);
      // One folder per server: under --tsx the loader's worker thread writes a profile of its own.
      if (flags.profile) nodeOptions.push('--cpu-prof', `--cpu-prof-dir=${flags.profile}/${server.scenario.name}`);
      await server.start(load, { compiled, nodeOptions });
      progress(`  started ${server.scenario.name}: ${server.description}`);
    }
    for (const server of servers) await server.warmUp(load, warmup);

    const results = new Map<string, RoundResult[]>(list.map((s) => [s.name, []]));
    // For each scenario with a baseline, per round: the mean of the baseline measured just before and after it.
    const brackets = new Map<string, RoundResult[]>(list.filter((s) => s.baseline).map((s) => [s.name, []]));
    const totalRounds = Math.max(...list.map(roundsOf));
    for (let round = 0; round < totalRounds; round++) {
      const cells: string[] = [];
      const lastBase = new Map<string, RoundResult>();
      const waiting = new Map<string, { scenario: string; before: RoundResult }[]>();
      for (const server of roundOrder(servers, round)) {
        const { name, baseline } = server.scenario;
        const result = await server.measure(loadOf(server.scenario));
        results.get(name)!.push(result);
        cells.push(`${name} ${Math.round(result.rps).toLocaleString('en-US')}`);
        if (baseline === undefined) {
          for (const { scenario, before } of waiting.get(name) ?? []) brackets.get(scenario)!.push(bracket(before, result));
          waiting.delete(name);
          lastBase.set(name, result);
        } else if (lastBase.has(baseline)) {
          waiting.set(baseline, [...(waiting.get(baseline) ?? []), { scenario: name, before: lastBase.get(baseline)! }]);
        }
      }
      progress(`  round ${round + 1}/${totalRounds}: ${cells.join(' · ')} req/s`);
    }

    const summaries = summarise(list, results, new Map(servers.map((s) => [s.scenario.name, s.description])), brackets);
    say();
    say(renderTable(summaries));
    say();
    say('req/s: completed requests per second (median over rounds). ratio: median over rounds of req/s ÷ the baseline\'s');
    say('req/s in the same round, (min–max). overhead µs: 1e6/req/s − 1e6/baseline req/s. CPU µs/req: the server process\'s');
    say('user+system time per request; CPU ratio: baseline CPU/req ÷ CPU/req, the share of throughput a CPU-bound server');
    say('keeps. ELU: the server\'s event-loop utilisation. Verdicts: the req/s ratio, then the CPU ratio, against the target.');
    const notes = caveats(summaries);
    if (before.loadAverage[0]! > before.cpus) notes.unshift(`the machine was busy when the bench started (load average ${before.loadAverage[0]} on ${before.cpus} CPUs): expect noise.`);
    for (const line of peerLines(summaries)) say(line);
    for (const note of notes) say(`! ${note}`);
    return summaries;
  } finally {
    await stopAll();
  }
}

/** The live bench at each N (bench/lib/live.ts): run, print its tables, return the results. */
async function runLive(compiled: string | undefined): Promise<LiveResult[]> {
  say();
  say(`live streams: N = ${liveNs.map((n) => n.toLocaleString('en-US')).join(', ')}; one server process, generators of at most 6,000 streams each, loopback only`);
  const results: LiveResult[] = [];
  for (const n of liveNs) {
    const serverFlags = (flags['node-flags'] ?? '').split(/\s+/).filter(Boolean);
    if (flags.profile) serverFlags.push('--cpu-prof', `--cpu-prof-dir=${flags.profile}/live-${n}`);
    if (flags.profile) mkdirSync(flags.profile, { recursive: true });
    const result = await runLiveBench({ n, compiled, serverFlags, progress, ...(flags.profile ? { heapSnapshots: flags.profile } : {}) });
    if (flags['live-bare']) results.push(await runLiveBench({ n, mode: 'bare', compiled, progress }));
    const v = liveVerdicts(result);
    progress(
      `  live N=${n.toLocaleString('en-US')}: RSS ${(result.rssPerStream / 1024).toFixed(1)} KB and heap ${(result.heapPerStream / 1024).toFixed(1)} KB per stream; ` +
        `broadcast p99 ${result.broadcast.p99.toFixed(0)} ms; ${'skipped' in result.push ? 'push skipped' : `push p99 ${result.push.p99.toFixed(2)} ms`} (${v.open ? 'all open' : 'NOT all open'})`,
    );
    results.splice(flags['live-bare'] ? results.length - 1 : results.length, 0, result);
  }
  say();
  say(renderLiveTables(results));
  say();
  for (const line of liveNotes(results)) say(line);
  return results;
}

async function main(): Promise<void> {
  const list = liveOnly ? [] : await select();
  if (list.length === 0 && liveNs.length === 0) {
    say('nothing to run');
    return;
  }
  const started = Date.now();
  const before = machine();
  say(
    `tessera bench — node ${before.node}, ${before.platform}, ${before.cpus} CPUs (${before.cpuModel}), ` +
      `load average ${before.loadAverage.join(' ')}`,
  );
  process.once('SIGINT', () => void stopLiveChildren().finally(() => process.exit(130)));
  // Servers run tsc's JavaScript, as users do (see lib/build.ts), unless --tsx.
  if (!flags.tsx) progress('  compiling src/ and bench/ to JavaScript…');
  const compiled = flags.tsx ? undefined : buildForBench();
  const summaries = list.length > 0 ? await runScenarios(list, compiled, before) : [];
  const live = liveNs.length > 0 ? await runLive(compiled) : [];
  const after = machine();
  const seconds = (Date.now() - started) / 1000;
  say(`done in ${seconds.toFixed(0)} s; load average now ${after.loadAverage.join(' ')}. A measurement, not a test: the exit code is 0 whatever the verdicts.`);

  const json = {
    tool: 'tessera bench',
    date: new Date(started).toISOString(),
    seconds,
    machine: { ...before, loadAverageAfter: after.loadAverage },
    options: {
      rounds,
      warmup,
      ...load,
      runtime: flags.tsx ? 'tsx' : 'compiled',
      perScenario: Object.fromEntries(list.map((s) => [s.name, { rounds: roundsOf(s), duration: loadOf(s).duration }])),
    },
    scenarios: summaries,
    live: live.length === 0 ? null : { targets: LIVE_TARGETS, results: live.map((r) => ({ ...r, verdicts: liveVerdicts(r) })) },
  };
  const text = `${JSON.stringify(json, null, 2)}\n`;
  if (flags.json) process.stdout.write(text);
  if (flags.out) {
    writeFileSync(flags.out, text);
    say(`JSON written to ${flags.out}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
