/**
 * The messages of the live bench (`npm run bench -- --live`) between the bench (parent) and its
 * children, over the `fork` IPC channel: the server holding the streams, the load generators
 * opening them, and the pusher pushing from another process through Redis.
 *
 *   server    → parent  `ready`        listening; the sessions made for the streams
 *   parent    → server  `measure`      force a GC, report memory and the hub's stream count (and
 *                                      write a heap snapshot, when asked)
 *   server    → parent  `measured`
 *   parent    → server  `broadcast`    `tessera.live.broadcastAll` one stamped event
 *   server    → parent  `broadcasted`  how long the call took in the server
 *   gen       → parent  `ready`        listening for messages
 *   parent    → server  `lag`          the event loop's delay since the last `measure` or `lag`
 *   server    → parent  `lagged`
 *   parent    → gen     `open`         open these streams (cookie and tab each) from this address
 *   gen       → parent  `opened`       how many opened (their `hello` came), how long, why not
 *   gen       → parent  `round`        every stream of this generator got broadcast `round`
 *   parent    → gen     `report`       send the delivery latencies
 *   gen       → parent  `latencies`
 *   parent    → pusher  `push`         push `count` stamped events to these tabs, `intervalMs` apart
 *   pusher    → parent  `pushed`
 *   any child → parent  `failed`       set-up failed
 *
 * Times are `process.hrtime.bigint()` (CLOCK_MONOTONIC on Linux, one clock for every process on
 * the machine), sent as decimal strings: the stamp goes in the pushed event's `detail.t`.
 *
 * @module
 */

/** A process's memory after a forced GC (bytes). */
export interface MemorySnapshot {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/** One stream to open: the browser's cookie header and its tab ID. */
export interface StreamSpec {
  cookie: string;
  tab: string;
}

/** The secret of the live bench's server and pusher (>= 32 bytes). Never reuse a published secret. */
export const LIVE_BENCH_SECRET = 'tessera-live-bench-secret-not-for-production-0123456789';

/** Event names the bench pushes (type `event`). */
export const BROADCAST_EVENT = 'bench:broadcast';
/** The event pushed to single tabs by the pusher. */
export const PUSH_EVENT = 'bench:push';

export type ServerMessage =
  | {
      type: 'ready';
      port: number;
      /** One per stream: the cookie of its own session, and the session's handle (for pushes by handle). */
      sessions: { cookie: string; handle: string }[];
      /** `redis` when the server's hub is on a RedisBus, else `local`, and why. */
      bus: 'redis' | 'local';
      busNote: string;
      description: string;
    }
  | { type: 'measured'; memory: MemorySnapshot; streams: number; sessions: number }
  | {
      type: 'broadcasted';
      round: number;
      /** How long the `broadcastAll` call ran (every stream's write made). */
      callMs: number;
      /** Until the event loop's next turn: the responses' corked writes sent too. */
      flushMs: number;
      /** The server's CPU time over `flushMs`. */
      cpuMs: number;
    }
  /** The event loop's delay since the last `measure` or `lag` (ms): what held pushes up. */
  | { type: 'lagged'; p99Ms: number; maxMs: number }
  | { type: 'failed'; error: string };

export type ToServer = { type: 'measure'; heapSnapshot?: string } | { type: 'broadcast'; round: number } | { type: 'lag' };

export type GeneratorMessage =
  | { type: 'ready' }
  | { type: 'opened'; opened: number; failed: number; errors: string[]; ms: number; fds: number }
  | { type: 'round'; round: number }
  | {
      type: 'latencies';
      /** Broadcast round → delivery latencies (ms) on this generator's streams. */
      broadcasts: Record<string, number[]>;
      /** Delivery latencies (ms) of the pusher's events that reached this generator's streams. */
      pushes: number[];
      /** Streams that closed since they opened. */
      closed: number;
    }
  | { type: 'failed'; error: string };

export type ToGenerator =
  | { type: 'open'; port: number; localAddress: string; streams: StreamSpec[]; concurrency: number }
  | { type: 'report' };

export type PusherMessage =
  | { type: 'ready' }
  | { type: 'pushed'; sent: number; errors: string[]; ms: number }
  | { type: 'failed'; error: string };

export type ToPusher = { type: 'push'; targets: { handle: string; tab: string }[]; count: number; intervalMs: number };
