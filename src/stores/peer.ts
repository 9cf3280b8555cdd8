/**
 * The packages stores load only when one is made — `better-sqlite3`, and the optional peers
 * `ioredis` and `pg` — so an app never loads the driver of a store it does not use; and
 * `@opentelemetry/api`, loaded for `metrics: true` only. One place loads them, and a missing one is
 * one clear error naming the package to install.
 *
 * @module
 * @internal
 */
import { ConfigError } from '../errors.js';
import { requireFromTessera } from './peer-require.js';

/** A package a store loads when it is made, not when its module is imported. */
export type PeerName = 'better-sqlite3' | 'ioredis' | 'pg' | '@opentelemetry/api';

/** Module IDs loaded in place of a peer, set by {@link substitutePeer} (tests only). */
const substitutes = new Map<PeerName, string>();

/**
 * Loads `name`, resolved from tessera's folder, for `user` (the class that needs it, named in the
 * error). Throws {@link ConfigError} when the package is not installed, with the command that
 * installs it. Any other failure — the package is there but broken, or a module it requires is
 * missing — is thrown as it is.
 *
 * @example
 * ```ts
 * const pg = loadPeer<typeof import('pg')>('pg', 'PostgresStore');
 * // pg not installed: ConfigError "PostgresStore needs the pg package, which is not installed: npm install pg"
 * ```
 */
export function loadPeer<T>(name: PeerName, user: string): T {
  const id = substitutes.get(name) ?? name;
  try {
    return requireFromTessera(id) as T;
  } catch (error) {
    if (!isMissing(error, id)) throw error;
    throw new ConfigError(`${user} needs the ${name} package, which is not installed: npm install ${name}`, { cause: error });
  }
}

/**
 * The file {@link loadPeer} loads for `name` (after a {@link substitutePeer}, the substitute's): for
 * a worker thread that must load the same module.
 *
 * @example
 * ```ts
 * const driver = resolvePeer('better-sqlite3'); // …/node_modules/better-sqlite3/lib/index.js
 * ```
 */
export function resolvePeer(name: PeerName): string {
  return requireFromTessera.resolve(substitutes.get(name) ?? name);
}

/**
 * ioredis, loaded for `user` (RedisStore, RedisBus) to connect to `url`: a {@link ConfigError}
 * unless `url` is a `redis://` or `rediss://` URL, checked before the package is loaded.
 *
 * @example
 * ```ts
 * const client = new (ioredisFor(url, 'RedisStore').Redis)(url, { lazyConnect: true });
 * ```
 */
export function ioredisFor(url: string | undefined, user: string): typeof import('ioredis') {
  let protocol = '';
  try {
    protocol = new URL(url!).protocol;
  } catch {
    // reported below
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') throw new ConfigError(`${user} url must be a redis:// or rediss:// URL`);
  return loadPeer<typeof import('ioredis')>('ioredis', user);
}

/** Whether `error` says that `id` itself cannot be found (not a module that `id` requires). */
function isMissing(error: unknown, id: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === 'MODULE_NOT_FOUND' && typeof message === 'string' && message.startsWith(`Cannot find module '${id}'`);
}

/**
 * For tests: load `moduleId` wherever `name` is loaded, until called again with `undefined`. A
 * package that does not exist simulates `name` not being installed.
 *
 * @example
 * ```ts
 * substitutePeer('ioredis', 'tessera-test-not-installed');
 * try {
 *   assert.throws(() => new RedisStore({ url: 'redis://127.0.0.1' }), { code: 'ERR_CONFIG' });
 * } finally {
 *   substitutePeer('ioredis', undefined);
 * }
 * ```
 */
export function substitutePeer(name: PeerName, moduleId: string | undefined): void {
  if (moduleId === undefined) substitutes.delete(name);
  else substitutes.set(name, moduleId);
}
