/** Binding to IP and User-Agent, and tenants: a session is used only where it belongs. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { storeKey } from '../../src/crypto/ids.js';
import type { SessionEvent } from '../../src/core/events.js';
import { Browser } from '../helpers/browser.js';
import { matrix } from './matrix.js';

matrix('binding and tenants', (c) => {
  // Ending a sealed session everywhere needs its revocation store (`revocation: false` cannot).
  const canEnd = c.server || c.revocation !== null;

  it('bindIp strict: a request from another network ends the session — for every holder of its cookie — and emits bindingMismatch', async () => {
    const warnings: string[] = [];
    // (The revocation: false combination warns about that at start-up: not this test's concern.)
    const { browser, tessera, store, clock } = c.setup({ bindIp: 'strict', logger: { warn: (_f, m) => void (/revocation: false/.test(m) || warnings.push(m)) } });
    const events: { name: string; e: SessionEvent }[] = [];
    for (const name of ['bindingMismatch', 'destroyed']) tessera.on(name, (e: SessionEvent) => events.push({ name, e }));
    const { session } = await browser.request((s) => s.set('a', 1), { ip: '192.0.2.1' });
    const id = session.id;
    const thief = new Browser(tessera);
    thief.cookie = browser.cookie;
    const stolen = await thief.request((s) => [s.get('a'), s.isNew], { ip: '203.0.113.5' });
    assert.deepEqual(stolen.result, [undefined, true], 'a fresh session for the request from elsewhere');
    assert.deepEqual(
      events.map(({ name, e }) => [name, e.reason, e.mode]),
      [
        ['bindingMismatch', 'ip', 'strict'],
        ['destroyed', 'binding', undefined],
      ],
    );
    assert.ok(events.every(({ e }) => !JSON.stringify(e).includes(id) && e.ref?.length === 12), 'a hashed reference, never the ID');
    assert.deepEqual(warnings, [], 'strict does not warn: the event says it');
    if (canEnd) {
      assert.deepEqual((await browser.request((s) => [s.get('a'), s.isNew], { ip: '192.0.2.1' })).result, [undefined, true], 'the session is over for its owner too');
      if (c.server) assert.equal(await store.inner.get(storeKey(id, null), { now: clock.now() }), null, 'its record was deleted');
    }
  });

  it('bindIp compares networks: /24 for IPv4 (an IPv4-mapped address as IPv4), /64 for IPv6, or bindIpPrefix', async () => {
    const { browser } = c.setup({ bindIp: 'strict' });
    await browser.request((s) => s.set('a', 1), { ip: '192.0.2.1' });
    assert.equal((await browser.request((s) => s.get('a'), { ip: '192.0.2.77' })).result, 1, 'the same /24');
    assert.equal((await browser.request((s) => s.get('a'), { ip: '::ffff:192.0.2.9' })).result, 1, 'IPv4-mapped, same /24');
    const v6 = c.setup({ bindIp: 'strict' });
    await v6.browser.request((s) => s.set('a', 1), { ip: '2001:db8:1:2::1' });
    assert.equal((await v6.browser.request((s) => s.get('a'), { ip: '2001:db8:1:2:aaaa::9' })).result, 1, 'the same /64');
    assert.equal((await v6.browser.request((s) => s.get('a'), { ip: '2001:db8:1:3::1' })).result, undefined, 'another /64');
    const exact = c.setup({ bindIp: 'strict', bindIpPrefix: { ipv4: 32 } });
    await exact.browser.request((s) => s.set('a', 1), { ip: '192.0.2.1' });
    assert.equal((await exact.browser.request((s) => s.get('a'), { ip: '192.0.2.2' })).result, undefined, '/32: whole addresses');
  });

  it('bindIp log: a request from another network keeps the session, emits bindingMismatch and warns', async () => {
    const warnings: { m: string; f: unknown }[] = [];
    const { browser, tessera } = c.setup({ bindIp: 'log', logger: { warn: (f, m) => void (/revocation: false/.test(m) || warnings.push({ m, f })) } });
    const events: SessionEvent[] = [];
    tessera.on('bindingMismatch', (e: SessionEvent) => events.push(e));
    let destroyed = 0;
    tessera.on('destroyed', () => destroyed++);
    const { session } = await browser.request((s) => s.set('a', 1), { ip: '192.0.2.1' });
    assert.equal((await browser.request((s) => s.get('a'), { ip: '203.0.113.5' })).result, 1, 'kept');
    assert.deepEqual(events.map((e) => [e.reason, e.mode]), [['ip', 'log']]);
    assert.equal(destroyed, 0);
    assert.equal(warnings.length, 1);
    assert.ok(!JSON.stringify(warnings).includes(session.id), 'no ID in the warning');
    const { session: moved } = await browser.request((s) => s.get('a'), { ip: '203.0.113.9' });
    assert.equal(moved.meta.ip, '203.0.113.5', 'the new address was recorded');
    assert.equal(events.length, 1, 'once: the session now records the new network');
    assert.equal((await browser.request((s) => s.get('a'), { ip: '192.0.2.1' })).result, 1, 'still there');
    assert.equal(events.length, 2, 'back to the first network: a change again');
  });

  it('bindUserAgent: strict ends the session, log keeps it', async () => {
    const strict = c.setup({ bindUserAgent: 'strict' });
    await strict.browser.request((s) => s.set('a', 1), { userAgent: 'A' });
    const copy = new Browser(strict.tessera);
    copy.cookie = strict.browser.cookie;
    assert.equal((await copy.request((s) => s.get('a'), { userAgent: 'B' })).result, undefined);
    if (canEnd) assert.equal((await strict.browser.request((s) => s.get('a'), { userAgent: 'A' })).result, undefined, 'ended for the owner too');
    const log = c.setup({ bindUserAgent: 'log', logger: {} });
    const events: SessionEvent[] = [];
    log.tessera.on('bindingMismatch', (e: SessionEvent) => events.push(e));
    await log.browser.request((s) => s.set('a', 1), { userAgent: 'A' });
    assert.equal((await log.browser.request((s) => s.get('a'), { userAgent: 'B' })).result, 1);
    assert.deepEqual(events.map((e) => [e.reason, e.mode]), [['userAgent', 'log']]);
  });

  it('bindIp starts a fresh session when the IP changes', async () => {
    const { browser } = c.setup({ bindIp: true });
    await browser.request((s) => s.set('a', 1), { ip: '192.0.2.1' });
    assert.equal((await browser.request((s) => s.get('a'), { ip: '192.0.2.1' })).result, 1);
    assert.equal((await browser.request((s) => s.get('a'), { ip: '198.51.100.9' })).result, undefined);
  });

  it('bindUserAgent starts a fresh session when the User-Agent changes', async () => {
    const { browser } = c.setup({ bindUserAgent: true });
    await browser.request((s) => s.set('a', 1), { userAgent: 'A' });
    assert.equal((await browser.request((s) => s.get('a'), { userAgent: 'A' })).result, 1);
    assert.equal((await browser.request((s) => s.get('a'), { userAgent: 'B' })).result, undefined);
  });

  it('a cookie of one tenant finds nothing under another', async () => {
    const { browser } = c.setup();
    const { session } = await browser.request((s) => s.set('a', 1), { tenant: 'acme' });
    assert.equal(session.meta.tenant, 'acme');
    assert.equal((await browser.request((s) => s.get('a'), { tenant: 'acme' })).result, 1);
    assert.equal((await browser.request((s) => s.get('a'), { tenant: 'globex' })).result, undefined);
  });
});
