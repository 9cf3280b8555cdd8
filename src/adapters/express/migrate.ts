/**
 * `migrateFrom`: moving off express-session without signing anyone out. For a limited time the
 * middleware also accepts an express-session cookie (`s:` + ID + signature under the old secret),
 * reads that session once from the old store (connect-redis, connect-pg-simple, any
 * express-session store), and adopts it: its data goes into the request's new tessera session
 * (a new ID, tessera's cookie), the old record is deleted and the old cookie cleared.
 *
 * Once per old session, across processes: before it adopts a session, the middleware claims it
 * with a compare-and-set insert of a small record in the tessera store (its key a hash of the old
 * ID, expiring at `until` at the latest). A second request with the same old cookie — concurrent
 * or later, in any process — loses the claim and gets a fresh session, even when the old record
 * could not be deleted. One that loses it within seconds (a request of the same page load) gets a
 * fresh session that writes nothing and sets no cookie, so that its response cannot replace the
 * adopted session's cookie in the browser.
 *
 * @module
 * @internal
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { readCookie, SESSION_COOKIE_VALUES_MAX } from '../../cookie.js';
import { storeKey } from '../../crypto/ids.js';
import { ConfigError, StoreUnavailableError } from '../../errors.js';
import type { Tessera } from '../../manager.js';
import type { Session } from '../../session.js';
import type { SessionStore } from '../../stores/store.js';
import { responseCookieSink } from '../node.js';

/**
 * An express-session store, as {@link MigrateFromOptions.store} uses it: `get` and `destroy` with
 * express-session's callbacks (connect-redis, connect-pg-simple, connect-mongo, express-session's
 * `MemoryStore`, ...). Nothing else of it is called.
 *
 * @example
 * ```ts
 * import { RedisStore } from 'connect-redis';
 * const old: ExpressSessionStore = new RedisStore({ client: redisClient });
 * ```
 */
export interface ExpressSessionStore {
  // `any`, as in express-session's types, so every store's own callback types fit.
  get(sid: string, callback: (err: any, session?: any) => void): unknown;
  destroy(sid: string, callback?: (err?: any) => void): unknown;
}

/**
 * The `migrateFrom` option of `session()`: where the sessions of express-session are, and until
 * when their cookies are accepted. See docs/express.md, "Moving off express-session without
 * signing anyone out".
 *
 * @example
 * ```ts
 * session({
 *   secret: process.env.SESSION_SECRET!,
 *   resave: false,
 *   saveUninitialized: false,
 *   migrateFrom: {
 *     store: new RedisStore({ client: redisClient }),    // connect-redis, as the old app had it
 *     secret: process.env.OLD_SESSION_SECRET!,           // express-session's secret (or array)
 *     until: new Date('2027-03-01T00:00:00Z'),
 *   },
 * });
 * ```
 */
export interface MigrateFromOptions {
  /** The express-session store the old app used (its `get` and `destroy` are called). */
  store: ExpressSessionStore;
  /** express-session's `secret`: one, or an array whose every entry verifies, like express-session. */
  secret: string | Buffer | readonly (string | Buffer)[];
  /** express-session's cookie name. Default `connect.sid`, express-session's default. */
  name?: string;
  /** express-session's `cookie.path`, where the old cookie is cleared. Default `/`. */
  path?: string;
  /** express-session's `cookie.domain`, where the old cookie is cleared. Default: none (host-only). */
  domain?: string;
  /** Old cookies are accepted until then, and ignored (and cleared) after; a time already past at start-up is warned about. */
  until: Date;
  /**
   * The tessera `userId` of an adopted session (to list or sign out a user's sessions), from the
   * old session's data. Default: passport's `passport.user` when it is a string or a number.
   */
  userId?: (session: Readonly<Record<string, unknown>>) => string | null | undefined;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const ATTRIBUTE = /^[\u0021-\u003A\u003C-\u007E]+$/;
/** A signed express-session cookie is `s:` + ID + `.` + 43 characters; anything this long is not one. */
const MAX_COOKIE = 1024;
const noop = (): void => {};
/** A request losing the claim this soon after it was taken ran beside the one that adopted the session. */
const SIBLING_WINDOW = 30_000;

/**
 * One middleware's migration from express-session, validated at start-up ({@link Migration.from}).
 *
 * @example
 * ```ts
 * const migration = Migration.from(options.migrateFrom, tessera);
 * const adopting = migration?.adopt(req.headers.cookie, res, core) ?? null; // null: nothing to wait for
 * ```
 */
export class Migration {
  readonly #tessera: Tessera;
  readonly #old: ExpressSessionStore;
  /** tessera's store, where claims are kept. */
  readonly #claims: SessionStore;
  readonly #secrets: readonly (string | Buffer)[];
  readonly #name: string;
  readonly #clearLine: string;
  /** The old cookie has tessera's name, path and domain: tessera's own cookie replaces it, never cleared. */
  readonly #shared: boolean;
  readonly #until: number;
  readonly #userId: (session: Readonly<Record<string, unknown>>) => string | null | undefined;

  private constructor(tessera: Tessera, options: MigrateFromOptions, secrets: readonly (string | Buffer)[]) {
    this.#tessera = tessera;
    this.#old = options.store;
    this.#claims = tessera.store as SessionStore; // not a CookieStore: from() refuses one
    this.#secrets = secrets;
    this.#name = options.name ?? 'connect.sid';
    const path = options.path ?? '/';
    const { cookie } = tessera.options;
    this.#shared = this.#name === tessera.cookieName && path === cookie.path && options.domain === cookie.domain;
    const secure = /^__(host|secure)-/i.test(this.#name) ? '; Secure' : '';
    this.#clearLine = `${this.#name}=; Path=${path}${options.domain ? `; Domain=${options.domain}` : ''}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT${secure}`;
    this.#until = options.until.getTime();
    this.#userId = options.userId ?? passportUser;
  }

  /**
   * The migration `migrateFrom` asks for, or `null` without one.
   *
   * @throws {@link ConfigError} on a malformed `migrateFrom` or a
   * `CookieStore` (nowhere to record that a session was adopted).
   */
  static from(options: MigrateFromOptions | undefined, tessera: Tessera): Migration | null {
    if (options === undefined) return null;
    const fail = (message: string): never => {
      throw new ConfigError(`migrateFrom: ${message}`);
    };
    if (options === null || typeof options !== 'object') fail('must be an object ({ store, secret, until })');
    const { store, secret, name, path, domain, until, userId } = options;
    const s = store as Partial<ExpressSessionStore> | null | undefined;
    if (s === null || typeof s !== 'object' || typeof s.get !== 'function' || typeof s.destroy !== 'function') {
      fail('store must be an express-session store (with get and destroy), such as connect-redis or connect-pg-simple');
    }
    const secrets = (Array.isArray(secret) ? [...secret] : [secret]) as unknown[];
    if (secrets.length === 0 || !secrets.every((x) => (typeof x === 'string' || Buffer.isBuffer(x)) && x.length > 0)) {
      fail("secret must be express-session's secret: a non-empty string, or an array of them");
    }
    if (name !== undefined && (typeof name !== 'string' || !TOKEN.test(name))) fail('name must be a cookie name');
    if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/') || !ATTRIBUTE.test(path))) fail('path must start with "/"');
    if (domain !== undefined && (typeof domain !== 'string' || !ATTRIBUTE.test(domain))) fail('domain must be a domain name');
    if (!(until instanceof Date) || !Number.isFinite(until.getTime())) fail('until must be a Date: old cookies are accepted for a limited time');
    if (until.getTime() <= tessera.options.now()) {
      // Not refused: an app restarted after the window must still start. Old cookies are then only cleared.
      tessera.options.logger.warn?.({}, 'tessera/express: migrateFrom.until has passed: old express-session cookies are ignored (and cleared); remove migrateFrom');
    }
    if (userId !== undefined && typeof userId !== 'function') fail('userId must be a function of the old session');
    if (tessera.sealsIntoCookie) fail('needs a server-side tessera store: with CookieStore there is nowhere to record that a session was adopted');
    return new Migration(tessera, options, secrets as (string | Buffer)[]);
  }

  /**
   * Adopt the express-session session of the request's old cookie into `core`, the request's
   * freshly loaded session: `null` when there is nothing to wait for (no old cookie, one that
   * does not verify, the request has a valid tessera session, `until` is past); otherwise a
   * promise, resolved once the session is adopted (and saved) or found gone. It rejects with
   * {@link StoreUnavailableError} when the old store or tessera's fails: the old cookie is then
   * kept, so that a retry adopts the session.
   */
  adopt(cookieHeader: string | undefined, res: ServerResponse, core: Session): Promise<void> | null {
    const values = readCookie(cookieHeader, this.#name, SESSION_COOKIE_VALUES_MAX);
    if (values.length === 0) return null;
    // A valid tessera session wins; after `until` old cookies are ignored. Either way the old one goes.
    if (!core.isNew || this.#tessera.options.now() >= this.#until) return this.#clear(res);
    const sid = this.#unsign(values);
    if (sid === null) return this.#clear(res);
    return this.#migrate(sid, res, core);
  }

  /** The ID the first verifying value carries, checked as express-session does (cookie-signature's `unsign`). */
  #unsign(values: readonly string[]): string | null {
    for (const value of values) {
      if (value.length > MAX_COOKIE) continue;
      let raw: string;
      try {
        raw = decodeURIComponent(value);
      } catch {
        continue;
      }
      if (!raw.startsWith('s:')) continue;
      const signed = raw.slice(2);
      const dot = signed.lastIndexOf('.');
      if (dot <= 0) continue;
      const sid = signed.slice(0, dot);
      const given = Buffer.from(signed);
      for (const secret of this.#secrets) {
        const expected = Buffer.from(`${sid}.${createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '')}`);
        if (expected.length === given.length && timingSafeEqual(expected, given)) return sid;
      }
    }
    return null;
  }

  async #migrate(sid: string, res: ServerResponse, core: Session): Promise<void> {
    const key = storeKey(`express-session-adopted\u0000${sid}`, core.meta.tenant);
    const old = await this.#call('get', sid);
    if (old === null || typeof old !== 'object' || Array.isArray(old)) {
      // Gone: expired, destroyed, or adopted — maybe a moment ago, by a request running beside this one.
      await this.#lost(key, res, core);
      return;
    }
    const session = old as Record<string, unknown>;
    const now = this.#tessera.options.now();
    const expires = Date.parse(String((session.cookie as { expires?: unknown } | null | undefined)?.expires ?? ''));
    if (expires <= now) {
      // Expired, in a store that does not check (express-session leaves that to its stores).
      this.#clear(res);
      return;
    }
    // The claim's data is the time it was taken: digits, a bookkeeping record (isSessionRecord), not a session to count or list.
    const record = { data: String(Math.floor(now)), version: 1, expiresAt: this.#claimExpiry(expires, now), userId: null, tenant: core.meta.tenant };
    if (!(await this.#claims.set(key, record, 0, { now }))) {
      await this.#lost(key, res, core);
      return;
    }
    try {
      this.#copy(session, core);
      await core.save();
    } catch (error) {
      // An outage: give up the claim, so that the retry the 503 asks for adopts the session.
      // Anything else (data tessera refuses to store) is answered once; the claim stays.
      if (error instanceof StoreUnavailableError) await this.#claims.delete(key, { now: this.#tessera.options.now() }).catch(noop);
      throw error;
    }
    try {
      await this.#call('destroy', sid);
    } catch (error) {
      // The claim keeps it from being adopted twice; the old store expires it.
      this.#tessera.reportError(error);
    }
    this.#clear(res);
  }

  /**
   * Another request adopted the session. Just now (a request of the same page load, sent with the
   * same old cookie): this one's fresh session writes nothing and sets no cookie, so its response
   * cannot replace the adopted session's cookie in the browser. Earlier: a fresh session, as usual.
   */
  async #lost(key: string, res: ServerResponse, core: Session): Promise<void> {
    const now = this.#tessera.options.now();
    const claim = await this.#claims.get(key, { now });
    // Digits; `adopted <time>` from earlier versions, during a rolling deploy.
    const at = Number(/^(?:adopted )?([0-9]+)$/.exec(claim?.data ?? '')?.[1] ?? NaN);
    if (now - at < SIBLING_WINDOW) core.ignore();
    this.#clear(res);
  }

  /** When a claim expires: with the old session (its cookie's `expires`), at `until` at the latest. */
  #claimExpiry(expires: number, now: number): number {
    return Number.isFinite(expires) && expires > now ? Math.min(expires, this.#until) : this.#until;
  }

  /** The old session into `core`: its lifetime (`cookie.originalMaxAge`), its data but `cookie`, its user. */
  #copy(session: Record<string, unknown>, core: Session): void {
    const { cookie, ...data } = session;
    // The lifetime first: on an empty session it is only remembered, for the first write.
    const lifetime = (cookie as { originalMaxAge?: unknown } | null | undefined)?.originalMaxAge;
    const options = this.#tessera.options;
    if (typeof lifetime === 'number' && Number.isFinite(lifetime) && lifetime > 0) {
      // A session given its own lifetime (remember me) keeps it; others follow the new configuration.
      if (lifetime !== (options.cookie.maxAge ?? options.idleTimeout)) {
        try {
          core.setLifetime(lifetime);
        } catch {
          // Over maxLifetime: the default lifetime.
        }
      }
    } else if (lifetime === null && core.meta.cookieMaxAge !== null) {
      core.setLifetime(null, { persistentCookie: false }); // it had a browser-session cookie
    }
    for (const [key, value] of Object.entries(data)) if (key !== '__proto__') core.set(key, value);
    const userId = this.#userId(session);
    if (typeof userId === 'string' && userId !== '') core.userId = userId;
  }

  /** Clear the old cookie on the response (unless it is tessera's own, which tessera's replaces). */
  #clear(res: ServerResponse): null {
    if (this.#shared || res.headersSent) return null;
    // Through the kit's sink: one line per name, a later Set-Cookie of that name replaces it.
    responseCookieSink(res, this.#name).setCookie(this.#clearLine);
    return null;
  }

  /** Call the old store's `get` or `destroy` (callback or promise, once), within tessera's `storeTimeout`. */
  #call(method: 'get' | 'destroy', sid: string): Promise<unknown> {
    const timeout = this.#tessera.options.storeTimeout;
    return new Promise<unknown>((resolve, reject) => {
      const unavailable = (cause: unknown) => reject(new StoreUnavailableError(`express-session (migrateFrom) ${method}`, cause));
      const timer = Number.isFinite(timeout) ? setTimeout(() => unavailable(new Error(`no answer within ${timeout} ms (storeTimeout)`)), timeout) : undefined;
      const done = (error: unknown, value?: unknown): void => {
        clearTimeout(timer);
        if (error) unavailable(error);
        else resolve(value ?? null);
      };
      try {
        const returned = this.#old[method](sid, done);
        // A store that rejects instead of calling back.
        if (returned instanceof Promise) returned.catch((error: unknown) => done(error ?? new Error('rejected')));
      } catch (error) {
        done(error ?? new Error('threw'));
      }
    });
  }
}

/** passport's user (`passport.user`), when it is an ID: a string or a number. */
function passportUser(session: Readonly<Record<string, unknown>>): string | null {
  const user = (session.passport as { user?: unknown } | null | undefined)?.user;
  return typeof user === 'string' ? user : typeof user === 'number' && Number.isFinite(user) ? String(user) : null;
}
