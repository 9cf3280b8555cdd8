/**
 * The encrypted cookie store: the whole session (data, metadata, expiry) is sealed into the cookie
 * with AES-256-GCM under the keyring's `data` subkey. No server storage, so nothing to scale — but
 * a cookie holds at most about 4 KB. A copied cookie would stay valid until it expires (the replay
 * of CVE-2024-31999): a revocation store, on by default, remembers destroyed and replaced sessions.
 *
 * @module
 */
import { ConfigError } from '../errors.js';
import { SqliteStore } from './sqlite.js';
import type { SessionStore } from './store.js';

/** Options of {@link CookieStore}. */
export interface CookieStoreOptions {
  /**
   * A server store that remembers destroyed and regenerated sessions until every copy of their
   * cookie would have expired, so a copy of a signed-out cookie cannot be replayed. Costs one
   * store read per request that carries a session cookie, and one write per sign-out or
   * `regenerate()`.
   *
   * Default: the table `tessera_revoked_sessions` in the SQLite file `./data/sessions.db` (the
   * file `createTessera` keeps sessions in by default). That is one machine's: with several
   * servers, give them a store they share (Redis, PostgreSQL). `false` turns revocation off —
   * signing out then only clears the browser's cookie, and a copy taken earlier works until it
   * expires — and tessera warns about it once at start-up.
   */
  revocation?: SessionStore | false;
  /** Largest `Set-Cookie` value allowed, in bytes. Default 4096, what every browser accepts. */
  maxBytes?: number;
}

/**
 * Sessions sealed in the cookie itself. Pass it as `store`; tessera does the sealing with its
 * keyring (rotation: the first secret seals, all open).
 *
 * Limits, by design: writing more than `maxBytes` throws `PayloadTooLargeError` at `session.set`
 * (never a silently dropped cookie); operations by ID and by user need server state and throw
 * `NotSupportedError` (except `destroy(id)`, which revokes); two concurrent requests that both
 * write cannot be merged — the browser keeps the last cookie. No activity is kept: sessions live
 * in the browsers, so `tessera.activity` reads reject with `NotSupportedError` (docs/activity.md).
 *
 * @example
 * ```ts
 * import { createTessera } from 'tessera';
 * import { CookieStore } from 'tessera/stores/cookie';
 * import { RedisStore } from 'tessera/stores/redis';
 * const tessera = createTessera({
 *   secrets: [process.env.SESSION_SECRET!],
 *   // Several servers: revocations in a store they share. On one machine, `new CookieStore()` keeps them in SQLite.
 *   store: new CookieStore({ revocation: new RedisStore({ url: process.env.REDIS_URL!, prefix: 'revoked:' }) }),
 * });
 * ```
 */
export class CookieStore {
  readonly name = 'cookie';
  /** Marks this store as client-side; the manager seals sessions into the cookie. */
  readonly clientSide = true;
  /** The revocation store, or `null` when revocation was turned off (`revocation: false`). */
  readonly revocation: SessionStore | null;
  readonly maxBytes: number;

  constructor(options: CookieStoreOptions = {}) {
    this.maxBytes = options.maxBytes ?? 4096;
    if (!Number.isInteger(this.maxBytes) || this.maxBytes < 200 || this.maxBytes > 4096) {
      throw new ConfigError('CookieStore maxBytes must be an integer between 200 and 4096');
    }
    const revocation = options.revocation;
    if (revocation !== undefined && revocation !== null && revocation !== false && typeof revocation !== 'object') {
      throw new ConfigError('CookieStore revocation must be a session store, or false to turn revocation off');
    }
    // Made last: nothing is opened for options that are refused.
    this.revocation = revocation === false ? null : (revocation ?? new SqliteStore({ path: './data/sessions.db', table: 'tessera_revoked_sessions' }));
  }

  /** Closes the revocation store, if any. */
  async close(): Promise<void> {
    await this.revocation?.close?.();
  }
}
