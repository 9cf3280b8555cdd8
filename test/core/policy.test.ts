/** src/core/policy.ts: every function, on a fake clock, with the edges of each rule. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  absoluteEnd,
  bindingMismatch,
  cookieLifetime,
  cookieMaxAge,
  expiry,
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

    it('a lifetime longer than absoluteTimeout moves the absolute limit to createdAt + lifetime', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      clock.advance(20 * DAY);
      // absoluteTimeout is 1 day: a 30-day remember-me session used on day 20 lives 10 days more, not 30.
      assert.equal(expiry(policy(), { createdAt: t0, lastSeenAt: clock.now(), lifetime: 30 * DAY }), t0 + 30 * DAY);
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
    it('is createdAt + absoluteTimeout, or + the lifetime when that is longer', () => {
      const t0 = new FakeClock().now();
      assert.equal(absoluteEnd(policy(), { createdAt: t0, lifetime: null }), t0 + DAY);
      assert.equal(absoluteEnd(policy(), { createdAt: t0, lifetime: HOUR }), t0 + DAY, 'a shorter lifetime does not shorten it');
      assert.equal(absoluteEnd(policy(), { createdAt: t0, lifetime: 30 * DAY }), t0 + 30 * DAY);
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

    it('a lifetime longer than absoluteTimeout is not capped to absoluteTimeout', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      const state = { ...fresh(t0), lifetime: 30 * DAY };
      assert.equal(cookieMaxAge(policy(), state, t0), 30 * DAY);
      clock.advance(29 * DAY);
      assert.equal(cookieMaxAge(policy(), state, clock.now()), DAY);
    });

    it('with an Infinity absoluteTimeout, the full lifetime at any age', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      clock.advance(3 * YEAR);
      assert.equal(cookieMaxAge(policy({ absoluteTimeout: Infinity }), { ...fresh(t0), lifetime: 30 * DAY }, clock.now()), 30 * DAY);
    });
  });

  describe('revokeUntil', () => {
    it('lasts until the last copy of the cookie could expire: used now, with the longest lifetime a session can have', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      clock.advance(HOUR);
      // Longest lifetime: rememberMeLifetime (30 days), which also moves the absolute limit to t0 + 30 days.
      assert.equal(revokeUntil(policy(), { createdAt: t0, lifetime: null }, clock.now()), t0 + 30 * DAY);
      // Without remember me longer than the idle timeout: the idle timeout from now, within the absolute limit.
      const short = policy({ rememberMeLifetime: MINUTE });
      assert.equal(revokeUntil(short, { createdAt: t0, lifetime: null }, clock.now()), clock.now() + HOUR);
      clock.advance(DAY);
      assert.equal(revokeUntil(short, { createdAt: t0, lifetime: null }, clock.now()), t0 + DAY, 'capped by the absolute limit');
    });

    it('covers the session’s own lifetime when it is the longest', () => {
      const t0 = new FakeClock().now();
      assert.equal(revokeUntil(policy(), { createdAt: t0, lifetime: 90 * DAY }, t0), t0 + 90 * DAY);
    });

    it('with an Infinity absoluteTimeout, the longest lifetime from now', () => {
      const clock = new FakeClock();
      const t0 = clock.now();
      clock.advance(2 * YEAR);
      assert.equal(revokeUntil(policy({ absoluteTimeout: Infinity }), { createdAt: t0, lifetime: null }, clock.now()), clock.now() + 30 * DAY);
    });
  });

  describe('revokeByIdUntil', () => {
    it('as if created now with the longest lifetime: now + max(absoluteTimeout, rememberMeLifetime)', () => {
      const now = new FakeClock().now();
      assert.equal(revokeByIdUntil(policy(), now), now + 30 * DAY);
      assert.equal(revokeByIdUntil(policy({ absoluteTimeout: 60 * DAY }), now), now + 60 * DAY);
    });

    it('a year when sessions have no absolute limit', () => {
      const now = new FakeClock().now();
      assert.equal(revokeByIdUntil(policy({ absoluteTimeout: Infinity }), now), now + YEAR);
    });
  });

  describe('bindingMismatch', () => {
    const recorded = { ip: '192.0.2.1', userAgent: 'UA/1' };

    it('never without bindIp or bindUserAgent', () => {
      assert.equal(bindingMismatch(policy(), recorded, '198.51.100.9', 'UA/2'), false);
    });

    it('bindIp: a different IP, or none, is a mismatch; the same IP is not', () => {
      const p = policy({ bindIp: true });
      assert.equal(bindingMismatch(p, recorded, '192.0.2.1', 'UA/2'), false);
      assert.equal(bindingMismatch(p, recorded, '198.51.100.9', 'UA/1'), true);
      assert.equal(bindingMismatch(p, recorded, null, 'UA/1'), true);
    });

    it('bindUserAgent: a different User-Agent is a mismatch', () => {
      const p = policy({ bindUserAgent: true });
      assert.equal(bindingMismatch(p, recorded, '198.51.100.9', 'UA/1'), false);
      assert.equal(bindingMismatch(p, recorded, '192.0.2.1', 'UA/2'), true);
    });

    it('a session that recorded none is bound to nothing', () => {
      const p = policy({ bindIp: true, bindUserAgent: true });
      assert.equal(bindingMismatch(p, { ip: null, userAgent: null }, '198.51.100.9', 'UA/2'), false);
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
        bindIp: true,
        bindUserAgent: false,
        cookieMaxAge: 2 * HOUR,
      });
      assert.equal(policy().cookieMaxAge, undefined);
    });
  });
});
