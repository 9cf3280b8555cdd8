/**
 * Session IDs and the store keys derived from them.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';

/** Bytes of randomness in a session ID (256 bits). */
export const ID_BYTES = 32;

/**
 * A new session ID: 256 bits from the CSPRNG, base64url (43 characters).
 *
 * @example
 * ```ts
 * const id = generateId(); // 'q3Vh…' (43 chars)
 * ```
 */
export function generateId(): string {
  return randomBytes(ID_BYTES).toString('base64url');
}

/**
 * Whether `value` has the shape of an ID made by {@link generateId} (43 base64url characters).
 * Shape only: it says nothing about whether such a session exists.
 *
 * @example
 * ```ts
 * isWellFormedId(generateId()); // true
 * isWellFormedId('../etc/passwd'); // false
 * ```
 */
export function isWellFormedId(value: string): boolean {
  return value.length === 43 && /^[A-Za-z0-9_-]{43}$/.test(value);
}

/**
 * Whether `value` can be an app-chosen session ID (express-session's `genid`): 22 to 128
 * characters of `A-Z a-z 0-9 _ -` — cookie-safe, and with room for a UUID or 128 random bits.
 * Shape only, like {@link isWellFormedId}.
 *
 * @internal
 * @example
 * ```ts
 * isAppId('0b6f7e52-4b8f-4f7e-9d3c-2f1a9e8b7c6d'); // true
 * ```
 */
export function isAppId(value: string): boolean {
  return value.length >= 22 && value.length <= 128 && /^[A-Za-z0-9_-]+$/.test(value);
}

// `crypto.hash` (Node >= 20.12) is a one-shot digest, about 3x cheaper than createHash for short input.
const oneShot = (nodeCrypto as { hash?: (alg: string, data: string, enc: 'base64url') => string }).hash;

/**
 * The key a store sees for a session: SHA-256 of (tenant, ID), base64url. A leaked store holds no
 * usable session token, and the same ID under another tenant finds nothing.
 *
 * @example
 * ```ts
 * await store.get(storeKey(id, 'acme'));
 * ```
 */
export function storeKey(id: string, tenant: string | null | undefined): string {
  const input = tenant ? `${tenant}\u0000${id}` : id;
  return oneShot ? oneShot('sha256', input, 'base64url') : createHash('sha256').update(input).digest('base64url');
}
