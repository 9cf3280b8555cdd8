/**
 * SignedCookies: tessera's own 43-character IDs always; app-chosen IDs (express-session's genid)
 * only once accepted, and only of their shape.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignedCookies } from '../../src/core/signed.js';
import { Keyring } from '../../src/crypto/keyring.js';
import { generateId } from '../../src/crypto/ids.js';

const keyring = Keyring.from(['signed-cookies-test-secret-0123456789abcdef']);

describe('SignedCookies and app-chosen IDs', () => {
  it('verifies its own IDs, and an app-chosen one only after acceptAppIds()', () => {
    const signer = new SignedCookies(keyring, 'sid');
    const appId = 'app-7f3c9a2e41d84b6c9e0f5a1b2c3d4e5f';
    // Signed as the accepting instance would sign it, checked by one that does not accept app IDs.
    const accepting = new SignedCookies(keyring, 'sid');
    accepting.acceptAppIds();
    const value = accepting.sign(appId);
    const strict = new SignedCookies(keyring, 'sid');
    assert.equal(strict.verify(value), undefined, 'refused without acceptAppIds()');
    assert.equal(strict.verify(signer.sign(generateId()))?.provisional, false, 'its own IDs as before');
    const fresh = new SignedCookies(keyring, 'sid');
    fresh.acceptAppIds();
    assert.equal(fresh.verify(value)?.id, appId);
    assert.equal(fresh.verify(`${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`), undefined, 'a bad signature');
    assert.equal(fresh.isId('short-id'), false);
    assert.equal(fresh.isId('has.dot.in-it-0123456789abcdef'), false);
    assert.equal(fresh.isId('a'.repeat(129)), false);
    assert.equal(strict.isId(appId), false);
  });
});
