import assert from 'node:assert/strict';
import { createDecipheriv, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { Keyring } from '../../src/crypto/keyring.js';
import { Sealer } from '../../src/crypto/seal.js';
import { otherSpellings, sealFormat1 } from '../helpers/sealing.js';

const A = 'a'.repeat(32);
const B = 'b'.repeat(40);
const keys = (s: string) => Keyring.from(s).keys('data');

/**
 * A box sealed by the Sealer of tessera before format 2 (format 1: `0x01 | keyId | iv | ciphertext | tag`
 * under the data key itself), with the data key of secret `A` and the additional data 'ctx'.
 */
const FORMAT_1_BOX = 'AfPwGRpKo07BjFjtp5Omvtz4EEcRyn6sfJ9TZOX6NQoMr0GMijw7KaPSSLePmtRK3BMa';

/** The message key of a format-2 box, from its salt: HKDF-Expand(key, "tessera/seal/v2" ‖ salt, 32), one block. */
function messageKey(key: Buffer, box: string): Buffer {
  const salt = Buffer.from(box, 'base64url').subarray(5, 21);
  return createHmac('sha256', key).update('tessera/seal/v2').update(salt).update(Buffer.from([1])).digest();
}

/** Open a format-2 box from its documented layout, by hand. Throws if it does not open. */
function openByHand(key: Buffer, box: string, aad: string): string {
  const bytes = Buffer.from(box, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', messageKey(key, box), Buffer.alloc(12));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  return decipher.update(bytes.subarray(21, bytes.length - 16), undefined, 'utf8') + decipher.final('utf8');
}

describe('Sealer (AES-256-GCM)', () => {
  it('round-trips and binds to the additional data, given as a string or as bytes', () => {
    const sealer = new Sealer(keys(A));
    const box = sealer.seal('{"hello":"wörld"}', 'ctx');
    assert.ok(!box.includes('hello'));
    assert.equal(sealer.open(box, 'ctx'), '{"hello":"wörld"}');
    assert.equal(sealer.open(box, Buffer.from('ctx')), '{"hello":"wörld"}');
    assert.equal(sealer.open(box, 'other'), null);
    assert.equal(sealer.open(box), null);
    assert.equal(sealer.open(sealer.seal('x', Buffer.from('bytes')), 'bytes'), 'x');
  });

  it('opens boxes sealed with an older key, and reports them as stale', () => {
    const before = new Sealer(keys(A));
    const after = new Sealer([...keys(B), ...keys(A)]);
    const box = before.seal('x');
    assert.equal(after.open(box), 'x');
    assert.equal(after.isStale(box), true);
    assert.equal(after.isStale(after.seal('x')), false);
  });

  it('seals in format 2: 0x02 | key ID | salt | ciphertext | tag, under HKDF-Expand(key, "tessera/seal/v2" ‖ salt) with a zero IV', () => {
    const [key] = keys(A);
    const sealer = new Sealer([key!]);
    const plaintext = '{"hello":"wörld"}';
    const box = sealer.seal(plaintext, 'ctx');
    const bytes = Buffer.from(box, 'base64url');
    assert.equal(Sealer.formatOf(box), 2);
    assert.equal(bytes[0], 2);
    assert.equal(bytes.length, 1 + 4 + 16 + Buffer.byteLength(plaintext) + 16);
    // Decrypt it from the documented layout alone, with node:crypto's own HMAC.
    assert.equal(openByHand(key!, box, 'ctx'), plaintext);
    // The ring's key itself (format 1's key) does not open the ciphertext.
    const direct = createDecipheriv('aes-256-gcm', key!, Buffer.alloc(12));
    direct.setAAD(Buffer.from('ctx'));
    direct.setAuthTag(bytes.subarray(bytes.length - 16));
    direct.update(bytes.subarray(21, bytes.length - 16));
    assert.throws(() => direct.final());
  });

  it('seals every box under a key of its own: a fresh salt each time, across refills of the salt pool', () => {
    const [key] = keys(A);
    const sealer = new Sealer([key!]);
    const salts = new Set<string>();
    const bodies = new Set<string>();
    // 256 salts fit in one draw from the CSPRNG: 1,000 seals span four draws.
    for (let i = 0; i < 1000; i++) {
      const box = sealer.seal('same plaintext', 'ctx');
      const bytes = Buffer.from(box, 'base64url');
      salts.add(bytes.subarray(5, 21).toString('hex'));
      bodies.add(bytes.subarray(21).toString('hex'));
      assert.equal(sealer.open(box, 'ctx'), 'same plaintext');
    }
    assert.equal(salts.size, 1000);
    assert.equal(bodies.size, 1000, 'the same plaintext never gives the same ciphertext');
    assert.ok(![...salts].includes('0'.repeat(32)));
    const [one, two] = [sealer.seal('same', 'ctx'), sealer.seal('same', 'ctx')];
    assert.notEqual(messageKey(key!, one).toString('hex'), messageKey(key!, two).toString('hex'), 'two seals, two message keys');
    assert.equal(openByHand(key!, one, 'ctx'), 'same');
    assert.equal(openByHand(key!, two, 'ctx'), 'same');
  });

  it('opens boxes of format 1 (made before format 2), binds them to their additional data, and reports them as stale', () => {
    const sealer = new Sealer(keys(A));
    assert.equal(Sealer.formatOf(FORMAT_1_BOX), 1);
    assert.equal(sealer.open(FORMAT_1_BOX, 'ctx'), '{"hello":"wörld"}');
    assert.equal(sealer.open(FORMAT_1_BOX, 'other'), null);
    assert.equal(sealer.isStale(FORMAT_1_BOX), true, 'due for re-sealing in format 2');
    assert.equal(new Sealer([...keys(B), ...keys(A)]).open(FORMAT_1_BOX, 'ctx'), '{"hello":"wörld"}', 'with an older key too');
    const [key] = keys(A);
    const id = Buffer.from(FORMAT_1_BOX, 'base64url').subarray(1, 5);
    assert.equal(sealer.open(sealFormat1(key!, id, 'x'.repeat(5000), 'a'), 'a'), 'x'.repeat(5000));
    const tampered = Buffer.from(FORMAT_1_BOX, 'base64url');
    tampered[30]! ^= 1;
    assert.equal(sealer.open(tampered.toString('base64url'), 'ctx'), null);
  });

  it('opens a box only in its canonical spelling', () => {
    const sealer = new Sealer(keys(A));
    // Box lengths of every residue mod 3: no unused bits, 2 and 4 unused bits in the last character.
    for (const plaintext of ['ab', 'a', 'abc', '{"n":1}', 'x'.repeat(100)]) {
      for (let i = 0; i < 8; i++) {
        const box = sealer.seal(plaintext, 'ctx');
        assert.equal(sealer.open(box, 'ctx'), plaintext);
        for (const variant of otherSpellings(box)) assert.equal(sealer.open(variant, 'ctx'), null, JSON.stringify(variant));
      }
    }
    for (const variant of otherSpellings(FORMAT_1_BOX)) assert.equal(sealer.open(variant, 'ctx'), null, `format 1: ${JSON.stringify(variant)}`);
  });

  it('seals empty and multi-byte plaintexts of any length', () => {
    const sealer = new Sealer(keys(A));
    for (const text of ['', 'é', '😀'.repeat(1000), 'x'.repeat(70_000)]) {
      assert.equal(sealer.open(sealer.seal(text, 'a'), 'a'), text);
    }
  });

  it('returns null, never throws, for tampered or garbage input', () => {
    const sealer = new Sealer(keys(A));
    const box = sealer.seal('secret data');
    const bytes = Buffer.from(box, 'base64url');
    for (const at of [0, 3, 10, bytes.length - 20, bytes.length - 1]) {
      const tampered = Buffer.from(bytes);
      tampered[at]! ^= 1;
      assert.equal(sealer.open(tampered.toString('base64url')), null, `byte ${at} changed`);
    }
    for (const junk of ['', 'abc', '!!!', 'A'.repeat(200), 'Ag' + 'A'.repeat(60), 'Aw' + 'A'.repeat(60)]) assert.equal(sealer.open(junk), null);
    assert.equal(new Sealer(keys(B)).open(box), null, 'an unknown key cannot open it');
    assert.equal(Sealer.formatOf('Aw' + 'A'.repeat(60)), 0);
  });
});
