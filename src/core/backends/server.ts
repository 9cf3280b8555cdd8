/**
 * Sessions in a server store, named by a signed ID cookie: a session opened from its cookie, its
 * ID or its store key, the cookie set, the by-ID and by-user operations, cleanup. Writes are
 * compare-and-set on the record's version, re-applied on a conflict so concurrent requests lose
 * nothing, and keys a session stopped using (regenerated, destroyed) are deleted: that commit path
 * is {@link ServerWriter} (`server-write.ts`).
 *
 * @module
 * @internal
 */
import { serializeCookie } from '../../cookie.js';
import { isWellFormedId, storeKey } from '../../crypto/ids.js';
import { SessionNotFoundError } from '../../errors.js';
import type { SessionInfo } from '../../manager.js';
import type { ResolvedOptions } from '../../options.js';
import type { StoreRecord } from '../../stores/store.js';
import type { Backend, CookieProbe, HandleOwner, ExpiredBatch } from '../backend.js';
import type { RecordCodec } from '../codec.js';
import { isThenable, type StoreDriver } from '../driver.js';
import { subjectOf, type Events } from '../events.js';
import { cookieMaxAge, expiry, type Policy } from '../policy.js';
import type { Step } from '../queue.js';
import type { CookieSink, RequestInput } from '../request.js';
import { INVALID, SignedCookies, type Verified } from '../signed.js';
import { freshState, NO_CHANGES, retire, type SessionState } from '../state.js';
import { Undeleted } from '../undeleted.js';
import { ServerWriter } from './server-write.js';

/** What a server backend is made of. */
export interface ServerParts {
  readonly options: ResolvedOptions;
  readonly policy: Policy;
  readonly driver: StoreDriver;
  readonly codec: RecordCodec;
  readonly signed: SignedCookies;
  readonly events: Events;
}

const noop = (): void => {};

/**
 * The backend of every server store (memory, SQLite, files, PostgreSQL, Redis, yours).
 *
 * @example
 * ```ts
 * const backend = new ServerBackend({ options, policy, driver, codec, signed, events });
 * ```
 */
export class ServerBackend implements Backend {
  readonly synchronous: boolean;
  readonly cleansUp: boolean;
  readonly #options: ResolvedOptions;
  readonly #policy: Policy;
  readonly #driver: StoreDriver;
  readonly #codec: RecordCodec;
  readonly #signed: SignedCookies;
  readonly #events: Events;
  /** Keys whose delete failed (a destroy or regenerate whose commit nobody could retry): refused, deleted again later. */
  readonly #undeleted = new Undeleted();
  readonly #writer: ServerWriter;

  constructor(parts: ServerParts) {
    this.#options = parts.options;
    this.#policy = parts.policy;
    this.#driver = parts.driver;
    this.#codec = parts.codec;
    this.#signed = parts.signed;
    this.#events = parts.events;
    this.synchronous = parts.driver.synchronous;
    this.cleansUp = parts.driver.cleansUp;
    this.#writer = new ServerWriter({ options: parts.options, driver: parts.driver, codec: parts.codec, events: parts.events, undeleted: this.#undeleted });
  }

  // ---------------------------------------------------------------- reading

  open(header: string | undefined, tenant: string | null, sink: CookieSink, now: number, probe: CookieProbe): Step<SessionState | null> {
    const verified = this.#signed.find(header);
    probe.cookieSent = verified !== null;
    if (verified === null) return null;
    if (verified === INVALID) {
      this.#events.emit('invalidCookie', subjectOf(null, probe.input), 'signature');
      return null;
    }
    const key = SignedCookies.keyOf(verified, tenant);
    probe.cookieStale = verified.stale;
    if (!this.#undeleted.empty && this.#stillUndeleted(key, now, probe.input)) return null;
    const record = this.#driver.get(key, { now });
    if (!isThenable(record)) return this.#fromCookie(verified, tenant, sink, key, record, now, probe.input);
    return Promise.resolve(record).then((found) => this.#fromCookie(verified, tenant, sink, key, found, now, probe.input));
  }

  /**
   * The session a verified cookie names: the stored one; or, when nothing is stored under the ID
   * of a provisional cookie (issued with a CSRF token before anything was stored), a session that
   * keeps that ID, not yet stored (`loaded` false), so the page's token stays valid. The cookie of
   * a session that was stored and is gone (expired, destroyed, regenerated) gives `null`: the
   * request starts over with a new ID.
   */
  #fromCookie(verified: Verified, tenant: string | null, sink: CookieSink, key: string, record: StoreRecord | null, now: number, input: RequestInput): SessionState | null {
    if (record !== null || !verified.provisional) return this.#fromRecord(verified.id, tenant, sink, key, record, now, input);
    const state = freshState(tenant, sink, now);
    state.id = verified.id;
    state.key = key;
    return state;
  }

  async openById(id: string, tenant: string | null): Promise<SessionState | null> {
    const key = storeKey(id, tenant);
    const now = this.#options.now();
    if (!this.#undeleted.empty && this.#stillUndeleted(key, now)) return null;
    return this.#fromRecord(id, tenant, null, key, await this.#driver.get(key, { now }), now);
  }

  async openByKey(key: string, sink: CookieSink): Promise<SessionState | null> {
    const now = this.#options.now();
    if (!this.#undeleted.empty && this.#stillUndeleted(key, now)) return null;
    const record = await this.#driver.get(key, { now });
    return record === null ? null : this.#fromRecord(null, record.tenant, sink, key, record, now);
  }

  cookieKey(header: string | undefined, tenant: string | null): string | null {
    const verified = this.#signed.find(header);
    return verified === null || verified === INVALID ? null : SignedCookies.keyOf(verified, tenant);
  }

  async claimOnce(key: string, expiresAt: number): Promise<boolean> {
    // An empty record: no session reads it (it decodes to nothing), and it expires with the ticket.
    return this.#driver.set(key, { data: '', version: 1, expiresAt, userId: null, tenant: null }, 0, { now: this.#options.now() });
  }

  /**
   * Whether `key` is one the session stopped using and whose delete failed: then it is refused
   * (its session is gone, whatever the store still holds) and deleted again, in the background.
   */
  #stillUndeleted(key: string, now: number, input: RequestInput | null = null): boolean {
    const entry = this.#undeleted.get(key);
    if (entry === undefined) return false;
    this.#events.emit('invalidCookie', subjectOf(key, input, { userId: null, tenant: entry.tenant }), 'destroyed');
    try {
      const done = this.#driver.delete(key, { now });
      if (isThenable(done)) Promise.resolve(done).then(() => this.#undeleted.done(key), noop);
      else this.#undeleted.done(key);
    } catch {
      // Still refused here: the next request that brings it, or the next cleanup, tries again.
    }
    return true;
  }

  assertById(): void {}

  /**
   * The live session in `record` (read at `now`), or `null` (missing, unreadable or expired); its
   * `requestIp` and `requestUserAgent` are those of `input`, the request that brought its cookie.
   */
  #fromRecord(id: string | null, tenant: string | null, sink: CookieSink | null, key: string, record: StoreRecord | null, now: number, input: RequestInput | null = null): SessionState | null {
    if (record === null) return null;
    const state = freshState(tenant, sink, now);
    state.id = id;
    state.key = key;
    if (input !== null) {
      state.requestIp = input.ip ?? null;
      state.requestUserAgent = input.userAgent ?? null;
    }
    if (!this.#codec.apply(state, record)) {
      this.#events.emit('invalidCookie', state, 'unreadable record');
      return null;
    }
    if (now >= expiry(this.#policy, state)) {
      this.#events.emit('expired', state);
      this.#forget(key, now);
      return null;
    }
    state.loaded = true;
    return state;
  }

  /** Delete an expired record, in the background: the request goes on whatever happens. */
  #forget(key: string, now: number): void {
    try {
      const done = this.#driver.delete(key, { now });
      if (done instanceof Promise) done.catch(noop);
    } catch {
      // The store will drop it when it cleans up.
    }
  }

  // ---------------------------------------------------------------- cookie

  startCookie(state: SessionState): void {
    this.putCookie(state);
  }

  /** A provisional cookie: it does not set `cookieIssued`, so the first write puts the stored form. */
  issueCookie(state: SessionState): void {
    if (state.sink === null || state.id === null) return;
    state.sink.setCookie(serializeCookie(this.#options.cookie, this.#signed.signProvisional(state.id), null, this.#options.now(), true));
  }

  putCookie(state: SessionState): void {
    if (state.sink === null || state.id === null) return;
    const now = this.#options.now();
    const line = serializeCookie(this.#options.cookie, this.#signed.sign(state.id), cookieMaxAge(this.#policy, state, now), now, state.persistent === false);
    state.sink.setCookie(line);
    state.cookieIssued = true;
  }

  changed(): void {}

  canTouch(): boolean {
    return true;
  }

  // ---------------------------------------------------------------- writing

  write(state: SessionState): Step<void> {
    return this.#writer.write(state);
  }

  retire(state: SessionState): Step<void> {
    return this.#writer.retire(state);
  }

  drop(state: SessionState): Step<void> {
    if (state.key !== null && (state.version > 0 || state.loaded)) retire(state, state.key, 0);
    state.version = 0;
    return this.retire(state);
  }

  async reload(state: SessionState): Promise<void> {
    if (state.key === null || state.destroyed) throw new SessionNotFoundError();
    const record = await this.#driver.get(state.key, { now: this.#options.now() });
    if (record === null || !this.#codec.apply(state, record)) throw new SessionNotFoundError();
    state.changes = NO_CHANGES;
    state.cleared = false;
    state.metaChanged = false;
    state.loaded = true;
  }

  // ---------------------------------------------------------------- by ID and by user

  async destroyById(id: string, tenant: string | null): Promise<boolean> {
    if (!this.#signed.isId(id)) return false;
    const state = await this.openById(id, tenant);
    if (state === null) return false;
    this.#events.emit('destroyed', state);
    await this.#driver.delete(state.key!, { now: this.#options.now() });
    return true;
  }

  async listByUser(userId: string, tenant: string | null): Promise<SessionInfo[]> {
    const now = this.#options.now();
    const rows = await this.#driver.listByUser(userId, tenant, { now });
    const out: SessionInfo[] = [];
    for (const { key, record } of rows) {
      const info = this.#info(key, record, now);
      if (info !== null) out.push(info);
    }
    return out.sort((a, b) => b.lastSeenAt - a.lastSeenAt);
  }

  async listSessions(tenant: string | null, cursor: string | null, limit: number): Promise<{ sessions: SessionInfo[]; next: string | null }> {
    const now = this.#options.now();
    const page = await this.#driver.listSessions({ tenant, cursor, limit }, { now });
    const sessions: SessionInfo[] = [];
    for (const { key, record } of page.records) {
      const info = this.#info(key, record, now);
      if (info !== null) sessions.push(info);
    }
    return { sessions, next: page.next };
  }

  async infoByHandle(handle: string): Promise<SessionInfo | null> {
    if (!isWellFormedId(handle)) return null;
    const now = this.#options.now();
    const record = await this.#driver.get(handle, { now });
    return record === null ? null : this.#info(handle, record, now);
  }

  /** What operators see of a stored session; `null` when it cannot be read or has expired. */
  #info(key: string, record: StoreRecord, now: number): SessionInfo | null {
    const state = freshState(record.tenant, null, now);
    state.key = key;
    if (!this.#codec.apply(state, record)) return null;
    const expiresAt = expiry(this.#policy, state);
    if (now >= expiresAt) return null;
    return {
      handle: key,
      createdAt: state.createdAt,
      lastSeenAt: state.lastSeenAt,
      expiresAt,
      ip: state.ip,
      userAgent: state.userAgent,
      userId: state.userId,
      tenant: state.tenant,
    };
  }

  async destroyByHandle(handle: string, owner: HandleOwner | null): Promise<StoreRecord | null> {
    // A handle is a store key: SHA-256, 43 base64url characters, like an ID. Anything else names nothing.
    if (!isWellFormedId(handle)) return null;
    const now = this.#options.now();
    const record = await this.#driver.get(handle, { now });
    if (record === null || (owner !== null && (record.userId !== owner.userId || record.tenant !== owner.tenant))) return null;
    await this.#driver.delete(handle, { now });
    this.#events.emit('destroyed', subjectOf(handle, null, record));
    return record;
  }

  async expiryByKey(key: string): Promise<number | null> {
    const now = this.#options.now();
    const record = await this.#driver.get(key, { now });
    if (record === null) return null;
    const state = freshState(record.tenant, null, now);
    state.key = key;
    if (!this.#codec.apply(state, record)) return null;
    const expiresAt = expiry(this.#policy, state);
    return now >= expiresAt ? null : expiresAt;
  }

  /** Delete the keys whose delete failed (first batch only, stopping at the first failure: the store is likely down), then expired records. */
  async deleteExpired({ now, limit, first }: ExpiredBatch): Promise<number> {
    for (const { key } of first ? this.#undeleted.entries() : []) {
      try {
        await this.#driver.delete(key, { now });
      } catch {
        break;
      }
      this.#undeleted.done(key);
    }
    return this.#driver.deleteExpired({ now }, limit);
  }

  close(): Promise<void> {
    return this.#driver.close();
  }
}
