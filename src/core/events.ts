/**
 * What tessera tells the app about sessions: events on the manager (an `EventEmitter`) and lines
 * for the logger, with a hashed reference instead of a session ID.
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from '../options.js';
import type { BindingMismatch } from './binding.js';

/**
 * Payload of an event. `ref` is a short hash of the session's store key: enough to correlate log
 * lines, useless as a token.
 *
 * @example
 * ```ts
 * tessera.on('expired', (e: SessionEvent) => log.info('session expired', { ref: e.ref }));
 * ```
 */
export interface SessionEvent {
  readonly ref: string;
  readonly reason?: string;
  /**
   * `bindingMismatch` only: what the binding did — `'strict'` destroyed the session (the request
   * got a fresh one), `'log'` kept it. Its `reason` says which binding: `'ip'` or `'userAgent'`.
   */
  readonly mode?: 'log' | 'strict';
}

/**
 * The events a `Tessera` emits (all with a {@link SessionEvent}, `commitError` with an error):
 * `created`, `expired`, `destroyed`, `regenerated`, `invalidCookie`, `bindingMismatch`, `conflict`,
 * `lostToConcurrentDestroy`, `csrfRejected` (its `reason`: `cross-site`, `cross-origin`,
 * `missing-token` or `invalid-token`), `invalidAuth` (an auth cookie refused: its `reason` is an
 * `AuthFailure`, such as `expired`, `signature` or `session`), `commitError`.
 *
 * @example
 * ```ts
 * const name: TesseraEventName = 'expired';
 * ```
 */
export type TesseraEventName =
  | 'created'
  | 'expired'
  | 'destroyed'
  | 'regenerated'
  | 'invalidCookie'
  | 'bindingMismatch'
  | 'conflict'
  | 'lostToConcurrentDestroy'
  | 'csrfRejected'
  | 'invalidAuth'
  | 'commitError'
  | 'revoked';

/**
 * @internal Who needs to know that a session ended (destroyed, signed out, expired) or moved to a
 * new key (a new ID): the live hub.
 *
 * @example
 * ```ts
 * events.sessions = { ended: (key, reason) => hub.ended(key, reason), moved: (from, to) => hub.moved(from, to) };
 * ```
 */
export interface SessionHooks {
  ended(key: string, reason: 'destroyed' | 'expired' | 'signed-out'): void;
  moved(from: string, to: string): void;
}

/**
 * @internal Emits session events on the manager and reports failures nobody awaited.
 *
 * @example
 * ```ts
 * const events = new Events(tessera, logger);
 * events.emit('expired', state.key!);
 * ```
 */
export class Events {
  readonly #emitter: EventEmitter;
  readonly #logger: Logger;
  /** Told when a session ends or moves to a new key (the live hub, which closes or moves its streams). */
  sessions: SessionHooks | null = null;

  constructor(emitter: EventEmitter, logger: Logger) {
    this.#emitter = emitter;
    this.#logger = logger;
  }

  /** Emit `event` for the session under store key `key` (only a prefix of it goes out). */
  emit(event: Exclude<TesseraEventName, 'commitError'>, key: string, reason?: string): void {
    if (this.sessions !== null && (event === 'destroyed' || event === 'expired')) this.sessions.ended(key, event);
    if (this.#emitter.listenerCount(event) === 0 && !this.#logger.debug) return;
    const payload: SessionEvent = reason === undefined ? { ref: key.slice(0, 12) } : { ref: key.slice(0, 12), reason };
    this.#logger.debug?.(`tessera: ${event}`, { ...payload });
    this.#emitter.emit(event, payload);
  }

  /**
   * A request broke a binding of the session under `key`: the `bindingMismatch` event (with the
   * binding as `reason`, and its `mode`), and with `log` a warning, which is that mode's purpose.
   */
  bindingMismatch(key: string, mismatch: BindingMismatch): void {
    const payload: SessionEvent = { ref: key.slice(0, 12), reason: mismatch.reason, mode: mismatch.mode };
    if (mismatch.mode === 'log') this.#logger.warn?.(`tessera: a session was used from another ${mismatch.reason === 'ip' ? 'network' : 'User-Agent'}`, { ...payload });
    else this.#logger.debug?.('tessera: bindingMismatch', { ...payload });
    this.#emitter.emit('bindingMismatch', payload);
  }

  /**
   * Report a failure that has no caller to reject (a commit that failed after the response was
   * sent): to `commitError` listeners if there are any, otherwise to the logger.
   */
  reportError(error: unknown): void {
    try {
      if (this.#emitter.listenerCount('commitError') > 0) this.#emitter.emit('commitError', error);
      else this.#logger.error?.('tessera: session commit failed', { error: String(error) });
    } catch (listenerError) {
      // A throwing listener must not take the process (or later commits) down with it.
      process.emitWarning(`tessera: a commitError listener or logger threw: ${String(listenerError)}`, 'TesseraWarning');
    }
  }
}
