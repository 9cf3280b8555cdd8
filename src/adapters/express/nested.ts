/**
 * Changes made inside the object values of `req.session` (`req.session.cart.items.push(x)`): the
 * proxy sees assignments, not these, so each object value read is remembered as JSON and compared
 * later — after the synchronous code that read it, when the app saves, and when the response
 * finishes.
 *
 * @module
 * @internal
 */
import type { Session } from '../../session.js';

/**
 * The request session whose values {@link NestedChanges} watches.
 *
 * @example
 * ```ts
 * const owner: NestedOwner = { core: session, changedInPlace: (key, value) => session.set(key, value), report: console.error };
 * ```
 */
export interface NestedOwner {
  /** The core session the values are read from. */
  readonly core: Session;
  /** The value of `key` was changed in place: save it. May throw (too late for a sealed session). */
  changedInPlace(key: string, value: unknown): void;
  /** A failure of a check that ran after the synchronous code, where no caller can catch it. */
  report(error: unknown): void;
}

/**
 * The snapshots of one request's object values, and the checks that compare them.
 *
 * @example
 * ```ts
 * const nested = new NestedChanges(owner);
 * nested.read('cart', cart);  // checked after the current synchronous code
 * nested.check();             // or now: every value read so far
 * ```
 */
export class NestedChanges {
  /** JSON of each object-valued key as last saved or first read. */
  #snapshots: Map<string, string> | null = null;
  /** Keys read since the last check. */
  #pending: Set<string> | null = null;
  readonly #owner: NestedOwner;

  constructor(owner: NestedOwner) {
    this.#owner = owner;
  }

  /** `key` was read and holds the object `value`: remember how it looks, and check it after the current synchronous code. */
  read(key: string, value: object): void {
    const snapshots = (this.#snapshots ??= new Map());
    if (!snapshots.has(key)) snapshots.set(key, JSON.stringify(value));
    if (this.#pending === null) {
      // The check gets its own set: `reset()` or `checkPending()` may replace `#pending` before it runs.
      const keys = (this.#pending = new Set());
      queueMicrotask(() => {
        if (this.#pending === keys) this.#pending = null;
        this.#checkReporting(keys);
      });
    }
    this.#pending.add(key);
  }

  /** `key` was assigned a value whose JSON is `json` (`undefined`: not an object, nothing to watch). */
  assigned(key: string, json: string | undefined): void {
    if (json !== undefined) (this.#snapshots ??= new Map()).set(key, json);
    else this.#snapshots?.delete(key);
  }

  /** `key` was deleted. */
  removed(key: string): void {
    this.#snapshots?.delete(key);
  }

  /**
   * The synchronous code that read the pending keys is over: check them now, rather than in the
   * microtask queued for them (which then finds nothing new). A failure is reported.
   */
  checkPending(): void {
    const keys = this.#pending;
    if (keys === null) return;
    this.#pending = null;
    this.#checkReporting(keys);
  }

  /** Save the keys whose object values were changed in place since they were read or saved (default: every one). */
  check(keys: Iterable<string> = [...(this.#snapshots?.keys() ?? [])]): void {
    const snapshots = this.#snapshots;
    const { core } = this.#owner;
    if (snapshots === null || core.isDestroyed) return;
    for (const key of keys) {
      const before = snapshots.get(key);
      if (before === undefined) continue;
      if (!core.has(key)) {
        snapshots.delete(key);
        continue;
      }
      const value = core.get(key);
      const now = JSON.stringify(value);
      if (now === before) continue;
      snapshots.set(key, now);
      this.#owner.changedInPlace(key, value);
    }
  }

  /** Forget the snapshots: the values were re-read from the store (`reload()`). */
  forget(): void {
    this.#snapshots = null;
  }

  /** Forget everything: the values belong to a session `regenerate()` replaced. */
  reset(): void {
    this.#snapshots = null;
    this.#pending = null;
  }

  /** {@link NestedChanges.check} of every value, a failure reported rather than thrown (no caller is left to catch it). */
  checkReporting(keys: Iterable<string> = [...(this.#snapshots?.keys() ?? [])]): void {
    this.#checkReporting(keys);
  }

  #checkReporting(keys: Iterable<string>): void {
    try {
      this.check(keys);
    } catch (error) {
      this.#owner.report(error);
    }
  }
}
