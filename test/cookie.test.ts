import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clearCookie, parseCookies, readCookie, resolveCookieOptions, serializeCookie } from '../src/cookie.js';
import { CookieConfigError } from '../src/errors.js';

describe('cookie options', () => {
  it('defaults to HttpOnly, SameSite=Lax, Secure and a __Host- name outside development', () => {
    const c = resolveCookieOptions({ secure: true });
    assert.equal(c.name, '__Host-tessera');
    assert.equal(c.attributes, '; Path=/; HttpOnly; Secure; SameSite=Lax');
  });

  it('drops Secure and the __Host- prefix in development', () => {
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = 'development';
    try {
      const c = resolveCookieOptions({});
      assert.equal(c.secure, false);
      assert.equal(c.name, 'tessera');
    } finally {
      process.env.NODE_ENV = env;
    }
  });

  it('does not use __Host- when a domain or a path is set', () => {
    assert.equal(resolveCookieOptions({ secure: true, domain: 'example.com' }).name, 'tessera');
    assert.equal(resolveCookieOptions({ secure: true, path: '/app' }).name, 'tessera');
  });

  it('refuses invalid combinations at start-up', () => {
    const bad: Parameters<typeof resolveCookieOptions>[0][] = [
      { name: '__Host-x', secure: true, domain: 'example.com' },
      { name: '__Host-x', secure: true, path: '/app' },
      { name: '__Host-x', secure: false },
      { name: '__Secure-x', secure: false },
      { sameSite: 'none', secure: false },
      { partitioned: true, secure: false },
      { name: 'bad name' },
      { name: 'a;b' },
      { path: 'relative' },
      { path: '/a;b' },
      { domain: 'exa mple.com' },
      { maxAge: -1 },
      { expires: new Date('nope') },
      { sameSite: 'sometimes' as never },
    ];
    for (const options of bad) {
      assert.throws(() => resolveCookieOptions(options), (e: unknown) => e instanceof CookieConfigError && e.code === 'ERR_COOKIE_CONFIG', JSON.stringify(options));
    }
  });

  it('writes every attribute it was given', () => {
    const c = resolveCookieOptions({ name: 'sid', secure: true, domain: 'example.com', path: '/app', sameSite: 'none', partitioned: true, httpOnly: false });
    assert.equal(c.attributes, '; Path=/app; Domain=example.com; Secure; SameSite=None; Partitioned');
  });
});

describe('serializeCookie / clearCookie', () => {
  const c = resolveCookieOptions({ name: 'sid', secure: true });
  it('writes a browser-session cookie without Max-Age', () => {
    assert.equal(serializeCookie(c, 'v', null, 0), 'sid=v; Path=/; HttpOnly; Secure; SameSite=Lax');
  });
  it('writes Max-Age in seconds and a matching Expires', () => {
    const now = Date.UTC(2026, 0, 1);
    assert.equal(serializeCookie(c, 'v', 90_500, now), `sid=v; Max-Age=90; Expires=${new Date(now + 90_000).toUTCString()}; Path=/; HttpOnly; Secure; SameSite=Lax`);
  });
  it('uses a configured fixed expiry, unless the session insists on a browser-session cookie', () => {
    const fixed = resolveCookieOptions({ name: 'sid', secure: true, expires: new Date(Date.UTC(2030, 0, 1)) });
    assert.match(serializeCookie(fixed, 'v', null, 0), /^sid=v; Expires=Tue, 01 Jan 2030 00:00:00 GMT; Path=\//);
    assert.equal(serializeCookie(fixed, 'v', null, 0, true), 'sid=v; Path=/; HttpOnly; Secure; SameSite=Lax');
  });
  it('clears with the same path and attributes', () => {
    assert.match(clearCookie(c), /^sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
  });
});

describe('readCookie', () => {
  it('finds the named cookie and only that one', () => {
    assert.deepEqual(readCookie('a=1; sid=x.y; b=2', 'sid'), ['x.y']);
    assert.deepEqual(readCookie('xsid=no; sid=yes', 'sid'), ['yes']);
    assert.deepEqual(readCookie('sid=first;sid=second', 'sid'), ['first', 'second']);
    assert.deepEqual(readCookie('sid="quoted"', 'sid'), ['quoted']);
    assert.deepEqual(readCookie(undefined, 'sid'), []);
    assert.deepEqual(readCookie('a=sid=1', 'sid'), []);
  });
  it('returns only the first `max` values when given one', () => {
    assert.deepEqual(readCookie('sid=1; a=0; sid=2; sid=3; sid=4', 'sid', 3), ['1', '2', '3']);
    assert.deepEqual(readCookie('sid=1', 'sid', 3), ['1']);
    assert.equal(readCookie(Array.from({ length: 500 }, (_, i) => `sid=${i}`).join('; '), 'sid').length, 500, 'all of them without');
  });
  it('parses a whole header, skipping malformed parts', () => {
    assert.deepEqual({ ...parseCookies('a=1; b=%20x; =bad; c; d=%E0%A4%A') }, { a: '1', b: ' x', d: '%E0%A4%A' });
  });
});
