import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { generateSecret, Keyring } from '../../src/crypto/keyring.js';
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

  it('names an undefined secret (an unset environment variable) as such', () => {
    const unset = process.env.TESSERA_TEST_UNSET_SECRET;
    assert.throws(
      () => Keyring.from([A, unset!]),
      (e: unknown) => e instanceof SecretError && e.code === 'ERR_SECRET' && /secret #2 is undefined/.test(e.message) && /environment variable/.test(e.message),
    );
    assert.throws(() => Keyring.from([null as unknown as string]), (e: unknown) => e instanceof SecretError && /null/.test(e.message));
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

describe('TESSERA_SECRETS', () => {
  const saved = process.env.TESSERA_SECRETS;
  afterEach(() => {
    if (saved === undefined) delete process.env.TESSERA_SECRETS;
    else process.env.TESSERA_SECRETS = saved;
  });

  it('is read when no secrets are passed: comma-separated, trimmed, the first signs and all verify', () => {
    process.env.TESSERA_SECRETS = ` ${B} ,\t${A}\n`;
    const warnings: string[] = [];
    const keyring = Keyring.from(undefined, { production: true, warn: (m) => warnings.push(m) });
    assert.equal(keyring.ephemeral, false);
    assert.deepEqual(warnings, []);
    assert.equal(keyring.sign('cookie', 'id'), Keyring.from([B]).sign('cookie', 'id'), 'the first entry signs');
    assert.equal(keyring.verify('cookie', 'id', Keyring.from([A]).sign('cookie', 'id')), true, 'the second verifies');
  });

  it('is not read when secrets are passed', () => {
    process.env.TESSERA_SECRETS = B;
    assert.equal(Keyring.from([A]).sign('cookie', 'id'), Keyring.from(A).sign('cookie', 'id'));
    assert.equal(Keyring.from([A]).verify('cookie', 'id', Keyring.from([B]).sign('cookie', 'id')), false);
  });

  it('refuses empty entries and short secrets, naming the entry', () => {
    for (const value of ['', ' ', `${A},`, `${A},,${B}`, `,${A}`]) {
      process.env.TESSERA_SECRETS = value;
      assert.throws(() => Keyring.from(undefined), (e: unknown) => e instanceof SecretError && /TESSERA_SECRETS entry #\d is empty/.test(e.message), JSON.stringify(value));
    }
    process.env.TESSERA_SECRETS = `${A}, short`;
    assert.throws(() => Keyring.from(undefined), (e: unknown) => e instanceof SecretError && /TESSERA_SECRETS entry #2 is 5 bytes/.test(e.message));
  });
});

describe('generateSecret', () => {
  it('makes a 256-bit base64url secret the keyring accepts, new each time', () => {
    const secrets = new Set(Array.from({ length: 100 }, generateSecret));
    assert.equal(secrets.size, 100);
    for (const secret of secrets) {
      assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(secret, 'base64url').length, 32);
      assert.equal(Keyring.from(secret).ephemeral, false);
    }
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
