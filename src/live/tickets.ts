/**
 * Cookie tickets: how a push sets a cookie that page script must never see. Script can only write
 * cookies that are not HttpOnly, so a push does not carry the cookie itself: it carries a sealed,
 * one-time, short-lived ticket holding the `Set-Cookie` lines; the tab posts it back to
 * `{live.path}/cookie`, and that response sets them.
 *
 * A ticket is sealed (AES-256-GCM under the `live` subkey) for one tab of one session (the
 * request that redeems it must carry that session's cookie), expires after
 * `ticketLifetime`, and works once in any process (a one-time mark in the store, or with
 * `CookieStore` in its revocation store).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { storeKey } from '../crypto/ids.js';
import { Sealer } from '../crypto/seal.js';
import { LiveError } from '../errors.js';

/** What the tickets need: keys, lifetime, clock, and a one-time mark shared by the processes. */
export interface TicketParts {
  readonly keys: readonly Uint8Array[];
  readonly lifetime: number;
  readonly now: () => number;
  readonly claimOnce: (mark: string, expiresAt: number) => Promise<boolean>;
}

const AAD = 'tessera/live-ticket';

/**
 * Seals and redeems cookie tickets.
 *
 * @example
 * ```ts
 * const ticket = tickets.issue(session.handle, tab, ['theme=dark; Path=/; HttpOnly; Secure; SameSite=Lax']);
 * const lines = await tickets.redeem(ticket, tab, ctx.cookieKey()); // the lines, once
 * ```
 */
export class CookieTickets {
  readonly #sealer: Sealer;
  readonly #parts: TicketParts;

  constructor(parts: TicketParts) {
    this.#parts = parts;
    this.#sealer = new Sealer(parts.keys);
  }

  /** A ticket for `tab` of the session under store key `key` that sets `lines`. */
  issue(key: string, tab: string, lines: readonly string[]): string {
    const body = { k: key, t: tab, c: lines, x: this.#parts.now() + this.#parts.lifetime, n: randomBytes(16).toString('base64url') };
    return this.#sealer.seal(JSON.stringify(body), AAD);
  }

  /**
   * The `Set-Cookie` lines of `ticket`, posted by `tab` of a browser whose session cookie names
   * store key `key` (checked, not read: a live sign-in replaced that session already).
   *
   * @throws {@link LiveError} (403) for a forged, expired or used ticket, or one of another tab or session.
   */
  async redeem(ticket: unknown, tab: string | undefined, key: string | null): Promise<string[]> {
    const opened = typeof ticket === 'string' && ticket.length <= 16_384 ? this.#sealer.open(ticket.trim(), AAD) : null;
    if (opened === null) throw new LiveError('not a cookie ticket of this app', { status: 403 });
    const body = JSON.parse(opened) as { k: string; t: string; c: string[]; x: number; n: string };
    // Both, so that the ticket alone (seen on the bus, say) sets nothing: the browser must hold the session too.
    if (body.t !== tab || body.k !== key) throw new LiveError('the cookie ticket is for another tab', { status: 403 });
    if (body.x <= this.#parts.now()) throw new LiveError('the cookie ticket expired', { status: 403 });
    if (!(await this.#parts.claimOnce(storeKey(`ticket:${body.n}`, null), body.x))) throw new LiveError('the cookie ticket was used already', { status: 403 });
    return body.c;
  }
}

/**
 * Check `Set-Cookie` lines an app gives `live.setCookie`: `name=value` first, no line breaks.
 *
 * @throws {@link LiveError} on a line that is not a cookie.
 * @example
 * ```ts
 * checkCookieLines(['theme=dark; Path=/; HttpOnly']); // ok
 * ```
 */
export function checkCookieLines(lines: string | readonly string[]): string[] {
  const list = typeof lines === 'string' ? [lines] : [...lines];
  if (list.length === 0) throw new LiveError('setCookie needs at least one Set-Cookie line');
  for (const line of list) {
    if (typeof line !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+=/.test(line) || /[\r\n\0]/.test(line)) {
      throw new LiveError('setCookie takes Set-Cookie lines such as "theme=dark; Path=/; HttpOnly" (serializeCookie makes them)');
    }
  }
  return list;
}
