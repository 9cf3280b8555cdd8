/**
 * A bounded cache with O(1) eviction, for the manager's caches (verified cookie signatures,
 * opened sealed cookies, decoded records) and the sealer's AAD bytes.
 *
 * @module
 */

/**
 * A map that holds at most `max` entries, evicting in two generations: entries go into a young
 * map; when it holds `max / 2`, the old map is dropped whole and the young one becomes old. A hit
 * in the old map moves the entry back to the young one, so entries in use stay. Unlike deleting the
 * oldest key of one `Map` on every insert (which leaves holes V8 walks over on each
 * `keys().next()`), eviction costs nothing per insert.
 *
 * @example
 * ```ts
 * const verified = new GenerationalCache<string, string>(10_000);
 * verified.set(cookieValue, id);
 * verified.get(cookieValue); // id, until 5,000 to 10,000 newer entries push it out
 * ```
 */
export class GenerationalCache<K, V> {
  readonly #half: number;
  #young = new Map<K, V>();
  #old = new Map<K, V>();

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 2) throw new TypeError('GenerationalCache max must be an integer >= 2');
    this.#half = max >> 1;
  }

  /** The value under `key`, or `undefined`. */
  get(key: K): V | undefined {
    const value = this.#young.get(key);
    if (value !== undefined) return value;
    const old = this.#old.get(key);
    if (old !== undefined) {
      this.#old.delete(key);
      this.set(key, old);
    }
    return old;
  }

  /** Remember `value` under `key`. */
  set(key: K, value: V): void {
    if (this.#young.size >= this.#half) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }

  /** Forget `key`. */
  delete(key: K): void {
    this.#young.delete(key);
    this.#old.delete(key);
  }

  /** Entries held (at most `max`). */
  get size(): number {
    return this.#young.size + this.#old.size;
  }
}
