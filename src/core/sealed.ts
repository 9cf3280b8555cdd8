/**
 * Sessions sealed into their cookie: AES-256-GCM under the keyring's `data` subkey, bound to the
 * cookie name and tenant. Opened and sealed values are remembered, so the cookie a browser sends
 * back unchanged is not decrypted again (a seal is authenticated: an exact match of the whole
 * value is as good as opening it).
 *
 * @module
 * @internal
 */
import { GenerationalCache } from '../cache.js';
import { serializeCookie, type ResolvedCookie } from '../cookie.js';
import { storeKey } from '../crypto/ids.js';
import type { Sealer } from '../crypto/seal.js';
import { PayloadTooLargeError } from '../errors.js';
import { allPrimitive, assertDataSize, copyPayload, parseSealedPayload, PayloadEncoder, type SealedPayload } from '../payload.js';
import { cookieMaxAge, type Policy } from './policy.js';
import { adoptPayload, payloadOf, type SessionState } from './state.js';

/**
 * Sealed cookies opened or sealed by this process, remembered. Entries hold the cookie and its
 * JSON, typically a few hundred bytes.
 */
const OPENED_CACHE_MAX = 4_096;

/** What is remembered of a sealed cookie. */
interface Opened {
  readonly json: string;
  /** The payload, when its data values are all primitives; copied before use. */
  readonly payload: SealedPayload | null;
  readonly tenant: string | null;
  readonly key: string;
  /** Sealed under a key other than the current one: due to be sealed again. */
  readonly stale: boolean;
}

/**
 * Seals sessions into cookie values and opens them.
 *
 * @example
 * ```ts
 * const sealed = new SealedCookies(sealer, cookie, policy, 4096, 65_536);
 * sink.setCookie(sealed.seal(state, now));
 * sealed.open(value, tenant, freshState(tenant, sink, now)); // true when it opened
 * ```
 */
export class SealedCookies {
  readonly #sealer: Sealer;
  readonly #cookie: ResolvedCookie;
  readonly #policy: Policy;
  readonly #maxBytes: number;
  readonly #maxDataBytes: number;
  readonly #encoder = new PayloadEncoder();
  readonly #opened = new GenerationalCache<string, Opened>(OPENED_CACHE_MAX);
  /** The additional data sealed cookies of tenant-less sessions are bound to (the cookie name). */
  readonly #contextNoTenant: string;

  /**
   * @param maxBytes the longest `Set-Cookie` line (the cookie store's `maxBytes`).
   * @param maxDataBytes the largest session data, as JSON in UTF-8 bytes (`Infinity`: no cap).
   */
  constructor(sealer: Sealer, cookie: ResolvedCookie, policy: Policy, maxBytes: number, maxDataBytes: number) {
    this.#sealer = sealer;
    this.#cookie = cookie;
    this.#policy = policy;
    this.#maxBytes = maxBytes;
    this.#maxDataBytes = maxDataBytes;
    this.#contextNoTenant = `${cookie.name}\u0000`;
  }

  /**
   * Open `value`, sealed for `tenant`, into `state` (fresh; its ID, key, data, times, user set
   * from the seal). False when it does not open or holds no session.
   */
  open(value: string, tenant: string | null, state: SessionState): boolean {
    const cached = this.#opened.get(value);
    const known = cached !== undefined && cached.tenant === tenant;
    let p: SealedPayload | null;
    let key: string;
    if (known && cached.payload !== null) {
      // The cached payload is shared: the state gets a copy of its data.
      p = cached.payload;
      key = cached.key;
      state.data = { ...p.d };
    } else {
      const json = known ? cached.json : this.#sealer.open(value, this.#context(tenant));
      p = json === null ? null : parseSealedPayload(json);
      if (p === null) return false;
      key = known ? cached.key : storeKey(p.i, tenant);
      if (!known) this.#remember(value, json!, p, tenant, key, this.#sealer.isStale(value));
      state.data = p.d;
    }
    state.id = p.i;
    state.key = key;
    adoptPayload(state, p);
    state.userId = p.u;
    return true;
  }

  /**
   * The `Set-Cookie` line of `state` sealed at `now`.
   *
   * @throws {@link PayloadTooLargeError} when it would be over the cookie limit, or its data over `maxDataBytes`.
   */
  seal(state: SessionState, now: number): string {
    // What a server record holds, and the ID and user a record keeps beside it.
    const payload = payloadOf(state, now) as SealedPayload;
    payload.i = state.id!;
    payload.u = state.userId;
    const dataJson = JSON.stringify(payload.d);
    assertDataSize(dataJson, this.#maxDataBytes);
    const json = this.#encoder.encode(payload, dataJson);
    const sealed = this.#sealer.seal(json, this.#context(state.tenant));
    const line = serializeCookie(this.#cookie, sealed, cookieMaxAge(this.#policy, state, now), now, state.persistent === false);
    if (line.length > this.#maxBytes) {
      throw new PayloadTooLargeError(
        `the session sealed into its cookie is ${line.length} bytes, over the ${this.#maxBytes}-byte cookie limit: ` +
          'store less in the session, or use a server-side store',
        line.length,
        this.#maxBytes,
      );
    }
    // The browser sends exactly this value back: its next request need not open it.
    this.#remember(sealed, json, payload, state.tenant, state.key!, false);
    return line;
  }

  /**
   * Whether `value`, a cookie {@link SealedCookies.open} just opened, was sealed under an older
   * key (so the response should carry it sealed again under the current one).
   */
  isStale(value: string): boolean {
    return this.#opened.get(value)?.stale ?? this.#sealer.isStale(value);
  }

  #context(tenant: string | null): string {
    return tenant === null ? this.#contextNoTenant : `${this.#cookie.name}\u0000${tenant}`;
  }

  /** Remember what the sealed cookie `value` holds (its payload too, copied, when a shallow copy is a full copy). */
  #remember(value: string, json: string, payload: SealedPayload, tenant: string | null, key: string, stale: boolean): void {
    this.#opened.set(value, { json, payload: allPrimitive(payload.d) ? copyPayload(payload) : null, tenant, key, stale });
  }
}
