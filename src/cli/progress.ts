/**
 * Progress of a long CLI run (cleanup of a large store), on standard error so standard output
 * stays the result. On a terminal: one line redrawn in place — a bar with a percentage when the
 * total is known, a spinner with the count otherwise, and the time taken. Elsewhere (a pipe, a
 * log file): a plain line now and then, and one at the end.
 *
 * @module
 */

/**
 * Where progress goes: standard error, or any stream with `write` (and `isTTY` when a terminal).
 *
 * @example
 * ```ts
 * const out: ProgressStream = process.stderr;
 * ```
 */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/**
 * Options of {@link Progress}.
 *
 * @example
 * ```ts
 * const options: ProgressOptions = { label: 'removing expired sessions', total: 12_000 };
 * ```
 */
export interface ProgressOptions {
  /** What is being done, e.g. `removing expired sessions`. */
  readonly label: string;
  /** How many there are to do, when known: a bar with a percentage. `null`: a count. */
  readonly total: number | null;
  /** The clock. Default `Date.now`. */
  readonly now?: () => number;
  /** Least time (ms) between two plain lines when not on a terminal. Default 2 000. */
  readonly lineEvery?: number;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const BAR_WIDTH = 24;
/** Redraws on a terminal, at most this often (ms); the spinner turns at this pace while waiting. */
const REDRAW_MS = 100;

/**
 * A progress display on one stream. Call {@link Progress.update} as work is done (as often as you
 * like: it redraws at most every 100 ms) and {@link Progress.finish} once at the end.
 *
 * @example
 * ```ts
 * const progress = new Progress(process.stderr, { label: 'removing expired sessions', total: 12_000 });
 * progress.update(6_000);            // [############------------]  50%  6000/12000  1.2s
 * progress.finish(12_000);
 * ```
 */
export class Progress {
  readonly #out: ProgressStream;
  readonly #tty: boolean;
  readonly #label: string;
  readonly #total: number | null;
  readonly #now: () => number;
  readonly #lineEvery: number;
  readonly #started: number;
  #done = 0;
  #frame = 0;
  #lastDrawn = -Infinity;
  #timer: NodeJS.Timeout | null = null;
  #finished = false;

  constructor(out: ProgressStream, options: ProgressOptions) {
    this.#out = out;
    this.#tty = out.isTTY === true;
    this.#label = options.label;
    this.#total = options.total;
    this.#now = options.now ?? Date.now;
    this.#lineEvery = options.lineEvery ?? 2_000;
    this.#started = this.#now();
    if (this.#tty) {
      this.#draw();
      // The spinner and the time go on while a long batch runs without a word.
      this.#timer = setInterval(() => this.#draw(), REDRAW_MS);
      this.#timer.unref();
    }
  }

  /** `done` of the total are done now. */
  update(done: number): void {
    if (this.#finished) return;
    this.#done = done;
    const now = this.#now();
    if (this.#tty) {
      if (now - this.#lastDrawn >= REDRAW_MS) this.#draw();
    } else if (now - this.#lastDrawn >= this.#lineEvery) {
      this.#lastDrawn = now;
      this.#out.write(`${this.#label}: ${this.#status()}\n`);
    }
  }

  /** All done, `done` of them: the last line, and the terminal's line is left for what follows. */
  finish(done: number): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#done = done;
    if (this.#tty) this.#out.write(`\r\x1b[2K${this.#label}: ${this.#status()} done\n`);
    else this.#out.write(`${this.#label}: ${this.#status()} done\n`);
  }

  /** Stop without a last line (the run failed: its error follows). */
  abort(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#tty) this.#out.write('\r\x1b[2K');
  }

  #draw(): void {
    this.#lastDrawn = this.#now();
    const lead = this.#total === null ? `${FRAMES[this.#frame++ % FRAMES.length]} ` : '';
    this.#out.write(`\r\x1b[2K${lead}${this.#label}: ${this.#status()}`);
  }

  /** `[####----]  50%  6000/12000  1.2s`, or `6000  1.2s` without a total. */
  #status(): string {
    const elapsed = `${((this.#now() - this.#started) / 1000).toFixed(1)}s`;
    if (this.#total === null) return `${this.#done}  ${elapsed}`;
    const share = this.#total === 0 ? 1 : Math.min(1, this.#done / this.#total);
    const filled = Math.round(share * BAR_WIDTH);
    const bar = this.#tty ? `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ` : '';
    return `${bar}${String(Math.floor(share * 100)).padStart(3)}%  ${this.#done}/${this.#total}  ${elapsed}`;
  }
}
