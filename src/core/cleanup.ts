/**
 * The cleanup loop: removes expired sessions in short batches, pausing between them, so that a
 * large backlog (a million expired rows) never holds the event loop, a lock or a connection for
 * long, and requests keep being served while it runs.
 *
 * Each batch asks the backend for at most `limit` records ({@link Backend.deleteExpired}, which
 * passes `{ limit }` to the store's `deleteExpired`). The time a batch holds the event loop is the
 * time its call takes to hand back its promise: all of an in-process store's work (SQLite,
 * memory), next to nothing of a networked store's. The loop sizes batches to hold it about
 * {@link SLICE_MS}, and to take at most about {@link STATEMENT_MS} in all (halving the limit after
 * a slower batch, doubling it after a much quicker one, within {@link MIN_LIMIT}–{@link MAX_LIMIT}),
 * then waits twice as long as the batch held the loop before the next one (a timer, not
 * `setImmediate`: the requests that arrived meanwhile, and those that arrive while it waits, are
 * all served). So cleanup takes at most about a third of the process's time, and delays a request
 * by at most about one batch. A run ends at the first batch that removes fewer than its limit.
 *
 * @module
 * @internal
 */
import type { Backend } from './backend.js';

/**
 * How a cleanup run is going, as {@link CleanupOptions.onProgress} is told after each batch.
 *
 * @example
 * ```ts
 * const progress: CleanupProgress = { removed: 12_500, batches: 25, elapsed: 840, done: false };
 * ```
 */
export interface CleanupProgress {
  /** Records removed so far in this run. */
  readonly removed: number;
  /** Batches done so far. */
  readonly batches: number;
  /** Milliseconds since the run began. */
  readonly elapsed: number;
  /** The last report of the run: it has removed everything that had expired when it began (or tessera was closed meanwhile). */
  readonly done: boolean;
}

/**
 * Options of `tessera.cleanupExpired()`.
 *
 * @example
 * ```ts
 * await tessera.cleanupExpired({ onProgress: ({ removed, done }) => console.log(removed, done ? 'done' : '…') } satisfies CleanupOptions);
 * ```
 */
export interface CleanupOptions {
  /**
   * Called after each batch (and once with `done: true` at the end) — for a progress bar. An error
   * it throws is not caught: it ends the run and rejects `cleanupExpired`.
   */
  onProgress?: (progress: CleanupProgress) => void;
}

/** Target time (ms) a batch holds the event loop. */
export const SLICE_MS = 2;
/** Longest time (ms) a batch should take in all, waiting for a networked store included: one short statement. */
export const STATEMENT_MS = 100;
/** The first batch's limit. */
export const FIRST_LIMIT = 500;
/** The smallest batch. */
export const MIN_LIMIT = 16;
/** The largest batch. */
export const MAX_LIMIT = 8_000;
/** The pause after a batch, in multiples of the time it held the event loop. */
const PAUSE_FACTOR = 2;

/**
 * Runs cleanup on a backend: one run at a time from the timer ({@link Cleaner.tick} skips while one
 * is going), any number on request ({@link Cleaner.run}); {@link Cleaner.close} stops them after
 * their current batch.
 *
 * @example
 * ```ts
 * const cleaner = new Cleaner(backend, () => Date.now());
 * const removed = await cleaner.run({ onProgress: (p) => bar.update(p.removed) });
 * ```
 */
export class Cleaner {
  readonly #backend: Backend;
  readonly #now: () => number;
  #timerRun: Promise<void> | null = null;
  #closed = false;

  constructor(backend: Backend, now: () => number) {
    this.#backend = backend;
    this.#now = now;
  }

  /** The timer's call: a run, unless the previous one is still going. */
  tick(onError: (error: unknown) => void): void {
    if (this.#timerRun !== null || this.#closed) return;
    this.#timerRun = this.run().then(
      () => {
        this.#timerRun = null;
      },
      (error: unknown) => {
        this.#timerRun = null;
        onError(error);
      },
    );
  }

  /** Remove everything expired now, in paced batches; resolves how many were removed. */
  async run(options: CleanupOptions = {}): Promise<number> {
    const { onProgress } = options;
    const now = this.#now();
    const start = performance.now();
    let limit = FIRST_LIMIT;
    let removed = 0;
    let batches = 0;
    for (;;) {
      const began = performance.now();
      const pending = this.#backend.deleteExpired({ now, limit, first: batches === 0 });
      // What the call did before handing back its promise held the event loop: all of an
      // in-process store's batch (SQLite, memory), next to nothing of a networked one's.
      const held = performance.now() - began;
      const count = await pending;
      const took = performance.now() - began;
      removed += count;
      batches++;
      const done = count < limit || this.#closed;
      onProgress?.({ removed, batches, elapsed: performance.now() - start, done });
      if (done) return removed;
      if (held > 2 * SLICE_MS || took > STATEMENT_MS) limit = Math.max(MIN_LIMIT, limit >> 1);
      else if (held < SLICE_MS / 2 && took < STATEMENT_MS / 4) limit = Math.min(MAX_LIMIT, limit * 2);
      await pause(Math.max(1, Math.ceil(held * PAUSE_FACTOR)));
      if (this.#closed) {
        onProgress?.({ removed, batches, elapsed: performance.now() - start, done: true });
        return removed;
      }
    }
  }

  /** Stop: runs end after their current batch, and the timer starts none. */
  close(): void {
    this.#closed = true;
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
