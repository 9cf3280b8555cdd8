/**
 * A session's commit queue: when its commits run (after the current synchronous code, or when an
 * adapter releases a hold), that they never overlap, and where their failures wait to be seen.
 *
 * @module
 * @internal
 */
import type { SessionState } from './state.js';

/** A value now, or a promise of it: what a store driver's call and a commit return. */
export type Step<T> = T | Promise<T>;

/** What a queue runs and reports to. */
export interface CommitRunner {
  /**
   * Commit the state: `undefined` when done at once (a store that answers synchronously, or
   * nothing to do), else a promise of the rest. May throw.
   */
  commit(state: SessionState): Step<void>;
  /** Report a failure nobody picked up (by `settle()` or `save()`). */
  reportError(error: unknown): void;
}

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * The commits of one session, one at a time. A commit is scheduled by every change and runs once
 * after the current synchronous code, so several changes in one tick make one write; while the
 * queue is held (an adapter running a handler's synchronous code) it waits for
 * {@link CommitQueue.release} instead, which starts it at once. The chain (`tail`) never rejects:
 * a failure is kept for {@link CommitQueue.settle} to rethrow, and reported if nobody has by the
 * next macrotask.
 *
 * @example
 * ```ts
 * const queue = new CommitQueue(state, runner);
 * queue.hold();
 * queue.schedule();       // deferred: held
 * queue.release();        // runs the commit now
 * await queue.settle();   // rethrows its failure, if any
 * ```
 */
export class CommitQueue {
  /** A commit is scheduled and has not started. */
  #queued = false;
  /** A commit was scheduled while held: it starts on release. */
  #deferred = false;
  /** Commits started and not finished. */
  #pending = 0;
  #tail: Promise<void> = RESOLVED;
  #failure: { error: unknown } | null = null;
  readonly #state: SessionState;
  readonly #runner: CommitRunner;

  constructor(state: SessionState, runner: CommitRunner) {
    this.#state = state;
    this.#runner = runner;
  }

  /** Nothing is running, scheduled or unreported: settle() would return at once. */
  get idle(): boolean {
    return this.#pending === 0 && !this.#deferred && this.#failure === null;
  }

  /** Schedule a commit of the state's changes, after the current synchronous code (or on release). */
  schedule(): void {
    if (this.#queued) return;
    this.#queued = true;
    if (this.#state.held) this.#deferred = true;
    else this.#start(true);
  }

  /**
   * Schedule a commit that starts no sooner than the next macrotask, held or not: for the commit
   * the loader decides (a touch, `saveUninitialized`), which the handler — resuming from
   * `await load()` in a microtask, or after an adapter's release — must still be able to cancel
   * with `session.ignore()`. A change made meanwhile joins it. (A hold spans synchronous code,
   * which a macrotask never interrupts.)
   */
  scheduleLater(): void {
    if (this.#queued) return;
    this.#queued = true;
    const running = this.#pending++ > 0 ? this.#tail : RESOLVED;
    this.#tail = new Promise<void>((resolve) => setImmediate(resolve)).then(() => running).then(() => this.#commitNow());
  }

  /** Commits wait for {@link CommitQueue.release} instead of the next tick (the state's `held`, the one place a hold is kept). */
  hold(): void {
    this.#state.held = true;
  }

  /** End a hold: a commit it deferred starts now, without waiting a tick. */
  release(): void {
    this.#state.held = false;
    if (!this.#deferred) return;
    this.#deferred = false;
    this.#start(false);
  }

  /** Wait for every commit (a hold ends); rethrows a failure nobody has seen yet. */
  settle(): Promise<void> {
    if (this.#state.held) this.release();
    if (this.#pending === 0 && this.#failure === null) return RESOLVED;
    return this.#settleSlow();
  }

  async #settleSlow(): Promise<void> {
    while (this.#pending > 0) await this.#tail;
    if (this.#failure) {
      const { error } = this.#failure;
      this.#failure = null;
      throw error;
    }
  }

  /** Start the scheduled commit: behind the running one; else now, or with `defer` after the current synchronous code. */
  #start(defer: boolean): void {
    if (this.#pending++ > 0) this.#tail = this.#tail.then(() => this.#commitNow());
    else if (defer) this.#tail = this.#commitNextTick();
    else this.#tail = this.#commitNow() ?? this.#tail;
  }

  async #commitNextTick(): Promise<void> {
    await null;
    return this.#commitNow();
  }

  /**
   * Run the scheduled commit (already counted in `#pending`); never throws. Returns `undefined`
   * when it is done at once, else the rest of it, which never rejects.
   */
  #commitNow(): Promise<void> | undefined {
    this.#queued = false;
    let work: Step<void>;
    try {
      work = this.#runner.commit(this.#state);
    } catch (error) {
      this.#pending--;
      this.#failed(error);
      return undefined;
    }
    if (work === undefined) {
      this.#pending--;
      return undefined;
    }
    return this.#finish(work);
  }

  async #finish(work: Promise<void>): Promise<void> {
    try {
      await work;
    } catch (error) {
      this.#failed(error);
    } finally {
      this.#pending--;
    }
  }

  /** Keep a commit's failure for settle() / save() to rethrow; report it only if nobody sees it first. */
  #failed(error: unknown): void {
    this.#failure = { error };
    setImmediate(() => {
      if (this.#failure?.error === error) this.#runner.reportError(error);
    });
  }
}
