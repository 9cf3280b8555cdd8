/**
 * The encrypted cookie store: the whole session (data, metadata, expiry) is sealed into the cookie
 * with AES-256-GCM under the keyring's `data` subkey. No server storage, so nothing to scale — but
 * a cookie holds at most about 4 KB, and a copied cookie stays valid until it expires unless a
 * revocation store remembers destroyed sessions (the lesson of CVE-2024-31999).
 *
 * @module
 */
import { ConfigError } from '../errors.js';
import type { SessionStore } from './store.js';

/** Options of {@link CookieStore}. */
export interface CookieStoreOptions {
  /**
   * A server store that remembers destroyed and regenerated sessions until they would have
   * expired, so a copy of a signed-out cookie cannot be replayed. Costs one store read per request
   * that carries a session cookie. Without it, destroying a session only clears the browser's
   * cookie: a copy taken earlier stays valid until its sealed expiry.
   */
  revocation?: SessionStore;
  /** Largest `Set-Cookie` value allowed, in bytes. Default 4096, what every browser accepts. */
  maxBytes?: number;
}

/**
 * Sessions sealed in the cookie itself. Pass it as `store`; tessera does the sealing with its
 * keyring (rotation: the first secret seals, all open).
 *
 * Limits, by design: writing more than `maxBytes` throws `PayloadTooLargeError` at `session.set`
 * (never a silently dropped cookie); operations by ID and by user need server state and throw
 * `NotSupportedError` (except `destroy(id)`, which revokes when a revocation store is set); two
 * concurrent requests that both write cannot be merged — the browser keeps the last cookie.
 *
 * @example
 * ```ts
 * import { createTessera } from 'tessera';
 * import { CookieStore } from 'tessera/stores/cookie';
 * import { SqliteStore } from 'tessera/stores/sqlite';
 * const tessera = createTessera({
 *   secrets: [process.env.SESSION_SECRET!],
 *   store: new CookieStore({ revocation: new SqliteStore({ table: 'revoked_sessions' }) }),
 * });
 * ```
 */
export class CookieStore {
  readonly name = 'cookie';
  /** Marks this store as client-side; the manager seals sessions into the cookie. */
  readonly clientSide = true;
  readonly revocation: SessionStore | null;
  readonly maxBytes: number;

  constructor(options: CookieStoreOptions = {}) {
    this.revocation = options.revocation ?? null;
    this.maxBytes = options.maxBytes ?? 4096;
    if (!Number.isInteger(this.maxBytes) || this.maxBytes < 200 || this.maxBytes > 4096) {
      throw new ConfigError('CookieStore maxBytes must be an integer between 200 and 4096');
    }
  }

  /** Closes the revocation store, if any. */
  async close(): Promise<void> {
    await this.revocation?.close?.();
  }
}
