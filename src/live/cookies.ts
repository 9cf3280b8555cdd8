/**
 * Cookies from pushes, as the hub does them: `setCookie`, and a sign-in or sign-out made from
 * elsewhere (a background job, another device), each delivered to one tab as a cookie ticket
 * (tickets.ts) over its stream.
 *
 * @module
 * @internal
 */
import type { AuthClaims } from '../auth/tokens.js';
import type { CookieSink } from '../core/request.js';
import { SessionNotFoundError } from '../errors.js';
import type { Session } from '../session.js';
import type { EndReason, LiveEvent } from './protocol.js';
import { checkCookieLines, type CookieTickets } from './tickets.js';

/** What the cookie operations need from the hub and the manager. */
export interface LiveCookieParts {
  readonly tickets: CookieTickets;
  /** The live session under `key`, its cookies written to `sink`; `null` when there is none. */
  readonly openByKey: (key: string, sink: CookieSink) => Promise<Session | null>;
  /** The lines that take the session, CSRF and auth cookies out of a browser. */
  readonly signOutLines: () => string[];
  /** The CSRF token is also a readable cookie. */
  readonly csrfCookie: boolean;
  /** Destroy the session under `key` (whoever's it is). */
  readonly destroyByKey: (key: string) => Promise<boolean>;
  /** Push `event` to one tab (the hub's `push`). */
  readonly push: (key: string, tab: string, event: LiveEvent) => Promise<void>;
  /** Tell the session's streams everywhere that it ended (the hub's `ended`). */
  readonly ended: (key: string, reason: EndReason) => void;
  /** Hold the session's move to a new ID until `run` is done (its streams stay meanwhile). */
  readonly holdingMoves: <T>(key: string, run: () => Promise<T>) => Promise<T>;
}

/**
 * The hub's cookie operations, on checked store keys and tab IDs.
 *
 * @example
 * ```ts
 * const cookies = new LiveCookies(parts);
 * await cookies.setCookie(session.handle, tab, ['theme=dark; Path=/; HttpOnly']);
 * ```
 */
export class LiveCookies {
  readonly #parts: LiveCookieParts;

  constructor(parts: LiveCookieParts) {
    this.#parts = parts;
  }

  /** Push a ticket that sets `lines` to `tab` of the session under `key`. */
  async setCookie(key: string, tab: string, lines: string | readonly string[]): Promise<void> {
    await this.#parts.push(key, tab, { type: 'cookie', ticket: this.#parts.tickets.issue(key, tab, checkCookieLines(lines)) });
  }

  /** Sign the session under `key` in, its new cookies to `tab` through a ticket; resolves its new handle. */
  async signIn(key: string, tab: string, claims: AuthClaims): Promise<string> {
    const lines = new Map<string, string>();
    const session = await this.#parts.openByKey(key, collect(lines));
    if (session === null) throw new SessionNotFoundError();
    // The session's streams move to its new ID — and are dropped, to come back with the new cookie
    // — only once the tab has the ticket that gives it that cookie, over the stream it has now.
    await this.#parts.holdingMoves(key, async () => {
      await session.signIn(claims);
      // The page's CSRF token was the old ID's: the readable token cookie (if on) comes with the ticket.
      if (this.#parts.csrfCookie) session.csrfToken();
      await session.save();
      await this.#parts.push(key, tab, { type: 'cookie', ticket: this.#parts.tickets.issue(key, tab, [...lines.values()]) });
    });
    return session.handle;
  }

  /** Push `tab` a ticket that clears the cookies, then end the session's streams and destroy it. */
  async signOut(key: string, tab: string): Promise<void> {
    const ticket = this.#parts.tickets.issue(key, tab, this.#parts.signOutLines());
    try {
      await this.#parts.push(key, tab, { type: 'cookie', ticket });
    } finally {
      // Signed out even when the bus could not carry the ticket (the push then rejects, after this).
      this.#parts.ended(key, 'signed-out');
      await this.#parts.destroyByKey(key);
    }
  }
}

/** A cookie sink that keeps the lines (by cookie name) for a ticket. */
function collect(lines: Map<string, string>): CookieSink {
  return {
    writable: () => true,
    setCookie: (line) => {
      lines.set(line.slice(0, line.indexOf('=')), line);
      return true;
    },
    withdrawCookie: () => lines.clear(),
  };
}
