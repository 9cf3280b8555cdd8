/**
 * Lifetimes on a fake clock: a per-session lifetime (remember me) is capped by `maxLifetime` and
 * ends at the absolute timeout unless `rememberMeExtendsAbsolute` says otherwise; lifetimes per
 * tenant (`tenants`).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ConfigError, SessionStateError } from '../../src/errors.js';
import type { TesseraOptions } from '../../src/options.js';
import { Browser } from '../helpers/browser.js';
import { DAY, HOUR, MINUTE, matrix } from './matrix.js';

/** The Expires date of a Set-Cookie line, which must be a date. */
function expiresOf(line: string): number {
  const text = /Expires=([^;]+)/.exec(line)?.[1];
  assert.ok(text, `an Expires attribute in ${line}`);
  const time = Date.parse(text);
  assert.ok(Number.isFinite(time), `Expires=${text} is a date`);
  return time;
}

matrix('lifetimes (fake clock)', (c) => {
  it('a remember-me session ends at the absolute timeout, however active', async () => {
    const { browser, clock } = c.setup({ idleTimeout: HOUR, absoluteTimeout: 2 * DAY, rememberMeLifetime: 30 * DAY, touchAfter: 0 });
    const t0 = clock.now();
    const { res } = await browser.request((s) => {
      s.set('user', 'ann');
      s.rememberMe();
    });
    assert.equal(expiresOf(res.cookies[0]!), t0 + 2 * DAY, 'the cookie ends with the session, not in 30 days');
    for (let i = 0; i < 3; i++) {
      clock.advance(12 * HOUR);
      assert.equal((await browser.request((s) => s.get('user'))).result, 'ann');
    }
    clock.advance(12 * HOUR); // 2 days after sign-in
    assert.equal((await browser.request((s) => s.get('user'))).result, undefined);
  });

  it('rememberMeExtendsAbsolute lets a remember-me session outlive the absolute timeout, up to its lifetime', async () => {
    const { browser, clock } = c.setup({ idleTimeout: HOUR, absoluteTimeout: 2 * DAY, rememberMeLifetime: 30 * DAY, rememberMeExtendsAbsolute: true, touchAfter: 0 });
    await browser.request((s) => {
      s.set('user', 'ann');
      s.rememberMe();
    });
    for (let i = 0; i < 5; i++) {
      clock.advance(5 * DAY);
      assert.equal((await browser.request((s) => s.get('user'))).result, 'ann', `day ${5 * (i + 1)}`);
    }
    clock.advance(5 * DAY); // 30 days after sign-in
    assert.equal((await browser.request((s) => s.get('user'))).result, undefined);
    // A session without a lifetime keeps the absolute timeout.
    const plain = c.setup({ idleTimeout: DAY, absoluteTimeout: 2 * DAY, rememberMeExtendsAbsolute: true, touchAfter: 0 });
    await plain.browser.request((s) => s.set('a', 1));
    plain.clock.advance(20 * HOUR);
    assert.equal((await plain.browser.request((s) => s.get('a'))).result, 1);
    plain.clock.advance(20 * HOUR);
    assert.equal((await plain.browser.request((s) => s.get('a'))).result, 1);
    plain.clock.advance(10 * HOUR);
    assert.equal((await plain.browser.request((s) => s.get('a'))).result, undefined);
  });

  it('refuses a lifetime over maxLifetime with SessionStateError, and keeps the session as it was', async () => {
    const { browser } = c.setup({ absoluteTimeout: Infinity });
    await browser.request((s) => s.set('a', 1));
    const { res, result } = await browser.request((s) => {
      for (const ms of [1e300, 400 * DAY + 1, Number.MAX_SAFE_INTEGER]) {
        assert.throws(() => s.setLifetime(ms), (e: unknown) => e instanceof SessionStateError && e.code === 'ERR_SESSION_STATE', String(ms));
        assert.throws(() => s.rememberMe(ms), SessionStateError, String(ms));
      }
      return s.meta.lifetime;
    });
    assert.equal(result, null);
    assert.deepEqual(res.cookies, [], 'nothing was written');
    const short = c.setup({ maxLifetime: 2 * DAY, rememberMeLifetime: DAY });
    await short.browser.request((s) => {
      s.set('a', 1);
      s.rememberMe();
      assert.throws(() => s.setLifetime(3 * DAY), SessionStateError);
      assert.equal(s.meta.lifetime, DAY);
    });
  });

  it('maxLifetime itself is a valid lifetime: the cookie Expires is a date, 400 days on', async () => {
    const { browser, clock } = c.setup({ absoluteTimeout: Infinity });
    const { res, session } = await browser.request((s) => {
      s.set('a', 1);
      s.setLifetime(400 * DAY);
    });
    assert.match(res.cookies[0]!, /Max-Age=34560000;/);
    assert.equal(expiresOf(res.cookies[0]!), clock.now() + 400 * DAY);
    assert.equal(session.meta.expiresAt, clock.now() + 400 * DAY);
  });

  if (c.server) {
    it('refuses a lifetime over maxLifetime by ID too (create), before anything reaches the store', async () => {
      const { tessera, store } = c.setup();
      await assert.rejects(tessera.create({ data: { a: 1 }, lifetime: 1e300 }), SessionStateError);
      assert.equal(store.calls.set, 0);
    });
  }

  it('refuses bad lifetimes at start-up with ConfigError', () => {
    const bad: Partial<TesseraOptions>[] = [
      { maxLifetime: 0 },
      { maxLifetime: -1 },
      { maxLifetime: Infinity },
      { maxLifetime: Number.NaN },
      { maxLifetime: HOUR, idleTimeout: 2 * HOUR },
      { maxLifetime: 10 * DAY }, // under the default rememberMeLifetime, 30 days
      { cookie: { secure: true, maxAge: 500 * DAY } },
      { idleTimeout: 1e300 },
      { absoluteTimeout: 1e300 },
      { rememberMeLifetime: 0 },
      { rememberMeExtendsAbsolute: 'yes' as unknown as boolean },
    ];
    for (const options of bad) assert.throws(() => c.setup(options), ConfigError, JSON.stringify(options));
    assert.doesNotThrow(() => c.setup({ maxLifetime: 10 * DAY, rememberMeLifetime: 7 * DAY, absoluteTimeout: Infinity }));
  });
});

matrix('lifetimes per tenant (fake clock)', (c) => {
  const tenants = {
    bank: { idleTimeout: 10 * MINUTE, absoluteTimeout: HOUR, rememberMeLifetime: 2 * HOUR, maxLifetime: DAY },
    shop: { rememberMeLifetime: 3 * DAY },
  };

  it('sessions of two tenants expire by their own tenant’s lifetimes', async () => {
    const { clock, tessera } = c.setup({ idleTimeout: HOUR, absoluteTimeout: 7 * DAY, touchAfter: 0, tenants });
    const bank = new Browser(tessera);
    const shop = new Browser(tessera);
    const other = new Browser(tessera);
    await bank.request((s) => s.set('a', 'bank'), { tenant: 'bank' });
    await shop.request((s) => s.set('a', 'shop'), { tenant: 'shop' });
    await other.request((s) => s.set('a', 'other'));
    clock.advance(15 * MINUTE);
    assert.equal((await bank.request((s) => s.get('a'), { tenant: 'bank' })).result, undefined, 'idle 15 minutes: over the bank’s 10');
    assert.equal((await shop.request((s) => s.get('a'), { tenant: 'shop' })).result, 'shop');
    assert.equal((await other.request((s) => s.get('a'))).result, 'other');
  });

  it('remember me, maxLifetime and the absolute timeout of the session’s tenant', async () => {
    const { clock, tessera } = c.setup({ idleTimeout: HOUR, absoluteTimeout: 7 * DAY, touchAfter: 0, tenants });
    const bank = new Browser(tessera);
    const shop = new Browser(tessera);
    const { session: b } = await bank.request(
      (s) => {
        s.set('a', 1);
        s.rememberMe();
        assert.throws(() => s.setLifetime(2 * DAY), SessionStateError, 'over the bank’s maxLifetime');
      },
      { tenant: 'bank' },
    );
    assert.equal(b.meta.lifetime, 2 * HOUR);
    assert.equal(b.meta.expiresAt, clock.now() + HOUR, 'the bank’s absolute timeout comes first');
    const { session: s } = await shop.request(
      (s) => {
        s.set('a', 1);
        s.rememberMe();
        s.setLifetime(2 * DAY);
        s.rememberMe();
      },
      { tenant: 'shop' },
    );
    assert.equal(s.meta.lifetime, 3 * DAY);
    for (let i = 0; i < 2; i++) {
      clock.advance(40 * MINUTE);
      assert.equal((await shop.request((x) => x.get('a'), { tenant: 'shop' })).result, 1);
    }
    assert.equal((await bank.request((x) => x.get('a'), { tenant: 'bank' })).result, undefined, 'the bank’s session ended at its absolute timeout');
  });

  it('refuses bad tenant lifetimes at start-up with ConfigError', () => {
    const bad: unknown[] = [
      { '': { idleTimeout: HOUR } },
      { acme: { idleTimeout: 0 } },
      { acme: { maxLifetime: HOUR } }, // under the inherited idle timeout and rememberMeLifetime
      { acme: { idleTime: HOUR } },
      { acme: null },
      { acme: { absoluteTimeout: -1 } },
    ];
    for (const t of bad) assert.throws(() => c.setup({ tenants: t as TesseraOptions['tenants'] }), ConfigError, JSON.stringify(t));
    assert.throws(() => c.setup({ tenants: [] as unknown as TesseraOptions['tenants'] }), ConfigError);
  });
});
