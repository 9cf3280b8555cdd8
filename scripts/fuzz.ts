/**
 * `npm run fuzz`: the adapter fuzzer of test/fuzz/ at length — by default 1,000,000 random and
 * mutated requests shared among every adapter on both store forms (signed session-ID cookies,
 * sealed cookies; the JWT auth cookie on both). Prints a progress line, then cases per second per target; exits 1 with the
 * shrunk counterexample on the first failure.
 *
 * Options: `FUZZ_CASES=n` (or `--cases n`) for the total; `FUZZ_SEED=n` (or `--seed n`) to
 * replay a run; `--only text` to fuzz only the targets whose name contains it; `--jobs n`
 * (default 2) processes sharing the targets.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TARGETS } from '../test/fuzz/apps.js';
import { emptyTally, fuzz, type Tally } from '../test/fuzz/run.js';
import { makeWorld, type StoreMode } from '../test/fuzz/world.js';

const argument = (name: string): string | undefined => {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? undefined : process.argv[at + 1];
};
const total = Number(argument('cases') ?? process.env.FUZZ_CASES ?? 1_000_000);
const seedText = argument('seed') ?? process.env.FUZZ_SEED;
const seed = seedText === undefined ? Date.now() % 2 ** 31 : Number(seedText);
const only = argument('only');
const jobs = Number(argument('jobs') ?? 2);
/** In a worker process: `i/n`, the share of the targets it runs. */
const worker = argument('worker')?.split('/').map(Number);
if (!Number.isInteger(total) || total < 1 || !Number.isInteger(seed) || !Number.isInteger(jobs) || jobs < 1) {
  console.error('usage: npm run fuzz -- [--cases n] [--seed n] [--only name] [--jobs n]');
  process.exit(2);
}

const worlds = TARGETS.flatMap((target) => (['server', 'sealed'] as const).map((mode) => ({ target, mode, name: `${target.name}, ${mode === 'server' ? 'signed ID' : 'sealed'}` })));
const matching = worlds.filter((w) => only === undefined || w.name.includes(only));
if (matching.length === 0) {
  console.error(`no target matches ${JSON.stringify(only)}`);
  process.exit(2);
}
const per = Math.ceil(total / matching.length);
interface Row {
  name: string;
  cases: number;
  seconds: number;
  tally: Tally;
}

if (worker === undefined && jobs > 1 && matching.length > 1) await parent();
else await run(worker === undefined ? matching : matching.filter((_, i) => i % worker[1]! === worker[0]));

/** Run `jobs` worker processes, each on its share of the targets, and print their results together. */
async function parent(): Promise<void> {
  console.log(`fuzzing ${per * matching.length} cases over ${matching.length} targets in ${jobs} processes, seed ${seed}`);
  const started = performance.now();
  const rows: Row[] = [];
  const children: ChildProcess[] = [];
  const script = fileURLToPath(import.meta.url);
  let failed = false;
  await Promise.all(
    Array.from({ length: jobs }, (_, i) => {
      const args = ['--import', 'tsx', script, '--worker', `${i}/${jobs}`, '--cases', String(total), '--seed', String(seed), ...(only === undefined ? [] : ['--only', only])];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line.startsWith('RESULT ')) rows.push(JSON.parse(line.slice(7)) as Row);
        else console.log(`[${i}] ${line}`);
      });
      return new Promise<void>((resolve) =>
        child.on('exit', (code) => {
          if (code !== 0 && !failed) {
            failed = true;
            for (const other of children) if (other !== child && other.exitCode === null) other.kill();
          }
          resolve();
        }),
      );
    }),
  );
  if (failed) process.exit(1);
  rows.sort((a, b) => matching.findIndex((w) => w.name === a.name) - matching.findIndex((w) => w.name === b.name));
  report(rows, (performance.now() - started) / 1000);
}

function report(rows: Row[], seconds: number): void {
  console.log('\ntarget                              cases   seconds  cases/s  loaded  csrf-passed  signed-in  refused(403/400)');
  for (const row of rows) {
    const { loaded, 'csrf-passed': passed, 'signed-in': signedIn, 'csrf-refused': refused, 'tenant-refused': tenant } = row.tally;
    console.log(
      `${row.name.padEnd(34)} ${String(row.cases).padStart(7)} ${row.seconds.toFixed(1).padStart(9)} ${String(Math.round(row.cases / row.seconds)).padStart(8)} ${String(loaded).padStart(7)} ${String(passed).padStart(12)} ${String(signedIn).padStart(10)}  ${refused}/${tenant}`,
    );
  }
  const cases = rows.reduce((sum, row) => sum + row.cases, 0);
  console.log(`\n${cases} cases in ${seconds.toFixed(1)} s (${Math.round(cases / seconds)} cases/s): no 500, no exception, nothing accepted without a valid credential`);
}

/** Fuzz `chosen` in this process, one after the other. */
async function run(chosen: typeof matching): Promise<void> {
  // A rejection no request awaited is a failure too.
  process.on('unhandledRejection', (error) => {
    console.error('\nunhandled rejection:', error);
    process.exit(1);
  });

  console.log(`fuzzing ${per * chosen.length} cases over ${chosen.length} targets, seed ${seed}`);
  const rows: Row[] = [];
  const started = performance.now();
  let done = 0;
  let lastLine = 0;
  for (const [index, { target, mode, name }] of chosen.entries()) {
    const world = await makeWorld(target, mode as StoreMode);
    const t0 = performance.now();
    let tally = emptyTally();
    try {
      tally = await fuzz(world, {
        numRuns: per,
        seed: seed + worlds.indexOf(chosen[index]!),
        onCase: () => {
          done++;
          const now = performance.now();
          if (now - lastLine > 5_000) {
            lastLine = now;
            const rate = Math.round(done / ((now - started) / 1000));
            process.stdout.write(`  ${done} / ${per * chosen.length} cases, ${rate}/s overall, now: ${name}\n`);
          }
        },
      });
    } catch (error) {
      console.error(`\nFAILED on ${name} (seed ${seed + worlds.indexOf(chosen[index]!)}; replay: npm run fuzz -- --seed ${seed} --only "${name}"):\n${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    } finally {
      await world.app.close();
    }
    rows.push({ name, cases: per, seconds: (performance.now() - t0) / 1000, tally });
  }

  if (worker === undefined) report(rows, (performance.now() - started) / 1000);
  else for (const row of rows) console.log(`RESULT ${JSON.stringify(row)}`);
}
