/** src/core/policy.ts: every function, on a fake clock, with the edges of each rule. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  absoluteEnd,
  bindingMismatch,
  cookieLifetime,
  cookieMaxAge,
  expiry,
  policyFor,
  policyOf,
  revokeByIdUntil,
  revokeUntil,
  touchIsDue,
  type Policy,
} from '../../src/core/policy.js';
import { resolveOptions, type TesseraOptions } from '../../src/options.js';
import { FakeClock } from '../helpers/clock.js';

const SECRET = 'policy-test-secret-that-is-long-enough-0123';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const YEAR = 365 * DAY;

/** The policy of these options (idle 1 h, absolute 1 day, remember me 30 days, touch after 10 %, unless given). */
function policy(options: Partial<TesseraOptions> = {}): Policy {
  return policyOf(resolveOptions({ secrets: [SECRET], logger: {}, idleTimeout: HOUR, absoluteTimeout: DAY, rememberMeLifetime: 30 * DAY, ...options }));
}

describe('policy', () => {
  describe('expiry', () => {
    it('is the idle timeout after the last use', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      clock.advance(10 * MINUTE);
      assert.equal(expiry(policy(), { createdAt: t0, lastSeenAt: clock.now(), lifetime: null }), t0 + 10 * MINUTE + HOUR);
    });

    it('is never later than the absolute limit, however recent the last use', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      clock.advance(DAY - 10 * MINUTE);
      assert.equal(expiry(policy(), { createdAt: t0, lastSeenAt: clock.now(), lifetime: null }), t0 + DAY);
      clock.advance(2 * DAY);
      assert.equal(expiry(policy(), { createdAt: t0, lastSeenAt: clock.now(), lifetime: null }), t0 + DAY, 'a use after the limit moves nothing');
    });

    it('counts a per-session lifetime (remember me) instead of the idle timeout', () => {
      const t0 = new FakeClock().now();
      assert.equal(expiry(policy(), { createdAt: t0, lastSeenAt: t0, lifetime: 2 * HOUR }), t0 + 2 * HOUR);
      assert.equal(expiry(policy(), { createdAt: t0, lastSeenAt: t0, lifetime: 10 * MINUTE }), t0 + 10 * MINUTE, 'also a shorter one');
    });

    it('a lifetime longer than absoluteTimeout does not move the absolute limit', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      assert.equal(expiry(policy(), { createdAt: t0, lastSeenAt: t0, lifetime: 30 * DAY }), t0 + DAY);
      clock.advance(DAY - HOUR);
      assert.equal(expiry(policy(), { createdAt: t0, lastSeenAt: clock.now(), lifetime: 30 * DAY }), t0 + DAY, 'used an hour before the limit');
    });

    it('with rememberMeExtendsAbsolute, a lifetime longer than absoluteTimeout moves the absolute limit to createdAt + lifetime', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      clock.advance(20 * DAY);
      // absoluteTimeout is 1 day: a 30-day remember-me session used on day 20 lives 10 days more, not 30.
      const p = policy({ rememberMeExtendsAbsolute: true });
      assert.equal(expiry(p, { createdAt: t0, lastSeenAt: clock.now(), lifetime: 30 * DAY }), t0 + 30 * DAY);
      assert.equal(expiry(p, { createdAt: t0, lastSeenAt: t0, lifetime: null }), t0 + HOUR, 'a session without a lifetime keeps the absolute limit');
    });

    it('caps a stored lifetime by maxLifetime (a record written before the cap, or under a larger one)', () => {
      const t0 = new FakeClock().now();
      const p = policy({ absoluteTimeout: Infinity, maxLifetime: 40 * DAY });
      assert.equal(expiry(p, { createdAt: t0, lastSeenAt: t0, lifetime: 1e300 }), t0 + 40 * DAY);
      assert.equal(expiry(policy({ rememberMeExtendsAbsolute: true, maxLifetime: 40 * DAY }), { createdAt: t0, lastSeenAt: t0, lifetime: 1e300 }), t0 + 40 * DAY);
    });

    it('with an Infinity absoluteTimeout, is the idle timeout after the last use, at any age', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      clock.advance(5 * YEAR);
      const p = policy({ absoluteTimeout: Infinity });
      assert.equal(expiry(p, { createdAt: t0, lastSeenAt: clock.now(), lifetime: null }), clock.now() + HOUR);
      assert.ok(Number.isFinite(expiry(p, { createdAt: t0, lastSeenAt: clock.now(), lifetime: 30 * DAY })));
    });
  });

  describe('absoluteEnd', () => {
    it('is createdAt + absoluteTimeout, whatever the lifetime', () => {
      const t0 = new FakeClock().now();
      assert.equal(absoluteEnd(policy(), { createdAt: t0, lifetime: null }), t0 + DAY);
      assert.equal(absoluteEnd(policy(), { createdAt: t0, lifetime: HOUR }), t0 + DAY, 'a shorter lifetime does not shorten it');
      assert.equal(absoluteEnd(policy(), { createdAt: t0, lifetime: 30 * DAY }), t0 + DAY, 'a longer one does not lengthen it');
    });

    it('with rememberMeExtendsAbsolute, + the lifetime when that is longer (at most maxLifetime)', () => {
      const t0 = new FakeClock().now();
      const p = policy({ rememberMeExtendsAbsolute: true, maxLifetime: 60 * DAY });
      assert.equal(absoluteEnd(p, { createdAt: t0, lifetime: HOUR }), t0 + DAY);
      assert.equal(absoluteEnd(p, { createdAt: t0, lifetime: 30 * DAY }), t0 + 30 * DAY);
      assert.equal(absoluteEnd(p, { createdAt: t0, lifetime: 1e300 }), t0 + 60 * DAY);
    });

    it('is Infinity with an Infinity absoluteTimeout', () => {
      assert.equal(absoluteEnd(policy({ absoluteTimeout: Infinity }), { createdAt: 0, lifetime: 30 * DAY }), Infinity);
    });
  });

  describe('touchIsDue', () => {
    it('only once touchAfter of the idle window has passed since the last write', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      const state = { createdAt: t0, lastSeenAt: t0, lifetime: null };
      const p = policy({ touchAfter: 0.5 });
      clock.advance(30 * MINUTE - 1);
      assert.equal(touchIsDue(p, state, clock.now()), false);
      clock.advance(1);
      assert.equal(touchIsDue(p, state, clock.now()), true, 'at exactly half the window');
    });

    it('measures the window by the session’s own lifetime', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      const state = { createdAt: t0, lastSeenAt: t0, lifetime: 10 * HOUR };
      clock.advance(2 * HOUR); // past 10 % of the idle timeout (1 h), not of the lifetime (10 h)
      assert.equal(touchIsDue(policy(), state, clock.now()), true);
      assert.equal(touchIsDue(policy({ touchAfter: 0.5 }), state, clock.now()), false);
    });

    it('not when extending would not move the expiry (the absolute limit caps it)', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      clock.advance(DAY - 30 * MINUTE);
      const state = { createdAt: t0, lastSeenAt: clock.now(), lifetime: null }; // expires at the absolute limit already
      clock.advance(20 * MINUTE);
      assert.equal(touchIsDue(policy({ touchAfter: 0 }), state, clock.now()), false);
    });

    it('with touchAfter 0, on any request after the last write, and not at the same instant', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      const state = { createdAt: t0, lastSeenAt: t0, lifetime: null };
      const p = policy({ touchAfter: 0 });
      assert.equal(touchIsDue(p, state, clock.now()), false);
      clock.advance(1);
      assert.equal(touchIsDue(p, state, clock.now()), true);
    });

    it('with an Infinity absoluteTimeout, whenever the window has passed', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      clock.advance(3 * YEAR);
      const state = { createdAt: t0, lastSeenAt: clock.now(), lifetime: null };
      clock.advance(30 * MINUTE);
      assert.equal(touchIsDue(policy({ absoluteTimeout: Infinity }), state, clock.now()), true);
    });
  });

  describe('cookieMaxAge and cookieLifetime', () => {
    const fresh = (t: number) => ({ createdAt: t, lastSeenAt: t, lifetime: null, persistent: null });

    it('a browser-session cookie (null) by default', () => {
      const t0 = new FakeClock().now();
      assert.equal(cookieLifetime(policy(), fresh(t0)), null);
      assert.equal(cookieMaxAge(policy(), fresh(t0), t0), null);
    });

    it('the session’s lifetime, else cookie.maxAge, else the idle timeout when forced persistent', () => {
      const t0 = new FakeClock().now();
      const maxAge = policy({ cookie: { maxAge: 2 * HOUR } });
      assert.equal(cookieLifetime(maxAge, fresh(t0)), 2 * HOUR);
      assert.equal(cookieLifetime(maxAge, { ...fresh(t0), lifetime: 5 * HOUR }), 5 * HOUR, 'the lifetime wins');
      assert.equal(cookieLifetime(policy(), { ...fresh(t0), persistent: true }), HOUR);
      assert.equal(cookieMaxAge(maxAge, fresh(t0), t0), 2 * HOUR);
    });

    it('persistent: false makes a browser-session cookie even with a lifetime or cookie.maxAge', () => {
      const t0 = new FakeClock().now();
      const state = { ...fresh(t0), lifetime: 5 * HOUR, persistent: false };
      assert.equal(cookieLifetime(policy({ cookie: { maxAge: HOUR } }), state), null);
      assert.equal(cookieMaxAge(policy({ cookie: { maxAge: HOUR } }), state, t0), null);
    });

    it('is capped by the time left to the absolute limit, and never negative', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      const state = { ...fresh(t0), lifetime: 12 * HOUR };
      clock.advance(20 * HOUR);
      assert.equal(cookieMaxAge(policy(), state, clock.now()), 4 * HOUR, 'the absolute limit is 4 hours away');
      clock.advance(10 * HOUR);
      assert.equal(cookieMaxAge(policy(), state, clock.now()), 0);
    });

    it('a lifetime longer than absoluteTimeout is capped to the time left to the absolute limit', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      const state = { ...fresh(t0), lifetime: 30 * DAY };
      assert.equal(cookieMaxAge(policy(), state, t0), DAY);
      clock.advance(DAY - HOUR);
      assert.equal(cookieMaxAge(policy(), state, clock.now()), HOUR);
    });

    it('with rememberMeExtendsAbsolute, a lifetime longer than absoluteTimeout is not capped to absoluteTimeout', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      const state = { ...fresh(t0), lifetime: 30 * DAY };
      const p = policy({ rememberMeExtendsAbsolute: true });
      assert.equal(cookieMaxAge(p, state, t0), 30 * DAY);
      clock.advance(29 * DAY);
      assert.equal(cookieMaxAge(p, state, clock.now()), DAY);
    });

    it('is never over maxLifetime, so a cookie date stays a date', () => {
      const t0 = new FakeClock().now();
      const p = policy({ absoluteTimeout: Infinity, maxLifetime: 400 * DAY });
      assert.equal(cookieLifetime(p, { ...fresh(t0), lifetime: 1e300 }), 400 * DAY);
      assert.equal(cookieMaxAge(p, { ...fresh(t0), lifetime: 1e300 }, t0), 400 * DAY);
    });

    it('with an Infinity absoluteTimeout, the full lifetime at any age', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      clock.advance(3 * YEAR);
      assert.equal(cookieMaxAge(policy({ absoluteTimeout: Infinity }), { ...fresh(t0), lifetime: 30 * DAY }, clock.now()), 30 * DAY);
    });
  });

  describe('revokeUntil', () => {
    it('lasts until the last copy of the cookie could expire: used now, with the longest lifetime a session can be given (maxLifetime), within the absolute limit', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      clock.advance(HOUR);
      assert.equal(revokeUntil(policy(), { createdAt: t0 }, clock.now()), t0 + DAY, 'the absolute limit comes first');
      const long = policy({ absoluteTimeout: 1000 * DAY, maxLifetime: 90 * DAY });
      assert.equal(revokeUntil(long, { createdAt: t0 }, clock.now()), clock.now() + 90 * DAY, 'maxLifetime from now comes first');
    });

    it('with rememberMeExtendsAbsolute, covers a copy given maxLifetime, which moves the absolute limit', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      clock.advance(HOUR);
      const p = policy({ rememberMeExtendsAbsolute: true, maxLifetime: 90 * DAY });
      assert.equal(revokeUntil(p, { createdAt: t0 }, clock.now()), t0 + 90 * DAY, 'not t0 + absoluteTimeout (1 day)');
      const later = policy({ rememberMeExtendsAbsolute: true, maxLifetime: 90 * DAY, absoluteTimeout: 200 * DAY });
      assert.equal(revokeUntil(later, { createdAt: t0 }, clock.now()), clock.now() + 90 * DAY);
    });

    it('outlasts every copy: however a copy is used and given a lifetime before the revocation, it has expired when the revocation ends', () => {
      for (const options of [{}, { rememberMeExtendsAbsolute: true }, { absoluteTimeout: Infinity }, { absoluteTimeout: Infinity, maxLifetime: 45 * DAY }]) {
        const p = policy(options);
        const t0 = new FakeClock().now();
        const revokedAt = t0 + 3 * HOUR;
        const until = revokeUntil(p, { createdAt: t0 }, revokedAt);
        assert.ok(Number.isFinite(until));
        for (const lifetime of [null, HOUR, 30 * DAY, p.maxLifetime, 1e300]) {
          for (const lastSeenAt of [t0, t0 + HOUR, revokedAt]) {
            assert.ok(expiry(p, { createdAt: t0, lastSeenAt, lifetime }) <= until, `${JSON.stringify(options)}: lifetime ${lifetime}, last seen ${lastSeenAt - t0}`);
          }
        }
      }
    });

    it('with an Infinity absoluteTimeout, maxLifetime from now: finite', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      clock.advance(2 * YEAR);
      assert.equal(revokeUntil(policy({ absoluteTimeout: Infinity }), { createdAt: t0 }, clock.now()), clock.now() + 400 * DAY);
    });

    it('uses the lifetimes of the session’s tenant', () => {
      const t0 = new FakeClock().now();
      const p = policy({ absoluteTimeout: Infinity, tenants: { short: { maxLifetime: 2 * DAY, rememberMeLifetime: DAY } } });
      assert.equal(revokeUntil(p, { createdAt: t0, tenant: 'short' }, t0), t0 + 2 * DAY);
      assert.equal(revokeUntil(p, { createdAt: t0, tenant: 'other' }, t0), t0 + 400 * DAY);
    });
  });

  describe('revokeByIdUntil', () => {
    it('as if created now: now + the shorter of maxLifetime and absoluteTimeout', () => {
      const now = new FakeClock().now();
      assert.equal(revokeByIdUntil(policy(), now), now + DAY);
      assert.equal(revokeByIdUntil(policy({ absoluteTimeout: 60 * DAY, maxLifetime: 45 * DAY }), now), now + 45 * DAY);
      assert.equal(revokeByIdUntil(policy({ rememberMeExtendsAbsolute: true }), now), now + 400 * DAY, 'a copy may have been given maxLifetime');
    });

    it('maxLifetime when sessions have no absolute limit', () => {
      const now = new FakeClock().now();
      assert.equal(revokeByIdUntil(policy({ absoluteTimeout: Infinity }), now), now + 400 * DAY);
    });

    it('with the tenant’s lifetimes', () => {
      const now = new FakeClock().now();
      assert.equal(revokeByIdUntil(policy({ tenants: { acme: { absoluteTimeout: 2 * HOUR } } }), now, 'acme'), now + 2 * HOUR);
    });
  });

  describe('bindingMismatch', () => {
    const recorded = { ip: '192.0.2.1', userAgent: 'UA/1' };

    it('never with both bindings off (the default)', () => {
      assert.equal(bindingMismatch(policy(), recorded, '198.51.100.9', 'UA/2'), null);
    });

    it('bindIp: an address in another /24, or none, is a mismatch; one in the same /24 is not', () => {
      const p = policy({ bindIp: 'strict' });
      assert.equal(bindingMismatch(p, recorded, '192.0.2.1', 'UA/2'), null);
      assert.equal(bindingMismatch(p, recorded, '192.0.2.77', 'UA/1'), null, 'same /24');
      assert.deepEqual(bindingMismatch(p, recorded, '192.0.3.1', 'UA/1'), { reason: 'ip', mode: 'strict' });
      assert.deepEqual(bindingMismatch(p, recorded, null, 'UA/1'), { reason: 'ip', mode: 'strict' });
      assert.equal(bindingMismatch(p, recorded, '::ffff:192.0.2.9', 'UA/1'), null, 'the IPv4-mapped form of an address in the network');
    });

    it('bindIpPrefix sets how much of the address is compared', () => {
      const exact = policy({ bindIp: 'strict', bindIpPrefix: { ipv4: 32 } });
      assert.deepEqual(bindingMismatch(exact, recorded, '192.0.2.2', 'UA/1'), { reason: 'ip', mode: 'strict' });
      const wide = policy({ bindIp: 'strict', bindIpPrefix: { ipv4: 16 } });
      assert.equal(bindingMismatch(wide, recorded, '192.0.200.1', 'UA/1'), null);
      const v6 = policy({ bindIp: 'log', bindIpPrefix: { ipv6: 48 } });
      assert.equal(bindingMismatch(v6, { ip: '2001:db8:1:2::1', userAgent: null }, '2001:db8:1:ffff::9', null), null);
      assert.deepEqual(bindingMismatch(v6, { ip: '2001:db8:1:2::1', userAgent: null }, '2001:db8:2::1', null), { reason: 'ip', mode: 'log' });
    });

    it('bindUserAgent: a different User-Agent is a mismatch', () => {
      const p = policy({ bindUserAgent: 'log' });
      assert.equal(bindingMismatch(p, recorded, '198.51.100.9', 'UA/1'), null);
      assert.deepEqual(bindingMismatch(p, recorded, '192.0.2.1', 'UA/2'), { reason: 'userAgent', mode: 'log' });
    });

    it('true is strict, false is off', () => {
      assert.deepEqual(bindingMismatch(policy({ bindIp: true }), recorded, '198.51.100.9', 'UA/1'), { reason: 'ip', mode: 'strict' });
      assert.deepEqual(bindingMismatch(policy({ bindUserAgent: true }), recorded, '192.0.2.1', 'UA/2'), { reason: 'userAgent', mode: 'strict' });
      assert.equal(bindingMismatch(policy({ bindIp: false, bindUserAgent: false }), recorded, '198.51.100.9', 'UA/2'), null);
    });

    it('a strict mismatch wins over a log one, whichever binding it is', () => {
      const p = policy({ bindIp: 'log', bindUserAgent: 'strict' });
      assert.deepEqual(bindingMismatch(p, recorded, '198.51.100.9', 'UA/2'), { reason: 'userAgent', mode: 'strict' });
      assert.deepEqual(bindingMismatch(p, recorded, '198.51.100.9', 'UA/1'), { reason: 'ip', mode: 'log' });
    });

    it('a session that recorded none is bound to nothing', () => {
      const p = policy({ bindIp: 'strict', bindUserAgent: 'strict' });
      assert.equal(bindingMismatch(p, { ip: null, userAgent: null }, '198.51.100.9', 'UA/2'), null);
    });
  });

  describe('tenants', () => {
    const p = () =>
      policy({
        absoluteTimeout: 7 * DAY,
        tenants: { bank: { idleTimeout: 5 * MINUTE, absoluteTimeout: HOUR, maxLifetime: DAY, rememberMeLifetime: DAY }, club: { rememberMeExtendsAbsolute: true } },
      });

    it('policyFor gives a tenant’s own policy, and the defaults to others and to sessions without a tenant', () => {
      assert.equal(policyFor(p(), 'bank').idleTimeout, 5 * MINUTE);
      assert.equal(policyFor(p(), 'bank').touchAfter, 0.1, 'what a tenant does not set is the default');
      assert.equal(policyFor(p(), 'club').idleTimeout, HOUR);
      assert.equal(policyFor(p(), 'other').idleTimeout, HOUR);
      assert.equal(policyFor(p(), null).idleTimeout, HOUR);
    });

    it('expiry, touch and the cookie follow the session’s tenant', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      assert.equal(expiry(p(), { createdAt: t0, lastSeenAt: t0, lifetime: null, tenant: 'bank' }), t0 + 5 * MINUTE);
      assert.equal(expiry(p(), { createdAt: t0, lastSeenAt: t0, lifetime: null, tenant: 'other' }), t0 + HOUR);
      assert.equal(expiry(p(), { createdAt: t0, lastSeenAt: t0, lifetime: 30 * DAY, tenant: 'bank' }), t0 + HOUR, 'capped by the tenant’s maxLifetime, then its absolute limit');
      assert.equal(expiry(p(), { createdAt: t0, lastSeenAt: t0, lifetime: 30 * DAY, tenant: 'club' }), t0 + 30 * DAY, 'the tenant lets remember-me extend the absolute limit');
      assert.equal(expiry(p(), { createdAt: t0, lastSeenAt: t0, lifetime: 30 * DAY, tenant: null }), t0 + 7 * DAY);
      clock.advance(MINUTE);
      assert.equal(touchIsDue(p(), { createdAt: t0, lastSeenAt: t0, lifetime: null, tenant: 'bank' }, clock.now()), true, '10 % of 5 minutes passed');
      assert.equal(touchIsDue(p(), { createdAt: t0, lastSeenAt: t0, lifetime: null, tenant: 'other' }, clock.now()), false);
      assert.equal(cookieMaxAge(p(), { createdAt: t0, lastSeenAt: t0, lifetime: null, persistent: true, tenant: 'bank' }, t0), 5 * MINUTE);
    });
  });

  describe('policyOf', () => {
    it('takes the policy options, and cookie.maxAge as cookieMaxAge', () => {
      const p = policy({ touchAfter: 0.25, bindIp: true, cookie: { maxAge: 2 * HOUR } });
      assert.deepEqual(p, {
        idleTimeout: HOUR,
        absoluteTimeout: DAY,
        touchAfter: 0.25,
        rememberMeLifetime: 30 * DAY,
        maxLifetime: 400 * DAY,
        rememberMeExtendsAbsolute: false,
        bindIp: 'strict',
        bindUserAgent: 'off',
        bindIpPrefix: { ipv4: 24, ipv6: 64 },
        cookieMaxAge: 2 * HOUR,
        tenants: null,
      });
      assert.equal(policy().cookieMaxAge, undefined);
    });
  });
});
