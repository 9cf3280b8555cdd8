/**
 * Messages between bench/faults.ts and its server (bench/servers/faults.ts), over the child's IPC
 * channel.
 *
 * @module
 */

/** How the server removes the expired rows: tessera's paced cleanup, the store's own loop, or one statement. */
export type CleanMode = 'paced' | 'store' | 'one';

/** From the bench to the server. */
export type FaultsParentMessage =
  /** Report the event loop's delay and utilisation since the last mark, and start again. */
  | { type: 'mark' }
  /** Insert `rows` expired rows (SQLite), in one transaction. */
  | { type: 'fill'; rows: number }
  /** Remove the expired rows, while serving. */
  | { type: 'clean'; mode: CleanMode }
  /** Hold tessera's paced cleanup before its next batch (`open: false`), or let it go on. */
  | { type: 'gate'; open: boolean }
  | { type: 'stop' };

/** From the server to the bench. */
export type FaultsChildMessage =
  | { type: 'ready'; port: number; cookie: string }
  | { type: 'mark'; p50: number; p99: number; max: number; elu: number; anomalies: number; removed: number }
  | { type: 'gated' }
  | { type: 'filled'; ms: number }
  | { type: 'cleaned'; removed: number; ms: number; batches: number }
  | { type: 'failed'; error: string };
