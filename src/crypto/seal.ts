/**
 * Authenticated encryption with AES-256-GCM, for session data at rest and in cookies.
 *
 * Sealed format (base64url): `version(1) | keyId(4) | iv(12) | ciphertext | tag(16)`. The key ID
 * names which key of the ring sealed it, so opening takes one decryption, not one per key.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 1;
const HEADER = 1 + 4 + 12;
const TAG = 16;

/**
 * Keys for sealing: the first seals, all open. Build once and reuse: it precomputes key IDs.
 *
 * @example
 * ```ts
 * const sealer = new Sealer(keyring.keys('data'));
 * const box = sealer.seal('{"a":1}');
 * sealer.open(box); // '{"a":1}'
 * ```
 */
export class Sealer {
  readonly #keys: { id: Buffer; key: Buffer }[];

  constructor(keys: readonly Uint8Array[]) {
    if (keys.length === 0) throw new TypeError('Sealer needs at least one key');
    this.#keys = keys.map((k) => {
      if (k.byteLength !== 32) throw new TypeError('AES-256-GCM keys are 32 bytes');
      return { key: Buffer.from(k), id: createHash('sha256').update(k).digest().subarray(0, 4) };
    });
  }

  /**
   * Encrypt and authenticate `plaintext` with the current key. `aad`, if given, must be given
   * again to open it (it binds the box to a context, such as a cookie name).
   */
  seal(plaintext: string, aad?: string): string {
    const { id, key } = this.#keys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    if (aad) cipher.setAAD(Buffer.from(aad));
    const body = cipher.update(plaintext, 'utf8');
    const final = cipher.final();
    const out = Buffer.allocUnsafe(HEADER + body.length + final.length + TAG);
    out[0] = VERSION;
    id.copy(out, 1);
    iv.copy(out, 5);
    body.copy(out, HEADER);
    final.copy(out, HEADER + body.length);
    cipher.getAuthTag().copy(out, HEADER + body.length + final.length);
    return out.toString('base64url');
  }

  /**
   * Decrypt a box made by {@link Sealer.seal} with any key of the ring. Returns `null` when the box
   * is malformed, was sealed with an unknown key, or was tampered with; never throws for bad input.
   */
  open(sealed: string, aad?: string): string | null {
    const buf = Buffer.from(sealed, 'base64url');
    if (buf.length < HEADER + TAG || buf[0] !== VERSION) return null;
    const entry = this.#keys.find((k) => buf.compare(k.id, 0, 4, 1, 5) === 0);
    if (!entry) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', entry.key, buf.subarray(5, HEADER));
      if (aad) decipher.setAAD(Buffer.from(aad));
      decipher.setAuthTag(buf.subarray(buf.length - TAG));
      return decipher.update(buf.subarray(HEADER, buf.length - TAG), undefined, 'utf8') + decipher.final('utf8');
    } catch {
      return null;
    }
  }

  /** Whether `sealed` was made with a key other than the current one (so it is due for re-sealing). */
  isStale(sealed: string): boolean {
    const head = Buffer.from(sealed.slice(0, 8), 'base64url');
    return head.length < 5 || head.compare(this.#keys[0]!.id, 0, 4, 1, 5) !== 0;
  }
}
