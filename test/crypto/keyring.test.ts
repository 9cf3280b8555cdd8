import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Keyring } from '../../src/crypto/keyring.js';
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
