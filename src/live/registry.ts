/**
 * The streams one process holds: session handle → tab → {@link Tab}, and what the hub's messages
 * do to them (deliver, end, move), with the heartbeat's upkeep. No bus, no public API: the hub
 * (hub.ts) puts those around it.
 *
 * @module
 * @internal
 */
import type { ResolvedLiveOptions } from './options.js';
import { sseBody, sseMessage, type EndReason, type LiveEvent } from './protocol.js';
import { Tab, type StreamSink } from './tab.js';

/** Sessions the heartbeat's pass handles before it lets the event loop run other work. */
const SWEEP_SLICE = 1_000;

/** A session with streams in this process. */
interface Entry {
  /** Its tabs, in the order they last connected (an array: a session usually has one or two). */
  readonly tabs: Tab[];
  /** Known expiry (ms); checked again with the store when it passes. */
  expiresAt: number;
}

/**
 * A message between hubs, as JSON on the bus: `h` the hub that sent it, `op` what it does.
 *
 * @example
 * ```ts
 * const message: HubMessage = { h: 'a1b2', op: 'tab', k: session.handle, t: tab, e: { type: 'reload' } };
 * ```
 */
export type HubMessage =
  | { h: string; op: 'tab'; k: string; t: string; e: LiveEvent }
  | { h: string; op: 'session'; ks: string[]; e: LiveEvent }
  | { h: string; op: 'all'; e: LiveEvent }
  | { h: string; op: 'end'; k: string; r: EndReason }
  | { h: string; op: 'move'; k: string; to: string };

/**
 * The streams of this process, by session handle and tab.
 *
 * @example
 * ```ts
 * const registry = new StreamRegistry(options, Date.now, 'aB3dE5fG');
 * const detach = registry.attach(key, tab, sink, null, expiresAt);
 * registry.apply({ h: 'x', op: 'session', ks: [key], e: { type: 'reload' } });
 * ```
 */
export class StreamRegistry {
  readonly #options: ResolvedLiveOptions;
  readonly #now: () => number;
  readonly #sessions = new Map<string, Entry>();
  #streams = 0;
  /**
   * Event IDs are `<hub>.<n>`: this process's hub, and a number that goes up across every tab here
   * (one message string per event, however many tabs it reaches). A `Last-Event-ID` of another
   * process (a tab that reconnected elsewhere meanwhile, or to a restarted server) replays nothing.
   */
  readonly #hub: string;
  #seq = 0;

  constructor(options: ResolvedLiveOptions, now: () => number, hub: string) {
    this.#options = options;
    this.#now = now;
    this.#hub = hub;
  }

  /** Open streams. */
  get streams(): number {
    return this.#streams;
  }

  /** Sessions with at least one tab (open, or within its reconnect window). */
  get sessions(): number {
    return this.#sessions.size;
  }

  /**
   * Hold `sink` as the stream of `tab` in session `key` (whose expiry is known to be `expiresAt`),
   * replaying events after `lastEventId`. Returns what to call when the connection closes.
   */
  attach(key: string, tab: string, sink: StreamSink, lastEventId: string | null, expiresAt: number): () => void {
    let entry = this.#sessions.get(key);
    if (entry === undefined) this.#sessions.set(key, (entry = { tabs: [], expiresAt }));
    else entry.expiresAt = Math.max(entry.expiresAt, expiresAt);
    const tabs = entry.tabs;
    const i = tabs.findIndex((t) => t.id === tab);
    let t: Tab;
    if (i === -1) {
      if (tabs.length >= this.#options.maxTabsPerSession) this.#evictOldest(entry);
      tabs.push((t = new Tab(tab, this.#options)));
    } else {
      t = tabs[i]!;
      // To the end: the tabs' order is their order of last connection.
      if (i !== tabs.length - 1) tabs.push(...tabs.splice(i, 1));
    }
    if (!t.connected) this.#streams++;
    // `last`: the newest event ID now, so a client that reconnects before any event came can say so.
    t.attach(sink, this.#numberOf(lastEventId), { tab, heartbeat: this.#options.heartbeat, last: `${this.#hub}.${this.#seq}` });
    const held = t;
    return () => {
      if (held.detach(sink, this.#now())) this.#streams--;
    };
  }

  /** The number of an event ID this process gave out, or `null` (none, or another process's). */
  #numberOf(id: string | null): number | null {
    if (id === null || !id.startsWith(`${this.#hub}.`)) return null;
    const n = Number(id.slice(this.#hub.length + 1));
    return Number.isSafeInteger(n) ? n : null;
  }

  /** The session has too many tabs here: the oldest is told (`evicted`) and stops, rather than reconnecting and evicting the next. */
  #evictOldest(entry: Entry): void {
    const oldest = entry.tabs.shift();
    if (oldest === undefined) return;
    if (oldest.connected) this.#streams--;
    oldest.end('evicted');
  }

  /** Let a tab go: its stream finished without `end` (it reconnects, if it still can). */
  #forget(tab: Tab): void {
    if (tab.connected) this.#streams--;
    tab.drop(this.#now());
  }

  /** Deliver a message (from this hub or another) to the streams held here. */
  apply(message: HubMessage): void {
    const now = this.#now();
    switch (message.op) {
      case 'tab': {
        const tab = this.#sessions.get(message.k)?.tabs.find((t) => t.id === message.t);
        if (tab !== undefined) this.#send([tab], message.e, now);
        return;
      }
      case 'session': {
        const tabs: Tab[] = [];
        for (const key of message.ks) {
          const entry = this.#sessions.get(key);
          if (entry !== undefined) tabs.push(...entry.tabs);
        }
        if (tabs.length > 0) this.#send(tabs, message.e, now);
        return;
      }
      case 'all': {
        const text = sseMessage(`${this.#hub}.${++this.#seq}`, sseBody(message.e));
        for (const entry of this.#sessions.values()) for (const tab of entry.tabs) if (tab.send(text, now)) this.#streams--;
        return;
      }
      case 'end':
        this.end(message.k, message.r);
        return;
      case 'move': {
        // A new ID (a sign-in, regenerate()): the tabs and their replay buffers go to the new
        // handle, but their streams are dropped — each tab reconnects and must show the new cookie.
        // A stream opened with the old ID (one planted before a sign-in, say) must not hear what
        // the signed-in session is sent.
        const entry = this.#sessions.get(message.k);
        if (entry === undefined || message.to === message.k) return;
        this.#sessions.delete(message.k);
        for (const tab of entry.tabs) this.#forget(tab);
        const target = this.#sessions.get(message.to);
        if (target === undefined) {
          this.#sessions.set(message.to, entry);
          return;
        }
        // The same tab already reconnected under the new handle: that one is kept.
        for (const tab of entry.tabs) if (!target.tabs.some((t) => t.id === tab.id)) target.tabs.push(tab);
        while (target.tabs.length > this.#options.maxTabsPerSession) this.#evictOldest(target);
        return;
      }
    }
  }

  /** Send `event` to `tabs`: one event ID, one message string for all of them. */
  #send(tabs: readonly Tab[], event: LiveEvent, now: number): void {
    const text = sseMessage(`${this.#hub}.${++this.#seq}`, sseBody(event));
    for (const tab of tabs) if (tab.send(text, now)) this.#streams--;
  }

  /** End the streams of session `key`, telling them why (`reason`), or without `end` (`null`: they reconnect). */
  end(key: string, reason: EndReason | null): void {
    const entry = this.#sessions.get(key);
    if (entry === undefined) return;
    this.#sessions.delete(key);
    for (const tab of entry.tabs) {
      if (tab.connected) this.#streams--;
      if (reason === null) tab.drop();
      else tab.end(reason);
    }
  }

  /**
   * The heartbeat's pass: a ping on every open stream, tabs past their reconnect window forgotten.
   * Resolves the sessions whose known expiry passed, to be checked with the store. The pass yields
   * to the event loop after every {@link SWEEP_SLICE} tabs, so requests and pushes need not wait
   * for all of it (pings carry nothing, unlike a broadcast, whose pass stays whole so that every
   * tab gets its events in order).
   */
  async sweep(): Promise<string[]> {
    const due: string[] = [];
    let done = 0;
    for (const [key, entry] of this.#sessions) {
      const now = this.#now();
      const tabs = entry.tabs;
      let kept = 0;
      for (const tab of tabs) {
        if (tab.connected) tab.ping();
        else if (now - tab.detachedAt >= this.#options.reconnectWindow) continue;
        tabs[kept++] = tab;
      }
      tabs.length = kept;
      if (kept === 0) this.#sessions.delete(key);
      else if (entry.expiresAt <= now) due.push(key);
      if (++done % SWEEP_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return due;
  }

  /** The store says session `key` expires at `expiresAt` (when it is still held here). */
  extend(key: string, expiresAt: number): void {
    const entry = this.#sessions.get(key);
    if (entry !== undefined) entry.expiresAt = expiresAt;
  }

  /** Finish every stream without `end` (their clients reconnect) and forget them all. */
  dropAll(): void {
    for (const entry of this.#sessions.values()) for (const tab of entry.tabs) tab.drop();
    this.#sessions.clear();
    this.#streams = 0;
  }
}
