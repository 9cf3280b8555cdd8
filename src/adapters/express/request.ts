/**
 * One request's session, tying the parts together: the core session behind `req.session`, the
 * `req.session` object ({@link newSessionObject}) and its cookie view, the tracking of changes
 * inside object values, express-session's methods, and what the end of the response does
 * (`resave`, `unset`, a last check of object values).
 *
 * @module
 * @internal
 */
import { IncomingMessage, type ServerResponse } from 'node:http';
import { SessionStateError } from '../../errors.js';
import type { SessionContext } from '../../manager.js';
import type { Session } from '../../session.js';
import { SessionCookieImpl, type CookieHost, type SessionCookie, type SessionCookieData } from './cookie.js';
import { NestedChanges, type NestedOwner } from './nested.js';
import type { Settings } from './options.js';
import type { ProxiedRequest } from './proxy.js';
import type { RequestCookie } from './request-cookie.js';
import { holdEnd, type EndingSession } from '../response-end.js';
import { assertDataKey, newSessionObject, ReplacedView, replaceView, type ExpressSession, type LiveSession, type Target, type View } from './session-object.js';

/**
 * The request properties the middleware sets and reads besides node's.
 *
 * @example
 * ```ts
 * const req = incoming as ExpressRequest;
 * if (req.session) return next(); // another session middleware ran first
 * ```
 */
export interface ExpressRequest extends ProxiedRequest {
  session?: unknown;
  sessionID?: string;
  sessionStore?: unknown;
  originalUrl?: string;
}

// A property on the request, not a WeakMap: the session points back at the request, and such
// WeakMap entries are ephemerons that cost the garbage collector dearly.
const REQUEST_SESSION = Symbol('tessera.express.session');
type WithSession = ExpressRequest & { [REQUEST_SESSION]?: RequestSession };

/**
 * The {@link RequestSession} the middleware gave `req`, if any.
 *
 * @example
 * ```ts
 * const core = requestSessionOf(req)?.core;
 * ```
 */
export function requestSessionOf(req: ExpressRequest): RequestSession | undefined {
  return (req as WithSession)[REQUEST_SESSION];
}

/** Request prototypes given a `sessionID` accessor (Express's per-app `app.request`). */
const WITH_SESSION_ID = new WeakSet<object>();

/**
 * `req.sessionID`: the ID of the request's tessera session (`undefined` without one). Assigning it
 * sets an own value, as in express-session; assigning one that is not a string (`undefined`,
 * `null`) also makes express-session neither save the session nor send its cookie for this
 * request: the session's changes since the last commit are dropped, and its cookie withdrawn.
 */
const SESSION_ID: PropertyDescriptor = {
  configurable: true,
  enumerable: true,
  get(this: ExpressRequest): string | undefined {
    return requestSessionOf(this)?.id;
  },
  set(this: ExpressRequest, value: unknown) {
    if (typeof value !== 'string') requestSessionOf(this)?.core.ignore();
    Object.defineProperty(this, 'sessionID', { value, writable: true, enumerable: true, configurable: true });
  },
};

/**
 * Give `req` its `sessionID`, read from its session so it follows `regenerate()`. An accessor on
 * the request's prototype — Express's per-app `app.request`, given it once — rather than on each
 * request: an accessor defined on an object turns it into a slow dictionary of properties, and
 * Express reads many properties of `req` after this. A request whose prototype is node's own
 * (the middleware used without Express) gets it on itself.
 */
function exposeSessionId(req: ExpressRequest): void {
  const proto = Object.getPrototypeOf(req) as object | null;
  if (proto === null || proto === IncomingMessage.prototype || proto === Object.prototype) {
    Object.defineProperty(req, 'sessionID', SESSION_ID);
    Object.defineProperty(req, 'csrfToken', CSRF_TOKEN);
    return;
  }
  if (WITH_SESSION_ID.has(proto)) return;
  WITH_SESSION_ID.add(proto);
  if (!Object.hasOwn(proto, 'sessionID')) Object.defineProperty(proto, 'sessionID', SESSION_ID);
  if (!Object.hasOwn(proto, 'csrfToken')) Object.defineProperty(proto, 'csrfToken', CSRF_TOKEN);
}

/** `req.csrfToken()`, as csurf gave it: a fresh CSRF token of the request's session. */
const CSRF_TOKEN: PropertyDescriptor = {
  configurable: true,
  writable: true,
  value: function csrfToken(this: ExpressRequest): string {
    const handle = requestSessionOf(this);
    if (handle === undefined) throw new TypeError('req.csrfToken(): this request has no session (is session() mounted before this route?)');
    return handle.core.csrfToken();
  },
};

/**
 * One request's session: the core session behind `req.session`, its cookie, and change tracking.
 * It is the live {@link View} the `req.session` proxy reads and writes through.
 *
 * @example
 * ```ts
 * new RequestSession(settings, req, res, ctx, await ctx.load(), isSecure).attach();
 * req.session.views = 1;
 * ```
 */
export class RequestSession implements View, LiveSession, CookieHost, NestedOwner, EndingSession {
  readonly live = this;
  readonly cookie: SessionCookie;
  readonly core: Session;
  /** `req.session`, and the proxy target behind it. */
  object: ExpressSession;
  #target: Target;
  readonly #s: Settings;
  readonly #req: WithSession;
  readonly #res: ServerResponse;
  readonly #nested = new NestedChanges(this);
  readonly #isSecure: () => boolean;
  readonly #ctx: SessionContext;
  /** The app changed the session during this request (so `resave` has nothing to add). */
  #modified = false;
  /** The end of the response is listened for. */
  #listening = false;
  /** The end-of-response work was done. */
  #finished = false;
  /** The session was new when the request began (so unsetting it leaves nothing behind). */
  readonly #wasNew: boolean;

  /** `isSecure`: whether the request came over HTTPS (asked only when needed). */
  /** This request's cookie attributes, when `cookie` is a function of the request. */
  readonly requestCookie: RequestCookie | null;

  constructor(settings: Settings, req: ExpressRequest, res: ServerResponse, ctx: SessionContext, core: Session, isSecure: () => boolean, requestCookie: RequestCookie | null = null) {
    this.requestCookie = requestCookie;
    this.#s = settings;
    this.#req = req;
    this.#res = res;
    this.#ctx = ctx;
    this.#wasNew = core.isNew;
    this.core = core;
    this.#isSecure = isSecure;
    this.cookie = new SessionCookieImpl(this, settings);
    ({ object: this.object, target: this.#target } = newSessionObject(this));
  }

  /** Give the session to the request: `req.session`, `req.sessionID`, and the work at the end of the response. */
  attach(): void {
    const req = this.#req;
    req[REQUEST_SESSION] = this;
    req.session = this.object;
    exposeSessionId(req);
    // The end of the response waits for the commit on a store that answers asynchronously
    // (read-your-writes); otherwise it has work only for `resave`, `unset: 'destroy'`, or an object
    // value read or assigned (a change inside it is saved then): listen for it only then.
    if (this.#s.resave || this.#s.unsetDestroy || !this.#s.tessera.loadsSynchronously) this.#atEnd();
  }

  /** Do the end-of-response work when the response ends, or closes without ending (installed once). */
  #atEnd(): void {
    if (this.#listening) return;
    this.#listening = true;
    holdEnd(this.#res, this);
    // A response closed without ending gets the end's work here; after the end, a value changed
    // in place since is still saved (or, for a session sealed in the cookie, reported as too late).
    this.#res.once('close', () => (this.#finished ? this.#nested.checkReporting() : this.#finish()));
  }

  /** The response is ending: its last changes go with the commit it may wait for. */
  beforeEnd(): void {
    this.#finish();
  }

  /** The commit the end of the response waits for, if one is pending. */
  pending(): Promise<void> | undefined {
    const ctx = this.#ctx;
    return ctx.settled ? undefined : ctx.settle();
  }

  /**
   * The synchronous code that ran the route is over: check the object values it read now, so
   * their changes go with the commit about to start instead of a second one.
   */
  afterSynchronousCode(): void {
    this.#nested.checkPending();
    this.#dropIfUnsetNew();
  }

  /**
   * A session new in this request that the app unset (`req.session = null`) is not kept and sends
   * no cookie, as in express-session: what this request stored of it is deleted.
   */
  #dropIfUnsetNew(): void {
    const { core } = this;
    if (!this.#wasNew || this.#req.session === this.object || core.isDestroyed) return;
    core.destroy();
    const res = this.#res;
    if (res.headersSent) return;
    const prefix = `${this.#s.tessera.cookieName}=`;
    const lines = res.getHeader('set-cookie');
    if (!Array.isArray(lines)) return;
    const kept = lines.filter((line) => !line.startsWith(prefix));
    if (kept.length === 0) res.removeHeader('set-cookie');
    else res.setHeader('set-cookie', kept);
  }

  // -------------------------------------------------- data (the proxy's traps)

  get id(): string {
    return this.core.id;
  }

  has(key: string): boolean {
    return this.core.has(key);
  }

  keys(): string[] {
    return this.core.keys();
  }

  read(key: string): unknown {
    const value = this.core.get(key);
    if (typeof value === 'object' && value !== null) {
      this.#nested.read(key, value);
      this.#atEnd();
    }
    return value;
  }

  write(key: string | symbol, value: unknown): void {
    if (key === 'cookie') return this.#adoptCookie(value);
    const name = assertDataKey(key);
    if (this.core.has(name) && this.core.get(name) === value) {
      // The value it holds (`req.session.list = req.session.list || []`): nothing to write, as in
      // express-session — but a change made inside it is saved, as assigning it again promises.
      if (typeof value === 'object' && value !== null) this.#nested.check([name]);
      return;
    }
    // A cycle or BigInt fails here, before anything changed.
    const json = typeof value === 'object' && value !== null ? JSON.stringify(value) : undefined;
    // An object value may be changed in place right after (`req.session.list = req.session.list || [];
    // req.session.list.push(x)`, as passport and connect-flash do): hold the commit until the
    // synchronous code is over and that change is seen, so both make one write.
    if (json !== undefined) this.#holdForSynchronousCode();
    this.core.set(name, value);
    this.#modified = true;
    this.#nested.assigned(name, json);
    if (json !== undefined) this.#atEnd();
  }

  /** Hold the commit until the current synchronous code is over (unless the middleware already holds it until then). */
  #holdForSynchronousCode(): void {
    const ctx = this.#ctx;
    if (ctx.held) return;
    ctx.hold();
    queueMicrotask(() => {
      this.#nested.checkPending();
      this.#dropIfUnsetNew();
      ctx.release();
    });
  }

  remove(key: string | symbol): void {
    const name = assertDataKey(key);
    if (this.core.delete(name)) this.#modified = true;
    this.#nested.removed(name);
  }

  /** A value was changed in place (found by the nested-change tracking): save it. */
  changedInPlace(key: string, value: unknown): void {
    this.#modified = true;
    if (this.#s.cookieStore && this.#res.headersSent) {
      throw new SessionStateError(
        `req.session.${key} was changed in place after the response head was sent, too late for a session sealed in the cookie: ` +
          'assign it again, or await req.session.save(), before responding',
      );
    }
    this.core.set(key, value);
  }

  /** `req.session.cookie = other.cookie` (passport's `keepSessionInfo` copies it): take its lifetime. */
  #adoptCookie(value: unknown): void {
    const original = (value as Partial<SessionCookieData> | null)?.originalMaxAge;
    if (original === undefined) throw new TypeError('req.session.cookie can only be given another session cookie; set its maxAge or expires instead');
    if (original !== this.cookie.originalMaxAge) this.setLifetime(original);
  }

  // -------------------------------------------------- methods

  async regenerate(): Promise<void> {
    const { core } = this;
    const replaced = this.object;
    const old = new ReplacedView(this.id, this.cookie.toJSON(), core.toJSON());
    core.regenerate({ keepData: false });
    replaceView(this.#target, old);
    ({ object: this.object, target: this.#target } = newSessionObject(this));
    if (this.#req.session === replaced) this.#req.session = this.object;
    this.#nested.reset();
    this.#modified = true;
    await core.save();
  }

  async destroy(): Promise<void> {
    if (this.#req.session === this.object) delete this.#req.session;
    this.core.destroy();
    await this.core.save();
  }

  async reload(): Promise<void> {
    this.#nested.check();
    await this.core.reload();
    this.#nested.forget();
  }

  async save(): Promise<void> {
    this.#nested.check();
    await this.core.save();
  }

  async touch(): Promise<void> {
    this.core.refresh();
    this.#modified = true;
    await this.core.save();
  }

  // -------------------------------------------------- cookie

  setLifetime(ms: number | null): void {
    if (ms !== null && (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0)) {
      throw new TypeError('req.session.cookie.maxAge must be a positive number of milliseconds, or null');
    }
    // Already a browser-session cookie with the default lifetime: nothing to change or store.
    if (ms === null && this.core.meta.lifetime === null && this.cookie.expires === null) return;
    this.core.setLifetime(ms, ms === null ? { persistentCookie: false } : {});
    this.#modified = true;
  }

  endCookie(): void {
    // The session stays on the request (as express-session's does) but is no longer stored, and
    // its cookie is cleared: the next request starts a new one.
    this.core.destroy();
    this.#modified = true;
  }

  isSecure(): boolean {
    return this.#isSecure();
  }

  // -------------------------------------------------- end of the response

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    const { core } = this;
    if (core.isDestroyed) return;
    try {
      if (this.#req.session !== this.object) {
        if (this.#wasNew) this.#dropIfUnsetNew();
        else if (this.#s.unsetDestroy) core.destroy();
      } else {
        this.#nested.check();
        if (this.#s.resave && !this.#modified && !core.isNew && !this.#s.cookieStore) core.refresh();
      }
    } catch (error) {
      this.report(error);
    }
  }

  /** A failure the app can no longer receive: reported like a failed commit. */
  report(error: unknown): void {
    this.#s.tessera.reportError(error);
  }
}
