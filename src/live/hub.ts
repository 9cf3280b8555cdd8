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
import { BusUnavailableError, LiveError, TesseraError } from '../errors.js';
import type { Logger } from '../options.js';
import type { Session } from '../session.js';
import { LocalBus, MAX_BUS_MESSAGE_BYTES, type LiveBus } from './bus.js';
import type { ResolvedLiveOptions } from './options.js';
import { checkEvent, isTabId, type EndReason, type HtmlMode, type LiveEvent } from './protocol.js';
import { Tab, type StreamSink } from './tab.js';

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
export interface HubParts {
  readonly options: ResolvedLiveOptions;
  readonly now: () => number;
  readonly logger: Logger;
  /** The session's expiry now (ms), `null` when it is gone, `undefined` when only a new request can tell (a sealed cookie). */
  readonly expiryOf: (key: string) => Promise<number | null | undefined>;
  /** The handles of a user's live sessions; throws NotSupportedError when the store cannot list them. */
  readonly userKeys: (userId: string, tenant: string | null) => Promise<string[]>;
}

/** A session with streams in this process. */
interface Entry {
  readonly tabs: Map<string, Tab>;
  /** Known expiry (ms); checked again with the store when it passes. */
  expiresAt: number;
}

/** A message between hubs, as JSON on the bus. */
type Message =
  | { h: string; op: 'tab'; k: string; t: string; e: LiveEvent }
  | { h: string; op: 'session'; ks: string[]; e: LiveEvent }
  | { h: string; op: 'all'; e: LiveEvent }
  | { h: string; op: 'end'; k: string; r: EndReason }
  | { h: string; op: 'move'; k: string; to: string };

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
  readonly #bus: LiveBus;
  readonly #id = randomBytes(6).toString('base64url');
  readonly #sessions = new Map<string, Entry>();
  #streams = 0;
  #subscribed: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(parts: HubParts) {
    this.#parts = parts;
    this.options = parts.options;
    this.#bus = parts.options.bus ?? new LocalBus();
  }

  /** The bus this hub publishes on. */
  get bus(): LiveBus {
    return this.#bus;
  }

  /** Open streams in this process. */
  get streams(): number {
    return this.#streams;
  }

  /** Sessions with at least one tab (open or within its reconnect window) in this process. */
  get sessions(): number {
    return this.#sessions.size;
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
    if (!isTabId(tab)) throw new LiveError('not a tab ID (the browser client sends its own in x-tessera-tab)');
    const e = checkEvent(event);
    await this.#send({ h: this.#id, op: 'tab', k: key, t: tab, e });
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
    await this.#send({ h: this.#id, op: 'session', ks: [keyOf(target)], e: checkEvent(event) });
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
    if (keys.length > 0) await this.#send({ h: this.#id, op: 'session', ks: keys, e });
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
    await this.#send({ h: this.#id, op: 'all', e: checkEvent(event) });
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

  async #send(message: Message): Promise<void> {
    if (this.#closed) throw new BusUnavailableError('tessera.live was closed');
    const text = JSON.stringify(message);
    if (text.length > MAX_BUS_MESSAGE_BYTES / 3 && Buffer.byteLength(text) > MAX_BUS_MESSAGE_BYTES) {
      throw new LiveError(`the push is ${Buffer.byteLength(text)} bytes, over the ${MAX_BUS_MESSAGE_BYTES}-byte limit: push a smaller fragment`, { status: 413 });
    }
    this.#apply(message);
    await this.#publish(text);
  }

  async #publish(text: string): Promise<void> {
    try {
      await this.start();
      await this.#bus.publish(text);
    } catch (error) {
      if (error instanceof TesseraError) throw error;
      throw new BusUnavailableError(`the ${this.#bus.name} bus could not take the push: ${String(error)}`, { cause: error });
    }
  }

  // ---------------------------------------------------------------- sessions ending, moving

  /**
   * The session under `key` ended (destroyed, signed out, expired): tell its streams, everywhere,
   * and close them. For the core's hooks; failures to publish are logged.
   */
  ended(key: string, reason: EndReason): void {
    const message: Message = { h: this.#id, op: 'end', k: key, r: reason };
    this.#apply(message);
    this.#publishQuietly(message);
  }

  /** The session under `from` now lives under `to` (a new ID): its streams follow, everywhere. */
  moved(from: string, to: string): void {
    const message: Message = { h: this.#id, op: 'move', k: from, to };
    this.#apply(message);
    this.#publishQuietly(message);
  }

  #publishQuietly(message: Message): void {
    if (this.#closed) return;
    this.#publish(JSON.stringify(message)).catch((error: unknown) => {
      this.#parts.logger.warn?.(`tessera: live ${message.op} not published to other processes`, { error: String(error) });
    });
  }

  // ---------------------------------------------------------------- streams

  /**
   * Hold `sink` as the stream of `tab` in session `key` (whose expiry is known to be `expiresAt`),
   * replaying events after `lastEventId`. Returns what to call when the connection closes.
   */
  attach(key: string, tab: string, sink: StreamSink, lastEventId: number | null, expiresAt: number): () => void {
    if (this.#closed) {
      sink.end();
      return () => {};
    }
    void this.start().catch(() => {});
    this.#startTimer();
    let entry = this.#sessions.get(key);
    if (entry === undefined) this.#sessions.set(key, (entry = { tabs: new Map(), expiresAt }));
    else entry.expiresAt = Math.max(entry.expiresAt, expiresAt);
    let t = entry.tabs.get(tab);
    if (t === undefined) {
      if (entry.tabs.size >= this.options.maxTabsPerSession) this.#evictOldest(entry);
      entry.tabs.set(tab, (t = new Tab(tab, this.options)));
    } else {
      // Moved to the end: the map's order is the tabs' order of last connection.
      entry.tabs.delete(tab);
      entry.tabs.set(tab, t);
    }
    if (!t.connected) this.#streams++;
    t.attach(sink, lastEventId, { tab, heartbeat: this.options.heartbeat });
    const tabRef = t;
    return () => {
      if (tabRef.detach(sink, this.#parts.now())) this.#streams--;
    };
  }

  #evictOldest(entry: Entry): void {
    const [oldest] = entry.tabs.values();
    if (oldest === undefined) return;
    if (oldest.connected) this.#streams--;
    oldest.drop();
    entry.tabs.delete(oldest.id);
  }

  /** A message from this hub or another: deliver it to the streams held here. */
  #apply(message: Message): void {
    const now = this.#parts.now();
    switch (message.op) {
      case 'tab':
        this.#sessions.get(message.k)?.tabs.get(message.t)?.send(message.e, now);
        return;
      case 'session':
        for (const key of message.ks) {
          const entry = this.#sessions.get(key);
          if (entry !== undefined) for (const tab of entry.tabs.values()) tab.send(message.e, now);
        }
        return;
      case 'all':
        for (const entry of this.#sessions.values()) for (const tab of entry.tabs.values()) tab.send(message.e, now);
        return;
      case 'end':
        this.#endLocal(message.k, message.r);
        return;
      case 'move': {
        const entry = this.#sessions.get(message.k);
        if (entry === undefined || message.to === message.k) return;
        this.#sessions.delete(message.k);
        const target = this.#sessions.get(message.to);
        if (target === undefined) this.#sessions.set(message.to, entry);
        else for (const [id, tab] of entry.tabs) if (!target.tabs.has(id)) target.tabs.set(id, tab);
        return;
      }
    }
  }

  #endLocal(key: string, reason: EndReason): void {
    const entry = this.#sessions.get(key);
    if (entry === undefined) return;
    this.#sessions.delete(key);
    for (const tab of entry.tabs.values()) {
      if (tab.connected) this.#streams--;
      tab.end(reason);
    }
  }

  #receive = (text: string): void => {
    let message: Message;
    try {
      message = JSON.parse(text) as Message;
    } catch {
      this.#parts.logger.warn?.('tessera: an unreadable message on the live bus was ignored');
      return;
    }
    if (message === null || typeof message !== 'object' || message.h === this.#id) return;
    try {
      this.#apply(message);
    } catch (error) {
      this.#parts.logger.warn?.('tessera: a live bus message could not be delivered', { error: String(error) });
    }
  };

  // ---------------------------------------------------------------- upkeep

  /** Subscribe to the bus (once; again after a failed attempt). Resolves when subscribed. */
  start(): Promise<void> {
    if (this.#subscribed === null) {
      this.#subscribed = this.#bus.subscribe(this.#receive).catch((error: unknown) => {
        this.#subscribed = null;
        throw new BusUnavailableError(`could not subscribe to the ${this.#bus.name} bus: ${String(error)}`, { cause: error });
      });
    }
    return this.#subscribed;
  }

  #startTimer(): void {
    if (this.#timer !== null || this.#closed) return;
    this.#timer = setInterval(() => this.tick(), this.options.heartbeat);
    this.#timer.unref();
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
  async tick(): Promise<void> {
    const now = this.#parts.now();
    const due: string[] = [];
    for (const [key, entry] of this.#sessions) {
      for (const tab of entry.tabs.values()) {
        if (tab.connected) tab.ping();
        else if (now - tab.detachedAt >= this.options.reconnectWindow) entry.tabs.delete(tab.id);
      }
      if (entry.tabs.size === 0) this.#sessions.delete(key);
      else if (entry.expiresAt <= now) due.push(key);
    }
    if (this.#subscribed === null && !this.#closed) this.start().catch(() => {});
    for (const key of due) {
      let expiresAt: number | null | undefined;
      try {
        expiresAt = await this.#parts.expiryOf(key);
      } catch {
        continue; // The store is down: try again next time.
      }
      const entry = this.#sessions.get(key);
      if (entry === undefined) continue;
      if (expiresAt === null) this.#endLocal(key, 'expired');
      else if (expiresAt === undefined) {
        // Only the browser's current cookie can tell: it reconnects with it.
        this.#sessions.delete(key);
        for (const tab of entry.tabs.values()) {
          if (tab.connected) this.#streams--;
          tab.drop();
        }
      } else entry.expiresAt = expiresAt;
    }
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
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    for (const entry of this.#sessions.values()) for (const tab of entry.tabs.values()) tab.drop();
    this.#sessions.clear();
    this.#streams = 0;
    await this.#bus.close();
  }
}

/** The store key a push names: a session's handle, checked. */
function keyOf(target: LiveTarget): string {
  const key = typeof target === 'string' ? target : target?.handle;
  if (typeof key !== 'string' || !isWellFormedId(key)) throw new LiveError('a push names a session by its Session or its handle (session.handle)');
  return key;
}
