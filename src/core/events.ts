/**
 * What tessera tells the app about sessions: audit events on the manager (an `EventEmitter`),
 * each under its own name and under `audit`, lines for the logger, and counts for the metrics —
 * with a hashed reference instead of a session ID.
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
import { StoreUnavailableError, TesseraError } from '../errors.js';
import type { Logger, LogLevel } from '../options.js';
import type { MetricsRecorder } from '../metrics/recorder.js';
import type { BindingMismatch } from './binding.js';
import type { RequestInput } from './request.js';

/**
 * The audit events a `Tessera` emits, each with an {@link AuditEvent} (`commitError` with an error
 * instead; see docs/observability.md for the table):
 *
 * - `created` — a session was first stored; `regenerated` — it moved to a new ID (`ref` is the old one's);
 * - `signedIn`, `signedOut` — `session.signIn` / `session.signOut` (`userId`: who);
 * - `destroyed` — ended by the app, an operation by ID or handle, or a binding (`reason: 'binding'`);
 * - `expired` — a request or an operation by ID met it past its idle or absolute expiry;
 * - `revoked` — ended by an operator (`tessera.admin`);
 * - `invalidCookie` — a session cookie refused: tampered (`reason` `signature`, `seal`), or naming
 *   a session that is over (`revoked`, `destroyed`, `signed-out-everywhere`, `unreadable record`);
 * - `csrfRejected` — an unsafe request refused (`reason`: `cross-site`, `cross-origin`,
 *   `missing-token` or `invalid-token`);
 * - `bindingMismatch` — a request from another network or User-Agent (`reason` `ip` or
 *   `userAgent`, `mode` `log` or `strict`);
 * - `invalidAuth` — an auth cookie refused (`reason`: an `AuthFailure`, such as `expired`, `signature`, `session`);
 * - `storeError` — the store failed while a request loaded (`reason: 'load'`) or committed
 *   (`reason: 'commit'`) its session (`error`: the error's code or name);
 * - `conflict`, `lostToConcurrentDestroy` — a commit met another writer's version, or a destroy;
 * - `commitError` — a commit that failed with nobody to tell (its argument is the error).
 *
 * @example
 * ```ts
 * const name: TesseraEventName = 'signedIn';
 * ```
 */
export type TesseraEventName =
  | 'created'
  | 'expired'
  | 'destroyed'
  | 'regenerated'
  | 'signedIn'
  | 'signedOut'
  | 'revoked'
  | 'invalidCookie'
  | 'bindingMismatch'
  | 'conflict'
  | 'lostToConcurrentDestroy'
  | 'csrfRejected'
  | 'invalidAuth'
  | 'storeError'
  | 'commitError';

/**
 * The type of an {@link AuditEvent}: every event name but `commitError`.
 *
 * @example
 * ```ts
 * const type: AuditEventType = 'csrfRejected';
 * ```
 */
export type AuditEventType = Exclude<TesseraEventName, 'commitError'>;

/**
 * One audit event: what happened, when, to which session (a reference, never its ID), whose, and
 * from where. Emitted under its `type` and under `audit`, and logged (see docs/observability.md).
 *
 * `ref` is the first 12 characters of the session's store key, itself a SHA-256 hash of the session
 * ID (and tenant): enough to correlate lines, useless as a cookie or to find the ID. `null` when
 * the event names no session (a cookie whose signature failed, a cross-origin request). `ip` and
 * `userAgent` are the request's that raised the event (`null` for an operation without a request);
 * `userId` and `tenant` the session's, when known.
 *
 * @example
 * ```ts
 * tessera.on('audit', (e: AuditEvent) => {
 *   if (e.type === 'csrfRejected') console.warn(`CSRF refused from ${e.ip}: ${e.reason}`);
 * });
 * ```
 */
export interface AuditEvent {
  readonly type: AuditEventType;
  /** When, in ms since the epoch (the manager's clock, `now`). */
  readonly at: number;
  readonly ref: string | null;
  readonly userId: string | null;
  readonly tenant: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  /** Why, for the types that say (see {@link TesseraEventName}). */
  readonly reason?: string;
  /** `bindingMismatch` only: `'strict'` destroyed the session (the request got a fresh one), `'log'` kept it. */
  readonly mode?: 'log' | 'strict';
  /** `storeError` only: the error's `code` (a `TesseraError`'s, such as `ERR_STORE_UNAVAILABLE`) or its name. */
  readonly error?: string;
}

/**
 * The payload of an event: an {@link AuditEvent} (the name of earlier versions).
 *
 * @example
 * ```ts
 * tessera.on('expired', (e: SessionEvent) => console.info('session expired', e.ref));
 * ```
 */
export type SessionEvent = AuditEvent;

/**
 * @internal Who an event is about: a session's state is one (its `requestIp` and
 * `requestUserAgent` are the current request's, `null` for a session opened by ID), and
 * {@link subjectOf} makes one where there is no state.
 */
export interface EventSubject {
  readonly key: string | null;
  readonly userId: string | null;
  readonly tenant: string | null;
  readonly requestIp: string | null;
  readonly requestUserAgent: string | null;
}

/**
 * @internal The subject of an event with no session state at hand: the store key `key` (or none),
 * the request `input` raised it (or none), and the user and tenant of the session, when known.
 *
 * @example
 * ```ts
 * events.emit('invalidCookie', subjectOf(null, ctx.input), 'signature');
 * ```
 */
export function subjectOf(key: string | null, input: RequestInput | null | undefined, found?: { readonly userId: string | null; readonly tenant: string | null } | null): EventSubject {
  return {
    key: key === '' ? null : key,
    userId: found?.userId ?? null,
    tenant: found?.tenant ?? input?.tenant ?? null,
    requestIp: input?.ip ?? null,
    requestUserAgent: input?.userAgent ?? null,
  };
}

/**
 * @internal `subject` under another store key (the one a session had before it was regenerated),
 * or another user (the one who signed out).
 *
 * @example
 * ```ts
 * events.emit('regenerated', under(state, previous));
 * ```
 */
export function under(subject: EventSubject, key: string | null, userId: string | null = subject.userId): EventSubject {
  return { key, userId, tenant: subject.tenant, requestIp: subject.requestIp, requestUserAgent: subject.requestUserAgent };
}

/** The logger level of each audit event type: what an app's logger gets, and how loud. */
const LEVELS: Readonly<Record<AuditEventType, LogLevel>> = {
  created: 'debug',
  regenerated: 'debug',
  expired: 'debug',
  conflict: 'debug',
  lostToConcurrentDestroy: 'debug',
  signedIn: 'info',
  signedOut: 'info',
  destroyed: 'info',
  revoked: 'info',
  invalidAuth: 'info',
  bindingMismatch: 'info',
  invalidCookie: 'warn',
  csrfRejected: 'warn',
  // Warn: the failure itself goes to `logger.error` (an unexpected error, a commit nobody awaited)
  // or, rate-limited, to `warn` (an outage answered with 503); this line adds whose and from where.
  storeError: 'warn',
};

/**
 * A refused session cookie's level: `warn` when it was tampered with (or its record was), `info`
 * when it names a session that ended — an old copy, which a browser may still send.
 */
const ENDED_SESSION_COOKIE = new Set(['revoked', 'destroyed', 'signed-out-everywhere']);

/** The level of an event of `type` for `reason`. */
function levelOf(type: AuditEventType, reason: string | undefined): LogLevel {
  return type === 'invalidCookie' && reason !== undefined && ENDED_SESSION_COOKIE.has(reason) ? 'info' : LEVELS[type];
}

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
 * @internal Emits audit events on the manager, logs them, counts them, and reports failures
 * nobody awaited. An event nobody listens to and the logger does not want costs no allocation.
 *
 * @example
 * ```ts
 * const events = new Events(tessera, logger, Date.now, null, true);
 * events.emit('expired', state);
 * ```
 */
export class Events {
  readonly #emitter: EventEmitter;
  readonly #logger: Logger;
  readonly #now: () => number;
  /** Audit lines go to the logger: it is the app's (tessera's default logger gets only warnings it always gave). */
  readonly #logsAudit: boolean;
  /** Where counts go; `null` with metrics off. */
  readonly metrics: MetricsRecorder | null;
  /** Told when a session ends or moves to a new key (the live hub, which closes or moves its streams). */
  sessions: SessionHooks | null = null;

  constructor(emitter: EventEmitter, logger: Logger, now: () => number = Date.now, metrics: MetricsRecorder | null = null, logsAudit = true) {
    this.#emitter = emitter;
    this.#logger = logger;
    this.#now = now;
    this.metrics = metrics;
    this.#logsAudit = logsAudit;
  }

  /** Whether an event of `type` (for `reason`) goes anywhere: a listener of it or of `audit`, or the logger at its level. */
  wants(type: AuditEventType, reason?: string): boolean {
    const emitter = this.#emitter;
    return emitter.listenerCount(type) > 0 || emitter.listenerCount('audit') > 0 || (this.#logsAudit && enabled(this.#logger, levelOf(type, reason)));
  }

  /**
   * Emit `type` about `subject` — a session's state, {@link subjectOf}, or a store key alone (an
   * operation with no request and no state at hand: its user and tenant are then unknown) — of
   * which only a prefix of the key goes out.
   */
  emit(type: AuditEventType, about: EventSubject | string, reason?: string): void {
    const subject = typeof about === 'string' ? subjectOf(about, null) : about;
    const key = subject.key;
    // (`revoked` follows the `destroyed` of the same session: the hub heard of it then.)
    if (key !== null && this.sessions !== null && (type === 'destroyed' || type === 'expired')) this.sessions.ended(key, type);
    this.metrics?.event(type, reason);
    if (!this.wants(type, reason)) return;
    this.#deliver(this.#event(type, subject, reason), levelOf(type, reason));
  }

  /**
   * A request broke a binding of the session `subject`: the `bindingMismatch` event (with the
   * binding as `reason`, and its `mode`), and with `log` a warning, which is that mode's purpose
   * (given to tessera's default logger too).
   */
  bindingMismatch(subject: EventSubject, mismatch: BindingMismatch): void {
    const event = { ...this.#event('bindingMismatch', subject, mismatch.reason), mode: mismatch.mode };
    if (mismatch.mode === 'log') {
      this.#logger.warn?.(event as unknown as Record<string, unknown>, `tessera: a session was used from another ${mismatch.reason === 'ip' ? 'network' : 'User-Agent'}`);
      this.#emit(event);
    } else this.#deliver(event, LEVELS.bindingMismatch);
  }

  /**
   * The store failed while a request loaded or committed the session `subject`: a `storeError`
   * event, when `error` is a store's failure (a `StoreUnavailableError`, or an error that is no
   * `TesseraError` — a driver's); tessera's own refusals (a conflict, a payload too large) are not.
   */
  storeError(subject: EventSubject, stage: 'load' | 'commit', error: unknown): void {
    if (error instanceof TesseraError && !(error instanceof StoreUnavailableError)) return;
    if (!this.wants('storeError')) return;
    const named = error as { code?: unknown; name?: unknown } | null;
    const code = typeof named?.code === 'string' ? named.code : typeof named?.name === 'string' ? named.name : 'Error';
    this.#deliver({ ...this.#event('storeError', subject, stage), error: code }, LEVELS.storeError);
  }

  /** A commit reached the store (or, with `CookieStore`, the cookie): counted. */
  committed(): void {
    this.metrics?.commit();
  }

  /**
   * Report a failure that has no caller to reject (a commit that failed after the response was
   * sent): to `commitError` listeners if there are any, otherwise to the logger.
   */
  reportError(error: unknown): void {
    try {
      if (this.#emitter.listenerCount('commitError') > 0) this.#emitter.emit('commitError', error);
      else this.#logger.error?.({ error: String(error) }, 'tessera: session commit failed');
    } catch (listenerError) {
      // A throwing listener must not take the process (or later commits) down with it.
      process.emitWarning(`tessera: a commitError listener or logger threw: ${String(listenerError)}`, 'TesseraWarning');
    }
  }

  #event(type: AuditEventType, subject: EventSubject, reason: string | undefined): AuditEvent {
    const key = subject.key;
    const event: AuditEvent = {
      type,
      at: this.#now(),
      ref: key === null || key === '' ? null : key.slice(0, 12),
      userId: subject.userId,
      tenant: subject.tenant,
      ip: subject.requestIp,
      userAgent: subject.requestUserAgent,
    };
    if (reason !== undefined) (event as { reason?: string }).reason = reason;
    return event;
  }

  /** To the logger at `level` (an app's logger only), then to the listeners. */
  #deliver(event: AuditEvent, level: LogLevel): void {
    if (this.#logsAudit && enabled(this.#logger, level)) this.#logger[level]!(event as unknown as Record<string, unknown>, `tessera: ${event.type}`);
    this.#emit(event);
  }

  #emit(event: AuditEvent): void {
    this.#emitter.emit(event.type, event);
    this.#emitter.emit('audit', event);
  }
}

/** Whether `logger` logs at `level`: it has the method, and (pino's `isLevelEnabled`) the level is on. */
function enabled(logger: Logger, level: LogLevel): boolean {
  return logger[level] !== undefined && (logger.isLevelEnabled === undefined || logger.isLevelEnabled(level));
}
