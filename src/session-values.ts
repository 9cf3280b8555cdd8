/**
 * The data a handler reads and writes on its session, and the change set that records it:
 * {@link SessionValues}, the base of `Session`. It records which keys the request changed, so a
 * commit can re-apply exactly those on top of a concurrent writer's version (no lost updates).
 *
 * @module
 */
import { SessionStateError } from './errors.js';
import { assertStorable, DELETED, NO_CHANGES, Update, type SessionState } from './core/state.js';
import type { SessionRuntime } from './session-runtime.js';

/**
 * @internal A session's state, for `session-security.ts` and `session.ts` (set by
 * {@link SessionValues}' static block: the private field stays private to everyone else, and
 * the package does not export this).
 *
 * @example
 * ```ts
 * const { key } = stateOf(session);
 * ```
 */
export let stateOf: (session: SessionValues) => SessionState;
/**
 * @internal A session's runtime (the core's side: its lifecycle), as {@link stateOf}.
 *
 * @example
 * ```ts
 * runtimeOf(session).schedule(stateOf(session));
 * ```
 */
export let runtimeOf: (session: SessionValues) => SessionRuntime;

/** Session data: JSON-serialisable values by key. */
export type SessionData = Record<string, unknown>;

/**
 * A session's values: reads, writes and the change set behind them. `Session` (what handlers
 * get) extends it with the signed-in user, CSRF tokens, identity and lifecycle; this class only
 * keeps the data half in a module of its own, and is never made alone.
 *
 * @example
 * ```ts
 * const values: SessionValues = session; // every Session is one
 * values.set('views', (values.get<number>('views') ?? 0) + 1);
 * ```
 */
export abstract class SessionValues<Data extends SessionData = SessionData> {
  readonly #state: SessionState;
  readonly #rt: SessionRuntime;

  static {
    stateOf = (session) => session.#state;
    runtimeOf = (session) => session.#rt;
  }

  /** @internal Sessions are made by the manager. */
  constructor(state: SessionState, runtime: SessionRuntime) {
    this.#state = state;
    this.#rt = runtime;
  }

  /** The value under `key`, or `undefined`. */
  get<K extends keyof Data & string>(key: K): Data[K] | undefined;
  get<T = unknown>(key: string): T | undefined;
  get(key: string): unknown {
    return Object.hasOwn(this.#state.data, key) ? this.#state.data[key] : undefined;
  }

  /** Whether `key` holds a value. */
  has(key: string): boolean {
    return Object.hasOwn(this.#state.data, key);
  }

  /**
   * Store `value` under `key`. Setting `undefined` deletes the key.
   *
   * @throws {@link SessionStateError} if the session was destroyed, or the value is not JSON-serialisable.
   * @throws {@link PayloadTooLargeError} if the value alone is over `maxDataBytes` as JSON.
   */
  set<K extends keyof Data & string>(key: K, value: Data[K]): this;
  set(key: string, value: unknown): this;
  set(key: string, value: unknown): this {
    if (value === undefined) {
      this.delete(key);
      return this;
    }
    assertWritable(this);
    assertStorable(key, value, this.#rt.maxDataBytes);
    this.#rt.materialize(this.#state, true);
    this.#change(key, value);
    return this;
  }

  /**
   * Change `key` from its current value with `fn`, atomically: if another request changes the
   * session before this one is committed, `fn` runs again on the value that request left, so
   * concurrent updates of one key all count (100 concurrent increments end at exactly 100, on any
   * server store and across processes). `fn` gets `undefined` when the key is unset, must return
   * a new value rather than change its argument in place, and may run more than once; returning
   * `undefined` deletes the key. Returns the new value as of now (`get` gives the committed one
   * after `await session.save()`).
   *
   * With `CookieStore`, concurrent requests cannot be merged (the browser keeps the last cookie),
   * so there `update` is a `set` of `fn(current)`.
   *
   * @throws {@link SessionStateError} if the session was destroyed, or the new value is not JSON-serialisable.
   * @throws {@link PayloadTooLargeError} if the new value alone is over `maxDataBytes` as JSON.
   * @example
   * ```ts
   * const views = session.update<number>('views', (n) => (n ?? 0) + 1);
   * ```
   */
  update<K extends keyof Data & string>(key: K, fn: (current: Data[K] | undefined) => Data[K] | undefined): Data[K] | undefined;
  update<T = unknown>(key: string, fn: (current: T | undefined) => T | undefined): T | undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the overloads type `fn`
  update(key: string, fn: (current: any) => unknown): unknown {
    assertWritable(this);
    if (typeof fn !== 'function') throw new TypeError('session.update(key, fn): fn must be a function');
    const state = this.#state;
    const value = fn(Object.hasOwn(state.data, key) ? state.data[key] : undefined);
    if (value !== undefined) {
      assertStorable(key, value, this.#rt.maxDataBytes);
      this.#rt.materialize(state, true);
    } else if (key === '__proto__') {
      assertStorable(key, null);
    }
    const applied = value === undefined ? DELETED : value;
    const prior = state.changes.has(key) ? state.changes.get(key) : undefined;
    // After an update of the same key: both run again on conflict. After a set or delete of it:
    // the outcome no longer depends on what is stored, so it is a plain value.
    const change = prior === undefined ? new Update(fn) : prior instanceof Update ? prior.then(fn) : applied;
    this.#change(key, applied, change);
    return value;
  }

  /** Remove `key`. Returns whether it was there. */
  delete(key: string): boolean {
    assertWritable(this);
    if (!Object.hasOwn(this.#state.data, key)) return false;
    this.#change(key, DELETED);
    return true;
  }

  /** Remove every key. The session itself (ID, metadata, user) stays. */
  clear(): void {
    assertWritable(this);
    const s = this.#state;
    const { data, changes, cleared } = s;
    s.data = {};
    s.changes = NO_CHANGES;
    s.cleared = true;
    scheduleOrUndo(this, () => {
      s.data = data;
      s.changes = changes;
      s.cleared = cleared;
    });
  }

  /** The keys held. */
  keys(): string[] {
    return Object.keys(this.#state.data);
  }

  /** A shallow copy of the data. */
  toJSON(): Data {
    return { ...this.#state.data } as Data;
  }

  /**
   * Apply one change (`value`, or {@link DELETED}) and record it (as `change`: the value, or an
   * {@link Update} to re-run on conflict), then queue its commit; if the commit refuses at once,
   * undo it.
   */
  #change(key: string, value: unknown, change: unknown = value): void {
    const state = this.#state;
    const data = state.data;
    let changes = state.changes;
    if (changes === NO_CHANGES) state.changes = changes = new Map();
    const had = Object.hasOwn(data, key);
    const previous = data[key];
    const pending = changes.has(key);
    const previousChange = changes.get(key);
    if (value === DELETED) delete data[key];
    else data[key] = value;
    changes.set(key, change);
    // Undone inline rather than through scheduleOrUndo: no closure on the path every write takes.
    try {
      this.#rt.schedule(state);
    } catch (error) {
      if (had) data[key] = previous;
      else delete data[key];
      if (pending) changes.set(key, previousChange);
      else changes.delete(key);
      throw error;
    }
  }
}

/**
 * @internal Queue the commit of a change just made to `session`. With sessions sealed in cookies
 * the commit happens now and may refuse (too large, headers gone): then `undo` puts the session
 * back as it was.
 *
 * @example
 * ```ts
 * scheduleOrUndo(session, () => (stateOf(session).lifetime = previous));
 * ```
 */
export function scheduleOrUndo(session: SessionValues, undo: () => void): void {
  try {
    runtimeOf(session).schedule(stateOf(session));
  } catch (error) {
    undo();
    throw error;
  }
}

/**
 * @internal Refuse a write to a destroyed session.
 *
 * @example
 * ```ts
 * assertWritable(session); // SessionStateError once destroyed
 * ```
 */
export function assertWritable(session: SessionValues): void {
  if (stateOf(session).destroyed) throw new SessionStateError('the session was destroyed; it cannot be written');
}
