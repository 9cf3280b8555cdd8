import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveCookieOptions } from '../src/cookie.js';
import { Keyring } from '../src/crypto/keyring.js';
import { storeKey } from '../src/crypto/ids.js';
import { CsrfProtection, crossOriginVerdict } from '../src/csrf.js';
import { ConfigError } from '../src/errors.js';
import { Tessera } from '../src/manager.js';
import { MemoryStore } from '../src/stores/memory.js';
import { Browser } from './helpers/browser.js';

const OLD = 'csrf-test-old-secret-0123456789abcdef';
const NEW = 'csrf-test-new-secret-0123456789abcdef';
const cookie = resolveCookieOptions({ secure: true });
const protection = (secrets: string[], options = {}) => new CsrfProtection(Keyring.from(secrets), options, cookie);

describe('CSRF tokens', () => {
  const key = storeKey('a'.repeat(43), null);

  it('masks every token afresh; every mask verifies for its session only', () => {
    const csrf = protection([NEW]);
    const tokens = Array.from({ length: 50 }, () => csrf.tokenFor(key));
    assert.equal(new Set(tokens).size, 50, 'no two responses carry the same token');
    for (const token of tokens) {
      assert.match(token, /^[A-Za-z0-9_-]{86}$/);
      assert.equal(csrf.verify(token, key), true);
      assert.equal(csrf.verify(token, storeKey('b'.repeat(43), null)), false, 'another session');
      assert.equal(csrf.verify(token, storeKey('a'.repeat(43), 'acme')), false, 'the same ID under a tenant');
    }
  });

  it('refuses forged, truncated, re-spelt and non-string tokens without throwing', () => {
    const csrf = protection([NEW]);
    const token = csrf.tokenFor(key);
    const flipped = token.slice(0, 50) + (token[50] === 'A' ? 'B' : 'A') + token.slice(51);
    const lastBits = token.slice(0, 85) + String.fromCharCode(token.charCodeAt(85) ^ 1);
    for (const bad of ['', 'A'.repeat(86), token.slice(1), `${token}=`, flipped, lastBits, `${token.slice(0, 85)}!`, null, 42, {}, undefined]) {
      assert.equal(csrf.verify(bad, key), false, String(bad));
    }
  });

  it('a token made under the previous secret verifies after a rotation; one made under a dropped secret does not', () => {
    const token = protection([OLD]).tokenFor(key);
    assert.equal(protection([NEW, OLD]).verify(token, key), true);
    assert.equal(protection([NEW]).verify(token, key), false);
  });

  it('refuses bad options at start-up', () => {
    for (const bad of [
      { trustedOrigins: ['https://a.example/path'] },
      { trustedOrigins: ['a.example'] },
      { trustedOrigins: 'https://a.example' },
      { exempt: ['webhooks'] },
      { exempt: 'webhooks' },
      { header: 'bad header' },
      { field: '' },
      { cookie: 'yes' },
    ]) {
      assert.throws(() => protection([NEW], bad), ConfigError, JSON.stringify(bad));
    }
    assert.throws(() => new CsrfProtection(Keyring.from([NEW]), 'on' as never, cookie), ConfigError);
  });

  it('exempts exact paths, prefixes and patterns only', () => {
    const csrf = protection([NEW], { exempt: ['/hook', '/webhooks/*', /^\/api\/public\//] });
    const exempt = (path: string) => csrf.isExempt({ method: 'POST', path });
    assert.deepEqual(['/hook', '/webhooks/stripe', '/api/public/x'].map(exempt), [true, true, true]);
    assert.deepEqual(['/hook/x', '/hooks', '/webhooks', '/api/private'].map(exempt), [false, false, false, false]);
  });

  it('names its readable cookie after the session cookie, not HttpOnly', () => {
    assert.equal(protection([NEW]).cookie!.name, '__Host-tessera-csrf');
    assert.equal(protection([NEW]).cookie!.httpOnly, false);
    assert.equal(new CsrfProtection(Keyring.from([NEW]), {}, resolveCookieOptions({ secure: false })).cookie!.name, 'tessera-csrf');
    assert.equal(protection([NEW], { cookie: false }).cookie, null);
  });
});

describe('Fetch Metadata (crossOriginVerdict)', () => {
  const none = new Set<string>();
  const trusted = new Set(['https://admin.example']);
  const verdict = (secFetchSite: string | undefined, origin: string | undefined, set = none) => crossOriginVerdict({ secFetchSite, origin, host: 'app.example' }, set);

  it('follows Go 1.25: same-origin and none pass, anything else is refused unless its origin is trusted', () => {
    assert.equal(verdict('same-origin', 'https://app.example'), null);
    assert.equal(verdict('none', undefined), null);
    assert.equal(verdict('same-site', 'https://sub.app.example'), 'cross-site');
    assert.equal(verdict('cross-site', 'https://evil.example'), 'cross-site');
    assert.equal(verdict('cross-site', 'https://admin.example', trusted), null);
  });

  it('without Sec-Fetch-Site: Origin against Host; no Origin passes', () => {
    assert.equal(verdict(undefined, undefined), null);
    assert.equal(verdict(undefined, 'https://app.example'), null);
    assert.equal(verdict(undefined, 'https://APP.example'), null);
    assert.equal(verdict(undefined, 'https://app.example:8443'), 'cross-origin', 'another port is another origin');
    assert.equal(verdict(undefined, 'null'), 'cross-origin');
    assert.equal(verdict(undefined, 'https://evil.example'), 'cross-origin');
    assert.equal(verdict(undefined, 'https://admin.example', trusted), null);
  });
});

describe('session.csrfToken() and the provisional ID', () => {
  const make = () => new Tessera({ secrets: [NEW], store: new MemoryStore(), cleanupInterval: 0, logger: {}, cookie: { secure: true } });

  it('a first visit gets an ID cookie and a token, and stores nothing; the ID stays until the session is written', async () => {
    const tessera = make();
    const store = tessera.store as MemoryStore;
    const browser = new Browser(tessera);
    const { result: token, res } = await browser.request((s) => s.csrfToken());
    assert.equal(res.cookies.length, 2, 'the session ID cookie and the readable token cookie');
    assert.equal(store.size, 0, 'nothing stored');
    const { result: ok } = await browser.request((s) => s.verifyCsrfToken(token));
    assert.equal(ok, true, 'the token still names the session on the next request');
    const { res: written } = await browser.request((s) => {
      assert.equal(s.verifyCsrfToken(token), true);
      s.set('a', 1);
    });
    assert.equal(written.cookies.filter((l) => l.startsWith('__Host-tessera=')).length, 1, 'the first write replaces the provisional cookie');
    assert.equal(store.size, 1);
    assert.equal((await browser.request((s) => s.verifyCsrfToken(token))).result, true, 'the same ID, so the same token');
  });

  it('a stored session that is gone starts over with a new ID: its token and cookie do not come back', async () => {
    const tessera = make();
    const browser = new Browser(tessera);
    await browser.request((s) => s.set('a', 1));
    const { result: token } = await browser.request((s) => s.csrfToken());
    const stolen = browser.cookie;
    await browser.request((s) => s.destroy());
    const thief = new Browser(tessera);
    thief.cookie = stolen;
    const { result } = await thief.request((s) => [s.isNew, s.verifyCsrfToken(token)]);
    assert.deepEqual(result, [true, false]);
  });

  it('a provisional cookie cannot be turned into the cookie of a stored session, nor the reverse', async () => {
    const tessera = make();
    const browser = new Browser(tessera);
    await browser.request((s) => s.csrfToken());
    const provisional = browser.cookie!;
    assert.match(provisional, /^__Host-tessera=[A-Za-z0-9_-]{43}~/);
    const id = provisional.slice('__Host-tessera='.length, -44);
    assert.equal(tessera.verifyCookie(`${id}.${provisional.slice(-43)}`), null);
  });

  it('regenerate and destroy replace or clear the readable token cookie', async () => {
    const tessera = make();
    const browser = new Browser(tessera);
    await browser.request((s) => {
      s.set('a', 1);
      s.csrfToken();
    });
    const before = browser.csrfCookie;
    assert.ok(before);
    const { res } = await browser.request((s) => s.regenerate());
    assert.ok(res.cookies.some((l) => l.startsWith('__Host-tessera-csrf=')));
    assert.notEqual(browser.csrfCookie, before);
    await browser.request((s) => s.destroy());
    assert.equal(browser.csrfCookie, undefined);
  });
});
