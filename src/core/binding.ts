/**
 * Binding a session to its client, as pure functions: whether two IP addresses are in the same
 * network (IPv4 by /24 and IPv6 by /64 by default, an IPv4-mapped IPv6 address as the IPv4 one),
 * and what a mismatch leads to (`log` keeps the session, `strict` ends it).
 *
 * Addresses are compared as strings first: the same address, the common case, costs one string
 * comparison and no parsing.
 *
 * @module
 * @internal
 */

/**
 * What a binding does: `off` ignores the client; `log` reports a mismatch (the `bindingMismatch`
 * event and a warning) and keeps the session; `strict` reports it and ends the session (deleted
 * from the store, or revoked), and the request gets a fresh one.
 *
 * @example
 * ```ts
 * const mode: BindingMode = 'strict';
 * ```
 */
export type BindingMode = 'off' | 'log' | 'strict';

/** Network prefix lengths two addresses must share to count as the same client. */
export interface IpPrefixes {
  /** Bits of an IPv4 address compared, 0 to 32. Default 24. */
  readonly ipv4: number;
  /** Bits of an IPv6 address compared, 0 to 128. Default 64. */
  readonly ipv6: number;
}

/**
 * A request that may not use the session as it is: which binding it broke, and what that leads to.
 *
 * @example
 * ```ts
 * const m: BindingMismatch = { reason: 'ip', mode: 'strict' };
 * ```
 */
export interface BindingMismatch {
  readonly reason: 'ip' | 'userAgent';
  readonly mode: 'log' | 'strict';
}

/** The four mismatches, shared: a check allocates nothing. */
export const MISMATCH = Object.freeze({
  ipStrict: Object.freeze({ reason: 'ip', mode: 'strict' }) as BindingMismatch,
  ipLog: Object.freeze({ reason: 'ip', mode: 'log' }) as BindingMismatch,
  userAgentStrict: Object.freeze({ reason: 'userAgent', mode: 'strict' }) as BindingMismatch,
  userAgentLog: Object.freeze({ reason: 'userAgent', mode: 'log' }) as BindingMismatch,
});

/**
 * An address as 16-bit groups: 2 for IPv4 (an IPv4-mapped IPv6 address becomes its IPv4 address),
 * 8 for IPv6; `null` when `text` is not an IP address. A zone (`fe80::1%eth0`) is ignored.
 *
 * @example
 * ```ts
 * parseIp('192.0.2.1');        // [0xc000, 0x0201]
 * parseIp('::ffff:192.0.2.1'); // [0xc000, 0x0201]
 * parseIp('2001:db8::1');      // [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]
 * ```
 */
export function parseIp(text: string): number[] | null {
  const zone = text.indexOf('%');
  const ip = zone === -1 ? text : text.slice(0, zone);
  if (ip.includes(':')) return parseIpv6(ip);
  return parseIpv4(ip);
}

function parseIpv4(ip: string): number[] | null {
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  const bytes: number[] = [];
  for (const part of parts) {
    // Decimal only, no leading zeros: "010" is octal to some parsers, and not an address here.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    bytes.push(n);
  }
  return [(bytes[0]! << 8) | bytes[1]!, (bytes[2]! << 8) | bytes[3]!];
}

function parseIpv6(ip: string): number[] | null {
  const halves = ip.split('::');
  if (halves.length > 2) return null;
  const head = groupsOf(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? groupsOf(halves[1]!, true) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  // ::ffff:a.b.c.d (IPv4-mapped): the client is the IPv4 address (a dual-stack socket reports it so).
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return [groups[6]!, groups[7]!];
  }
  return groups;
}

/** The groups of one side of `::`; `last` when it ends the address (so it may end in dotted IPv4). */
function groupsOf(side: string, last: boolean): number[] | null {
  if (side === '') return [];
  const parts = side.split(':');
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (last && i === parts.length - 1 && part.includes('.')) {
      const v4 = parseIpv4(part);
      if (v4 === null) return null;
      groups.push(v4[0]!, v4[1]!);
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return null;
      groups.push(parseInt(part, 16));
    }
  }
  return groups;
}

/**
 * Whether `a` and `b` are the same client's address: equal, or in the same IPv4 (`prefixes.ipv4`
 * bits) or IPv6 (`prefixes.ipv6` bits) network. An address that does not parse matches only
 * itself; an IPv4 and an IPv6 address (not IPv4-mapped) never match.
 *
 * @example
 * ```ts
 * sameNetwork('192.0.2.1', '192.0.2.200', { ipv4: 24, ipv6: 64 });  // true
 * sameNetwork('192.0.2.1', '::ffff:192.0.2.9', { ipv4: 24, ipv6: 64 }); // true
 * sameNetwork('2001:db8::1', '2001:db8:0:1::1', { ipv4: 24, ipv6: 64 }); // false
 * ```
 */
export function sameNetwork(a: string, b: string, prefixes: IpPrefixes): boolean {
  if (a === b) return true;
  const x = parseIp(a);
  const y = parseIp(b);
  if (x === null || y === null || x.length !== y.length) return false;
  let bits = x.length === 2 ? prefixes.ipv4 : prefixes.ipv6;
  for (let i = 0; bits > 0; i++, bits -= 16) {
    const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if ((x[i]! & mask) !== (y[i]! & mask)) return false;
  }
  return true;
}
