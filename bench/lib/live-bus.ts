/**
 * The bus of the live bench's server and pusher: a `RedisBus` (tessera/live/redis) on a channel of
 * this run, when the module exists and Redis answers; otherwise why not, so the push-from-another-
 * process measurement is skipped with the reason instead of failing the run.
 *
 * The module is imported by a computed path: the bench type-checks and runs whether or not
 * src/live/redis.ts is there yet.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LiveBus } from '../../src/live/bus.js';
import { REDIS_URL, redisUnavailable } from './services.js';

/** What `RedisBus` is constructed with (the options the bench uses). */
type RedisBusConstructor = new (options: { url: string; channel: string }) => LiveBus;

/** The compiled or TypeScript RedisBus module next to this one (`../../src/live/redis`), or `null`. */
function redisBusModule(): string | null {
  for (const ext of ['.js', '.ts']) {
    const url = new URL(`../../src/live/redis${ext}`, import.meta.url);
    if (existsSync(fileURLToPath(url))) return url.href;
  }
  return null;
}

/**
 * A `RedisBus` on `channel`, or the reason there is none (`RedisBus` not in this checkout, Redis
 * down).
 *
 * @example
 * ```ts
 * const made = await redisBus(`tessera_bench_${process.pid}:live`);
 * const bus = 'bus' in made ? made.bus : new LocalBus();
 * ```
 */
export async function redisBus(channel: string): Promise<{ bus: LiveBus } | { reason: string }> {
  const module = redisBusModule();
  if (module === null) return { reason: 'RedisBus (src/live/redis.ts) is not in this checkout yet' };
  const down = await redisUnavailable();
  if (down !== undefined) return { reason: down };
  const { RedisBus } = (await import(module)) as { RedisBus: RedisBusConstructor };
  return { bus: new RedisBus({ url: REDIS_URL, channel }) };
}

/**
 * Whether the push measurement can run here: `undefined`, or why not.
 *
 * @example
 * ```ts
 * const reason = await redisBusUnavailable(); // 'RedisBus … is not in this checkout yet'
 * ```
 */
export async function redisBusUnavailable(): Promise<string | undefined> {
  if (redisBusModule() === null) return 'RedisBus (src/live/redis.ts) is not in this checkout yet';
  return redisUnavailable();
}
