/**
 * One tab as a hub holds it: its open stream (if any), the sequence number of its events, and a
 * bounded replay buffer for a reconnect with `Last-Event-ID`.
 *
 * @module
 * @internal
 */
import { sseControl, type EndReason } from './protocol.js';

/**
 * Where a tab's stream is written: an adapter's response, as plain operations. `write` hands over
 * one SSE message; `buffered` is how many bytes wait unsent (a client that does not read makes it
 * grow); `end` finishes the response; `close` drops the connection at once.
 *
 * @example
 * ```ts
 * const sink: StreamSink = {
 *   write: (text) => res.write(text),
 *   buffered: () => res.writableLength,
 *   end: () => res.end(),
 *   close: () => res.destroy(),
 * };
 * ```
 */
export interface StreamSink {
  write(text: string): unknown;
  buffered(): number;
  end(): void;
  close(): void;
}

/** The limits a tab works within (from the live options). */
export interface TabLimits {
  readonly replay: number;
  readonly maxBuffered: number;
}

/**
 * A tab of a session in this process. Its stream comes and goes (reconnects); its replay buffer
 * stays, so `Last-Event-ID` finds what it missed whichever of its streams carried the rest.
 *
 * @example
 * ```ts
 * const tab = new Tab('k3Jd9_aQ0xZ-7mNw1pLr2A', limits);
 * tab.attach(sink, null, now);
 * tab.send(sseMessage('aB3dE5fG.1', sseBody({ type: 'reload' })), Date.now());
 * ```
 */
export class Tab {
  readonly id: string;
  readonly #limits: TabLimits;
  #sink: StreamSink | null = null;
  /**
   * The last messages sent, oldest first, whole as written (`id: N` first): every tab an event
   * reached keeps the one string. Made on the first event: an idle tab holds none.
   */
  #replay: string[] | null = null;
  /** When the stream dropped (ms), or 0 while one is open. */
  detachedAt = 0;

  constructor(id: string, limits: TabLimits) {
    this.id = id;
    this.#limits = limits;
  }

  /** Whether a stream is open for this tab. */
  get connected(): boolean {
    return this.#sink !== null;
  }

  /**
   * Take `sink` as this tab's stream (dropping an older one still open: the same tab reconnected,
   * or its page was duplicated with its tab ID) and replay what it missed after event number
   * `lastEventId` (of this process: the registry checks).
   */
  attach(sink: StreamSink, lastEventId: number | null, hello: object): void {
    const previous = this.#sink;
    this.#sink = sink;
    this.detachedAt = 0;
    if (previous !== null) previous.close();
    sink.write(`retry: 2000\n${sseControl('hello', hello)}`);
    if (lastEventId === null || this.#replay === null) return;
    for (const message of this.#replay) if (numberOf(message) > lastEventId) sink.write(message);
  }

  /** The stream `sink` closed: forget it, if it is still this tab's (`now` starts the reconnect window). */
  detach(sink: StreamSink, now: number): boolean {
    if (this.#sink !== sink) return false;
    this.#sink = null;
    this.detachedAt = now;
    return true;
  }

  /**
   * Send an event's message (`sseMessage`, made once for every tab it goes to), keeping it for a
   * reconnect. Drops a stream that stopped reading: returns `true` when it did (one stream fewer).
   */
  send(message: string, now: number): boolean {
    const keep = this.#limits.replay;
    if (keep > 0) {
      const replay = (this.#replay ??= []);
      replay.push(message);
      if (replay.length > keep) replay.shift();
    }
    const sink = this.#sink;
    if (sink === null) return false;
    if (sink.buffered() > this.#limits.maxBuffered) {
      // A client that does not read: never unbounded memory. It reconnects and replays.
      this.#sink = null;
      this.detachedAt = now;
      sink.close();
      return true;
    }
    sink.write(message);
    return false;
  }

  /** A heartbeat comment on an open stream (keeps proxies from closing it; finds dead sockets). */
  ping(): void {
    this.#sink?.write(': ping\n\n');
  }

  /** Tell the stream why it ends and end it: the client does not reconnect. */
  end(reason: EndReason): void {
    const sink = this.#sink;
    this.#sink = null;
    if (sink === null) return;
    sink.write(sseControl('end', { reason }));
    sink.end();
  }

  /**
   * Finish the stream without `end` (the server shuts down, the session must be checked again):
   * the client reconnects. The tab stays (with its replay buffer) for the reconnect window from `now`.
   */
  drop(now = 0): void {
    const sink = this.#sink;
    this.#sink = null;
    this.detachedAt = now;
    sink?.end();
  }
}

/** The number of a message's event ID (its first line is `id: <hub>.<n>`). */
function numberOf(message: string): number {
  return Number(message.slice(message.indexOf('.') + 1, message.indexOf('\n')));
}
