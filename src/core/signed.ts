/**
 * The signed session-ID cookie of server-side sessions: `id.signature`, HMAC-SHA256 under the
 * keyring's `cookie` subkey (the first secret signs, every secret verifies). Verified values are
 * remembered, so a returning browser's cookie costs a map lookup, not an HMAC.
 *
 * @module
 * @internal
 */
import { GenerationalCache } from '../cache.js';
import { readCookie, SESSION_COOKIE_VALUES_MAX } from '../cookie.js';
import type { Keyring } from '../crypto/keyring.js';
import { isAppId, isWellFormedId, storeKey } from '../crypto/ids.js';

/** Cookie values whose signature verified, remembered (87 bytes each, with the ID and store key). */
const VERIFIED_CACHE_MAX = 10_000;
/**
 * Whole `Cookie` headers up to this length (characters) are remembered with the session cookie they
 * carry, once verified: looking a header up costs less than finding the cookie in it. At most
 * {@link VERIFIED_CACHE_MAX} headers, so about 5 MB.
 */
const HEADER_CACHE_MAX_LENGTH = 512;

/**
 * A verified cookie: its session ID, whether it is a provisional cookie (see
 * {@link SignedCookies.signProvisional}), whether it was signed under an older secret (so it is
 * due to be signed again with the current one), and the store key of a tenant-less session once
 * computed.
 */
export interface Verified {
  readonly id: string;
  readonly provisional: boolean;
  readonly stale: boolean;
  key?: string;
}

/** Separates ID and signature: `.` in the cookie of a stored session, `~` in a provisional one. */
const STORED = 46; // '.'
const PROVISIONAL = 126; // '~'

/**
 * Signs session IDs into cookie values and finds the verified one in a `Cookie` header.
 *
 * @example
 * ```ts
 * const signed = new SignedCookies(keyring, 'tessera');
 * const value = signed.sign(id);         // 'id.signature'
 * signed.find(`tessera=${value}`)?.id;   // id
 * ```
 */
export class SignedCookies {
  readonly #keyring: Keyring;
  readonly #name: string;
  /** Cookie values whose signature verified → their ID (and store key without tenant, once computed). */
  readonly #verified = new GenerationalCache<string, Verified>(VERIFIED_CACHE_MAX);
  /** Short `Cookie` headers → the verified entry of the session cookie they carry. */
  readonly #byHeader = new GenerationalCache<string, Verified>(VERIFIED_CACHE_MAX);
  /** App-chosen IDs are accepted too ({@link SignedCookies.acceptAppIds}). */
  #appIds = false;

  constructor(keyring: Keyring, cookieName: string) {
    this.#keyring = keyring;
    this.#name = cookieName;
  }

  /**
   * Accept app-chosen session IDs ({@link isAppId}) besides tessera's own: for express-session's
   * `genid`. Set once, before requests; never turned off.
   */
  acceptAppIds(): void {
    this.#appIds = true;
  }

  /** Whether `id` has the shape of a session ID this instance accepts. */
  isId(id: string): boolean {
    return isWellFormedId(id) || (this.#appIds && isAppId(id));
  }

  /** The cookie value carrying `id`: `id.signature`. */
  sign(id: string): string {
    const value = `${id}.${this.#keyring.sign('cookie', id)}`;
    this.#remember(value, id, false, false);
    return value;
  }

  /**
   * The cookie value carrying `id` before anything is stored under it (its CSRF token was handed
   * out): `id~signature`, signed over `~id`, so it cannot be turned into the other form. When
   * nothing is stored under its ID, a provisional cookie keeps its ID (the token stays valid), while
   * the cookie of a session that was stored starts over with a new one (it expired, or was
   * destroyed or regenerated, and its ID must not come back).
   */
  signProvisional(id: string): string {
    const value = `${id}~${this.#keyring.sign('cookie', `~${id}`)}`;
    this.#remember(value, id, true, false);
    return value;
  }

  /**
   * The session ID `value` carries if its signature verifies under any secret (`stale` when not
   * under the current one); else `undefined`.
   */
  verify(value: string): Verified | undefined {
    const cached = this.#verified.get(value);
    if (cached !== undefined) return cached;
    // The signature is 43 characters after the separator; tessera's own IDs are 43 too.
    const at = value.length - 44;
    if (at !== 43 && !(this.#appIds && at >= 22 && at <= 128)) return undefined;
    const separator = value.charCodeAt(at);
    if (separator !== STORED && separator !== PROVISIONAL) return undefined;
    const id = value.slice(0, at);
    if (!this.isId(id)) return undefined;
    const provisional = separator === PROVISIONAL;
    const secret = this.#keyring.match('cookie', provisional ? `~${id}` : id, value.slice(at + 1));
    return secret < 0 ? undefined : this.#remember(value, id, provisional, secret > 0);
  }

  /**
   * The first session cookie in `header` whose signature verifies; `null` when the header carries
   * none of that name, {@link INVALID} when it carries some and none verifies. Only the first
   * {@link SESSION_COOKIE_VALUES_MAX} values are examined: a header of forged values costs at most
   * that many HMACs.
   */
  find(header: string | undefined): Verified | null | typeof INVALID {
    const short = header !== undefined && header.length <= HEADER_CACHE_MAX_LENGTH;
    const known = short ? this.#byHeader.get(header) : undefined;
    if (known !== undefined) return known;
    const values = readCookie(header, this.#name, SESSION_COOKIE_VALUES_MAX);
    if (values.length === 0) return null;
    for (const value of values) {
      const verified = this.verify(value);
      if (verified === undefined) continue;
      if (short) this.#byHeader.set(header, verified);
      return verified;
    }
    return INVALID;
  }

  /** The store key of a verified cookie's session in `tenant` (remembered for tenant-less sessions). */
  static keyOf(verified: Verified, tenant: string | null): string {
    return tenant === null ? (verified.key ??= storeKey(verified.id, null)) : storeKey(verified.id, tenant);
  }

  #remember(value: string, id: string, provisional: boolean, stale: boolean): Verified {
    const entry: Verified = { id, provisional, stale };
    this.#verified.set(value, entry);
    return entry;
  }
}

/** What {@link SignedCookies.find} answers for a header whose session cookies all fail to verify. */
export const INVALID: unique symbol = Symbol('tessera.invalidCookie');
