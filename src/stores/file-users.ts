/**
 * The by-user index of {@link FileStore}: `users/<sha256(userId)>/<sha256(key)>`, an empty marker
 * file per session of the user. The store creates a marker before the session file is renamed
 * into place and removes it after the file is deleted, so a marker can be stale but never
 * missing; `listByUser` verifies each against its session and prunes the stale ones.
 *
 * @module
 * @internal
 */
import { mkdir, open, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errno, HASH, sha256, syncDir, unlinkIfThere } from './file-format.js';

/**
 * The marker files under `users/`.
 *
 * @example
 * ```ts
 * const users = new UserIndex(join(dir, 'users'), fsync);
 * await users.add('u1', sha256(key));          // before the session file is renamed into place
 * const hashes = await users.hashes('u1');      // the sessions to read and verify
 * await users.remove('u1', sha256(key));        // after the session file is deleted
 * ```
 */
export class UserIndex {
  readonly #users: string;
  readonly #fsync: boolean;

  /** The index in the folder `users`; with `fsync`, new markers and folders are flushed to the disk. */
  constructor(users: string, fsync: boolean) {
    this.#users = users;
    this.#fsync = fsync;
  }

  /** The session hashes marked for `userId` (none when the user has no folder). */
  async hashes(userId: string): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(join(this.#users, sha256(userId)));
    } catch (error) {
      if (errno(error) === 'ENOENT') return [];
      throw error;
    }
    return names.filter((name) => HASH.test(name));
  }

  /** Mark session `hash` as `userId`'s (already marked: nothing to do). */
  async add(userId: string, hash: string): Promise<void> {
    const dir = join(this.#users, sha256(userId));
    for (let attempt = 0; ; attempt++) {
      try {
        await (await open(join(dir, hash), 'wx', 0o600)).close();
        if (this.#fsync) await syncDir(dir);
        return;
      } catch (error) {
        const code = errno(error);
        if (code === 'EEXIST') return;
        // The user's directory is missing, or was just removed as empty by another cleanup.
        if (code !== 'ENOENT' || attempt >= 10) throw error;
        const created = await mkdir(dir, { recursive: true, mode: 0o700 });
        if (created !== undefined && this.#fsync) await syncDir(this.#users);
      }
    }
  }

  /** Remove the marker of session `hash` under `userId`, and the user's folder when it was the last. */
  async remove(userId: string, hash: string): Promise<void> {
    const dir = join(this.#users, sha256(userId));
    await unlinkIfThere(join(dir, hash));
    try {
      await rmdir(dir); // only succeeds when it was the user's last session
    } catch (error) {
      const code = errno(error);
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') throw error;
    }
  }
}
