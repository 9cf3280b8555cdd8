/**
 * The hub: every process's map of session → tab → stream, and the pushes an app makes. A push is
 * delivered at once to the streams this process holds and published on the bus for the others;
 * a hub ignores its own messages when the bus brings them back. Sessions are named by their
 * handle (store key) everywhere — in the map, on the bus, in events — never by session ID.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { isWellFormedId } from '../crypto/ids.js';
import type { AuthClaims } from '../auth/tokens.js';
import { LiveError, type BusUnavailableError, type SessionNotFoundError } from '../errors.js';
import type { Logger } from '../options.js';
import type { Session } from '../session.js';
import { LocalBus, type LiveBus } from './bus.js';
import { Heartbeat } from './heartbeat.js';
import { HubTransport } from './transport.js';
import type { ResolvedLiveOptions } from './options.js';
import { checkEvent, isTabId, type EndReason, type HtmlMode, type LiveEvent } from './protocol.js';
import { StreamRegistry } from './registry.js';
import type { StreamSink } from './tab.js';
import { LiveCookies, type LiveCookieParts } from './cookies.js';
import type { CookieTickets } from './tickets.js';

/**
 * A session a push is for: the `Session` of a request, or its handle (`session.handle`,
 * `SessionInfo.handle` from `tessera.listByUser`, a key of `activeSessions`).
 *
 * @example
 * ```ts
 * const to: LiveTarget = session;        // in a request
 * const later: LiveTarget = session.handle; // kept for a background job
 * ```
 */
export type LiveTarget = Session | string;

/** What the hub needs from the manager. */
export interface HubParts extends Omit<LiveCookieParts, 'push' | 'ended' | 'holdingMoves'> {
  readonly options: ResolvedLiveOptions;
  readonly now: () => number;
  readonly logger: Logger;
  /** The session's expiry now (ms), `null` when it is gone, `undefined` when only a new request can tell (a sealed cookie). */
  readonly expiryOf: (key: string) => Promise<number | null | undefined>;
  /** The handles of a user's live sessions; throws NotSupportedError when the store cannot list them. */
  readonly userKeys: (userId: string, tenant: string | null) => Promise<string[]>;
}

/**
 * Live tabs of one manager: `tessera.live`. Pushes resolve once delivered here and handed to the
 * bus; they reject with {@link BusUnavailableError} when the bus cannot take them (this process's
 * tabs got the push; the others did not).
 *
 * @example
 * ```ts
 * const tessera = createTessera({ secrets, live: {} });
 * await tessera.live.pushHtml(session, tab, '#status', 'Saved');
 * await tessera.live.broadcastUser(userId, { type: 'event', name: 'inbox:new', detail: { count: 3 } });
 * ```
 */
export class LiveHub {
  /** The validated live options. */
  readonly options: ResolvedLiveOptions;
  readonly #parts: HubParts;
  readonly #registry: StreamRegistry;
  readonly #transport: HubTransport;
  readonly #tickets: CookieTickets;
  readonly #cookies: LiveCookies;
  readonly #heartbeat: Heartbeat;
  /** Sessions being signed in by `signIn`: their move to the new ID waits for the ticket's push (`#held`). */
  readonly #holding = new Set<string>();
  readonly #held = new Map<string, string>();

  constructor(parts: HubParts) {
    this.#parts = parts;
    this.options = parts.options;
    // This process's name: on the bus (its own messages come back) and in its event IDs.
    const id = randomBytes(6).toString('base64url');
    this.#registry = new StreamRegistry(parts.options, parts.now, id);
    this.#transport = new HubTransport(parts.options.bus ?? new LocalBus(), this.#registry, parts.logger, id);
    this.#tickets = parts.tickets;
    this.#heartbeat = new Heartbeat(this.#registry, parts.expiryOf, parts.options.heartbeat);
    this.#cookies = new LiveCookies({
      ...parts,
      push: (key, tab, event) => this.push(key, tab, event),
      ended: (key, reason) => this.ended(key, reason),
      holdingMoves: (key, run) => this.#holdingMoves(key, run),
    });
  }

  /** The bus this hub publishes on. */
  get bus(): LiveBus {
    return this.#transport.bus;
  }

  /** Open streams in this process. */
  get streams(): number {
    return this.#registry.streams;
  }

  /** Sessions with at least one tab (open or within its reconnect window) in this process. */
  get sessions(): number {
    return this.#registry.sessions;
  }

  // ---------------------------------------------------------------- pushes

  /**
   * Send `event` to one tab of a session, wherever its stream is.
   *
   * @throws {@link LiveError} on a bad event, tab ID or handle; {@link BusUnavailableError} when the bus is down.
   * @example
   * ```ts
   * await tessera.live.push(session, tab, { type: 'navigate', path: '/done' });
   * ```
   */
  async push(target: LiveTarget, tab: string, event: LiveEvent): Promise<void> {
    const key = keyOf(target);
    checkTab(tab);
    const e = checkEvent(event);
    await this.#transport.send({ op: 'tab', k: key, t: tab, e });
  }

  /**
   * Send `event` to every tab of a session.
   *
   * @example
   * ```ts
   * await tessera.live.broadcast(session, { type: 'reload' });
   * ```
   */
  async broadcast(target: LiveTarget, event: LiveEvent): Promise<void> {
    await this.#transport.send({ op: 'session', ks: [keyOf(target)], e: checkEvent(event) });
  }

  /**
   * Send `event` to every tab of every live session of a user (from the store's by-user index).
   * Resolves how many sessions that was.
   *
   * @throws {@link NotSupportedError} when the store cannot list a user's sessions (`CookieStore`).
   * @example
   * ```ts
   * await tessera.live.broadcastUser('u1', { type: 'html', target: '#inbox-count', html: '4' });
   * ```
   */
  async broadcastUser(userId: string, event: LiveEvent, options: { tenant?: string | null } = {}): Promise<number> {
    if (typeof userId !== 'string' || userId === '') throw new LiveError('broadcastUser(userId): userId must be a non-empty string');
    const e = checkEvent(event);
    const keys = await this.#parts.userKeys(userId, options.tenant ?? null);
    if (keys.length > 0) await this.#transport.send({ op: 'session', ks: keys, e });
    return keys.length;
  }

  /**
   * Send `event` to every tab connected to any process.
   *
   * @example
   * ```ts
   * await tessera.live.broadcastAll({ type: 'html', target: '#banner', html: 'Maintenance at 22:00' });
   * ```
   */
  async broadcastAll(event: LiveEvent): Promise<void> {
    await this.#transport.send({ op: 'all', e: checkEvent(event) });
  }

  /**
   * Change the elements `selector` matches in one tab (the seed's `push-html!`).
   *
   * @example
   * ```ts
   * await tessera.live.pushHtml(session, tab, '#cart', '<b>3 items</b>');
   * await tessera.live.pushHtml(session, tab, '#log', '<li>saved</li>', 'append');
   * ```
   */
  pushHtml(target: LiveTarget, tab: string, selector: string, html: string, mode: HtmlMode = 'inner'): Promise<void> {
    return this.push(target, tab, { type: 'html', target: selector, html, mode });
  }

  /**
   * Change the elements `selector` matches in every tab of a session (the seed's `broadcast-html!`).
   *
   * @example
   * ```ts
   * await tessera.live.broadcastHtml(session, '#cart', '<b>3 items</b>');
   * ```
   */
  broadcastHtml(target: LiveTarget, selector: string, html: string, mode: HtmlMode = 'inner'): Promise<void> {
    return this.broadcast(target, { type: 'html', target: selector, html, mode });
  }

  /**
   * Reload one tab (the seed's `push-reload!`).
   *
   * @example
   * ```ts
   * await tessera.live.pushReload(session, tab);
   * ```
   */
  pushReload(target: LiveTarget, tab: string): Promise<void> {
    return this.push(target, tab, { type: 'reload' });
  }

  /**
   * Send one tab to `path` on this site (the seed's `push-path!`).
   *
   * @example
   * ```ts
   * await tessera.live.pushPath(session, tab, '/sign-in');
   * ```
   */
  pushPath(target: LiveTarget, tab: string, path: string): Promise<void> {
    return this.push(target, tab, { type: 'navigate', path });
  }

  // ---------------------------------------------------------------- cookies

  /**
   * Set cookies in one tab's browser from anywhere — a background job, another tab's request —
   * HttpOnly ones included (the seed's `set-cookie!`): the tab gets a one-time ticket, posts it
   * back, and that response sets `lines` (whole `Set-Cookie` values, as `serializeCookie` makes).
   *
   * @throws {@link LiveError} on a line that is not a cookie, or a bad tab or handle.
   * @example
   * ```ts
   * await tessera.live.setCookie(session, tab, 'theme=dark; Path=/; Max-Age=31536000; HttpOnly; Secure; SameSite=Lax');
   * ```
   */
  async setCookie(target: LiveTarget, tab: string, lines: string | readonly string[]): Promise<void> {
    await this.#cookies.setCookie(keyOf(target), checkTab(tab), lines);
  }

  /**
   * Sign a waiting tab's session in from elsewhere (a sign-in approved on a phone, say): the
   * session gets a new ID and the user, as `session.signIn` does in a request, and the tab gets the
   * new session cookie and the HttpOnly auth cookie through a ticket. The session's other tabs keep
   * their streams. Resolves the session's new handle.
   *
   * @throws {@link SessionNotFoundError} when the session is not stored (nothing was ever written
   * to it); {@link NotSupportedError} with `CookieStore`.
   * @example
   * ```ts
   * // The phone approved the QR code shown in `tab` of the waiting session:
   * await tessera.live.signIn(waiting.handle, waiting.tab, { sub: user.id });
   * ```
   */
  signIn(target: LiveTarget, tab: string, claims: AuthClaims): Promise<string> {
    return this.#cookies.signIn(keyOf(target), checkTab(tab), claims);
  }

  /**
   * Sign a session out from elsewhere: `tab` gets a ticket that takes the session, CSRF and auth
   * cookies out of its browser, then every tab of the session is told (`end`, `signed-out`) and
   * the session is destroyed.
   *
   * @example
   * ```ts
   * await tessera.live.signOut(session, tab);
   * ```
   */
  signOut(target: LiveTarget, tab: string): Promise<void> {
    return this.#cookies.signOut(keyOf(target), checkTab(tab));
  }

  /**
   * The `Set-Cookie` lines of a ticket `tab` posted back, from a browser whose session cookie
   * names store key `key`; for the adapters' cookie route.
   *
   * @throws {@link LiveError} (403) for a forged, expired or used ticket, or another tab's.
   */
  redeem(ticket: unknown, tab: string | undefined, key: string | null): Promise<string[]> {
    return this.#tickets.redeem(ticket, tab, key);
  }

  // ---------------------------------------------------------------- sessions ending, moving

  /**
   * The session under `key` ended (destroyed, signed out, expired): tell its streams, everywhere,
   * and close them. For the core's hooks; failures to publish are logged.
   */
  ended(key: string, reason: EndReason): void {
    this.#transport.sendQuietly({ op: 'end', k: key, r: reason });
  }

  /** The session under `from` now lives under `to` (a new ID): its streams follow, everywhere. */
  moved(from: string, to: string): void {
    if (this.#holding.has(from)) this.#held.set(from, to);
    else this.#transport.sendQuietly({ op: 'move', k: from, to });
  }

  /** Run `run` with the move of session `key` to a new ID held back until it is done. */
  async #holdingMoves<T>(key: string, run: () => Promise<T>): Promise<T> {
    this.#holding.add(key);
    try {
      return await run();
    } finally {
      this.#holding.delete(key);
      const to = this.#held.get(key);
      this.#held.delete(key);
      if (to !== undefined) this.moved(key, to);
    }
  }

  // ---------------------------------------------------------------- streams

  /**
   * Hold `sink` as the stream of `tab` in session `key` (whose expiry is known to be `expiresAt`),
   * replaying events after `lastEventId`. Returns what to call when the connection closes. For
   * the adapters' stream route.
   */
  attach(key: string, tab: string, sink: StreamSink, lastEventId: string | null, expiresAt: number): () => void {
    if (this.#transport.closed) {
      sink.end();
      return () => {};
    }
    void this.start().catch(() => {});
    this.#heartbeat.start();
    return this.#registry.attach(key, tab, sink, lastEventId, expiresAt);
  }

  // ---------------------------------------------------------------- upkeep

  /**
   * Subscribe to the bus (once; a bus that cannot reach its service yet keeps trying by itself).
   * Resolves when subscribed. Attaching the first stream does it; a process that only pushes
   * need not.
   *
   * @example
   * ```ts
   * await tessera.live.start(); // before taking traffic, to know the bus is there
   * ```
   */
  start(): Promise<void> {
    return this.#transport.start();
  }

  /**
   * One heartbeat: a ping on every open stream, tabs past their reconnect window forgotten, and
   * sessions past their known expiry checked with the store (ended when gone). The timer runs it
   * every `heartbeat` ms; tests with a fake clock call it.
   *
   * @example
   * ```ts
   * clock.advance(25 * 60_000);
   * await tessera.live.tick(); // streams of sessions that expired meanwhile get `end`
   * ```
   */
  tick(): Promise<void> {
    return this.#heartbeat.tick();
  }

  /**
   * Stop: every stream is finished without `end` (their clients reconnect, to another process or
   * to this one once it is back), and the bus is closed. Idempotent.
   *
   * @example
   * ```ts
   * await tessera.close(); // closes tessera.live too
   * ```
   */
  async close(): Promise<void> {
    if (this.#transport.closed) return;
    this.#heartbeat.stop();
    this.#registry.dropAll();
    await this.#transport.close();
  }
}

/** The store key a push names: a session's handle, checked. */
function keyOf(target: LiveTarget): string {
  const key = typeof target === 'string' ? target : target?.handle;
  if (typeof key !== 'string' || !isWellFormedId(key)) throw new LiveError('a push names a session by its Session or its handle (session.handle)');
  return key;
}

function checkTab(tab: string): string {
  if (!isTabId(tab)) throw new LiveError('not a tab ID (the browser client sends its own in x-tessera-tab)');
  return tab;
}
