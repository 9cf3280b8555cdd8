/**
 * Authenticated encryption with AES-256-GCM, for session data at rest and in cookies.
 *
 * Sealed format (base64url): `version(1) | keyId(4) | iv(12) | ciphertext | tag(16)`. The key ID
 * names which key of the ring sealed it, so opening takes one decryption, not one per key.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createHash, randomFillSync } from 'node:crypto';
import { GenerationalCache } from '../cache.js';

const VERSION = 1;
const IV = 12;
const HEADER = 1 + 4 + IV;
const TAG = 16;
/** IVs drawn from the CSPRNG this many bytes at a time: one call per 341 seals instead of one each. */
const IV_POOL = 4092;
/** AAD strings whose bytes are kept (cookie name + tenant, store keys): the most recently used ones. */
const AAD_CACHE_MAX = 256;

/**
 * Keys for sealing: the first seals, all open. Build once and reuse: it precomputes key IDs.
 *
 * Each seal takes a fresh random 96-bit IV (GCM's requirement is that an IV is never reused with a
 * key); they are drawn from the CSPRNG in blocks and each is used once.
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
  readonly #ivs = Buffer.alloc(IV_POOL);
  #ivAt = IV_POOL;
  readonly #aads = new GenerationalCache<string, Buffer>(AAD_CACHE_MAX);

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
    const length = Buffer.byteLength(plaintext);
    const out = Buffer.allocUnsafe(HEADER + length + TAG);
    out[0] = VERSION;
    id.copy(out, 1);
    this.#nextIv(out);
    const cipher = createCipheriv('aes-256-gcm', key, out.subarray(5, HEADER));
    if (aad) cipher.setAAD(this.#aad(aad));
    // GCM is a stream mode: update() returns every byte and final() none.
    cipher.update(plaintext, 'utf8').copy(out, HEADER);
    cipher.final();
    cipher.getAuthTag().copy(out, HEADER + length);
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
      if (aad) decipher.setAAD(this.#aad(aad));
      decipher.setAuthTag(buf.subarray(buf.length - TAG));
      const text = decipher.update(buf.subarray(HEADER, buf.length - TAG), undefined, 'utf8');
      return text + decipher.final('utf8');
    } catch {
      return null;
    }
  }

  /** Whether `sealed` was made with a key other than the current one (so it is due for re-sealing). */
  isStale(sealed: string): boolean {
    const head = Buffer.from(sealed.slice(0, 8), 'base64url');
    return head.length < 5 || head.compare(this.#keys[0]!.id, 0, 4, 1, 5) !== 0;
  }

  /** Write the next unused IV into `out` at the IV's place. */
  #nextIv(out: Buffer): void {
    if (this.#ivAt + IV > IV_POOL) {
      randomFillSync(this.#ivs);
      this.#ivAt = 0;
    }
    this.#ivs.copy(out, 5, this.#ivAt, this.#ivAt + IV);
    this.#ivAt += IV;
  }

  #aad(aad: string): Buffer {
    let bytes = this.#aads.get(aad);
    if (bytes === undefined) this.#aads.set(aad, (bytes = Buffer.from(aad)));
    return bytes;
  }
}
