/**
 * Keys a session stopped using (destroyed, or left by a regenerate) whose delete — or, for
 * sessions sealed in cookies, revocation — failed: typically a commit that failed after its
 * response went out, which no later commit of that session will retry. The backend refuses them
 * when a request brings their cookie back, and tries again then and at each cleanup.
 *
 * Kept in this process only: another process sharing the store still loads such a session until
 * one of the retries succeeds (or it expires).
 *
 * @module
 * @internal
 */
import type { Retired } from './state.js';

/** A retired key whose delete (or revocation) failed, with the tenant of its session. */
export interface UndeletedKey extends Retired {
  readonly tenant: string | null;
}

/** Keys remembered at most; beyond, the oldest are forgotten (their failure was reported). */
const UNDELETED_MAX = 10_000;

/**
 * Retired keys still in the store.
 *
 * @example
 * ```ts
 * const undeleted = new Undeleted();
 * undeleted.add(state.retired, state.tenant); // their delete failed
 * if (undeleted.get(key)) refuse();             // a request brought one back
 * undeleted.done(key);                          // deleted at last
 * ```
 */
export class Undeleted {
  readonly #keys = new Map<string, UndeletedKey>();

  /** Nothing is remembered: the one check a request pays. */
  get empty(): boolean {
    return this.#keys.size === 0;
  }

  /** Remember `retired`, keys of a session of `tenant` whose delete failed. */
  add(retired: readonly Retired[], tenant: string | null): void {
    for (const { key, expiresAt } of retired) {
      this.#keys.delete(key);
      this.#keys.set(key, { key, expiresAt, tenant });
      if (this.#keys.size > UNDELETED_MAX) this.#keys.delete(this.#keys.keys().next().value!);
    }
  }

  /** The remembered entry of `key`, or `undefined`. */
  get(key: string): UndeletedKey | undefined {
    return this.#keys.size === 0 ? undefined : this.#keys.get(key);
  }

  /** `key` is deleted (or was never remembered). */
  done(key: string): void {
    if (this.#keys.size !== 0) this.#keys.delete(key);
  }

  /** Every remembered entry, oldest first. */
  entries(): UndeletedKey[] {
    return [...this.#keys.values()];
  }
}
