/** Reading a Prometheus text exposition in tests. */
import assert from 'node:assert/strict';

/** The samples of a Prometheus text exposition: `name{labels}` → value; and each family's TYPE. */
export function parseExposition(text: string): { samples: Map<string, number>; types: Map<string, string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line.startsWith('#')) continue;
    const sample = /^(\S+?(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(sample, `a sample line: ${line}`);
    samples.set(sample[1]!, Number(sample[2]));
  }
  return { samples, types };
}
