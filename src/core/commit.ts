/**
 * What a commit does, decided once over the session's status — as Plug.Session's `before_send`
 * is one `case` — and done by the backend: write the changes, renew (a new ID: write the new
 * record, retire the old), drop (destroyed), or ignore (nothing to write, or `session.ignore()`).
 *
 * @module
 * @internal
 */
import type { Backend } from './backend.js';
import type { Events } from './events.js';
import type { CommitRunner, Step } from './queue.js';
import type { SessionState } from './state.js';

/** What one commit does. */
export type CommitAction = 'write' | 'renew' | 'drop' | 'ignore';

/**
 * The action a commit of `state` takes now.
 *
 * @example
 * ```ts
 * decide(state); // 'write' after session.set(...), 'drop' after session.destroy()
 * ```
 */
export function decide(state: SessionState): CommitAction {
  if (state.ignored) return 'ignore';
  if (state.destroyed) return 'drop';
  if (state.retired.length > 0) return 'renew';
  return 'write';
}

/**
 * Runs commits for the sessions' queues.
 *
 * @example
 * ```ts
 * const committer = new Committer(backend, events);
 * const queue = new CommitQueue(state, committer);
 * ```
 */
export class Committer implements CommitRunner {
  readonly #backend: Backend;
  readonly #events: Events;

  constructor(backend: Backend, events: Events) {
    this.#backend = backend;
    this.#events = events;
  }

  commit(state: SessionState): Step<void> {
    let step: Step<void>;
    try {
      step = this.#commit(state);
    } catch (error) {
      this.#events.storeError(state, 'commit', error);
      throw error;
    }
    // Watched only when a `storeError` goes somewhere: otherwise the promise is passed on as it is.
    if (step === undefined || !this.#events.wants('storeError')) return step;
    return step.then(undefined, (error: unknown) => {
      this.#events.storeError(state, 'commit', error);
      throw error;
    });
  }

  #commit(state: SessionState): Step<void> {
    const backend = this.#backend;
    switch (decide(state)) {
      case 'ignore':
        return undefined;
      case 'drop':
        return backend.drop(state);
      case 'renew':
      case 'write': {
        // Whatever the write retired too (a regenerate while it waited on the store) goes after it.
        const written = backend.write(state);
        return written === undefined ? backend.retire(state) : written.then(() => backend.retire(state));
      }
    }
  }

  reportError(error: unknown): void {
    this.#events.reportError(error);
  }
}
