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
 *   skip: redisUnavailable, ...NETWORK },
 * { name: 'redis-read', title: 'tessera read (Redis)', server: 'servers/tessera.ts',
 *   args: ['--store=redis', '--path=read'], baseline: 'redis-raw', target: 0.95,
 *   skip: redisUnavailable, ...NETWORK },
 * ```
 * @module
 */
import { postgresUnavailable, redisUnavailable } from './lib/services.js';

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
  /**
   * A peer (another library doing the same job, measured against the same baseline) this scenario
   * must be ahead of: compared round by round with it (req/s, and CPU per request), PASS above 1.
   */
  readonly ahead?: string;
  /**
   * A reason to skip this scenario in this environment (a service not configured or not
   * answering), or `undefined`. Asked once, before any server starts.
   */
  readonly skip?: () => string | undefined | Promise<string | undefined>;
  /** Run only when asked for by name (`--only`): reference points that would lengthen every run. */
  readonly optional?: boolean;
  /**
   * Rounds in a default run, when fewer than the bench's default (7), to keep the run short. An
   * explicit `--rounds` applies to every scenario. A scenario and its baseline must agree.
   */
  readonly rounds?: number;
  /** Seconds per round in a default run, when not the bench's default (3); `--duration` overrides. */
  readonly duration?: number;
}

/**
 * The networked pairs (store + raw baseline) run 5 rounds of 2 s in a default run instead of 7 of
 * 3 s, which keeps `npm run bench` under about three minutes. Their ratios are steadier than the
 * in-memory ones anyway: the database round trip dominates both sides.
 */
const NETWORK = { rounds: 5, duration: 2 } as const;

/** The framework groups run 5 rounds in a default run, to keep it within about ten minutes. */
const FRAMEWORK = { rounds: 5 } as const;

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
    // Reference: a handler that spends exactly 3 µs of CPU (a spin on the clock). Its measured CPU
    // overhead shows how much the machine adds to each µs a server spends (see docs/benchmarks.md).
    name: 'bare-spin',
    title: 'bare node:http, 3 µs spin',
    server: 'servers/bare.ts',
    args: ['--spin=3'],
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
  {
    // Reference: the read path with an async handler awaiting `sessions.load`. Run it with
    // `bare-async` (`--only memory-read-async,bare-async`): both pay the handler's await.
    name: 'memory-read-async',
    title: 'tessera read (memory), async',
    server: 'servers/tessera.ts',
    args: ['--store=memory', '--path=read', '--handler=async'],
    baseline: 'bare',
    optional: true,
  },
  {
    // Reference: the write path with an async handler (see memory-read-async).
    name: 'memory-write-async',
    title: 'tessera write (memory), async',
    server: 'servers/tessera.ts',
    args: ['--store=memory', '--path=write', '--handler=async'],
    baseline: 'bare',
    optional: true,
  },
  {
    // The session is sealed in the cookie: every request opens it (AES-256-GCM + JSON).
    name: 'cookie-read',
    title: 'tessera read (cookie)',
    server: 'servers/tessera.ts',
    args: ['--store=cookie', '--path=read'],
    baseline: 'bare',
    target: 0.75,
  },
  {
    // Every response carries a newly sealed cookie, and the client sends it back next time.
    name: 'cookie-write',
    title: 'tessera write (cookie)',
    server: 'servers/tessera.ts',
    args: ['--store=cookie', '--path=write'],
    baseline: 'bare',
    target: 0.6,
  },
  // ------------------------------------------------------------- Express
  { name: 'express', title: 'bare Express', server: 'servers/express.ts', ...FRAMEWORK },
  {
    name: 'express-read',
    title: 'tessera/express read (memory)',
    server: 'servers/express.ts',
    args: ['--session=tessera', '--path=read'],
    baseline: 'express',
    target: 0.85,
    ...FRAMEWORK,
  },
  {
    // The peer a user would otherwise pick, for reference.
    name: 'express-session-read',
    title: 'express-session read (peer)',
    server: 'servers/express.ts',
    args: ['--session=express-session', '--path=read'],
    baseline: 'express',
    ...FRAMEWORK,
  },
  { name: 'express-noop', title: 'Express + a no-op middleware (reference)', server: 'servers/express.ts', args: ['--session=noop'], baseline: 'express', optional: true, ...FRAMEWORK },
  { name: 'express-write', title: 'tessera/express write (memory)', server: 'servers/express.ts', args: ['--session=tessera', '--path=write'], baseline: 'express', optional: true, ...FRAMEWORK },
  { name: 'express-session-write', title: 'express-session write (peer)', server: 'servers/express.ts', args: ['--session=express-session', '--path=write'], baseline: 'express', optional: true, ...FRAMEWORK },
  // ------------------------------------------------------------- Fastify
  { name: 'fastify', title: 'bare Fastify', server: 'servers/fastify.ts', ...FRAMEWORK },
  {
    name: 'fastify-read',
    title: 'tessera/fastify read (memory)',
    server: 'servers/fastify.ts',
    args: ['--session=tessera', '--path=read'],
    baseline: 'fastify',
    target: 0.85,
    ...FRAMEWORK,
  },
  {
    name: 'fastify-session-read',
    title: '@fastify/session read (peer)',
    server: 'servers/fastify.ts',
    args: ['--session=fastify-session', '--path=read'],
    baseline: 'fastify',
    ...FRAMEWORK,
  },
  {
    name: 'secure-session-read',
    title: '@fastify/secure-session read (peer)',
    server: 'servers/fastify.ts',
    args: ['--session=secure-session', '--path=read'],
    baseline: 'fastify',
    ...FRAMEWORK,
  },
  {
    name: 'fastify-cookie-read',
    title: 'tessera/fastify read (cookie)',
    server: 'servers/fastify.ts',
    args: ['--session=tessera-cookie', '--path=read'],
    baseline: 'fastify',
    ahead: 'secure-session-read',
    ...FRAMEWORK,
  },
  {
    name: 'secure-session-write',
    title: '@fastify/secure-session write (peer)',
    server: 'servers/fastify.ts',
    args: ['--session=secure-session', '--path=write'],
    baseline: 'fastify',
    ...FRAMEWORK,
  },
  {
    name: 'fastify-cookie-write',
    title: 'tessera/fastify write (cookie)',
    server: 'servers/fastify.ts',
    args: ['--session=tessera-cookie', '--path=write'],
    baseline: 'fastify',
    ahead: 'secure-session-write',
    ...FRAMEWORK,
  },
  { name: 'fastify-hooks', title: 'Fastify + two empty hooks (reference)', server: 'servers/fastify.ts', args: ['--session=hooks'], baseline: 'fastify', optional: true, ...FRAMEWORK },
  { name: 'fastify-write', title: 'tessera/fastify write (memory)', server: 'servers/fastify.ts', args: ['--session=tessera', '--path=write'], baseline: 'fastify', optional: true, ...FRAMEWORK },
  { name: 'fastify-session-write', title: '@fastify/session write (peer)', server: 'servers/fastify.ts', args: ['--session=fastify-session', '--path=write'], baseline: 'fastify', optional: true, ...FRAMEWORK },
  // ------------------------------------------------------------- Hono
  { name: 'hono', title: 'bare Hono', server: 'servers/hono.ts', ...FRAMEWORK },
  {
    name: 'hono-read',
    title: 'tessera/hono read (memory)',
    server: 'servers/hono.ts',
    args: ['--session=tessera', '--path=read'],
    baseline: 'hono',
    target: 0.85,
    ...FRAMEWORK,
  },
  { name: 'hono-noop', title: 'Hono + a no-op middleware (reference)', server: 'servers/hono.ts', args: ['--session=noop'], baseline: 'hono', optional: true, ...FRAMEWORK },
  { name: 'hono-write', title: 'tessera/hono write (memory)', server: 'servers/hono.ts', args: ['--session=tessera', '--path=write'], baseline: 'hono', optional: true, ...FRAMEWORK },
  // ------------------------------------------------------------- networked stores
  {
    name: 'redis-raw',
    title: 'node:http + Redis GET',
    server: 'servers/redis-raw.ts',
    skip: redisUnavailable,
    ...NETWORK,
  },
  {
    name: 'redis-read',
    title: 'tessera read (Redis)',
    server: 'servers/tessera.ts',
    args: ['--store=redis', '--path=read'],
    baseline: 'redis-raw',
    target: 0.95,
    skip: redisUnavailable,
    ...NETWORK,
  },
  {
    name: 'pg-raw',
    title: 'node:http + PostgreSQL SELECT',
    server: 'servers/pg-raw.ts',
    skip: postgresUnavailable,
    ...NETWORK,
  },
  {
    name: 'pg-read',
    title: 'tessera read (PostgreSQL)',
    server: 'servers/tessera.ts',
    args: ['--store=postgres', '--path=read'],
    baseline: 'pg-raw',
    target: 0.95,
    skip: postgresUnavailable,
    ...NETWORK,
  },
  {
    // Reference: the raw SELECT sent unnamed (parsed and planned on every request), without tessera.
    name: 'pg-raw-unnamed',
    title: 'node:http + unnamed SELECT',
    server: 'servers/pg-raw.ts',
    args: ['--unnamed'],
    baseline: 'pg-raw',
    skip: postgresUnavailable,
    optional: true,
    ...NETWORK,
  },
];
