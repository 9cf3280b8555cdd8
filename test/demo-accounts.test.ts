/**
 * The demo's accounts over real HTTP: signing in with a name, /account and its devices list,
 * signing one or all other devices out, signing out, every form's CSRF token; on the default
 * SQLite store, then on every store `STORE=` can pick (with the sealed cookie, an explanation
 * instead of the list). And the small parts: browser names, relative times, the name rules.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { storeKey } from '../src/crypto/ids.js';
import { startDemo, type Demo } from '../examples/demo/app.js';
import { describeUserAgent, relativeTime } from '../examples/demo/devices.js';
import { validName } from '../examples/demo/form.js';
import { CHROME_LINUX, Client, csrfTokenIn, devicesIn, ENV, FIREFOX_WINDOWS, SAFARI_IPHONE, STORE_CASES } from './helpers/demo.js';

describe('demo accounts (SQLite)', () => {
  let dataDir: string;
  let demo: Demo;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tessera-demo-accounts-'));
    demo = await startDemo({ port: 0, host: '127.0.0.1', dataDir, env: ENV, log: () => {} });
  });
  after(async () => {
    await demo?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('signs in with a name: a new session ID, then /account lists this device', async () => {
    const client = new Client(demo.url, CHROME_LINUX);
    const form = await client.get('/sign-in');
    assert.equal(form.status, 200);
    assert.match(form.body, /<form method="post" action="\/sign-in">/);
    const before = client.sessionId; // the form's CSRF token came with an ID cookie (not stored yet)
    await client.signIn('Ada');
    assert.notEqual(client.sessionId, before, 'signing in gives the session a new ID (no session fixation)');

    const page = await client.get('/account');
    assert.equal(page.status, 200);
    assert.match(page.body, /signed in as <strong id="user">Ada<\/strong>/);
    assert.match(page.body, /<button id="sign-out">Sign out Ada<\/button>/);
    assert.match(page.headers.get('content-security-policy')!, /form-action 'self'/);
    const devices = devicesIn(page.body);
    assert.equal(devices.length, 1);
    assert.deepEqual(devices[0], { browser: 'Chrome on Linux', ip: '127.0.0.1', lastActive: 'now', current: true, handle: null });
    assert.doesNotMatch(page.body, /revoke-others/, 'no other device to sign out');
  });

  it('signing in a stored session (a counter) gives it a new ID and keeps its data; the old cookie is not signed in', async () => {
    const client = new Client(demo.url);
    assert.equal(await client.increment(), 1);
    const before = client.cookie;
    await client.signIn('Katherine');
    assert.notEqual(client.cookie, before);
    assert.equal(await client.increment(), 2, 'the counter came along');
    const old = new Client(demo.url);
    old.cookie = before;
    assert.equal((await old.get('/account')).status, 303, 'the pre-sign-in cookie opens nothing');
  });

  it('sends a visitor from /account to the sign-in form, and refuses bad names with 400', async () => {
    const visitor = new Client(demo.url);
    const page = await visitor.get('/account');
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), '/sign-in');
    for (const name of ['', '   ', 'x'.repeat(65), 'a\u0000b', 'line\nbreak', 'spoof\u202eed']) {
      const res = await visitor.post('/sign-in', { name }, { from: '/sign-in' });
      assert.equal(res.status, 400, JSON.stringify(name));
      assert.match(res.body, /<p class="error" id="error">/);
    }
    assert.equal((await visitor.get('/account')).status, 303, 'still not signed in');
    const longest = new Client(demo.url);
    await longest.signIn(`  ${'é'.repeat(64)}  `); // trimmed; 64 characters
    assert.match((await longest.get('/account')).body, new RegExp(`<strong id="user">${'é'.repeat(64)}</strong>`));
  });

  it('escapes the name and the user agent it shows', async () => {
    const client = new Client(demo.url, '"><script>alert(1)</script>');
    await client.signIn('<img src=x onerror=alert(1)> & "q"');
    const page = await client.get('/account');
    assert.doesNotMatch(page.body, /<img|<script/);
    assert.match(page.body, /title="&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;"/);
    assert.match(page.body, /<strong id="user">&lt;img src=x onerror=alert\(1\)&gt; &amp; &quot;q&quot;<\/strong>/);
    const bad = await client.post('/sign-in', { name: '<b>\u0001' }, { from: '/sign-in' });
    assert.doesNotMatch(bad.body, /<b>/, 'the refused name is echoed escaped');
  });

  it('lists a second browser signed in as the same name; revoking it signs it out', async () => {
    const laptop = new Client(demo.url, CHROME_LINUX);
    const phone = new Client(demo.url, SAFARI_IPHONE);
    await laptop.signIn('Grace');
    await phone.signIn('Grace');
    const someoneElse = new Client(demo.url, FIREFOX_WINDOWS);
    await someoneElse.signIn('Linus');

    const page = await laptop.get('/account');
    const devices = devicesIn(page.body);
    assert.equal(devices.length, 2, 'two devices of Grace, not Linus\'s');
    const [mine, other] = devices;
    assert.equal(mine!.current, true, 'this device first');
    assert.equal(mine!.browser, 'Chrome on Linux');
    assert.equal(other!.browser, 'Safari on iOS');
    assert.equal(other!.current, false);
    assert.match(other!.lastActive, /^(just now|\d+ minutes? ago)$/);
    assert.ok(other!.handle, 'a revoke button with the other device\'s handle');
    assert.ok(!other!.handle.includes(phone.sessionId), 'the handle is not the session ID');
    assert.match(page.body, /Sign out all other devices \(1\)/);

    const revoked = await laptop.post('/devices/revoke', { handle: other!.handle });
    assert.equal(revoked.status, 303);
    assert.equal(revoked.headers.get('location'), '/account');
    const after = await laptop.get('/account');
    assert.match(after.body, /<p class="notice" id="notice">That device was signed out\.<\/p>/);
    assert.equal(devicesIn(after.body).length, 1);
    assert.doesNotMatch((await laptop.get('/account')).body, /id="notice"/, 'the notice shows once');

    const phonePage = await phone.get('/account');
    assert.equal(phonePage.status, 303, 'the revoked cookie no longer signs the phone in');
    assert.equal(phonePage.headers.get('location'), '/sign-in');
    assert.equal((await someoneElse.get('/account')).status, 200, 'another user is untouched');
  });

  it("does not revoke another user's session by its handle, nor this device's", async () => {
    const alice = new Client(demo.url);
    const bob = new Client(demo.url);
    await alice.signIn('Alice');
    await bob.signIn('Bob');
    const [bobs] = devicesIn((await bob.get('/account')).body);
    const bobHandle = storeKey(bob.sessionId, null);
    assert.equal(bobs!.current, true);

    const res = await alice.post('/devices/revoke', { handle: bobHandle });
    assert.equal(res.status, 303);
    assert.match((await alice.get('/account')).body, /That device was already signed out\./);
    assert.equal((await bob.get('/account')).status, 200, "Bob's session survives Alice's request");

    const own = await alice.post('/devices/revoke', { handle: storeKey(alice.sessionId, null) });
    assert.equal(own.status, 400);
    assert.equal((await alice.get('/account')).status, 200);
    assert.equal((await alice.post('/devices/revoke', {})).status, 400, 'no handle');
    assert.equal((await alice.post('/devices/revoke', { handle: 'x'.repeat(300) })).status, 400);
  });

  it('signs out all other devices, keeping this one', async () => {
    const clients = [new Client(demo.url, CHROME_LINUX), new Client(demo.url, FIREFOX_WINDOWS), new Client(demo.url, SAFARI_IPHONE)];
    for (const c of clients) await c.signIn('Hedy');
    const [me, ...others] = clients;
    assert.equal(devicesIn((await me!.get('/account')).body).length, 3);
    const res = await me!.post('/devices/revoke-others');
    assert.equal(res.status, 303);
    const page = await me!.get('/account');
    assert.match(page.body, /Signed out 2 other devices\./);
    const devices = devicesIn(page.body);
    assert.equal(devices.length, 1);
    assert.equal(devices[0]!.current, true);
    for (const other of others) assert.equal((await other.get('/account')).status, 303, 'signed out');
  });

  it('refuses every POST without the CSRF token (403), or with another session\'s, and changes nothing', async () => {
    const client = new Client(demo.url);
    await client.signIn('Barbara');
    const phone = new Client(demo.url);
    await phone.signIn('Barbara');
    const handle = devicesIn((await client.get('/account')).body).find((d) => !d.current)!.handle!;

    for (const [path, fields] of [
      ['/sign-out', {}],
      ['/devices/revoke', { handle }],
      ['/devices/revoke-others', {}],
      ['/sign-in', { name: 'Mallory' }],
      ['/clear', {}],
    ] as const) {
      const res = await client.post(path, fields, { csrf: false });
      assert.equal(res.status, 403, path);
      assert.match(res.body, /CSRF/);
      const stolen = csrfTokenIn((await phone.get('/account')).body);
      const forged = await client.get(path, { method: 'POST', body: new URLSearchParams({ ...fields, _csrf: stolen }) });
      assert.equal(forged.status, 403, `${path} with another session's token`);
    }
    const crossSite = await client.post('/sign-out', {}, { headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(crossSite.status, 403, 'a cross-site form is refused even with the token');

    const page = await client.get('/account');
    assert.match(page.body, /<strong id="user">Barbara<\/strong>/, 'still signed in as Barbara');
    assert.equal(devicesIn(page.body).length, 2, 'no device was signed out');
    assert.equal((await phone.get('/account')).status, 200);
  });

  it('signs out: the cookie is cleared, a copy of it opens nothing, and / no longer shows the user', async () => {
    const client = new Client(demo.url);
    await client.signIn('Margaret');
    assert.equal(await client.increment(), 1);
    const copy = client.cookie;
    const res = await client.post('/sign-out', {}, { from: '/' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/');
    assert.equal(client.cookie, undefined, 'the session cookie is cleared');
    assert.equal(client.jar.size, 0, 'and the CSRF token cookie');
    const home = await client.get('/');
    assert.match(home.body, /href="\/sign-in"/);
    assert.doesNotMatch(home.body, /Margaret/);

    const replay = new Client(demo.url);
    replay.cookie = copy;
    assert.equal((await replay.get('/account')).status, 303, 'the old cookie is signed out');
    assert.equal(await replay.increment(), 1, 'and its counter is gone');
  });

  it('answers 405 with Allow for a method a path does not take', async () => {
    const client = new Client(demo.url);
    const get = await client.get('/sign-out');
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    const post = await client.post('/increment', {}, { from: '/sign-in' });
    assert.equal(post.status, 405, 'past the CSRF check, /increment takes no POST');
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    const clear = await client.post('/clear', {}, { from: '/sign-in' });
    assert.equal(clear.status, 200, '/clear takes a POST with the token, as well as GET');
    assert.match(clear.body, /id="cleared"/);
  });
});

describe('demo devices: browser names, times, names', () => {
  it('describes user agents in a few words', () => {
    assert.equal(describeUserAgent(CHROME_LINUX), 'Chrome on Linux');
    assert.equal(describeUserAgent(FIREFOX_WINDOWS), 'Firefox on Windows');
    assert.equal(describeUserAgent(SAFARI_IPHONE), 'Safari on iOS');
    assert.equal(
      describeUserAgent('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0'),
      'Edge on macOS',
    );
    assert.equal(describeUserAgent('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15'), 'Safari on macOS');
    assert.equal(describeUserAgent('Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36'), 'Chrome on Android');
    assert.equal(describeUserAgent('curl/8.5.0'), 'curl');
    assert.equal(describeUserAgent('node'), 'node');
    assert.equal(describeUserAgent(null), 'Unknown browser');
    assert.equal(describeUserAgent('Mozilla/5.0 (X11; Linux x86_64)'), 'A browser on Linux');
  });

  it('says how long ago, in words', () => {
    const now = Date.UTC(2026, 0, 10, 12);
    assert.equal(relativeTime(now - 30_000, now), 'just now');
    assert.equal(relativeTime(now + 5_000, now), 'just now', 'a clock a little ahead');
    assert.equal(relativeTime(now - 60_000, now), '1 minute ago');
    assert.equal(relativeTime(now - 5 * 60_000 - 59_000, now), '5 minutes ago');
    assert.equal(relativeTime(now - 2 * 3_600_000, now), '2 hours ago');
    assert.equal(relativeTime(now - 86_400_000, now), 'yesterday');
    assert.equal(relativeTime(now - 3 * 86_400_000, now), '3 days ago');
  });

  it('validates the sign-in name', () => {
    assert.deepEqual(validName('  Ada  '), { name: 'Ada' });
    assert.deepEqual(validName('Cafe\u0301'), { name: 'Café' }, 'NFC');
    assert.deepEqual(validName('👩‍💻'.repeat(16)), { name: '👩‍💻'.repeat(16) }, '48 code points');
    assert.ok(validName(undefined).error);
    assert.ok(validName(' \t ').error);
    assert.ok(validName('x'.repeat(65)).error);
    assert.deepEqual(validName('x'.repeat(64)), { name: 'x'.repeat(64) });
    for (const c of ['\u0000', '\u0007', '\u007f', '\u0085', '\u2028', '\u202e', '\u2066']) assert.ok(validName(`a${c}b`).error, JSON.stringify(c));
  });
});

describe('demo accounts on every store', () => {
  for (const c of STORE_CASES) {
    it(`STORE=${c.name}: signs in, lists both devices of a user, revokes the other, signs out`, { skip: c.skip }, async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'tessera-demo-store-'));
      let demo: Demo | undefined;
      try {
        demo = await startDemo({ port: 0, host: '127.0.0.1', dataDir, env: { NODE_ENV: 'test', STORE: c.store(dataDir) }, log: () => {} });
        const laptop = new Client(demo.url, CHROME_LINUX);
        const phone = new Client(demo.url, SAFARI_IPHONE);
        const third = new Client(demo.url, FIREFOX_WINDOWS);
        await laptop.signIn('Ada');
        await phone.signIn('Ada');
        await third.signIn('Ada');
        const page = await laptop.get('/account');
        assert.equal(page.status, 200);
        assert.match(page.body, /<strong id="user">Ada<\/strong>/);
        assert.equal((await laptop.post('/devices/revoke-others', {}, { csrf: false })).status, 403, 'no token: refused');

        if (c.name === 'cookie') {
          // No server-side list of a user's sessions: the page explains, the buttons are not there.
          assert.match(page.body, /id="no-device-list"/);
          assert.deepEqual(devicesIn(page.body), []);
          const refused = await laptop.post('/devices/revoke-others');
          assert.equal(refused.status, 501);
          assert.match(refused.body, /cannot be listed or signed out from another device/);
          assert.equal((await laptop.post('/devices/revoke', { handle: 'abc' })).status, 501);
          assert.equal((await phone.get('/account')).status, 200, 'the other device is still signed in');
        } else {
          const devices = devicesIn(page.body);
          assert.equal(devices.length, 3);
          assert.equal(devices.filter((d) => d.current).length, 1);
          assert.deepEqual(devices.map((d) => d.browser).sort(), ['Chrome on Linux', 'Firefox on Windows', 'Safari on iOS']);
          const phoneHandle = devices.find((d) => d.browser === 'Safari on iOS')!.handle!;
          assert.equal((await laptop.post('/devices/revoke', { handle: phoneHandle })).status, 303);
          assert.equal((await phone.get('/account')).status, 303, 'the revoked phone is signed out');
          assert.equal(devicesIn((await laptop.get('/account')).body).length, 2);
          assert.equal((await laptop.post('/devices/revoke-others')).status, 303);
          assert.match((await laptop.get('/account')).body, /Signed out 1 other device\./);
          assert.equal((await third.get('/account')).status, 303, 'the other device is signed out');
        }

        const copy = laptop.cookie;
        assert.equal((await laptop.post('/sign-out', {}, { from: '/' })).status, 303);
        assert.equal(laptop.cookie, undefined);
        const replay = new Client(demo.url);
        replay.cookie = copy;
        assert.equal((await replay.get('/account')).status, 303, 'a copy of the signed-out cookie is not signed in');
      } finally {
        await demo?.close();
        await c.cleanup?.();
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  }
});

