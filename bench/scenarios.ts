/**
 * What `npm run bench` measures: one row per server under test. A row with a `baseline` is
 * compared with that row, round by round, in the same run; `target` is the least share of the
 * baseline's throughput it should keep.
 *
 * To add a scenario, add a row (and, if it needs one, a server module under bench/servers/ that
 * calls `serveBench`). Compare each store with a baseline doing the same raw I/O, so the ratio
 * shows tessera's cost and not the database's:
 *
 * @example
 * ```ts
 * // bench/servers/redis-raw.ts: node:http doing one raw `GET` per request, answering "hello".
 * { name: 'redis-raw', title: 'node:http + one Redis GET', server: 'servers/redis-raw.ts',
 *   skip: () => (process.env.REDIS_URL ? undefined : 'set REDIS_URL') },
 * { name: 'redis-read', title: 'tessera read (Redis)', server: 'servers/tessera.ts',
 *   args: ['--store=redis', '--path=read'], baseline: 'redis-raw', target: 0.85,
 *   skip: () => (process.env.REDIS_URL ? undefined : 'set REDIS_URL') },
 * ```
 * @module
 */

/** One server under test. */
export interface Scenario {
  /** Short unique id, used by `--only` and in the JSON output. */
  readonly name: string;
  /** What the report calls it. */
  readonly title: string;
  /** The server module, relative to bench/ (it calls `serveBench` from bench/lib/serve.ts). */
  readonly server: string;
  /** `--name=value` arguments for the server module. */
  readonly args?: readonly string[];
  /** Extra environment for the server process (it runs with `NODE_ENV=production` by default). */
  readonly env?: Readonly<Record<string, string>>;
  /** The scenario this one is compared with; every round measures both. */
  readonly baseline?: string;
  /** Least acceptable throughput ratio to the baseline (0..1): PASS at or above it. */
  readonly target?: number;
  /** A reason to skip this scenario in this environment (a service not configured), or `undefined`. */
  readonly skip?: () => string | undefined;
  /** Run only when asked for by name (`--only`): reference points that would lengthen every run. */
  readonly optional?: boolean;
}

/** The scenarios, in report order. Baselines first. */
export const scenarios: readonly Scenario[] = [
  {
    name: 'bare',
    title: 'bare node:http',
    server: 'servers/bare.ts',
  },
  {
    // Reference: what answering after an `await` costs by itself (any async session layer pays it).
    name: 'bare-async',
    title: 'bare node:http, async',
    server: 'servers/bare.ts',
    args: ['--async'],
    baseline: 'bare',
    optional: true,
  },
  {
    name: 'memory-read',
    title: 'tessera read (memory)',
    server: 'servers/tessera.ts',
    args: ['--store=memory', '--path=read'],
    baseline: 'bare',
    target: 0.85,
  },
  {
    name: 'memory-write',
    title: 'tessera write (memory)',
    server: 'servers/tessera.ts',
    args: ['--store=memory', '--path=write'],
    baseline: 'bare',
    target: 0.75,
  },
];
