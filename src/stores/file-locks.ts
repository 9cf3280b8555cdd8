/**
 * Who holds what in {@link FileStore}: this thread's name (host, PID namespace and boot, PID,
 * thread), whether another's is known to be gone, the per-key in-process mutexes shared by every
 * store of this thread, and the cross-process lock files `locks/<hash>.lock` — symlinks naming
 * their holder, taken atomically-if-absent, broken when left over by a crash.
 *
 * @module
 * @internal
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { lstat, mkdir, readlink, rename, symlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { threadId } from 'node:worker_threads';
import { StoreUnavailableError } from '../errors.js';
import { errno, nonce, sha256, unlinkIfThere } from './file-format.js';

/**
 * A temporary file's name: `<hash>.<owner>.<nonce>.tmp`; the first group is its writer.
 *
 * @example
 * ```ts
 * const owner = TEMP.exec(name)?.[1];
 * ```
 */
export const TEMP = /^[0-9a-f]{64}\.([0-9a-f]{8}-\d{1,10}-\d{1,10})\.[0-9a-f]+\.tmp$/;
const LOCK = /^([0-9a-f]{64})\.lock$/;
const LOCK_CONTENT = /^([0-9a-f]{8}-\d{1,10}-\d{1,10})\.[0-9a-f]+$/;

/** A cross-process lock this thread holds. */
export interface HeldLock {
  readonly path: string;
  readonly content: string;
  readonly since: number;
}

/**
 * Where PIDs mean something: this host, PID namespace (containers sharing a volume may share a
 * hostname, not a PID namespace) and boot. Processes with another one can only be judged by age.
 */
function hostId(): string {
  const parts = [hostname()];
  for (const read of [() => readlinkSync('/proc/self/ns/pid'), () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()]) {
    try {
      parts.push(read());
    } catch {
      parts.push(''); // not Linux
    }
  }
  return sha256(parts.join('\n')).slice(0, 8);
}

const HOST = hostId();
/** This thread, as written into temp file names and lock files. */
export const OWNER = `${HOST}-${process.pid}-${threadId}`;

/**
 * State of this thread shared by every FileStore, and by copies of this module loaded twice:
 * - `mutexes`: per-key mutexes keyed by `<real dir>\0<hash>` (values: the tail of the queue), so
 *   two stores on one directory still serialise their writes;
 * - `inFlight`: temporary files being written, so cleanup never takes them for leftovers.
 */
const SHARED = ((globalThis as Record<symbol, unknown>)[Symbol.for('tessera.FileStore')] ??= {
  mutexes: new Map<string, Promise<void>>(),
  inFlight: new Set<string>(),
}) as { readonly mutexes: Map<string, Promise<void>>; readonly inFlight: Set<string> };
/**
 * This thread's per-key mutexes: `<real dir>\\0<hash>` → the tail of the key's queue.
 *
 * @example
 * ```ts
 * if (MUTEXES.has(`${dir}\\0${hash}`)) await checkFirst();
 * ```
 */
export const MUTEXES = SHARED.mutexes;
/**
 * Temporary files this thread is writing: cleanup never takes them for leftovers.
 *
 * @example
 * ```ts
 * IN_FLIGHT.add(temp);
 * ```
 */
export const IN_FLIGHT = SHARED.inFlight;

/**
 * Run `fn` when the mutex `id` is free, holding it meanwhile (one queue per key, in process).
 *
 * @example
 * ```ts
 * await withMutex(`${dir}\\0${hash}`, () => write(hash));
 * ```
 */
export async function withMutex<T>(id: string, fn: () => Promise<T>): Promise<T> {
  const previous = MUTEXES.get(id) ?? Promise.resolve();
  let release!: () => void;
  const tail = previous.then(() => new Promise<void>((resolve) => (release = resolve)));
  MUTEXES.set(id, tail);
  await previous;
  try {
    return await fn();
  } finally {
    release();
    if (MUTEXES.get(id) === tail) MUTEXES.delete(id);
  }
}

/**
 * Whether the thread named by `owner` is known to be gone. A file naming this very thread is a
 * leftover of an earlier process that had our PID (PIDs get reused): callers
 * only ask about a lock while holding the key's in-process mutex, and about a temporary file that
 * is not in {@link IN_FLIGHT}.
 *
 * @example
 * ```ts
 * if (ownerGone(owner)) await unlinkIfThere(path);
 * ```
 */
export function ownerGone(owner: string): boolean {
  const [host, pidText, tidText] = owner.split('-');
  if (host !== HOST) return false; // another machine, container or boot: only age can tell
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return Number(tidText) === threadId; // another worker thread: only age can tell
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return errno(error) === 'ESRCH'; // EPERM: alive, someone else's
  }
}

/**
 * The lock files of one store's `locks/` folder. Each call is made holding the key's in-process
 * mutex ({@link withMutex}).
 *
 * @example
 * ```ts
 * const locks = new FileLocks(join(dir, 'locks'), dir, { lockTimeout: 10_000, staleLockAfter: 5_000 });
 * const lock = await locks.acquire(hash);
 * try { await write(); } finally { await locks.release(lock); }
 * ```
 */
export class FileLocks {
  /** The `locks/` folder. */
  readonly dir: string;
  readonly lockTimeout: number;
  readonly staleLockAfter: number;
  /** The store's directory: the mutexes' namespace. */
  readonly #storeDir: string;

  constructor(dir: string, storeDir: string, options: { readonly lockTimeout: number; readonly staleLockAfter: number }) {
    this.dir = dir;
    this.#storeDir = storeDir;
    this.lockTimeout = options.lockTimeout;
    this.staleLockAfter = options.staleLockAfter;
  }

  /** Break a lock file (or a moved-aside one) found by cleanup, once its holder is known gone or it is old. */
  async sweep(name: string): Promise<void> {
    const path = join(this.dir, name);
    const parsed = LOCK.exec(name);
    if (parsed !== null) {
      await withMutex(`${this.#storeDir}\0${parsed[1]}`, () => this.breakIfStale(path));
      return;
    }
    // A lock moved aside by a break that was interrupted (its breaker died between the move and
    // the unlink), or anything else: remove it once its holder is known dead, or once old. One
    // whose holder lives may be a live lock moved by mistake that its breaker is putting back.
    const seen = await this.#inspect(path);
    if (seen === null) return;
    if ((seen.owner !== undefined && ownerGone(seen.owner)) || Date.now() - seen.mtime > this.staleLockAfter) await unlinkIfThere(path);
  }

  /**
   * Take `locks/<hash>.lock` (the caller holds the key's in-process mutex). The lock is a symlink
   * whose target is the holder's name: `symlink` creates it and its content in one atomic step
   * that fails if it exists (like `O_EXCL`), so there is never a half-written lock to misjudge.
   */
  async acquire(hash: string): Promise<HeldLock> {
    const path = join(this.dir, `${hash}.lock`);
    const content = `${OWNER}.${nonce()}`;
    const deadline = Date.now() + this.lockTimeout;
    for (let attempt = 0; ; attempt++) {
      try {
        await symlink(content, path);
        return { path, content, since: Date.now() };
      } catch (error) {
        const code = errno(error);
        if (code === 'ENOENT' && attempt < 3) {
          await mkdir(this.dir, { recursive: true, mode: 0o700 }); // the directory was removed under us
          continue;
        }
        if (code !== 'EEXIST') throw error;
      }
      if (await this.breakIfStale(path)) continue;
      if (Date.now() >= deadline) {
        throw new StoreUnavailableError('file', new Error(`lock ${path} still held by another process after ${this.lockTimeout} ms`));
      }
      // Back off: 1, 2, 4 ... 32 ms, with jitter so waiters do not move in step.
      await delay(Math.min(2 ** attempt, 32) * (0.5 + Math.random()));
    }
  }

  /**
   * Break the lock at `path` if it is left over; `true` when it is gone (retry at once). The
   * caller holds the key's in-process mutex.
   *
   * Breaking moves the lock aside with `rename` (atomic: of several breakers only one gets a
   * given file), then checks that what it moved is the lock judged stale; if a live lock was taken
   * in between and moved by mistake, it is put back.
   */
  async breakIfStale(path: string): Promise<boolean> {
    const seen = await this.#inspect(path);
    if (seen === null) return true;
    const stale = (seen.owner !== undefined && ownerGone(seen.owner)) || Date.now() - seen.mtime > this.staleLockAfter;
    if (!stale) return false;
    const aside = `${path}.${nonce()}.broken`;
    try {
      await rename(path, aside);
    } catch (error) {
      if (errno(error) === 'ENOENT') return true;
      throw error;
    }
    const moved = await this.#inspect(aside);
    if (moved !== null && (moved.ino !== seen.ino || moved.content !== seen.content)) {
      await symlink(moved.content, path).catch(() => undefined); // fails only if yet another lock exists: leave that one
    }
    await unlinkIfThere(aside);
    return true;
  }

  /** Identity, age and holder of a lock; `null` when it is gone. */
  async #inspect(path: string): Promise<{ ino: number; mtime: number; content: string; owner: string | undefined } | null> {
    try {
      const info = await lstat(path);
      // Anything but a symlink is not ours to read (a stray file): judge it by age alone.
      const content = info.isSymbolicLink() ? await readlink(path) : '';
      return { ino: info.ino, mtime: info.mtimeMs, content, owner: LOCK_CONTENT.exec(content)?.[1] };
    } catch (error) {
      if (errno(error) === 'ENOENT') return null;
      throw error;
    }
  }

  /** Whether `lock` is still ours. Only a hold longer than half the stale age can have lost it. */
  async stillHeld(lock: HeldLock): Promise<boolean> {
    if (Date.now() - lock.since < this.staleLockAfter / 2) return true;
    try {
      return (await readlink(lock.path)) === lock.content;
    } catch (error) {
      if (errno(error) === 'ENOENT' || errno(error) === 'EINVAL') return false;
      throw error;
    }
  }

  async release(lock: HeldLock): Promise<void> {
    if (await this.stillHeld(lock)) await unlinkIfThere(lock.path);
  }
}
