/**
 * In-process cost of tessera's request path, without HTTP: `begin` + `load` + `get` (+ `set`) +
 * `settle` in a loop, CPU µs per request (median of 5 runs). For comparing changes to the hot path
 * quickly, with far less noise than end-to-end figures; those come from `npm run bench`.
 *
 *   npm run bench:micro                              # every path, compiled as the bench servers are
 *   npm run bench:micro -- --only memory-write --n 400000
 *   npm run bench:micro -- --only memory-read,memory-read+m   # metrics off and on
 *   npm run bench:micro -- --tsx                     # under the tsx loader (slower; for profiling)
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createTessera, type Tessera, type TesseraOptions } from '../src/index.js';
import { CookieStore } from '../src/stores/cookie.js';
import { MemoryStore } from '../src/stores/memory.js';
import type { CookieSink } from '../src/core/request.js';

const { values } = parseArgs({ options: { only: { type: 'string' }, n: { type: 'string', default: '200000' }, tsx: { type: 'boolean', default: false } } });

if (import.meta.url.endsWith('.ts') && !values.tsx) {
  // Run tsc's JavaScript, as users do (see lib/build.ts): the tsx loader's wrappers cost time too.
  const { buildForBench } = await import('./lib/build.js');
  const compiled = join(buildForBench(), 'bench', 'micro.js');
  const { status } = spawnSync(process.execPath, [compiled, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(status ?? 1);
}
const N = Number(values.n);
const SECRET = 'tessera-bench-secret-not-for-production-0123456789';

async function cookieFor(tessera: Tessera): Promise<string> {
  if (!(tessera.store instanceof CookieStore)) {
    const { id } = await tessera.create({ data: { n: 1 } });
    return `${tessera.cookieName}=${tessera.signCookie(id)}`;
  }
  let line = '';
  const ctx = tessera.begin({ cookieHeader: undefined }, { writable: () => true, setCookie: (l) => ((line = l), true), withdrawCookie: () => {} });
  (await ctx.load()).set('n', 1);
  await ctx.settle();
  return line.split(';', 1)[0]!;
}

async function run(name: string, store: MemoryStore | CookieStore, write: boolean, options: TesseraOptions = {}): Promise<void> {
  if (values.only && !values.only.split(',').includes(name)) return;
  const tessera = createTessera({ secrets: [SECRET], store, ...options });
  let cookie = await cookieFor(tessera);
  const follow = store instanceof CookieStore && write;
  const once = async () => {
    let sent = '';
    const sink: CookieSink = { writable: () => true, setCookie: (l) => ((sent = l), true), withdrawCookie: () => {} };
    const ctx = tessera.begin({ cookieHeader: cookie, ip: '::ffff:127.0.0.1', userAgent: 'autocannon' }, sink);
    const session = await ctx.load();
    const n = session.get<number>('n');
    if (n === undefined) throw new Error(`${name}: session not found`);
    if (write) session.set('n', n + 1);
    await ctx.settle();
    if (follow) cookie = sent.split(';', 1)[0]!;
  };
  for (let i = 0; i < 20_000; i++) await once();
  const results: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = process.cpuUsage();
    for (let i = 0; i < N / 5; i++) await once();
    const spent = process.cpuUsage(start);
    results.push((spent.user + spent.system) / (N / 5));
  }
  results.sort((a, b) => a - b);
  console.log(`${name.padEnd(14)} ${results[2]!.toFixed(2)} µs/request (min ${results[0]!.toFixed(2)}, max ${results[4]!.toFixed(2)})`);
  await tessera.close();
}

await run('memory-read', new MemoryStore(), false);
await run('memory-write', new MemoryStore(), true);
// Metrics on (the Prometheus registry): each store call timed, each commit counted.
await run('memory-read+m', new MemoryStore(), false, { metrics: {} });
await run('memory-write+m', new MemoryStore(), true, { metrics: {} });
await run('cookie-read', new CookieStore(), false);
await run('cookie-write', new CookieStore(), true);
