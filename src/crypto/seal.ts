/**
 * Authenticated encryption with AES-256-GCM, for session data at rest and in cookies.
 *
 * A box is the unpadded base64url of one of these byte layouts, told apart by its first byte:
 *
 * - **Format 2** (what {@link Sealer.seal} makes): `0x02 | keyId(4) | salt(16) | ciphertext | tag(16)`.
 *   Each box has a key of its own: `HKDF-Expand(PRK = key, info = "tessera/seal/v2" ‖ salt, 32)`
 *   (RFC 5869; one block, so `HMAC-SHA256(key, info ‖ salt ‖ 0x01)`), with a fresh random 128-bit
 *   salt. A message key seals one box, so its IV is a constant (twelve zero bytes), as age does for
 *   its payload keys; no key of the ring ever meets GCM's limit of 2^32 encryptions under random
 *   IVs. Two boxes share a message key only if their salts collide: about n²/2^129 after n seals.
 * - **Format 1** (opened, no longer made): `0x01 | keyId(4) | iv(12) | ciphertext | tag(16)`,
 *   sealed under the ring's key itself with a random IV. A box in it opens as before and is due
 *   for re-sealing ({@link Sealer.isStale}).
 *
 * The key ID (the first 4 bytes of the key's SHA-256) names which key of the ring sealed the box,
 * so opening takes one decryption, not one per key. A box opens only in its one canonical
 * spelling: base64url decoding skips characters outside the alphabet, stops at `=` and ignores the
 * unused low bits of the last character, so other spellings of the same bytes are refused.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createHash, randomFillSync } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';
import { GenerationalCache } from '../cache.js';

const FORMAT = 2;
const LEGACY = 1;
const KEY_ID = 4;
const SALT = 16;
const LEGACY_IV = 12;
const HEADER = 1 + KEY_ID + SALT;
const LEGACY_HEADER = 1 + KEY_ID + LEGACY_IV;
const TAG = 16;
/** The IV of every format-2 box: its message key seals nothing else. */
const ZERO_IV = Buffer.alloc(12);
/** HKDF-Expand's `info` for a message key, before the salt; its block counter (0x01) follows the salt. */
const INFO = Buffer.from('tessera/seal/v2');
/** Salts drawn from the CSPRNG this many bytes at a time: one call per 256 seals instead of one each. */
const SALT_POOL = 4096;
/** AAD strings whose bytes are kept (a cookie name and tenant): the most recently used ones. */
const AAD_CACHE_MAX = 256;
/** SHA-256's block size, for HMAC's padded keys. */
const BLOCK = 64;

// `crypto.hash` (Node >= 20.12, as package.json requires) is a one-shot digest: HMAC written out
// over two of them costs about 2 µs, `createHmac` about 3.5.
const { hash } = nodeCrypto as unknown as { hash: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer };

/** One key of the ring, with what deriving its message keys needs. */
interface RingKey {
  readonly id: Buffer;
  readonly key: Buffer;
  /** `key ⊕ ipad | info | salt | 0x01`: HMAC's inner input; the salt's bytes are written per seal. */
  readonly inner: Buffer;
  /** `key ⊕ opad | inner digest`: HMAC's outer input; the digest's bytes are written per seal. */
  readonly outer: Buffer;
}

/**
 * Keys for sealing: the first seals, all open. Build once and reuse: it precomputes key IDs.
 *
 * Each seal takes a fresh random salt, from which a key of its own is derived (see the module's
 * description for the format); salts are drawn from the CSPRNG in blocks and each is used once.
 *
 * @example
 * ```ts
 * const sealer = new Sealer(keyring.keys('data'));
 * const box = sealer.seal('{"a":1}');
 * sealer.open(box); // '{"a":1}'
 * ```
 */
export class Sealer {
  readonly #keys: RingKey[];
  readonly #salts = Buffer.alloc(SALT_POOL);
  #saltAt = SALT_POOL;
  readonly #aads = new GenerationalCache<string, Buffer>(AAD_CACHE_MAX);

  constructor(keys: readonly Uint8Array[]) {
    if (keys.length === 0) throw new TypeError('Sealer needs at least one key');
    this.#keys = keys.map((k) => {
      if (k.byteLength !== 32) throw new TypeError('AES-256-GCM keys are 32 bytes');
      const key = Buffer.from(k);
      const inner = Buffer.alloc(BLOCK + INFO.length + SALT + 1);
      const outer = Buffer.alloc(BLOCK + 32);
      for (let i = 0; i < BLOCK; i++) {
        inner[i] = (key[i] ?? 0) ^ 0x36;
        outer[i] = (key[i] ?? 0) ^ 0x5c;
      }
      INFO.copy(inner, BLOCK);
      inner[inner.length - 1] = 1;
      return { key, id: createHash('sha256').update(k).digest().subarray(0, KEY_ID), inner, outer };
    });
  }

  /**
   * Encrypt and authenticate `plaintext` with the current key. `aad`, if given, must be given
   * again to open it (it binds the box to a context, such as a cookie name).
   */
  seal(plaintext: string, aad?: string | Uint8Array): string {
    const entry = this.#keys[0]!;
    const length = Buffer.byteLength(plaintext);
    const out = Buffer.allocUnsafe(HEADER + length + TAG);
    out[0] = FORMAT;
    entry.id.copy(out, 1);
    this.#nextSalt(out);
    const cipher = createCipheriv('aes-256-gcm', messageKey(entry, out, 1 + KEY_ID), ZERO_IV);
    if (aad) cipher.setAAD(this.#aad(aad));
    // GCM is a stream mode: update() returns every byte and final() none.
    cipher.update(plaintext, 'utf8').copy(out, HEADER);
    cipher.final();
    cipher.getAuthTag().copy(out, HEADER + length);
    return out.toString('base64url');
  }

  /**
   * Decrypt a box made by {@link Sealer.seal} (in either format) with any key of the ring. Returns
   * `null` when the box is malformed or not spelled canonically, was sealed with an unknown key,
   * or was tampered with; never throws for bad input.
   */
  open(sealed: string, aad?: string | Uint8Array): string | null {
    const buf = Buffer.from(sealed, 'base64url');
    const format = buf[0];
    const header = format === FORMAT ? HEADER : format === LEGACY ? LEGACY_HEADER : 0;
    if (header === 0 || buf.length < header + TAG) return null;
    // One spelling per box: what decoding skipped or ignored must not be there.
    if (buf.toString('base64url') !== sealed) return null;
    const entry = this.#keys.find((k) => buf.compare(k.id, 0, KEY_ID, 1, 1 + KEY_ID) === 0);
    if (!entry) return null;
    try {
      const decipher =
        format === FORMAT
          ? createDecipheriv('aes-256-gcm', messageKey(entry, buf, 1 + KEY_ID), ZERO_IV)
          : createDecipheriv('aes-256-gcm', entry.key, buf.subarray(1 + KEY_ID, LEGACY_HEADER));
      if (aad) decipher.setAAD(this.#aad(aad));
      decipher.setAuthTag(buf.subarray(buf.length - TAG));
      const text = decipher.update(buf.subarray(header, buf.length - TAG), undefined, 'utf8');
      return text + decipher.final('utf8');
    } catch {
      return null;
    }
  }

  /**
   * The format of the box `sealed` (1 or 2, see the module's description), or 0 when it is in
   * neither. Reads its first two characters only: it says nothing about whether the box opens.
   *
   * @example
   * ```ts
   * Sealer.formatOf(sealer.seal('x')); // 2
   * ```
   */
  static formatOf(sealed: string): number {
    const head = Buffer.from(sealed.slice(0, 2), 'base64url');
    return head.length === 1 && (head[0] === FORMAT || head[0] === LEGACY) ? head[0] : 0;
  }

  /**
   * Whether `sealed` is due for re-sealing: made with a key other than the current one, or in an
   * earlier format.
   */
  isStale(sealed: string): boolean {
    const head = Buffer.from(sealed.slice(0, 8), 'base64url');
    return head.length < 1 + KEY_ID || head[0] !== FORMAT || head.compare(this.#keys[0]!.id, 0, KEY_ID, 1, 1 + KEY_ID) !== 0;
  }

  /** Write the next unused salt into `out` at the salt's place. */
  #nextSalt(out: Buffer): void {
    if (this.#saltAt + SALT > SALT_POOL) {
      randomFillSync(this.#salts);
      this.#saltAt = 0;
    }
    this.#salts.copy(out, 1 + KEY_ID, this.#saltAt, this.#saltAt + SALT);
    this.#saltAt += SALT;
  }

  #aad(aad: string | Uint8Array): Uint8Array {
    if (typeof aad !== 'string') return aad;
    let bytes = this.#aads.get(aad);
    if (bytes === undefined) this.#aads.set(aad, (bytes = Buffer.from(aad)));
    return bytes;
  }
}

/**
 * The message key of the box whose salt is `box[at, at + 16)`, under `entry`'s key:
 * `HMAC-SHA256(key, info ‖ salt ‖ 0x01)` (RFC 2104) written out over two one-shot digests — the
 * same bytes as `createHmac` gives, in about 60% of its time.
 */
function messageKey(entry: RingKey, box: Buffer, at: number): Buffer {
  const { inner, outer } = entry;
  box.copy(inner, BLOCK + INFO.length, at, at + SALT);
  hash('sha256', inner, 'buffer').copy(outer, BLOCK);
  return hash('sha256', outer, 'buffer');
}
