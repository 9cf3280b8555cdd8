/**
 * The filesystem store: one file per session under a directory. No server and no native module;
 * durable across restarts; several processes on one machine (or on a filesystem with atomic
 * `rename` and `symlink`, such as NFSv3+) may share the directory.
 *
 * Layout under `dir` (every name is a SHA-256 hex hash, so no key or user ID ever becomes a path):
 *
 * ```text
 * sessions/<sha256(key)>                          one session (checksummed, see below)
 * sessions/<sha256(key)>.<owner>.<nonce>.tmp      a write in flight (renamed over the session file)
 * users/<sha256(userId)>/<sha256(key)>            empty marker: the by-user index
 * locks/<sha256(key)>.lock                        a key's cross-process lock, while held: a symlink
 *                                                 whose target names the holder (never followed)
 * activity/<sha256(key)>                          the session's tab activity (see activity/file.ts)
 * ```
 *
 * `<owner>` is `<host>-<pid>-<threadId>` of the writing thread, where `<host>` is the first 8 hex
 * digits of SHA-256 over the hostname, and on Linux the PID namespace and boot ID, joined by `\n`.
 *
 * A session file is `tessera-session/1 <sha256 of body> <body bytes>\n` then the body:
 * one line of JSON metadata (`key`, `version`, `expiresAt`, `userId`, `tenant`), `\n`, the data.
 *
 * @module
 */
import { realpathSync } from 'node:fs';
import { opendir, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { FileActivity } from './activity/file.js';
import { encode, errno, HASH, nonce, readMeta, readSession, sha256, syncDir, unavailable, unlinkIfThere, writeNew, type Decoded } from './file-format.js';
import { FileLocks, IN_FLIGHT, MUTEXES, OWNER, ownerGone, TEMP, withMutex, type HeldLock } from './file-locks.js';
import { UserIndex } from './file-users.js';
import { makePrivateDir } from './private.js';
import { COUNTED_BY_WALKING, isExpired, type ActivityQuery, type KeyedRecord, type ListQuery, type SessionActivity, type SessionPage, type SessionStore, type StoreContext, type StoreRecord } from './store.js';

/**
 * Options of {@link FileStore}.
 *
 * @example
 * ```ts
 * const options: FileStoreOptions = { dir: '/var/lib/myapp/sessions', fsync: true };
 * ```
 */
export interface FileStoreOptions {
  /**
   * The directory. Default `./data/sessions`. Created with mode 0700 (its missing parents too) if
   * missing; a directory that already exists is left as it is (its mode is its owner's choice).
   * What the store makes inside it is private: folders 0700, files 0600.
   */
  dir?: string;
  /**
   * Flush each write to the disk before it counts as done: the temporary file before the rename,
   * then the directory after it (and after a delete, and when a user index entry is created).
   * Default `false`.
   *
   * Why off by default: the write-then-rename already guarantees that a crash of the *process*
   * (or a `kill -9`) leaves every session either at its previous or its new version, complete —
   * the kernel keeps the written pages. `fsync` only adds protection against a power cut or a
   * kernel crash, and costs a disk flush (about 1–10 ms on an SSD, far more on network disks) on
   * every request that changes a session. Without it, a power cut may lose the last seconds of
   * writes; a file torn by it fails its checksum and reads as "not found" (the user signs in
   * again), never as wrong data. That is the same trade-off as `SqliteStore` (WAL with
   * `synchronous = NORMAL`). Turn it on when the last seconds matter — notably, without it a
   * sign-out done just before a power cut may be undone.
   */
  fsync?: boolean;
  /**
   * Guard each write with a lock file per key, so several processes can share the directory
   * without lost updates. Default `true`, except on Windows (the locks are symlinks, which need
   * privileges there). Set `false` only when a single process uses the directory: writes then skip
   * two system calls, and are still atomic and compare-and-set within the process.
   */
  crossProcess?: boolean;
  /**
   * How long (ms) an operation waits for another process's lock on the same key before failing
   * with `StoreUnavailableError`. Default 10 000.
   */
  lockTimeout?: number;
  /**
   * Age (ms, by the lock file's modification time) after which a lock is taken to be left over
   * from a crash and is broken. Locks of a dead process on this host are broken at once, whatever
   * their age; this bound is for owners that cannot be checked (another host, another worker
   * thread), judged by the lock file's time — on a network filesystem, keep the clocks of server
   * and clients in sync. A holder that took longer than half of it re-checks its lock before
   * writing and reports a conflict if it lost it. Keep it far above the slowest write. Default 5 000.
   */
  staleLockAfter?: number;
}

/**
 * Sessions as files in a directory: one checksummed file per session, written atomically
 * (temporary file + `rename`), compare-and-set under a per-key lock, a by-user index of marker
 * files, and cleanup of expired sessions and of what crashed writers left behind.
 *
 * Guarantees:
 * - **Atomic, crash-safe writes.** A reader sees a session's previous or next version, complete,
 *   never a mix — also after the writing process is killed mid-write. Reads take no lock.
 * - **Compare-and-set** on `version`: within a process, operations on one key are serialised
 *   (concurrent writers never lose an update). Across processes, each write or delete holds
 *   `locks/<hash>.lock`, created atomically-if-absent (a symlink naming the holder, like `O_EXCL`).
 *   A lock left by a crash is broken at once when its holder is a dead process on this host,
 *   otherwise after `staleLockAfter`. The limit: a holder frozen for longer than `staleLockAfter`
 *   (a stopped VM, a hung network disk) can lose its lock mid-write; it re-checks before renaming
 *   and reports a conflict if it lost it, but a freeze between that check and the rename could
 *   still let two writes through. Locks rely on `symlink` and `rename` being atomic, which local
 *   filesystems and NFSv3+ provide (not some FUSE or SMB mounts).
 * - **Damaged files read as "not found"**: every file carries a SHA-256 of its contents; a
 *   truncated, torn or bit-flipped file makes `get` resolve `null`, never throw, and
 *   `deleteExpired` removes it. Other filesystem failures (permissions, full disk) reject with
 *   `StoreUnavailableError`.
 * - **The by-user index is crash-safe**: a marker is created before the session file is renamed
 *   into place and removed after it is deleted, so it can be stale but never missing; stale
 *   markers are verified against the session and pruned by `listByUser`.
 * - **Keys never become paths**: file names are SHA-256 hashes of keys and user IDs.
 *
 * Files are created with mode 0600 and directories with 0700: session data is private.
 *
 * `deleteExpired` reads the first bytes of every session file (a full scan; run it on the
 * manager's cleanup timer, not per request). It also removes temporary and lock files left by
 * crashed writers (at once when their process is known dead, else after `staleLockAfter`).
 *
 * Designed for POSIX filesystems (Linux, macOS); on Windows, one process per directory. Values are
 * stored as UTF-8, like `SqliteStore`.
 *
 * @example
 * ```ts
 * import { createTessera } from 'tessera';
 * import { FileStore } from 'tessera/stores/file';
 * const tessera = createTessera({ secrets: [secret], store: new FileStore({ dir: './data/sessions' }) });
 * ```
 */
export class FileStore implements SessionStore {
  readonly name = 'file';
  /** @internal The active-sessions gauge walks the listing (no `countLive`). */
  readonly [COUNTED_BY_WALKING] = true;
  /** The store's directory, as an absolute path with symlinks resolved. */
  readonly dir: string;
  /** Whether writes are flushed to the disk (see {@link FileStoreOptions.fsync}). */
  readonly fsync: boolean;
  /** Whether writes take a lock file so several processes can share the directory. */
  readonly crossProcess: boolean;
  /** Longest wait (ms) for another process's lock. */
  readonly lockTimeout: number;
  /** Age (ms) after which an unverifiable lock or temporary file counts as left over. */
  readonly staleLockAfter: number;
  readonly #sessions: string;
  readonly #users: UserIndex;
  readonly #locks: string;
  readonly #pending = new Set<Promise<unknown>>();
  readonly #activity: FileActivity;
  readonly #lockFiles: FileLocks;

  constructor(options: FileStoreOptions = {}) {
    const dir = options.dir ?? './data/sessions';
    if (typeof dir !== 'string' || dir === '') throw new ConfigError('FileStore dir must be a non-empty path');
    this.fsync = options.fsync ?? false;
    this.crossProcess = options.crossProcess ?? process.platform !== 'win32';
    this.lockTimeout = options.lockTimeout ?? 10_000;
    this.staleLockAfter = options.staleLockAfter ?? 5_000;
    for (const [name, value] of [['lockTimeout', this.lockTimeout], ['staleLockAfter', this.staleLockAfter]] as const) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        throw new ConfigError(`FileStore ${name} must be a positive number of milliseconds`);
      }
    }
    try {
      makePrivateDir(dir);
      this.dir = realpathSync(dir);
      this.#sessions = join(this.dir, 'sessions');
      this.#users = new UserIndex(join(this.dir, 'users'), this.fsync);
      this.#locks = join(this.dir, 'locks');
      for (const sub of [this.#sessions, join(this.dir, 'users'), this.#locks, join(this.dir, 'activity')]) makePrivateDir(sub);
    } catch (error) {
      throw new ConfigError(`FileStore cannot use the directory ${JSON.stringify(dir)}: ${(error as Error).message}`);
    }
    this.#lockFiles = new FileLocks(this.#locks, this.dir, this);
    this.#activity = new FileActivity(join(this.dir, 'activity'), (hash, fn) => this.#locked(hash, fn), (key, ctx) => this.get(key, ctx));
  }

  async get(key: string, ctx: StoreContext): Promise<StoreRecord | null> {
    const found = await this.#track(this.#read(sha256(key)));
    if (found === null || found.key !== key || isExpired(found.record, ctx.now)) return null;
    return found.record;
  }

  async set(key: string, record: StoreRecord, expectedVersion: number, ctx: StoreContext): Promise<boolean> {
    const file = encode(key, record); // hashing the contents happens outside the lock
    return this.#track(this.#set(key, record, file, expectedVersion, ctx.now));
  }

  async delete(key: string, _ctx?: StoreContext): Promise<void> {
    const hash = sha256(key);
    await this.#locked(hash, async () => {
      await this.#activity.forget(hash);
      const current = await this.#read(hash);
      if (!(await unlinkIfThere(join(this.#sessions, hash)))) return;
      if (this.fsync) await syncDir(this.#sessions);
      if (current?.record.userId != null) await this.#users.remove(current.record.userId, hash);
    });
  }

  async deleteExpired(ctx: StoreContext): Promise<number> {
    return this.#track(
      (async () => {
        let removed = 0;
        for await (const entry of await opendir(this.#sessions)) {
          if (HASH.test(entry.name)) {
            if (await this.#expire(entry.name, ctx.now)) removed++;
          } else if (entry.name.endsWith('.tmp')) {
            await this.#sweepTemp(entry.name);
          }
        }
        if (this.crossProcess) {
          for await (const entry of await opendir(this.#locks)) await this.#lockFiles.sweep(entry.name);
        }
        await this.#activity.deleteExpired(ctx);
        return removed;
      })().catch(unavailable),
    );
  }

  async listByUser(userId: string, tenant: string | null, ctx: StoreContext): Promise<KeyedRecord[]> {
    return this.#track(
      (async () => {
        const hashes = await this.#users.hashes(userId);
        const out: KeyedRecord[] = [];
        for (let i = 0; i < hashes.length; i += 32) {
          await Promise.all(
            hashes.slice(i, i + 32).map(async (hash) => {
              const found = await this.#read(hash);
              if (found === null || found.record.userId !== userId) return this.#prune(userId, hash);
              if (isExpired(found.record, ctx.now) || (tenant !== null && found.record.tenant !== tenant)) return;
              out.push({ key: found.key, record: found.record });
            }),
          );
        }
        return out;
      })().catch(unavailable),
    );
  }

  /** A page of the live records, in the order of their file names (the cursor is the last name of the page before). */
  async listSessions(query: ListQuery, ctx: StoreContext): Promise<SessionPage> {
    return this.#track(
      (async () => {
        const after = query.cursor ?? '';
        const names = (await readdir(this.#sessions)).filter((name) => HASH.test(name) && name > after).sort();
        const page = names.slice(0, query.limit);
        const found: (Decoded | null)[] = [];
        for (let i = 0; i < page.length; i += 32) found.push(...(await Promise.all(page.slice(i, i + 32).map((hash) => this.#read(hash)))));
        const records: KeyedRecord[] = [];
        for (const item of found) {
          if (item === null || isExpired(item.record, ctx.now) || (query.tenant !== null && item.record.tenant !== query.tenant)) continue;
          records.push({ key: item.key, record: item.record });
        }
        return { records, next: names.length > query.limit ? page[page.length - 1]! : null };
      })().catch(unavailable),
    );
  }

  /** Per-tab activity: a file per session under `activity/` (see docs/activity.md). */
  recordActivity(key: string, tab: string, at: number, expiresAt: number, ctx: StoreContext): Promise<void> {
    return this.#track(this.#activity.record(key, tab, at, expiresAt, ctx));
  }

  activityOf(key: string, ctx: StoreContext): Promise<Record<string, number>> {
    return this.#track(this.#activity.of(key, ctx));
  }

  listActivity(query: ActivityQuery, ctx: StoreContext): Promise<SessionActivity[]> {
    return this.#track(this.#activity.list(query, ctx));
  }

  /** Waits for the operations in flight (so none is cut short at shutdown). Holds no handles otherwise. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }

  // ---------------------------------------------------------------- internals

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#pending.add(promise);
    const done = (): void => void this.#pending.delete(promise);
    promise.then(done, done);
    return promise;
  }

  async #set(key: string, record: StoreRecord, file: Buffer, expectedVersion: number, now: number): Promise<boolean> {
    const hash = sha256(key);
    const matches = (current: Decoded | null): boolean => {
      const live = current !== null && current.key === key && !isExpired(current.record, now);
      return live ? current.record.version === expectedVersion : expectedVersion === 0;
    };
    // Contended key: check without queueing first. A read is atomic, so a compare-and-set that
    // fails on it is correct as of that moment; only a write that may succeed waits for the lock.
    if (MUTEXES.has(`${this.dir}\0${hash}`) && !matches(await this.#read(hash))) return false;
    return this.#locked(hash, async (lock) => {
      const current = await this.#read(hash);
      if (!matches(current)) return false;
      // The new user's marker goes first: a crash can leave a marker too many, never one missing.
      if (record.userId !== null) await this.#users.add(record.userId, hash);
      const temp = join(this.#sessions, `${hash}.${OWNER}.${nonce()}.tmp`);
      IN_FLIGHT.add(temp);
      try {
        await writeNew(temp, file, this.fsync, this.#sessions);
        // A lock broken as stale (we were frozen too long) may be someone else's now: report a
        // conflict, the caller re-reads.
        if (lock !== null && !(await this.#lockFiles.stillHeld(lock))) {
          await unlinkIfThere(temp);
          return false;
        }
        await rename(temp, join(this.#sessions, hash));
      } catch (error) {
        await unlinkIfThere(temp).catch(() => undefined);
        throw error;
      } finally {
        IN_FLIGHT.delete(temp);
      }
      if (this.fsync) await syncDir(this.#sessions);
      const previousUser = current?.record.userId ?? null;
      if (previousUser !== null && previousUser !== record.userId) await this.#users.remove(previousUser, hash);
      return true;
    });
  }

  /** Run `fn` holding the key's in-process mutex and, with `crossProcess`, its lock file. */
  #locked<T>(hash: string, fn: (lock: HeldLock | null) => Promise<T>): Promise<T> {
    return this.#track(
      withMutex(`${this.dir}\0${hash}`, async () => {
        const lock = this.crossProcess ? await this.#lockFiles.acquire(hash) : null;
        try {
          return await fn(lock);
        } finally {
          if (lock !== null) await this.#lockFiles.release(lock);
        }
      }).catch(unavailable),
    );
  }

  /** The verified record stored under `hash`; `null` when missing or damaged. */
  #read(hash: string): Promise<Decoded | null> {
    return readSession(this.#sessions, hash);
  }

  /** Remove an expired (or damaged) session and its index entry; `true` if it was a record. */
  async #expire(hash: string, now: number): Promise<boolean> {
    const meta = await readMeta(this.#sessions, hash);
    if (meta !== null && !isExpired(meta, now)) return false;
    return this.#locked(hash, async () => {
      const found = await this.#read(hash); // re-check under the lock: it may have been renewed
      if (found !== null && !isExpired(found.record, now)) return false;
      if (!(await unlinkIfThere(join(this.#sessions, hash)))) return false;
      if (found?.record.userId != null) await this.#users.remove(found.record.userId, hash);
      return found !== null;
    });
  }

  /** Drop a marker whose session is gone or belongs to someone else now (checked under the lock). */
  async #prune(userId: string, hash: string): Promise<void> {
    await this.#locked(hash, async () => {
      const found = await this.#read(hash);
      if (found === null || found.record.userId !== userId) await this.#users.remove(userId, hash);
    });
  }

  /** Remove a temporary file whose writer is known dead, or that is older than `staleLockAfter`. */
  async #sweepTemp(name: string): Promise<void> {
    const path = join(this.#sessions, name);
    if (IN_FLIGHT.has(path)) return;
    let mtime: number;
    try {
      mtime = (await stat(path)).mtimeMs;
    } catch (error) {
      if (errno(error) === 'ENOENT') return;
      throw error;
    }
    // A temp file of this very thread that is not in flight is a leftover of an earlier process
    // that had our PID: ownerGone says so.
    const owner = TEMP.exec(name)?.[1];
    if ((owner !== undefined && ownerGone(owner)) || Date.now() - mtime > this.staleLockAfter) await unlinkIfThere(path);
  }
}
