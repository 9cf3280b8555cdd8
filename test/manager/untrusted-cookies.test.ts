/** Untrusted cookies become fresh sessions: never an error, never a client-chosen ID. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { storeKey } from '../../src/crypto/ids.js';
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
