/**
 * Summarise a V8 `.cpuprofile` (from `npm run bench -- --profile DIR`): the functions with the
 * most self time, and the inclusive time of tessera's own functions (src/), as a share of the
 * profile's busy (non-idle) time.
 *
 *   node --import tsx bench/profile.ts DIR/memory-read.cpuprofile [--top 25]
 *   node --import tsx bench/profile.ts FILE --lines '#sealIntoCookie'   # its samples by source line
 *
 * `--lines NAME` lists, for the functions whose name contains NAME, the samples taken on each of
 * their source lines (V8's `positionTicks`). Functions V8 inlined into NAME are counted on the line
 * that called them, so this is how a cost that self time hides shows up (a builtin such as
 * `JSON.stringify` or a `Map` iterator is charged to the calling function's self time).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
  /** Samples per source line (1-based) of this node's function. */
  positionTicks?: { line: number; ticks: number }[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  options: { top: { type: 'string', default: '25' }, lines: { type: 'string' } },
  allowPositionals: true,
});
if (positionals.length === 0) {
  console.error('usage: node --import tsx bench/profile.ts FILE.cpuprofile [--top N] [--lines FUNCTION]');
  process.exit(2);
}
const top = Number(values.top);

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const label = (f: CallFrame): string => {
    // Project files (also as compiled into node_modules/.cache/tessera-bench/) as src/… and bench/….
    const path = f.url.replace(/^file:\/\/.*?\/(?:node_modules\/\.cache\/tessera-bench\/)?((?:src|bench)\/)/, '$1').replace(/^file:\/\/.*?\/node_modules\//, 'node_modules/');
    const where = f.url ? `${path}:${f.lineNumber + 1}` : '';
    return `${f.functionName || '(anonymous)'} ${where}`.trim();
  };

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id)!;
    const name = node.callFrame.functionName;
    if (name === '(idle)' || name === '(program)') return;
    busy += dt;
    const own = label(node.callFrame);
    self.set(own, (self.get(own) ?? 0) + dt);
    // Count each function once per sample, however deep it recurses.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!.callFrame);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + dt);
    }
  });

  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
  console.log(`\n${file}: ${(busy / 1000).toFixed(0)} ms busy`);
  console.log(`\n  self time, top ${top}:`);
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${name}`);
  console.log(`\n  inclusive time of tessera (src/) and bench functions:`);
  for (const [name, us] of [...inclusive].filter(([n]) => / (src|bench)\//.test(n)).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${pct(us)}  ${name}`);
  }

  if (values.lines !== undefined) {
    const wanted = values.lines;
    const ticks = new Map<string, number>();
    let samples = 0;
    for (const node of profile.nodes) {
      if (!node.callFrame.functionName.includes(wanted)) continue;
      for (const { line, ticks: n } of node.positionTicks ?? []) {
        const key = `${label({ ...node.callFrame, lineNumber: line - 1 })}`;
        ticks.set(key, (ticks.get(key) ?? 0) + n);
        samples += n;
      }
    }
    console.log(`\n  samples by source line in functions named like ${JSON.stringify(wanted)} (${samples} samples):`);
    for (const [where, n] of [...ticks].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`  ${((100 * n) / Math.max(1, samples)).toFixed(1).padStart(5)} %  ${where}`);
    }
  }
}
