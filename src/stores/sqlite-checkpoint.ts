/**
 * SQLite checkpoints off the event loop, for {@link SqliteStore} on a file it opened itself.
 *
 * In WAL mode a commit that takes the write-ahead log past `wal_autocheckpoint` pages copies them
 * into the database file and fsyncs it inside that commit: with better-sqlite3, which is
 * synchronous, 15–20 ms of event loop on a slow disk. Here the store's connection has automatic
 * checkpoints off, and a worker thread with a connection of its own to the same file runs
 * `PRAGMA wal_checkpoint(PASSIVE)` whenever the log changed (it looks every 200 ms), and
 * `wal_checkpoint(TRUNCATE)` once the store has written nothing for a while, so the `-wal` file does
 * not keep the size of its largest burst. A passive checkpoint takes no lock a writer waits for:
 * the store's commits go on while it copies.
 *
 * The worker's code is a string run with `eval`, not a file of its own: it then runs the same from
 * the TypeScript sources (under tsx), the ES module and the CommonJS builds, and a bundle, with no
 * path to resolve and no loader to carry into the thread. It loads the driver the store loaded, by
 * its resolved path.
 *
 * @module
 * @internal
 */
import { Worker } from 'node:worker_threads';

/** Timings of the checkpointer (tests shorten them). */
export interface CheckpointerTimings {
  /** How often the worker looks at the `-wal` file, in ms. Default 200. */
  interval: number;
  /** How long the log must stay unchanged before it is truncated, in ms. Default 5,000. */
  idle: number;
  /** The `-wal` file is truncated when idle only above this size, in bytes. Default 4 MiB (about 1,000 pages). */
  truncateAbove: number;
}

/** What a checkpoint reports: SQLite's three numbers, and which kind it was. */
export interface CheckpointResult {
  mode: 'PASSIVE' | 'TRUNCATE';
  busy: number;
  log: number;
  checkpointed: number;
}

/** Options of {@link startCheckpointer}. */
export interface CheckpointerOptions {
  /** The database file (its log is `<file>-wal`). */
  file: string;
  /** The resolved path of the better-sqlite3 module to load in the thread. */
  driver: string;
  /** Called once if the thread cannot start or stops on its own: the caller checkpoints itself from then on. */
  onFailure: (error: Error) => void;
  /** Called after each checkpoint the thread ran (tests and diagnostics). */
  onCheckpoint?: (result: CheckpointResult) => void;
  timings?: Partial<CheckpointerTimings>;
}

/** What tessera's tests set on the checkpointer of a store they make (see {@link withCheckpointHooks}). */
export interface CheckpointHooks {
  checkpointTimings?: Partial<CheckpointerTimings>;
  onCheckpoint?: (result: CheckpointResult) => void;
}

/** The hooks of the store being made inside {@link withCheckpointHooks}; none otherwise. */
let hooksInUse: CheckpointHooks = {};

/**
 * Make a store with `hooks` on its checkpoint thread: shorter timings, and a call after each of
 * its checkpoints. For tessera's own tests; not part of the package's exports, so the store's
 * public constructor has no test-only argument.
 *
 * @example
 * ```ts
 * const store = withCheckpointHooks({ onCheckpoint: (r) => results.push(r) }, () => new SqliteStore({ path }));
 * ```
 */
export function withCheckpointHooks<T>(hooks: CheckpointHooks, make: () => T): T {
  hooksInUse = hooks;
  try {
    return make();
  } finally {
    hooksInUse = {};
  }
}

/**
 * The hooks for the store being made now ({@link withCheckpointHooks}), or none.
 *
 * @example
 * ```ts
 * const { checkpointTimings, onCheckpoint } = checkpointHooks(); // in SqliteStore's constructor
 * ```
 */
export function checkpointHooks(): CheckpointHooks {
  return hooksInUse;
}

/** A running checkpointer: {@link Checkpointer.stop} ends its thread. */
export interface Checkpointer {
  /** Ends the thread after the checkpoint it may be running; resolves when it has exited. Idempotent. */
  stop(): Promise<void>;
}

/** The thread's code (CommonJS, run with `eval`). Errors end the thread, which the store sees. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { statSync } = require('node:fs');
const { file, driver, interval, idle, truncateAbove, report } = workerData;
const Database = require(driver);
const db = new Database(file, { fileMustExist: true });
// Never wait for a lock: a checkpoint that cannot run now runs at a later look.
db.pragma('busy_timeout = 0');
db.pragma('wal_autocheckpoint = 0');
const wal = file + '-wal';
let seen = '';
let pending = false;
let changedAt = Date.now();
let truncated = true;
function look() {
  let stat;
  try { stat = statSync(wal); } catch { return; }
  const now = Date.now();
  const signature = stat.size + ':' + stat.mtimeMs;
  let mode;
  if (signature !== seen || pending) {
    if (signature !== seen) { changedAt = now; truncated = false; }
    seen = signature;
    mode = 'PASSIVE';
  } else if (!truncated && now - changedAt >= idle) {
    truncated = true;
    if (stat.size <= truncateAbove) return;
    mode = 'TRUNCATE';
  } else {
    return;
  }
  let row;
  try {
    [row] = db.pragma('wal_checkpoint(' + mode + ')');
  } catch (error) {
    // Another connection holds a lock this needs (recovering the log, say): at the next look.
    if (error && (error.code === 'SQLITE_BUSY' || error.code === 'SQLITE_LOCKED')) { pending = true; if (mode === 'TRUNCATE') truncated = false; return; }
    throw error;
  }
  pending = row.busy !== 0 || row.checkpointed < row.log;
  if (mode === 'TRUNCATE') {
    if (row.busy !== 0) truncated = false;
    try { const after = statSync(wal); seen = after.size + ':' + after.mtimeMs; } catch {}
  }
  if (report) parentPort.postMessage({ mode, busy: row.busy, log: row.log, checkpointed: row.checkpointed });
}
const timer = setInterval(look, interval);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * Starts a thread checkpointing `options.file`. It never keeps the process alive (it is unref'd).
 * Throws nothing: a thread that cannot start calls `onFailure` (asynchronously, once).
 *
 * @example
 * ```ts
 * db.pragma('wal_autocheckpoint = 0');
 * const checkpointer = startCheckpointer({
 *   file: './data/sessions.db',
 *   driver: require.resolve('better-sqlite3'),
 *   onFailure: () => db.pragma('wal_autocheckpoint = 1000'),
 * });
 * // …
 * await checkpointer.stop();
 * ```
 */
export function startCheckpointer(options: CheckpointerOptions): Checkpointer {
  const { file, driver, onFailure, onCheckpoint } = options;
  const timings: CheckpointerTimings = { interval: 200, idle: 5_000, truncateAbove: 4 << 20, ...options.timings };
  let stopping = false;
  let failed = false;
  const fail = (error: Error): void => {
    if (failed || stopping) return;
    failed = true;
    onFailure(error);
  };
  let worker: Worker;
  try {
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // No loader (tsx) nor flags of the app's in the thread: it runs plain CommonJS.
      execArgv: [],
      workerData: { file, driver, ...timings, report: onCheckpoint !== undefined },
    });
  } catch (error) {
    queueMicrotask(() => fail(error instanceof Error ? error : new Error(String(error))));
    return { stop: async () => {} };
  }
  worker.unref();
  if (onCheckpoint) worker.on('message', (result: CheckpointResult) => onCheckpoint(result));
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', (code) => {
      fail(new Error(`the checkpoint thread stopped (exit code ${code})`));
      resolve();
    });
  });
  worker.on('error', (error) => fail(error));
  return {
    async stop() {
      if (!stopping && !failed) worker.postMessage('stop');
      stopping = true;
      // Unref'd, the thread would not keep the process alive while the caller awaits its end.
      worker.ref();
      // A thread stuck in a checkpoint on a hung disk is not waited for beyond a few seconds.
      const timer = setTimeout(() => void worker.terminate(), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
