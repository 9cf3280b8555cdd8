/** Untrusted cookies become fresh sessions: never an error, never a client-chosen ID. */
import assert from 'node:assert/strict';
import { it, mock } from 'node:test';
import { generateId, storeKey } from '../../src/crypto/ids.js';
import { Keyring } from '../../src/crypto/keyring.js';
import { Sealer } from '../../src/crypto/seal.js';
import { Browser } from '../helpers/browser.js';
import { matrix } from './matrix.js';

matrix('untrusted cookies become fresh sessions', (c) => {
  it('finds the session among other cookies, in any order, and reports a bad cookie each time it comes', async () => {
    const { browser, tessera } = c.setup();
    const events: unknown[] = [];
    tessera.on('invalidCookie', (e) => events.push(e));
    const { session } = await browser.request((s) => s.set('a', 1));
    const mine = browser.cookie!;
    const [name] = mine.split('=');
    for (const header of [mine, `theme=dark; ${mine}`, `${mine}; lang=en`, mine, `theme=dark; ${mine}`]) {
      browser.cookie = header;
      assert.equal((await browser.request((s) => s.id)).result, session.id, header);
    }
    assert.equal(events.length, 0);
    for (let i = 0; i < 2; i++) {
      browser.cookie = `${name}=forged.value`;
      assert.equal((await browser.request((s) => s.isNew)).result, true);
    }
    assert.equal(events.length, 2, 'a forged cookie seen twice is reported twice');
  });

  it('examines at most 3 values of the session cookie per request: 200 forged values cost 3 verifications', async () => {
    const { browser } = c.setup();
    const { session } = await browser.request((s) => s.set('a', 1));
    const valid = browser.cookie!;
    const name = valid.slice(0, valid.indexOf('='));
    const value = valid.slice(name.length + 1);
    // Well-formed forgeries, each a different value, so each would take a full verification:
    // id.signature with a wrong signature; a seal with one ciphertext character changed.
    const forged = (i: number): string => {
      if (c.server) return `${name}=${generateId()}.${generateId()}`;
      const at = 30 + (i % (value.length - 60));
      return `${name}=${value.slice(0, at)}${value[at] === 'A' ? 'B' : 'A'}${value.slice(at + 1)}`;
    };
    const header = (...values: string[]): string => values.join('; ');
    // What a verification costs: an HMAC check (signed ID cookie) or a decryption (sealed cookie).
    const verifications = c.server ? mock.method(Keyring.prototype, 'match') : mock.method(Sealer.prototype, 'open');
    try {
      browser.cookie = header(...Array.from({ length: 200 }, (_, i) => forged(i)));
      assert.equal((await browser.request((s) => s.isNew)).result, true);
      assert.ok(verifications.mock.callCount() <= 3, `${verifications.mock.callCount()} verifications`);

      verifications.mock.resetCalls();
      browser.cookie = header(forged(1), forged(2), valid, ...Array.from({ length: 197 }, (_, i) => forged(i + 3)));
      const found = await browser.request((s) => s.get('a'));
      assert.equal(found.session.id, session.id, 'a valid cookie among the first 3 is found');
      assert.equal(found.result, 1);
      assert.ok(verifications.mock.callCount() <= 3, `${verifications.mock.callCount()} verifications`);

      browser.cookie = header(forged(1), forged(2), forged(3), valid);
      assert.equal((await browser.request((s) => s.isNew)).result, true, 'a value after the first 3 is not examined');
    } finally {
      verifications.mock.restore();
    }
  });

  it('starts fresh, with a new ID, for a tampered cookie', async () => {
    const { browser, tessera } = c.setup();
    const events: unknown[] = [];
    tessera.on('invalidCookie', (e) => events.push(e));
    const { session } = await browser.request((s) => s.set('a', 1));
    const [name, value] = browser.cookie!.split('=');
    const tampered = value!.slice(0, 10) + (value![10] === 'A' ? 'B' : 'A') + value!.slice(11);
    for (const cookie of [`${name}=${tampered}`, `${name}=garbage`, `${name}=`, `${name}=${'x'.repeat(5000)}`, `${name}=%00%ff`]) {
      browser.cookie = cookie;
      const { session: fresh, result } = await browser.request((s) => s.get('a'));
      assert.equal(result, undefined);
      assert.equal(fresh.isNew, true);
      assert.notEqual(fresh.id, session.id, 'never adopts the client-chosen ID');
    }
    assert.ok(events.length >= 4);
  });

  it('starts fresh for a cookie made under an unknown secret, and accepts rotated-out secrets still listed', async () => {
    const { browser, another } = c.setup({ secrets: ['o'.repeat(32)] });
    const { session } = await browser.request((s) => s.set('kept', true));
    const rotated = new Browser(another({ secrets: ['n'.repeat(32), 'o'.repeat(32)] }));
    rotated.cookie = browser.cookie;
    const { result } = await rotated.request((s) => s.get('kept'));
    assert.equal(result, true);
    const stranger = new Browser(another({ secrets: ['s'.repeat(32)] }));
    stranger.cookie = browser.cookie;
    const { session: strange } = await stranger.request((s) => assert.equal(s.get('kept'), undefined));
    assert.notEqual(strange.id, session.id);
  });

  it('gives a cookie made under an older secret a new one made under the current secret, on its next response', async () => {
    const OLD = 'o'.repeat(32);
    const NEW = 'n'.repeat(32);
    const { browser, another } = c.setup({ secrets: [OLD] });
    await browser.request((s) => s.set('kept', true));
    const oldCookie = browser.cookie!;
    const rotated = another({ secrets: [NEW, OLD] });
    const onlyNew = (cookie: string | undefined) => {
      const b = new Browser(another({ secrets: [NEW] }));
      b.cookie = cookie;
      return b.request((s) => s.get('kept'));
    };
    assert.equal((await onlyNew(oldCookie)).result, undefined, 'the old cookie does not verify under the new secret alone');

    // A request that writes, and one that only reads: each response carries the cookie made again.
    for (const write of [true, false]) {
      const b = new Browser(rotated);
      b.cookie = oldCookie;
      const { res, result } = await b.request((s) => {
        if (write) s.set('n', 1);
        return s.get('kept');
      });
      assert.equal(result, true, 'the old cookie still loads its session');
      assert.equal(res.cookies.length, 1, `one Set-Cookie (${write ? 'write' : 'read'})`);
      assert.notEqual(b.cookie, oldCookie);
      assert.equal((await onlyNew(b.cookie)).result, true, `the new cookie verifies under the new secret alone (${write ? 'write' : 'read'})`);
      // Once the browser holds the new cookie, nothing more is sent.
      assert.deepEqual((await b.request((s) => s.get('kept'))).res.cookies, []);
    }
  });

  // A record only a server store keeps.
  if (c.server) {
    it('starts fresh when the stored record cannot be read', async () => {
      const { browser, store, tessera } = c.setup();
      const { session } = await browser.request((s) => s.set('a', 1));
      const key = storeKey(session.id, null);
      await store.inner.set(key, { data: 'not json', version: 2, expiresAt: Date.UTC(2027, 0), userId: null, tenant: null }, 1, { now: tessera.options.now() });
      const { result } = await browser.request((s) => s.get('a'));
      assert.equal(result, undefined);
    });
  }
});
