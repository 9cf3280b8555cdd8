/** Binding to IP and User-Agent, and tenants: a session is used only where it belongs. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { matrix } from './matrix.js';

matrix('binding and tenants', (c) => {
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
