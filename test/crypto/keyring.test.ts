import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Keyring } from '../../src/crypto/keyring.js';
import { Sealer } from '../../src/crypto/seal.js';
import { generateId, isWellFormedId, storeKey } from '../../src/crypto/ids.js';
import { SecretError } from '../../src/errors.js';

const A = 'a'.repeat(32);
const B = 'b'.repeat(40);

describe('Keyring', () => {
  it('refuses secrets under 32 bytes with a clear, typed error', () => {
    assert.throws(() => Keyring.from('short'), (e: unknown) => e instanceof SecretError && e.code === 'ERR_SECRET' && /at least 32/.test(e.message));
    assert.throws(() => Keyring.from([A, 'x'.repeat(31)]), SecretError);
    assert.throws(() => Keyring.from(new Uint8Array(16)), SecretError);
  });

  it('refuses to run without a secret in production', () => {
    assert.throws(() => Keyring.from(undefined, { production: true }), SecretError);
    assert.throws(() => Keyring.from([], { production: true }), SecretError);
  });

  it('uses a random per-process secret with a warning outside production', () => {
    const warnings: string[] = [];
    const one = Keyring.from(undefined, { production: false, warn: (m) => warnings.push(m) });
    const two = Keyring.from(undefined, { production: false, warn: (m) => warnings.push(m) });
    assert.equal(one.ephemeral, true);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /random/);
    assert.equal(two.verify('cookie', 'x', one.sign('cookie', 'x')), false, 'each process gets its own');
  });

  it('signs with the first secret and verifies with all (rotation)', () => {
    const old = Keyring.from([A]);
    const rotated = Keyring.from([B, A]);
    const oldSig = old.sign('cookie', 'id');
    assert.equal(rotated.verify('cookie', 'id', oldSig), true, 'old signatures still verify');
    assert.equal(rotated.sign('cookie', 'id'), Keyring.from([B]).sign('cookie', 'id'), 'new ones use the first secret');
    assert.equal(Keyring.from([B]).verify('cookie', 'id', oldSig), false, 'a retired secret no longer verifies');
  });

  it('derives a different key per purpose', () => {
    const k = Keyring.from(A);
    assert.notEqual(k.sign('cookie', 'x'), k.sign('csrf', 'x'));
    assert.equal(k.verify('csrf', 'x', k.sign('cookie', 'x')), false);
    assert.notDeepEqual(k.keys('data')[0], k.keys('auth')[0]);
  });

  it('rejects malformed and tampered signatures', () => {
    const k = Keyring.from(A);
    const sig = k.sign('cookie', 'id');
    assert.equal(k.verify('cookie', 'id2', sig), false);
    assert.equal(k.verify('cookie', 'id', sig.slice(0, -1) + (sig.endsWith('A') ? 'B' : 'A')), false);
    assert.equal(k.verify('cookie', 'id', ''), false);
    // The last character carries 4 unused bits: other spellings of the same bytes are refused.
    const last = sig.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const i = alphabet.indexOf(last);
    const sibling = alphabet[(i & ~3) | ((i + 1) & 3)]!;
    assert.deepEqual(Buffer.from(sig.slice(0, -1) + sibling, 'base64url'), Buffer.from(sig, 'base64url'));
    assert.equal(k.verify('cookie', 'id', sig.slice(0, -1) + sibling), false);
    assert.equal(k.verify('cookie', 'id', '!'.repeat(43)), false);
  });
});

describe('ids', () => {
  it('makes 256-bit base64url IDs that do not repeat', () => {
    const ids = new Set(Array.from({ length: 1_000 }, generateId));
    assert.equal(ids.size, 1_000);
    for (const id of ids) {
      assert.ok(isWellFormedId(id));
      assert.equal(Buffer.from(id, 'base64url').length, 32);
    }
  });

  it('gives stores a hash of (tenant, id), never the id', () => {
    const id = generateId();
    const key = storeKey(id, null);
    assert.notEqual(key, id);
    assert.ok(!key.includes(id));
    assert.notEqual(storeKey(id, 'acme'), storeKey(id, 'globex'));
    assert.equal(storeKey(id, 'acme'), storeKey(id, 'acme'));
  });
});

describe('Sealer (AES-256-GCM)', () => {
  const keys = (s: string) => Keyring.from(s).keys('data');

  it('round-trips and binds to the additional data', () => {
    const sealer = new Sealer(keys(A));
    const box = sealer.seal('{"hello":"wörld"}', 'ctx');
    assert.ok(!box.includes('hello'));
    assert.equal(sealer.open(box, 'ctx'), '{"hello":"wörld"}');
    assert.equal(sealer.open(box, 'other'), null);
  });

  it('opens boxes sealed with an older key, and reports them as stale', () => {
    const before = new Sealer(keys(A));
    const after = new Sealer([...keys(B), ...keys(A)]);
    const box = before.seal('x');
    assert.equal(after.open(box), 'x');
    assert.equal(after.isStale(box), true);
    assert.equal(after.isStale(after.seal('x')), false);
  });

  it('gives every seal its own IV, across refills of the IV pool', () => {
    const sealer = new Sealer(keys(A));
    const ivs = new Set<string>();
    // 341 IVs fit in one draw from the CSPRNG: 1,000 seals span three draws.
    for (let i = 0; i < 1000; i++) {
      const box = sealer.seal('same plaintext', 'ctx');
      ivs.add(Buffer.from(box, 'base64url').subarray(5, 17).toString('hex'));
      assert.equal(sealer.open(box, 'ctx'), 'same plaintext');
    }
    assert.equal(ivs.size, 1000);
    assert.ok(![...ivs].includes('0'.repeat(24)));
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
    bytes[bytes.length - 20]! ^= 1;
    assert.equal(sealer.open(bytes.toString('base64url')), null);
    for (const junk of ['', 'abc', '!!!', 'A'.repeat(200)]) assert.equal(sealer.open(junk), null);
    assert.equal(new Sealer(keys(B)).open(box), null, 'an unknown key cannot open it');
  });
});

describe('Keyring.match: which secret a signature was made under', () => {
  const C = 'c'.repeat(32);

  it('answers the index of the key that signed (0: the current one), -1 for none', () => {
    const old = Keyring.from([B]);
    const rotated = Keyring.from([A, B, C]);
    const id = generateId();
    assert.equal(rotated.match('cookie', id, rotated.sign('cookie', id)), 0);
    assert.equal(rotated.match('cookie', id, old.sign('cookie', id)), 1, 'made under the second secret');
    assert.equal(rotated.match('cookie', id, Keyring.from([C]).sign('cookie', id)), 2);
    assert.equal(rotated.match('cookie', id, Keyring.from(['d'.repeat(32)]).sign('cookie', id)), -1);
    assert.equal(rotated.match('csrf', id, old.sign('cookie', id)), -1, 'another purpose’s key does not match');
    for (const junk of ['', 'x'.repeat(43), old.sign('cookie', id).slice(0, 42)]) assert.equal(rotated.match('cookie', id, junk), -1);
  });

  it('agrees with verify', () => {
    const ring = Keyring.from([A, B]);
    const id = generateId();
    for (const sig of [ring.sign('cookie', id), Keyring.from([B]).sign('cookie', id), Keyring.from([C]).sign('cookie', id)]) {
      assert.equal(ring.verify('cookie', id, sig), ring.match('cookie', id, sig) >= 0);
    }
  });
});
