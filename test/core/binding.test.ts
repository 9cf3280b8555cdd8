/** src/core/binding.ts: address parsing and network comparison, with the edges of each form. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIp, sameNetwork } from '../../src/core/binding.js';

const DEFAULT = { ipv4: 24, ipv6: 64 };

describe('binding', () => {
  describe('parseIp', () => {
    it('reads IPv4 as two 16-bit groups', () => {
      assert.deepEqual(parseIp('192.0.2.1'), [0xc000, 0x0201]);
      assert.deepEqual(parseIp('0.0.0.0'), [0, 0]);
      assert.deepEqual(parseIp('255.255.255.255'), [0xffff, 0xffff]);
    });

    it('reads IPv6 in every written form', () => {
      assert.deepEqual(parseIp('2001:db8::1'), [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
      assert.deepEqual(parseIp('2001:DB8:0:0:0:0:0:1'), [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
      assert.deepEqual(parseIp('::'), [0, 0, 0, 0, 0, 0, 0, 0]);
      assert.deepEqual(parseIp('::1'), [0, 0, 0, 0, 0, 0, 0, 1]);
      assert.deepEqual(parseIp('fe80::'), [0xfe80, 0, 0, 0, 0, 0, 0, 0]);
      assert.deepEqual(parseIp('fe80::1%eth0'), [0xfe80, 0, 0, 0, 0, 0, 0, 1], 'the zone is ignored');
      assert.deepEqual(parseIp('64:ff9b::192.0.2.1'), [0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x0201], 'embedded IPv4 (NAT64) stays IPv6');
    });

    it('reads an IPv4-mapped IPv6 address as its IPv4 address', () => {
      assert.deepEqual(parseIp('::ffff:192.0.2.1'), [0xc000, 0x0201]);
      assert.deepEqual(parseIp('::FFFF:c000:0201'), [0xc000, 0x0201]);
      assert.deepEqual(parseIp('0:0:0:0:0:ffff:192.0.2.1'), [0xc000, 0x0201]);
    });

    it('refuses what is not an address', () => {
      for (const bad of ['', 'unknown', '192.0.2', '192.0.2.1.5', '256.0.0.1', '01.0.0.1', '1.2.3.-1', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', ':1::2', '12345::', 'g::1', '::1.2.3', '1.2.3.4::', '1:2:3:4:5:6:7::8']) {
        assert.equal(parseIp(bad), null, bad);
      }
    });
  });

  describe('sameNetwork', () => {
    it('IPv4 by /24 by default', () => {
      assert.equal(sameNetwork('192.0.2.1', '192.0.2.1', DEFAULT), true);
      assert.equal(sameNetwork('192.0.2.1', '192.0.2.254', DEFAULT), true);
      assert.equal(sameNetwork('192.0.2.1', '192.0.3.1', DEFAULT), false);
      assert.equal(sameNetwork('10.0.0.1', '11.0.0.1', DEFAULT), false);
    });

    it('IPv6 by /64 by default', () => {
      assert.equal(sameNetwork('2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:ffff', DEFAULT), true);
      assert.equal(sameNetwork('2001:db8:1:2::1', '2001:db8:1:3::1', DEFAULT), false);
      assert.equal(sameNetwork('2001:db8::1', '2001:DB8:0:0::2', DEFAULT), true, 'another spelling of the same network');
    });

    it('prefixes that are not a multiple of 16 bits', () => {
      assert.equal(sameNetwork('192.0.2.1', '192.0.3.1', { ipv4: 23, ipv6: 64 }), true, '192.0.2.0/23 holds both');
      assert.equal(sameNetwork('192.0.3.1', '192.0.4.1', { ipv4: 23, ipv6: 64 }), false);
      assert.equal(sameNetwork('192.0.2.1', '192.0.2.127', { ipv4: 25, ipv6: 64 }), true);
      assert.equal(sameNetwork('192.0.2.1', '192.0.2.128', { ipv4: 25, ipv6: 64 }), false);
      assert.equal(sameNetwork('2001:db8:1:2::1', '2001:db8:1:3::1', { ipv4: 24, ipv6: 63 }), true);
      assert.equal(sameNetwork('2001:db8:1:2::1', '2001:db8:1:4::1', { ipv4: 24, ipv6: 63 }), false);
    });

    it('whole addresses with /32 and /128; any address with /0', () => {
      assert.equal(sameNetwork('192.0.2.1', '192.0.2.2', { ipv4: 32, ipv6: 128 }), false);
      assert.equal(sameNetwork('2001:db8::1', '2001:db8::2', { ipv4: 32, ipv6: 128 }), false);
      assert.equal(sameNetwork('2001:db8::1', '2001:0db8::1', { ipv4: 32, ipv6: 128 }), true);
      assert.equal(sameNetwork('192.0.2.1', '203.0.113.9', { ipv4: 0, ipv6: 0 }), true);
    });

    it('an IPv4-mapped IPv6 address is its IPv4 address, compared by the IPv4 prefix', () => {
      assert.equal(sameNetwork('::ffff:192.0.2.1', '192.0.2.200', DEFAULT), true);
      assert.equal(sameNetwork('192.0.2.1', '::ffff:192.0.3.1', DEFAULT), false);
    });

    it('IPv4 and IPv6 never match, nor does an address that does not parse (except itself)', () => {
      assert.equal(sameNetwork('192.0.2.1', '2001:db8::1', { ipv4: 0, ipv6: 0 }), false);
      assert.equal(sameNetwork('unknown', 'unknown', DEFAULT), true);
      assert.equal(sameNetwork('unknown', '192.0.2.1', DEFAULT), false);
      assert.equal(sameNetwork('192.0.2.1', '192.0.2.x', DEFAULT), false);
    });
  });
});
