/**
 * The `req.session` object: a `Proxy` whose properties are the session's data and whose
 * prototype holds express-session's methods (`regenerate`, `destroy`, `reload`, `save`, `touch`,
 * `resetMaxAge`), each taking a callback or returning a promise. The proxy reads and writes
 * through a {@link View}: the live session of the request, or the data of a session
 * `regenerate()` replaced.
 *
 * @module
 * @internal
 */
import { inspect } from 'node:util';
import { SessionStateError } from '../../errors.js';
import type { SessionCookie, SessionCookieData } from './cookie.js';

/**
 * What a callback of a session method receives: an error, or nothing on success.
 *
 * @example
 * ```ts
 * req.session.save((err) => (err ? next(err) : res.redirect('/')));
 * ```
 */
// `any`, as in express-session's types, so callbacks written for it (`err.message`) still compile.
export type SessionCallback = (err?: any) => void;

/**
 * `req.session`: your data as properties (`req.session.views = 1`, `delete req.session.cart`,
 * changes inside nested objects included), and express-session's methods. Each method takes a
 * callback like express-session's, or returns a promise when called without one.
 *
 * @example
 * ```ts
 * app.post('/login', async (req, res, next) => {
 *   try {
 *     await req.session.regenerate();            // new ID, empty session: no fixation
 *     req.session.userId = user.id;
 *     await req.session.save();                  // stored before the redirect
 *     res.redirect('/');
 *   } catch (err) { next(err); }
 * });
 * ```
 */
export interface ExpressSession {
  /** The session ID, same as `req.sessionID` (a secret: never log or expose it). */
  readonly id: string;
  /** The session cookie; see {@link SessionCookie}. */
  cookie: SessionCookie;
  /**
   * Replace this session with a new, empty one under a new ID (call it on sign-in, against
   * session fixation); the old one is deleted from the store and its cookie stops working.
   * `req.session` is a new object afterwards, like express-session's.
   */
  regenerate(callback: SessionCallback): this;
  regenerate(): Promise<void>;
  /** Delete the session from the store and clear its cookie. `req.session` is `undefined` afterwards. */
  destroy(callback: SessionCallback): this;
  destroy(): Promise<void>;
  /** Re-read the session from the store (changes made so far are saved first: tessera never drops them). */
  reload(callback: SessionCallback): this;
  reload(): Promise<void>;
  /** Save now and call back (or resolve) once the store has it. Errors are store failures. */
  save(callback: SessionCallback): this;
  save(): Promise<void>;
  /** Extend the session's expiry now (and re-send a persistent cookie). */
  touch(callback: SessionCallback): this;
  touch(): Promise<void>;
  /** Same as `touch()`. */
  resetMaxAge(callback: SessionCallback): this;
  resetMaxAge(): Promise<void>;
}

/** Names `req.session` keeps for itself: express-session's methods and properties. */
const RESERVED = new Set(['id', 'cookie', 'regenerate', 'destroy', 'reload', 'save', 'touch', 'resetMaxAge', '__proto__']);
const VIEW = Symbol('tessera.express.view');
const noop = (): void => {};

/**
 * The session a `req.session` object stands for while it is the request's: what its methods do.
 *
 * @example
 * ```ts
 * await view.live?.save();
 * ```
 */
export interface LiveSession {
  readonly cookie: SessionCookie;
  regenerate(): Promise<void>;
  destroy(): Promise<void>;
  reload(): Promise<void>;
  save(): Promise<void>;
  touch(): Promise<void>;
}

/**
 * What the proxy's traps read and write: the live session, or the data of one `regenerate` replaced.
 *
 * @example
 * ```ts
 * const view: View = new ReplacedView(id, cookie.toJSON(), session.toJSON());
 * ```
 */
export interface View {
  /** The live session, or `null` once `regenerate()` replaced this object. */
  readonly live: LiveSession | null;
  readonly id: string;
  readonly cookie: SessionCookie | SessionCookieData;
  has(key: string): boolean;
  keys(): string[];
  read(key: string): unknown;
  write(key: string | symbol, value: unknown): void;
  remove(key: string | symbol): void;
}

/**
 * The target behind a `req.session` proxy: where the view it shows is kept, so that
 * `regenerate()` can point the replaced object at the old data.
 *
 * @example
 * ```ts
 * const { object, target } = newSessionObject(requestSession);
 * replaceView(target, new ReplacedView(id, cookie, data)); // after regenerate()
 * ```
 */
export interface Target {
  [VIEW]: View;
}

function viewOf(session: object): View {
  const view = (session as Partial<Target>)[VIEW];
  if (view === undefined) throw new TypeError('not a tessera session');
  return view;
}

/** The data keys `req.session` shows as properties: every one but a reserved name (`cookie`, `id`, a method's). */
function dataKeys(view: View): string[] {
  const keys = view.keys();
  return keys.some((key) => RESERVED.has(key)) ? keys.filter((key) => !RESERVED.has(key)) : keys;
}

function liveOf(session: object): LiveSession {
  const live = viewOf(session).live;
  if (live === null) throw new SessionStateError('this session object was replaced by regenerate(); use req.session');
  return live;
}

/** Run `work`; hand its outcome to `callback` (then return the session) or return it as a promise. */
function complete<T extends object>(session: T, callback: SessionCallback | undefined, work: () => Promise<void>): T | Promise<void> {
  let promise: Promise<void>;
  try {
    promise = work();
  } catch (error) {
    promise = Promise.reject(error);
  }
  if (typeof callback === 'function') {
    // Outside the promise chain, so an exception in the callback is not swallowed.
    promise.then(
      () => process.nextTick(callback),
      (error: unknown) => process.nextTick(callback, error),
    );
    return session;
  }
  // Like express-session without a callback, an unobserved failure does not crash the process;
  // store failures are still reported through the `commitError` event or the logger.
  promise.catch(noop);
  return promise;
}

/**
 * The class of `req.session` (its prototype holds express-session's methods): `session.Session`,
 * for `req.session instanceof session.Session`. Sessions are made by the middleware only.
 *
 * @example
 * ```ts
 * if (req.session instanceof session.Session) await req.session.save();
 * ```
 */
export class SessionObject {
  get id(): string {
    return viewOf(this).id;
  }

  get cookie(): SessionCookie | SessionCookieData {
    return viewOf(this).cookie;
  }

  regenerate(callback?: SessionCallback): this | Promise<void> {
    return complete(this, callback, () => liveOf(this).regenerate());
  }

  destroy(callback?: SessionCallback): this | Promise<void> {
    return complete(this, callback, () => liveOf(this).destroy());
  }

  reload(callback?: SessionCallback): this | Promise<void> {
    return complete(this, callback, () => liveOf(this).reload());
  }

  save(callback?: SessionCallback): this | Promise<void> {
    return complete(this, callback, () => liveOf(this).save());
  }

  touch(callback?: SessionCallback): this | Promise<void> {
    return complete(this, callback, () => liveOf(this).touch());
  }

  resetMaxAge(callback?: SessionCallback): this | Promise<void> {
    return this.touch(callback);
  }

  /** `console.log(req.session)` shows the data (Node inspects a proxy's target, not its traps). */
  [inspect.custom](depth: number, options: object): string {
    const view = viewOf(this);
    const shown: Record<string, unknown> = { cookie: view.live?.cookie.toJSON() ?? view.cookie };
    for (const key of dataKeys(view)) shown[key] = view.read(key);
    return `Session ${inspect(shown, { ...options, depth })}`;
  }
}

const traps: ProxyHandler<Target> = {
  get(target, key, receiver) {
    if (typeof key === 'string' && !RESERVED.has(key)) {
      const view = target[VIEW];
      if (view.has(key)) return view.read(key);
    }
    return Reflect.get(target, key, receiver);
  },
  set(target, key, value) {
    target[VIEW].write(key, value);
    return true;
  },
  deleteProperty(target, key) {
    target[VIEW].remove(key);
    return true;
  },
  has(target, key) {
    return (typeof key === 'string' && !RESERVED.has(key) && target[VIEW].has(key)) || Reflect.has(target, key);
  },
  ownKeys(target) {
    // A data key with a reserved name (set through tesseraSession() or by ID) is not a property of
    // req.session: listing it would repeat `cookie`, which a proxy must not (every listing throws).
    return ['cookie', ...dataKeys(target[VIEW])];
  },
  getOwnPropertyDescriptor(target, key) {
    const view = target[VIEW];
    if (key === 'cookie') return { value: view.cookie, writable: true, enumerable: true, configurable: true };
    if (typeof key === 'string' && !RESERVED.has(key) && view.has(key)) {
      return { value: view.read(key), writable: true, enumerable: true, configurable: true };
    }
    return undefined;
  },
  defineProperty(target, key, descriptor) {
    if (descriptor.get || descriptor.set || !('value' in descriptor)) throw new TypeError('session properties hold plain values');
    target[VIEW].write(key, descriptor.value);
    return true;
  },
  setPrototypeOf: () => false,
  preventExtensions: () => false,
};

/**
 * A `req.session` object over `view`, and its target (where `regenerate` swaps the view, see
 * {@link replaceView}).
 *
 * @example
 * ```ts
 * const { object, target } = newSessionObject(requestSession);
 * req.session = object;
 * ```
 */
export function newSessionObject(view: View): { object: ExpressSession; target: Target } {
  const target = Object.create(SessionObject.prototype) as Target;
  Object.defineProperty(target, VIEW, { value: view, writable: true, configurable: true });
  return { object: new Proxy(target, traps) as unknown as ExpressSession, target };
}

/**
 * Make the `req.session` object of `target` show `view` from now on: `regenerate()` leaves the
 * object it replaced showing the old data ({@link ReplacedView}).
 *
 * @example
 * ```ts
 * replaceView(target, new ReplacedView(id, cookie.toJSON(), session.toJSON()));
 * ```
 */
export function replaceView(target: Target, view: View): void {
  target[VIEW] = view;
}

/**
 * A session object `regenerate()` replaced: it keeps showing the old data, read-only (what
 * passport's `keepSessionInfo` copies).
 *
 * @example
 * ```ts
 * const old = new ReplacedView(session.id, cookie.toJSON(), session.toJSON());
 * ```
 */
export class ReplacedView implements View {
  readonly live = null;
  readonly #data: Record<string, unknown>;
  constructor(
    readonly id: string,
    readonly cookie: SessionCookieData,
    data: Record<string, unknown>,
  ) {
    this.#data = data;
  }
  has(key: string): boolean {
    return Object.hasOwn(this.#data, key);
  }
  keys(): string[] {
    return Object.keys(this.#data);
  }
  read(key: string): unknown {
    return this.#data[key];
  }
  write(): void {
    throw new SessionStateError('this session object was replaced by regenerate(); write to req.session');
  }
  remove(): void {
    this.write();
  }
}

/**
 * `key` as a data key of `req.session`: a string that is not a reserved name.
 *
 * @throws `TypeError` for a symbol or a reserved name (`id`, `cookie`, a method's).
 * @example
 * ```ts
 * session.set(assertDataKey(key), value);
 * ```
 */
export function assertDataKey(key: string | symbol): string {
  if (typeof key !== 'string') throw new TypeError('session keys must be strings');
  if (RESERVED.has(key)) throw new TypeError(`req.session.${key} is reserved by the session and cannot be set or deleted`);
  return key;
}
