/**
 * A socket-free harness for the manager: a "browser" that keeps the session cookie between
 * requests, and a response that collects Set-Cookie lines.
 */
import type { SessionContext, Tessera } from '../../src/manager.js';
import type { CookieSink } from '../../src/core/request.js';
import type { Session } from '../../src/session.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { RETAINS_RECORDS, type SessionStore, type StoreContext, type StoreRecord } from '../../src/stores/store.js';

export class FakeResponse {
  readonly cookies: string[] = [];
  headersSent = false;
  readonly sink: CookieSink = {
    writable: () => !this.headersSent,
    setCookie: (line) => {
      if (this.headersSent) return false;
      const name = line.slice(0, line.indexOf('='));
      const i = this.cookies.findIndex((l) => l.startsWith(`${name}=`));
      if (i >= 0) this.cookies.splice(i, 1);
      this.cookies.push(line);
      return true;
    },
    withdrawCookie: () => {
      // Every line here is one tessera put (the session cookie, the CSRF token cookie).
      if (!this.headersSent) this.cookies.length = 0;
    },
  };
  /** The session cookie's name (what `withdrawCookie` takes back). */
  constructor(readonly cookieName = '__Host-tessera') {}
}

export interface RequestOptions {
  ip?: string;
  userAgent?: string;
  tenant?: string;
}

export class Browser {
  /** name=value of the session cookie, as the browser would send it. */
  cookie: string | undefined;
  /** name=value of the readable CSRF token cookie, which the browser sends too. */
  csrfCookie: string | undefined;
  constructor(readonly tessera: Tessera) {}

  /** The `Cookie` header the browser sends: the session cookie and the CSRF token cookie. */
  get cookieHeader(): string | undefined {
    return [this.cookie, this.csrfCookie].filter(Boolean).join('; ') || undefined;
  }

  /** One request: load the session, run `fn`, settle commits, keep the cookie the response set. */
  async request<T>(fn: (session: Session, res: FakeResponse) => T | Promise<T>, options: RequestOptions = {}): Promise<{ result: T; res: FakeResponse; session: Session }> {
    const res = new FakeResponse(this.tessera.cookieName);
    const ctx: SessionContext = this.tessera.begin(
      { cookieHeader: this.cookieHeader, ip: options.ip ?? '10.0.0.1', userAgent: options.userAgent ?? 'test-agent', tenant: options.tenant },
      res.sink,
    );
    const session = await ctx.load();
    const result = await fn(session, res);
    await ctx.settle();
    for (const line of res.cookies) {
      const pair = line.split(';', 1)[0]!;
      const value = /Max-Age=0/.test(line) ? undefined : pair;
      if (pair.startsWith(`${this.tessera.cookieName}=`)) this.cookie = value;
      else if (pair.startsWith(`${this.tessera.csrf.cookie?.name}=`)) this.csrfCookie = value;
    }
    return { result, res, session };
  }
}

/** A store wrapper that counts calls, to check what reaches the store. */
export class CountingStore implements SessionStore {
  readonly name: string;
  readonly calls = { get: 0, set: 0, delete: 0, deleteExpired: 0 };
  readonly keys = new Set<string>();
  constructor(readonly inner: SessionStore) {
    this.name = inner.name;
  }
  get(key: string, ctx: StoreContext) {
    this.calls.get++;
    return this.inner.get(key, ctx);
  }
  set(key: string, record: StoreRecord, expected: number, ctx: StoreContext) {
    this.calls.set++;
    this.keys.add(key);
    return this.inner.set(key, record, expected, ctx);
  }
  delete(key: string, ctx: StoreContext) {
    this.calls.delete++;
    return this.inner.delete(key, ctx);
  }
  deleteExpired(ctx: StoreContext) {
    this.calls.deleteExpired++;
    return this.inner.deleteExpired!(ctx);
  }
  listByUser(userId: string, tenant: string | null, ctx: StoreContext) {
    return this.inner.listByUser!(userId, tenant, ctx);
  }
  close() {
    return this.inner.close?.() ?? Promise.resolve();
  }
}

/**
 * A {@link CountingStore} that also answers synchronously (the inner store's `getSync`, `setSync`
 * and `deleteSync`, counted with the async forms), so the manager takes its synchronous path; it
 * keeps record objects when the inner store does (the manager's tests on it use `RetainedRecord`s,
 * those on {@link CountingStore} stored strings and the decoded-record cache).
 */
export class CountingSyncStore extends CountingStore {
  /** Passed through: the records reach the inner store unchanged (so the memory store's are kept as objects). */
  get [RETAINS_RECORDS](): boolean | undefined {
    return (this.inner as { [RETAINS_RECORDS]?: boolean })[RETAINS_RECORDS];
  }

  getSync(key: string, ctx: StoreContext) {
    this.calls.get++;
    return this.inner.getSync!(key, ctx);
  }
  setSync(key: string, record: StoreRecord, expected: number, ctx: StoreContext) {
    this.calls.set++;
    this.keys.add(key);
    return this.inner.setSync!(key, record, expected, ctx);
  }
  deleteSync(key: string, ctx: StoreContext) {
    this.calls.delete++;
    this.inner.deleteSync!(key, ctx);
  }
}

/** A store whose writes wait until the test opens the gate: to make a write "in flight". */
export class GatedStore extends CountingStore {
  #open: (() => void) | null = null;
  #gate: Promise<void> | null = null;
  /** Writes from now on wait for {@link GatedStore.release}. */
  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }
  release(): void {
    this.#open?.();
    this.#gate = null;
  }
  override async set(key: string, record: StoreRecord, expected: number, ctx: StoreContext) {
    const gate = this.#gate;
    if (gate) await gate;
    return super.set(key, record, expected, ctx);
  }
}

/**
 * A {@link CountingStore} answering with promises whose calls wait while `hang` is set, until
 * `answer()` lets them through to the inner store: a store that does not answer (in time).
 */
export class HangingStore extends CountingStore {
  hang: boolean;
  readonly #waiting: Array<() => void> = [];
  constructor(hang = false) {
    super(new MemoryStore());
    this.hang = hang;
  }
  #later<T>(call: () => Promise<T>): Promise<T> {
    if (!this.hang) return call();
    return new Promise<T>((resolve, reject) => this.#waiting.push(() => call().then(resolve, reject)));
  }
  /** Let every hung call through to the inner store now. */
  answer(): void {
    for (const go of this.#waiting.splice(0)) go();
  }
  override get(key: string, ctx: StoreContext) {
    return this.#later(() => super.get(key, ctx));
  }
  override set(key: string, record: StoreRecord, expected: number, ctx: StoreContext) {
    return this.#later(() => super.set(key, record, expected, ctx));
  }
  override delete(key: string, ctx: StoreContext) {
    return this.#later(() => super.delete(key, ctx));
  }
  override deleteExpired(ctx: StoreContext) {
    return this.#later(() => super.deleteExpired(ctx));
  }
  override listByUser(userId: string, tenant: string | null, ctx: StoreContext) {
    return this.#later(() => super.listByUser(userId, tenant, ctx));
  }
}
