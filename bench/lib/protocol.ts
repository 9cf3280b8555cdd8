/**
 * The messages between the bench (parent) and a server under test (a child process, over the
 * `fork` IPC channel). The parent never shares an event loop with the server it loads.
 *
 *   child  → parent  `ready`  once listening: the port and the headers clients must send
 *   parent → child   `begin`  a measured round starts: the child snapshots its CPU and event loop
 *   child  → parent  `begun`
 *   parent → child   `end`    the round is over
 *   child  → parent  `stats`  CPU time and event-loop utilisation since `begin`, anomaly count
 *
 * @module
 */

/** Sent by the server once it listens. */
export interface ReadyMessage {
  type: 'ready';
  port: number;
  /**
   * Headers for the load generator: connection `i` sends `headerSets[i % length]` (so a server can
   * hand out one session per connection). Empty: no extra headers.
   */
  headerSets: Record<string, string>[];
  /** One line the report shows about the server's set-up (store, options). */
  description?: string;
  /** Clients send back the cookie of each response with their next request (see `BenchServerSetup.followCookies`). */
  followCookies?: boolean;
}

/** Sent by the server after `begin`. */
export interface BegunMessage {
  type: 'begun';
}

/** Sent by the server after `end`: what it spent during the round. */
export interface StatsMessage {
  type: 'stats';
  /** User + system CPU time of the server process during the round, in µs. */
  cpuMicros: number;
  /** Event-loop utilisation during the round (0..1): below ~0.9 the server was not the bottleneck. */
  elu: number;
  /**
   * Requests that did not take the path the scenario measures (for example: the session was not
   * found, so a fresh one was made). Anything above 0 makes the round's figures meaningless.
   */
  anomalies: number;
}

/** Sent by the server when set-up failed. */
export interface FailedMessage {
  type: 'failed';
  error: string;
}

export type ChildMessage = ReadyMessage | BegunMessage | StatsMessage | FailedMessage;

export type ParentMessage = { type: 'begin' } | { type: 'end' };
