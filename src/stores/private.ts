/**
 * Private files and directories for the stores that keep sessions on disk (SQLite, files):
 * what tessera creates is readable by its own user only, whatever the process umask.
 *
 * @module
 * @internal
 */
import { chmodSync, closeSync, fchmodSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Create `dir` and its missing parents with mode 0700, set exactly (the umask neither widens nor
 * narrows it). A directory that already exists is left as it is: its mode is its owner's choice.
 *
 * @example
 * ```ts
 * makePrivateDir('./data'); // ./data is drwx------ if this call made it
 * ```
 */
export function makePrivateDir(dir: string): void {
  const first = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  // Every directory from the first one made down to `dir` is ours.
  const top = resolve(first);
  for (let path = resolve(dir); ; path = dirname(path)) {
    chmodSync(path, 0o700);
    if (path === top || dirname(path) === path) return;
  }
}

/**
 * Create the empty file `path` with mode 0600, set exactly; `false` when it already exists (it is
 * left as it is).
 *
 * @example
 * ```ts
 * createPrivateFile('./data/sessions.db'); // true the first time: -rw-------
 * ```
 */
export function createPrivateFile(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
  return true;
}
