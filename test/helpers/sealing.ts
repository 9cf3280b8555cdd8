/**
 * Helpers for tests of sealed values: boxes in the Sealer's earlier format, and the other
 * spellings of a box that base64url decoding reads as the same bytes.
 */
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';

/** A box in format 1 (`0x01 | keyId | iv | ciphertext | tag` under the key itself), made as the Sealer made them before format 2. */
export function sealFormat1(key: Buffer, keyId: Buffer, plaintext: string, aad?: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  if (aad) cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([1]), keyId, iv, body, cipher.getAuthTag()]).toString('base64url');
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Other spellings of the box `s` that Node's base64url decoder reads as the same bytes: characters
 * outside the alphabet (skipped), padding and what follows it (ignored), the standard alphabet's
 * `+` and `/`, and set bits in the unused low bits of the last character.
 */
export function otherSpellings(s: string): string[] {
  const bytes = Buffer.from(s, 'base64url');
  const out = [s.slice(0, 10) + '!' + s.slice(10), s.slice(0, 7) + '.' + s.slice(7), s + '=', s + '==', s + '=x', s.slice(0, 5) + ' ' + s.slice(5), s + '\n', s.slice(0, 3) + 'é' + s.slice(3)];
  if (s.includes('-')) out.push(s.replace('-', '+'));
  if (s.includes('_')) out.push(s.replace('_', '/'));
  const unused = [0, 4, 2][bytes.length % 3]!; // low bits of the last character no byte uses
  if (unused > 0) {
    const last = ALPHABET.indexOf(s.at(-1)!);
    out.push(s.slice(0, -1) + ALPHABET[last | 1]!, s.slice(0, -1) + ALPHABET[last | ((1 << unused) - 1)]!);
  }
  for (const v of out) {
    assert.notEqual(v, s);
    assert.ok(Buffer.from(v, 'base64url').equals(bytes), `${JSON.stringify(v)} decodes to the box's bytes`);
  }
  return out;
}
