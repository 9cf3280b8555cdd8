/**
 * What grew between two V8 heap snapshots, by object kind: count and self size, and per stream with
 * `--per N`. For the live bench's snapshots (`npm run bench -- --live-n 2000 --profile DIR`):
 *
 *   node --import tsx bench/heap.ts DIR/live-2000-before.heapsnapshot DIR/live-2000-after.heapsnapshot --per 2000
 *
 * Self size only (what the object itself takes, not what it holds): the sum over kinds is the
 * heap's growth. Kinds are V8's: a constructor name for objects, `(closure)` name for functions,
 * `(string)`, `(array)`, `(code)`, `(system)` … for the rest.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Kind → [count, self bytes]. */
function tally(path: string): Map<string, [number, number]> {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const out = new Map<string, [number, number]>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    const name = snap.strings[snap.nodes[i + nameAt]!]!;
    const kind = type === 'object' || type === 'native' ? name : type === 'closure' ? `(closure) ${name || '(anonymous)'}` : `(${type})`;
    const entry = out.get(kind) ?? [0, 0];
    entry[0]++;
    entry[1] += snap.nodes[i + sizeAt]!;
    out.set(kind, entry);
  }
  return out;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { per: { type: 'string' }, top: { type: 'string', default: '30' } } });
if (positionals.length !== 2) {
  console.error('usage: node --import tsx bench/heap.ts BEFORE.heapsnapshot AFTER.heapsnapshot [--per N] [--top 30]');
  process.exit(2);
}
const per = values.per === undefined ? 1 : Number(values.per);
const before = tally(positionals[0]!);
const after = tally(positionals[1]!);
const rows = [...after].map(([kind, [count, bytes]]) => {
  const [c0, b0] = before.get(kind) ?? [0, 0];
  return { kind, count: count - c0, bytes: bytes - b0 };
});
rows.sort((a, b) => b.bytes - a.bytes);
const total = rows.reduce((s, r) => s + r.bytes, 0);
const unit = per === 1 ? 'bytes' : 'bytes per stream';
console.log(`heap growth: ${total.toLocaleString('en-US')} bytes${per === 1 ? '' : ` (${(total / per).toFixed(0)} per stream, N = ${per})`}`);
console.log(`${'kind'.padEnd(48)} ${'count'.padStart(10)} ${unit.padStart(18)}`);
for (const r of rows.slice(0, Number(values.top))) {
  console.log(`${r.kind.slice(0, 48).padEnd(48)} ${(r.count / per).toFixed(per === 1 ? 0 : 2).padStart(10)} ${(r.bytes / per).toFixed(per === 1 ? 0 : 1).padStart(18)}`);
}
