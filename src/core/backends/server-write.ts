/**
 * The commit path of {@link ServerBackend}: a write is compare-and-set on the record's version; on
 * a conflict the record is read again and only this request's changes are applied on top (an
 * `update()` runs its function again on the fresh value), so concurrent requests lose nothing. On
 * a store that answers with promises this process writes one key at a time. Keys a session
 * stopped using (regenerated, destroyed) are deleted, and remembered when their delete fails.
 *
 * @module
 * @internal
 */
import { SessionNotFoundError, WriteConflictError } from '../../errors.js';
import type { ResolvedOptions } from '../../options.js';
import type { StoreRecord } from '../../stores/store.js';
import type { RecordCodec } from '../codec.js';
import { run, type StoreDriver } from '../driver.js';
import type { Events } from '../events.js';
import type { Step } from '../queue.js';
import { applyChange, freshState, hasWrite, NO_CHANGES, NO_KEYS, retire, Update, type SessionState } from '../state.js';
import type { Undeleted } from '../undeleted.js';

/** What a {@link ServerWriter} is made of: the backend's parts, and its keys whose delete failed. */
export interface WriterParts {
  readonly options: ResolvedOptions;
  readonly driver: StoreDriver;
  readonly codec: RecordCodec;
  readonly events: Events;
  readonly undeleted: Undeleted;
}

/** The changes one write takes from the state when it starts, handed back if it fails. */
interface Batch {
  readonly changes: Map<string, unknown>;
  readonly cleared: boolean;
  readonly meta: boolean;
}

const noop = (): void => {};

/**
 * Writes and deletes of the server backend's sessions.
 *
 * @example
 * ```ts
 * const writer = new ServerWriter({ options, driver, codec, events, undeleted: new Undeleted() });
 * await writer.write(state); // compare-and-set, re-applied on a conflict
 * await writer.retire(state); // the keys the session stopped using, deleted
 * ```
 */
export class ServerWriter {
  readonly #options: ResolvedOptions;
  readonly #driver: StoreDriver;
  readonly #codec: RecordCodec;
  readonly #events: Events;
  readonly #undeleted: Undeleted;
  readonly #synchronous: boolean;
  /** Per key, the end of the last write this process started (stores that answer with promises). */
  readonly #writing = new Map<string, Promise<void>>();

  constructor(parts: WriterParts) {
    this.#options = parts.options;
    this.#driver = parts.driver;
    this.#codec = parts.codec;
    this.#events = parts.events;
    this.#undeleted = parts.undeleted;
    this.#synchronous = parts.driver.synchronous;
  }

  /** Write the session's pending changes (or only touch it), taking them from the state as one batch. */
  write(state: SessionState): Step<void> {
    if (!hasWrite(state)) return undefined;
    const changed = state.changes.size > 0 || state.cleared || state.metaChanged;
    const batch: Batch = { changes: state.changes, cleared: state.cleared, meta: state.metaChanged };
    state.changes = NO_CHANGES;
    state.cleared = false;
    state.metaChanged = false;
    state.touchDue = false;
    const key = state.key!;
    if (this.#synchronous) return run(this.#writeSteps(state, key, batch, changed));
    // On a store that answers with promises, this process writes one key at a time: requests and
    // by-ID calls racing on one session queue here instead of in the store (where PostgreSQL makes
    // them wait on the row's lock, every one of them against its query timeout) and meet fewer
    // conflicts; across processes, compare-and-set still decides.
    const go = (): Promise<void> => Promise.resolve(run(this.#writeSteps(state, key, batch, changed)));
    const previous = this.#writing.get(key);
    const mine = previous === undefined ? go() : previous.then(go);
    const tail = mine.then(noop, noop);
    this.#writing.set(key, tail);
    void tail.then(() => {
      if (this.#writing.get(key) === tail) this.#writing.delete(key);
    });
    return mine;
  }

  /** Delete the keys in `state.retired`. */
  retire(state: SessionState): Step<void> {
    return state.retired.length === 0 ? undefined : run(this.#deleteSteps(state));
  }

  /**
   * The compare-and-set loop, as steps for {@link run}: on a conflict, read the record again and
   * re-apply only this write's batch (and changes made since). Changes made while a write waits on
   * the store stay pending for the next commit. If the session moved to another key meanwhile
   * (regenerated), the key this write used is retired instead.
   */
  *#writeSteps(state: SessionState, key: string, batch: Batch, changed: boolean): Generator<unknown, void, unknown> {
    try {
      for (let attempt = 1; ; attempt++) {
        const ctx = { now: this.#options.now() };
        const record = this.#codec.encode(state, ctx.now);
        const written = (yield this.#driver.set(key, record, state.version, ctx)) as boolean;
        if (this.#wrote(state, key, record, written, ctx.now)) return;
        // Also a touch: a store that refuses every write but finds no record must not spin forever.
        if (attempt >= this.#options.maxWriteAttempts) throw new WriteConflictError(attempt);
        const current = (yield this.#driver.get(key, ctx)) as StoreRecord | null;
        if (!this.#rebased(state, key, current, batch, changed)) return;
      }
    } catch (error) {
      unbatch(state, batch);
      throw error;
    }
  }

  /** After one compare-and-set: true when the write is over (written, or the session moved to another key), false on a conflict. */
  #wrote(state: SessionState, key: string, record: StoreRecord, written: boolean, now: number): boolean {
    if (state.key !== key) {
      if (written) retire(state, key, record.expiresAt);
      return true;
    }
    if (written) {
      const created = state.version === 0;
      state.version = record.version;
      state.lastSeenAt = now;
      state.ip = state.requestIp ?? state.ip;
      state.userAgent = state.requestUserAgent ?? state.userAgent;
      this.#events.committed();
      if (created) this.#events.emit('created', state);
      return true;
    }
    this.#events.emit('conflict', state);
    return false;
  }

  /**
   * After a conflict, with `current` the record read again: true when the write should be tried
   * again (this request's changes now rebased on `current`), false when there is nothing to write.
   */
  #rebased(state: SessionState, key: string, current: StoreRecord | null, batch: Batch, changed: boolean): boolean {
    if (state.key !== key) return false;
    if (current === null && state.version === 0) return true;
    const base = freshState(state.tenant, null, 0);
    base.key = key;
    if (current === null || !this.#codec.apply(base, current)) {
      // Destroyed (or expired) by someone else meanwhile: writing would bring it back.
      this.#events.emit('lostToConcurrentDestroy', state);
      if (state.sink === null) throw new SessionNotFoundError();
      state.destroyed = true;
      state.changes = NO_CHANGES;
      return false;
    }
    rebase(state, base, batch);
    // Only a touch: whoever wrote in between extended the expiry too.
    return changed;
  }

  /**
   * Delete the keys the session no longer uses. A key whose delete failed stays retired for the
   * session's next commit, and is refused from now on (there may be no next commit: a destroy after
   * the response went out), deleted again when a request brings it back or at the next cleanup.
   */
  *#deleteSteps(state: SessionState): Generator<unknown, void, unknown> {
    const retired = state.retired;
    state.retired = NO_KEYS;
    for (let i = 0; i < retired.length; i++) {
      const key = retired[i]!.key;
      try {
        yield this.#driver.delete(key, { now: this.#options.now() });
      } catch (error) {
        // Still live in the store (an old ID that must stop working).
        const left = retired.slice(i);
        state.retired = [...left, ...state.retired];
        this.#undeleted.add(left, state.tenant);
        throw error;
      }
      this.#undeleted.done(key);
    }
  }
}

/** A write failed: hand its batch back, under the changes made since, so a later commit (or save) can still write it. */
function unbatch(state: SessionState, batch: Batch): void {
  if (!state.cleared) {
    const pending = state.changes;
    if (pending.size === 0) state.changes = batch.changes;
    else {
      const merged = new Map(batch.changes);
      // An update made since builds on the batch's change to the same key.
      for (const [k, v] of pending) merged.set(k, v instanceof Update && merged.has(k) ? v.after(merged.get(k)) : v);
      state.changes = merged;
    }
    state.cleared = batch.cleared;
  }
  state.metaChanged ||= batch.meta;
}

/** Put `base` (the stored session) under this request's changes: the batch being written, then any made since. */
function rebase(state: SessionState, base: SessionState, batch: Batch): void {
  const data = state.cleared || batch.cleared ? {} : base.data;
  const layers = state.cleared ? [state.changes] : [batch.changes, state.changes];
  for (const layer of layers) {
    for (const [k, change] of layer) applyChange(data, k, change);
  }
  state.data = data;
  state.version = base.version;
  state.createdAt = base.createdAt;
  state.lastSeenAt = base.lastSeenAt;
  if (!batch.meta && !state.metaChanged) {
    state.userId = base.userId;
    state.lifetime = base.lifetime;
    state.persistent = base.persistent;
    state.authenticatedAt = base.authenticatedAt;
  }
}
