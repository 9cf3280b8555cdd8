/**
 * The activity of {@link FileStore}: one file per session that has any, `activity/<sha256(key)>`,
 * holding JSON `{ "key": ..., "tabs": { "<tab>": [at, expiresAt] } }`. A write reads, merges and
 * replaces the file (a temporary file, then `rename`) under the session's own lock, so writers in
 * several processes never lose one another's tabs. Activity is never flushed to the disk with
 * `fsync`: a power cut may lose its last seconds, as it would lose nothing else of worth.
 *
 * @module
 * @internal
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreUnavailableError } from '../../errors.js';
import { isExpired, lastOf, type ActivityQuery, type SessionActivity, type StoreContext, type StoreRecord } from '../store.js';

const HASH = /^[0-9a-f]{64}$/;
/** A temporary file older than this (ms) was left by a writer that crashed. */
const STALE_TEMP = 3_600_000;

interface ActivityFile {
  key: string;
  tabs: Record<string, [number, number]>;
}

function sha256(input: string): string {
  return createHash('sha256').update(input).digest('hex');
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/** Filesystem failures become `StoreUnavailableError`; programming errors pass through. */
function unavailable(error: unknown): never {
  if (typeof (error as NodeJS.ErrnoException | null)?.syscall === 'string') throw new StoreUnavailableError('file', error);
  throw error;
}

function parse(text: string, hash: string): ActivityFile | null {
  try {
    const parsed = JSON.parse(text) as ActivityFile;
    if (typeof parsed?.key !== 'string' || sha256(parsed.key) !== hash || parsed.tabs === null || typeof parsed.tabs !== 'object') return null;
    return parsed;
  } catch {
    return null;
  }
}

/**
 * Per-tab activity as files, for {@link FileStore}, which passes its per-key lock and its reader.
 *
 * @example
 * ```ts
 * const activity = new FileActivity(join(dir, 'activity'), (hash, fn) => locked(hash, fn), (key, ctx) => store.get(key, ctx));
 * await activity.record(key, tab, now, now + 3_600_000);
 * ```
 */
export class FileActivity {
  readonly #dir: string;
  readonly #locked: <T>(hash: string, fn: () => Promise<T>) => Promise<T>;
  readonly #recordOf: (key: string, ctx: StoreContext) => Promise<StoreRecord | null>;

  /** `dir` must exist. `locked(hash, fn)`: run `fn` holding the session's lock (the store's). */
  constructor(
    dir: string,
    locked: <T>(hash: string, fn: () => Promise<T>) => Promise<T>,
    recordOf: (key: string, ctx: StoreContext) => Promise<StoreRecord | null>,
  ) {
    this.#dir = dir;
    this.#locked = locked;
    this.#recordOf = recordOf;
  }

  record(key: string, tab: string, at: number, expiresAt: number, ctx: StoreContext): Promise<void> {
    const hash = sha256(key);
    return this.#locked(hash, async () => {
      const file = (await this.#read(hash)) ?? { key, tabs: {} };
      const [was, wasExpiring] = file.tabs[tab] ?? [-Infinity, -Infinity];
      // Expired tabs are dropped as the file is written; JSON has no Infinity.
      for (const [other, entry] of Object.entries(file.tabs)) if (isExpired({ expiresAt: entry[1] }, ctx.now)) delete file.tabs[other];
      file.tabs[tab] = [Math.max(was, at), Math.min(Math.max(wasExpiring, expiresAt), Number.MAX_SAFE_INTEGER)];
      const temp = join(this.#dir, `${hash}.${randomBytes(8).toString('hex')}.tmp`);
      try {
        await writeFile(temp, JSON.stringify(file), { mode: 0o600 });
        await rename(temp, join(this.#dir, hash));
      } catch (error) {
        await unlink(temp).catch(() => undefined);
        unavailable(error);
      }
    });
  }

  async of(key: string, ctx: StoreContext): Promise<Record<string, number>> {
    return live(await this.#read(sha256(key)), ctx.now);
  }

  /** Reads every activity file: a listing costs time in proportion to the sessions with activity. */
  async list(query: ActivityQuery, ctx: StoreContext): Promise<SessionActivity[]> {
    const found: Array<SessionActivity & { last: number }> = [];
    const hashes = (await this.#names()).filter((name) => HASH.test(name));
    for (let i = 0; i < hashes.length; i += 32) {
      await Promise.all(
        hashes.slice(i, i + 32).map(async (hash) => {
          const file = await this.#read(hash);
          const tabs = live(file, ctx.now);
          const last = lastOf(tabs);
          if (file === null || last === -Infinity || last < query.since || last >= query.before) return;
          const record = await this.#recordOf(file.key, ctx);
          if (record === null || (query.tenant !== null && record.tenant !== query.tenant)) return;
          found.push({ key: file.key, userId: record.userId, tenant: record.tenant, tabs, last });
        }),
      );
    }
    found.sort((a, b) => b.last - a.last || (a.key < b.key ? -1 : 1));
    return found.slice(0, query.limit).map(({ key, userId, tenant, tabs }) => ({ key, userId, tenant, tabs }));
  }

  /** Remove the activity of the session `hash`; the caller holds its lock (the store's `delete`). */
  async forget(hash: string): Promise<void> {
    try {
      await unlink(join(this.#dir, hash));
    } catch (error) {
      if (errno(error) !== 'ENOENT') unavailable(error);
    }
  }

  /** Remove the files whose every tab expired at `ctx.now`, and temporary files crashed writers left. */
  async deleteExpired(ctx: StoreContext): Promise<void> {
    for (const name of await this.#names()) {
      if (HASH.test(name)) {
        if (Object.keys(live(await this.#read(name), ctx.now)).length > 0) continue;
        await this.#locked(name, async () => {
          if (Object.keys(live(await this.#read(name), ctx.now)).length === 0) await this.forget(name);
        });
      } else if (name.endsWith('.tmp')) {
        const path = join(this.#dir, name);
        const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
        if (age > STALE_TEMP) await unlink(path).catch(() => undefined);
      }
    }
  }

  async #names(): Promise<string[]> {
    try {
      return await readdir(this.#dir);
    } catch (error) {
      return unavailable(error);
    }
  }

  /** The file of session `hash`; `null` when there is none or it is damaged. */
  async #read(hash: string): Promise<ActivityFile | null> {
    try {
      return parse(await readFile(join(this.#dir, hash), 'utf8'), hash);
    } catch (error) {
      if (errno(error) === 'ENOENT') return null;
      return unavailable(error);
    }
  }
}

/** The live tabs of a file at `now`: tab → last activity. */
function live(file: ActivityFile | null, now: number): Record<string, number> {
  const out: Record<string, number> = {};
  if (file === null) return out;
  for (const [tab, entry] of Object.entries(file.tabs)) {
    if (Array.isArray(entry) && typeof entry[0] === 'number' && typeof entry[1] === 'number' && !isExpired({ expiresAt: entry[1] }, now)) out[tab] = entry[0];
  }
  return out;
}
