/**
 * Per-user "valid after" times, for "sign out everywhere": a record in the session store (with
 * `CookieStore`, its revocation store) under a reserved key, saying that the user's auth tokens
 * issued, and sealed sessions signed in, before that time are refused. The key is a hash of its
 * own label, tenant and user, so it never names a session (a session's key hashes tenant and a
 * 43-character ID, which holds no NUL); the record has no `userId`, so no by-user listing shows it.
 *
 * @module
 * @internal
 */
import { createHash } from 'node:crypto';
import { isThenable, type StoreDriver } from '../core/driver.js';
import type { Step } from '../core/queue.js';
import type { StoreRecord } from '../stores/store.js';

/** Compare-and-set attempts to raise a user's time before giving up (two sign-outs at once: either time will do). */
const ATTEMPTS = 10;

/**
 * The store key of `userId`'s valid-after record in `tenant`.
 *
 * @example
 * ```ts
 * validAfterKey('u1', 'acme'); // 43 base64url characters
 * ```
 */
export function validAfterKey(userId: string, tenant: string | null): string {
  return createHash('sha256').update(`tessera/valid-after\u0000${tenant === null ? '0' : `1${tenant}`}\u0000${userId}`).digest('base64url');
}

/** The time (ms) a record holds, or `null` for none (or one not written by tessera). */
function timeOf(record: StoreRecord | null): number | null {
  if (record === null) return null;
  const at = Number(record.data);
  return Number.isFinite(at) ? at : null;
}

/**
 * Reads and raises users' valid-after times in one store.
 *
 * @example
 * ```ts
 * const times = new ValidAfter(driver);
 * await times.raise('u1', null, now, now + maxLifetime);
 * await times.get('u1', null, now); // now
 * ```
 */
export class ValidAfter {
  readonly #driver: StoreDriver;

  constructor(driver: StoreDriver) {
    this.#driver = driver;
  }

  /** `userId`'s valid-after time in `tenant`, or `null` when none is recorded. */
  get(userId: string, tenant: string | null, now: number): Step<number | null> {
    const record = this.#driver.get(validAfterKey(userId, tenant), { now });
    return isThenable(record) ? Promise.resolve(record).then(timeOf) : timeOf(record as StoreRecord | null);
  }

  /** Record `at` as `userId`'s valid-after time (unless a later one is recorded), kept until `until`. */
  async raise(userId: string, tenant: string | null, at: number, until: number): Promise<void> {
    const key = validAfterKey(userId, tenant);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const current = await this.#driver.get(key, { now: at });
      const held = timeOf(current);
      if (held !== null && held >= at && current!.expiresAt >= until) return;
      const version = current?.version ?? 0;
      // Whole milliseconds, rounded up (never earlier than asked): digits, a bookkeeping record (isSessionRecord).
      const record: StoreRecord = { data: String(Math.ceil(Math.max(at, held ?? at))), version: version + 1, expiresAt: Math.max(until, current?.expiresAt ?? 0), userId: null, tenant };
      if (await this.#driver.set(key, record, version, { now: at })) return;
    }
  }
}
