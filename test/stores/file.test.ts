import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs, { existsSync, lstatSync, lutimesSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { threadId } from 'node:worker_threads';
import { FileStore } from '../../src/stores/file.js';
import { storeConformance } from '../../src/stores/conformance.js';
import type { StoreRecord } from '../../src/stores/store.js';
import { ConfigError, TesseraError } from '../../src/errors.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-file-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `s${n++}`);

storeConformance({ name: 'file', create: () => new FileStore({ dir: freshDir() }) });
// The option's own path, with fewer writers: the 100-writer run above already loads the same in-process locking.
storeConformance({ name: 'file, single process (crossProcess: false)', writers: 30, create: () => new FileStore({ dir: freshDir(), crossProcess: false }) });

// The documented on-disk layout, rebuilt here so the tests check it rather than trust it.
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const HOST = ((): string => {
  const parts = [hostname()];
  for (const read of [() => readlinkSync('/proc/self/ns/pid'), () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()]) {
    try {
      parts.push(read());
    } catch {
      parts.push('');
    }
  }
  return sha256(parts.join('\n')).slice(0, 8);
})();
const sessionFile = (dir: string, key: string): string => join(dir, 'sessions', sha256(key));
const lockFile = (dir: string, key: string): string => join(dir, 'locks', `${sha256(key)}.lock`);
const tempFile = (dir: string, key: string, owner: string): string => join(dir, 'sessions', `${sha256(key)}.${owner}.0badc0de.tmp`);
const isHash = (name: string): boolean => /^[0-9a-f]{64}$/.test(name);
/** Whether a path exists, as itself (locks are symlinks to nowhere: `existsSync` would follow them). */
const present = (path: string): boolean => lstatSync(path, { throwIfNoEntry: false }) !== undefined;
/** A PID on this host that is certainly not running: a process that already exited. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '']).pid!;
const HOUR_AGO = Date.now() / 1000 - 3600;

const T = Date.UTC(2030, 0, 1);
const ctx = { now: T };
const rec = (over: Partial<StoreRecord> = {}): StoreRecord => ({
  data: '{"d":{}}',
  version: 1,
  expiresAt: T + 3_600_000,
  userId: null,
  tenant: null,
  ...over,
});

describe('FileStore', () => {
  it('creates its directory private (0700) and session files private (0600)', async () => {
    const dir = join(freshDir(), 'nested', 'sessions');
    const store = new FileStore({ dir });
    await store.set('k', rec(), 0, ctx);
    if (process.platform !== 'win32') {
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.equal(statSync(sessionFile(dir, 'k')).mode & 0o777, 0o600);
    }
    await store.close();
  });

  it('makes everything it creates private whatever the umask, and leaves an existing directory as it is', { skip: process.platform === 'win32' }, async () => {
    const mode = (path: string): number => statSync(path).mode & 0o777;
    const previous = process.umask(0); // the widest umask: nothing private comes from it
    try {
      const parent = join(freshDir(), 'parent');
      const dir = join(parent, 'sessions');
      const store = new FileStore({ dir });
      await store.set('k', rec({ userId: 'alice' }), 0, ctx);
      for (const folder of [parent, dir, join(dir, 'sessions'), join(dir, 'users'), join(dir, 'locks'), join(dir, 'users', sha256('alice'))]) {
        assert.equal(mode(folder).toString(8), '700', folder);
      }
      assert.equal(mode(sessionFile(dir, 'k')).toString(8), '600');
      assert.equal(mode(join(dir, 'users', sha256('alice'), sha256('k'))).toString(8), '600');
      await store.close();

      const given = freshDir();
      mkdirSync(given, { mode: 0o750 });
      await new FileStore({ dir: given }).close();
      assert.equal(mode(given).toString(8), '750', "the user's own directory keeps its mode");
    } finally {
      process.umask(previous);
    }
  });

  it('keeps sessions across a reopen of the directory', async () => {
    const dir = freshDir();
    const first = new FileStore({ dir });
    await first.set('k', rec({ data: 'kept', userId: 'u' }), 0, ctx);
    await first.close();
    const second = new FileStore({ dir });
    assert.equal((await second.get('k', ctx))?.data, 'kept');
    assert.deepEqual((await second.listByUser('u', null, ctx)).map((r) => r.key), ['k']);
  });

  it('stores keys and user IDs only as hashes: no key can escape the directory', async () => {
    const base = freshDir();
    const dir = join(base, 'store');
    const store = new FileStore({ dir });
    const keys = ['../escape', '../../../../../../tmp/evil', '/etc/passwd', 'a/../../b', '..', '.', '', '..\\..\\win', 'nul\0byte', 'CON', 'x'.repeat(10_000)];
    for (const [i, key] of keys.entries()) {
      assert.equal(await store.set(key, rec({ data: `v${i}`, userId: '../../users/evil' }), 0, ctx), true);
    }
    for (const [i, key] of keys.entries()) assert.equal((await store.get(key, ctx))?.data, `v${i}`, JSON.stringify(key.slice(0, 20)));
    assert.deepEqual(readdirSync(base), ['store'], 'nothing was written next to the store');
    await store.recordActivity('../escape', 'tab-evil', ctx.now, ctx.now + 60_000, ctx);
    assert.deepEqual(readdirSync(dir).sort(), ['activity', 'locks', 'sessions', 'users']);
    assert.deepEqual(readdirSync(join(dir, 'activity')), [sha256('../escape')], 'activity files are named by hashes');
    const sessions = readdirSync(join(dir, 'sessions'));
    assert.equal(sessions.length, keys.length);
    assert.ok(sessions.every(isHash), 'session files are named by hashes');
    assert.deepEqual(readdirSync(join(dir, 'users')), [sha256('../../users/evil')]);
    assert.equal((await store.listByUser('../../users/evil', null, ctx)).length, keys.length);
  });

  it('replaces files atomically: no temporary file is left after many concurrent writes', async () => {
    const dir = freshDir();
    const store = new FileStore({ dir });
    const keys = ['a', 'b', 'c', 'd'];
    for (const key of keys) await store.set(key, rec(), 0, ctx);
    // 40 racing updates per key: only one per version wins, the losers must leave nothing behind.
    for (let version = 1; version <= 10; version++) {
      const results = await Promise.all(
        keys.flatMap((key) => [1, 2, 3, 4].map((w) => store.set(key, rec({ version: version + 1, data: `${key}${w}` }), version, ctx))),
      );
      assert.equal(results.filter(Boolean).length, keys.length, 'one winner per key');
    }
    assert.deepEqual(readdirSync(join(dir, 'sessions')).sort(), keys.map(sha256).sort());
    assert.deepEqual(readdirSync(join(dir, 'locks')), [], 'every lock was released');
    for (const key of keys) assert.equal((await store.get(key, ctx))?.version, 11);
  });

  it('ignores a partially written temporary file: reads see the last complete version', async () => {
    const dir = freshDir();
    const store = new FileStore({ dir });
    await store.set('k', rec({ data: 'complete v1' }), 0, ctx);
    // What a writer killed mid-write leaves: the first half of v2 in a temp file of its own.
    const other = freshDir();
    await new FileStore({ dir: other }).set('k', rec({ data: 'v2 '.repeat(1000), version: 2 }), 0, ctx);
    const v2 = readFileSync(sessionFile(other, 'k'));
    writeFileSync(tempFile(dir, 'k', `${HOST}-${deadPid()}-0`), v2.subarray(0, v2.length >> 1));
    assert.equal((await store.get('k', ctx))?.data, 'complete v1');
    assert.equal(await store.set('k', rec({ data: 'v2', version: 2 }), 1, ctx), true);
    assert.equal((await store.get('k', ctx))?.data, 'v2');
  });

  describe('a damaged session file reads as not found, never as an error', () => {
    const damages: [string, (file: Buffer) => Buffer][] = [
      ['empty', () => Buffer.alloc(0)],
      ['truncated to its header', (f) => f.subarray(0, f.indexOf(10) + 1)],
      ['truncated by one byte', (f) => f.subarray(0, f.length - 1)],
      ['one flipped bit in the data', (f) => Buffer.from(f.map((b, i) => (i === f.length - 3 ? b ^ 1 : b)))],
      ['one flipped bit in the metadata', (f) => Buffer.from(f.map((b, i) => (i === f.indexOf(10) + 12 ? b ^ 1 : b)))],
      ['garbage', () => Buffer.from('\u0000\u00ff not a session \n{}\n')],
      ['a stray JSON file', () => Buffer.from(JSON.stringify(rec()))],
    ];
    for (const [name, damage] of damages) {
      it(name, async () => {
        const dir = freshDir();
        const store = new FileStore({ dir });
        await store.set('k', rec({ data: 'payload '.repeat(50), userId: 'u' }), 0, ctx);
        const path = sessionFile(dir, 'k');
        writeFileSync(path, damage(readFileSync(path)));
        assert.equal(await store.get('k', ctx), null);
        assert.deepEqual(await store.listByUser('u', null, ctx), []);
        // A damaged file does not block the key: a new session can be created over it.
        assert.equal(await store.set('k', rec({ data: 'fresh' }), 0, ctx), true);
        assert.equal((await store.get('k', ctx))?.data, 'fresh');
      });
    }

    it('a session file moved under another key’s name', async () => {
      const dir = freshDir();
      const store = new FileStore({ dir });
      await store.set('a', rec({ data: 'A' }), 0, ctx);
      await store.set('b', rec({ data: 'B' }), 0, ctx);
      writeFileSync(sessionFile(dir, 'b'), readFileSync(sessionFile(dir, 'a')));
      assert.equal(await store.get('b', ctx), null);
      assert.equal((await store.get('a', ctx))?.data, 'A');
    });
  });

  describe('deleteExpired', () => {
    it('removes expired files and their index entries, keeps live ones, counts what it removed', async () => {
      const dir = freshDir();
      const store = new FileStore({ dir });
      await store.set('old-u', rec({ userId: 'gone', expiresAt: T + 1_000 }), 0, ctx);
      await store.set('old-v', rec({ userId: 'stays', expiresAt: T + 1_000 }), 0, ctx);
      await store.set('old-long-key-' + 'k'.repeat(6_000), rec({ expiresAt: T + 1_000 }), 0, ctx); // metadata past the first block
      await store.set('live', rec({ userId: 'stays' }), 0, ctx);
      assert.equal(await store.deleteExpired({ now: T + 2_000 }), 3);
      assert.deepEqual(readdirSync(join(dir, 'sessions')), [sha256('live')]);
      assert.deepEqual(readdirSync(join(dir, 'users')), [sha256('stays')], 'the user left without sessions has no index folder');
      assert.deepEqual(readdirSync(join(dir, 'users', sha256('stays'))), [sha256('live')]);
      assert.equal(await store.deleteExpired({ now: T + 2_000 }), 0);
    });

    it('decides expiry on the caller clock, not the file times', async () => {
      const store = new FileStore({ dir: freshDir() });
      await store.set('k', rec({ expiresAt: T + 10_000 }), 0, ctx);
      assert.equal(await store.deleteExpired({ now: T + 9_999 }), 0);
      assert.notEqual(await store.get('k', { now: T + 9_999 }), null);
      assert.equal(await store.deleteExpired({ now: T + 10_000 }), 1);
    });

    it('removes damaged session files (not counted as sessions)', async () => {
      const dir = freshDir();
      const store = new FileStore({ dir });
      await store.set('k', rec(), 0, ctx);
      writeFileSync(sessionFile(dir, 'k'), 'torn');
      assert.equal(await store.deleteExpired(ctx), 0);
      assert.deepEqual(readdirSync(join(dir, 'sessions')), []);
    });

    it('removes temporary files left by crashed writers, but not what may be a write in flight', async () => {
      const dir = freshDir();
      const store = new FileStore({ dir });
      const deadWriter = tempFile(dir, 'a', `${HOST}-${deadPid()}-0`);
      const earlierSelf = tempFile(dir, 'b', `${HOST}-${process.pid}-${threadId}`); // a process before us had our PID
      const otherHostOld = tempFile(dir, 'c', `0000beef-123-0`);
      const otherHostNew = tempFile(dir, 'd', `0000beef-124-0`);
      const liveWriterHere = tempFile(dir, 'e', `${HOST}-${process.ppid}-0`);
      for (const path of [deadWriter, earlierSelf, otherHostOld, otherHostNew, liveWriterHere]) writeFileSync(path, 'half a sess');
      utimesSync(otherHostOld, HOUR_AGO, HOUR_AGO);
      assert.equal(await store.deleteExpired(ctx), 0, 'temporary files are not sessions');
      for (const gone of [deadWriter, earlierSelf, otherHostOld]) assert.equal(existsSync(gone), false, gone);
      for (const kept of [otherHostNew, liveWriterHere]) assert.equal(existsSync(kept), true, kept);
    });

    it('runs safely alongside writers', async () => {
      const dir = freshDir();
      const store = new FileStore({ dir });
      const writes = Array.from({ length: 60 }, (_, i) => store.set(`k${i % 20}`, rec({ data: `w${i}` }), 0, ctx));
      const cleanups = [store.deleteExpired(ctx), store.deleteExpired(ctx), store.deleteExpired(ctx)];
      const results = await Promise.all(writes);
      assert.deepEqual(await Promise.all(cleanups), [0, 0, 0]);
      assert.equal(results.filter(Boolean).length, 20, 'one create per key won');
      assert.deepEqual(readdirSync(join(dir, 'sessions')).filter((name) => !isHash(name)), []);
    });

    it('removes locks left by dead processes, keeps live ones', async () => {
      const dir = freshDir();
      const store = new FileStore({ dir });
      symlinkSync(`${HOST}-${deadPid()}-0.1234`, lockFile(dir, 'dead'));
      symlinkSync(`${HOST}-${process.ppid}-0.1234`, lockFile(dir, 'live'));
      await store.deleteExpired(ctx);
      assert.deepEqual(readdirSync(join(dir, 'locks')), [`${sha256('live')}.lock`]);
    });

    it('removes a lock moved aside by a breaker that died before unlinking it, once its holder is dead', async () => {
      const dir = freshDir();
      const store = new FileStore({ dir });
      const dead = `${lockFile(dir, 'a')}.00ff.broken`;
      const live = `${lockFile(dir, 'b')}.00ff.broken`; // may be a live lock its breaker is putting back
      symlinkSync(`${HOST}-${deadPid()}-0.1234`, dead);
      symlinkSync(`${HOST}-${process.ppid}-0.1234`, live);
      await store.deleteExpired(ctx);
      assert.deepEqual(readdirSync(join(dir, 'locks')), [basename(live)]);
    });
  });

  describe('the user index', () => {
    it('moves a session between users and drops it on sign-out, on disk', async () => {
      const dir = freshDir();
      const store = new FileStore({ dir });
      const markers = (user: string): string[] => (existsSync(join(dir, 'users', sha256(user))) ? readdirSync(join(dir, 'users', sha256(user))) : []);
      await store.set('k', rec({ userId: 'alice' }), 0, ctx);
      assert.deepEqual(markers('alice'), [sha256('k')]);
      await store.set('k', rec({ userId: 'bob', version: 2 }), 1, ctx);
      assert.deepEqual([markers('alice'), markers('bob')], [[], [sha256('k')]]);
      await store.set('k', rec({ userId: null, version: 3 }), 2, ctx);
      assert.deepEqual(markers('bob'), []);
      await store.set('k', rec({ userId: 'bob', version: 4 }), 3, ctx);
      await store.delete('k', ctx);
      assert.deepEqual(markers('bob'), []);
      assert.deepEqual(readdirSync(join(dir, 'users')), [], 'no empty user folders are left');
    });

    it('prunes entries whose session is gone or belongs to someone else (left by a crash)', async () => {
      const dir = freshDir();
      const store = new FileStore({ dir });
      await store.set('mine', rec({ userId: 'u' }), 0, ctx);
      await store.set('theirs', rec({ userId: 'v' }), 0, ctx);
      const index = join(dir, 'users', sha256('u'));
      writeFileSync(join(index, sha256('vanished')), '');
      writeFileSync(join(index, sha256('theirs')), '');
      assert.deepEqual((await store.listByUser('u', null, ctx)).map((r) => r.key), ['mine']);
      assert.deepEqual(readdirSync(index), [sha256('mine')]);
      assert.deepEqual((await store.listByUser('v', null, ctx)).map((r) => r.key), ['theirs']);
    });

    it('lists without reading other users’ sessions', async () => {
      const dir = freshDir();
      const store = new FileStore({ dir });
      for (let i = 0; i < 50; i++) await store.set(`other${i}`, rec({ userId: `user${i}` }), 0, ctx);
      await store.set('mine', rec({ userId: 'me' }), 0, ctx);
      // Count the files read, through the binding the store imported from node:fs.
      const read: string[] = [];
      const original = fs.readFile;
      fs.readFile = ((path: string, ...rest: unknown[]) => {
        read.push(path);
        return (original as (...a: unknown[]) => void)(path, ...rest);
      }) as typeof fs.readFile;
      syncBuiltinESMExports();
      try {
        assert.deepEqual((await store.listByUser('me', null, ctx)).map((r) => r.key), ['mine']);
      } finally {
        fs.readFile = original;
        syncBuiltinESMExports();
      }
      assert.deepEqual(read, [sessionFile(dir, 'mine')], 'only the user’s own session file was read');
    });
  });

  describe('locks shared by processes', () => {
    it('breaks at once a lock whose process is dead', async () => {
      const dir = freshDir();
      const store = new FileStore({ dir, lockTimeout: 1_000 });
      await store.set('k', rec(), 0, ctx);
      symlinkSync(`${HOST}-${deadPid()}-0.1234`, lockFile(dir, 'k'));
      assert.equal(await store.set('k', rec({ version: 2 }), 1, ctx), true);
      assert.equal(present(lockFile(dir, 'k')), false);
    });

    it('breaks a lock older than staleLockAfter whose owner cannot be checked', async () => {
      const dir = freshDir();
      const store = new FileStore({ dir, lockTimeout: 1_000 });
      symlinkSync('0000beef-123-0.1234', lockFile(dir, 'k')); // another host
      lutimesSync(lockFile(dir, 'k'), HOUR_AGO, HOUR_AGO);
      assert.equal(await store.set('k', rec(), 0, ctx), true);
    });

    it('waits for a live lock, then fails with StoreUnavailableError; reads go on meanwhile', async () => {
      const dir = freshDir();
      const store = new FileStore({ dir, lockTimeout: 100 });
      await store.set('k', rec({ data: 'before' }), 0, ctx);
      symlinkSync(`${HOST}-${process.ppid}-0.1234`, lockFile(dir, 'k')); // our parent: alive
      await assert.rejects(store.set('k', rec({ version: 2 }), 1, ctx), (error: TesseraError) => error.code === 'ERR_STORE_UNAVAILABLE');
      await assert.rejects(store.delete('k', ctx), (error: TesseraError) => error.code === 'ERR_STORE_UNAVAILABLE');
      assert.equal((await store.get('k', ctx))?.data, 'before');
      assert.equal(present(lockFile(dir, 'k')), true, "another process's live lock is never removed");
    });

    it('takes no lock files with crossProcess: false', async () => {
      const dir = freshDir();
      const store = new FileStore({ dir, crossProcess: false, lockTimeout: 100 });
      symlinkSync(`${HOST}-${process.ppid}-0.1234`, lockFile(dir, 'k'));
      assert.equal(await store.set('k', rec(), 0, ctx), true);
    });

    it('keeps compare-and-set between two stores on one directory in one process', async () => {
      const dir = freshDir();
      const stores = [new FileStore({ dir }), new FileStore({ dir })];
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => stores[i % 2]!.set('race', rec({ data: `w${i}` }), 0, ctx)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    it('loses no update when several processes increment one session', { timeout: 30_000 }, async () => {
      const dir = freshDir();
      const counter = fileURLToPath(new URL('../fixtures/file-counter.ts', import.meta.url));
      const perProcess = 60;
      const children = [0, 1, 2].map(() =>
        spawn(process.execPath, ['--import', 'tsx', counter, dir, 'counter', String(perProcess)], {
          cwd: fileURLToPath(new URL('../..', import.meta.url)),
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
      const done = children.map(
        (child) =>
          new Promise<void>((resolve, reject) => {
            let out = '';
            let err = '';
            child.stdout.on('data', (c: Buffer) => (out += c.toString()));
            child.stderr.on('data', (c: Buffer) => (err += c.toString()));
            const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
            child.once('exit', (code) => {
              clearTimeout(timer);
              if (code === 0 && out.includes('done')) resolve();
              else reject(new Error(`counter exited ${code}: ${err}`));
            });
          }),
      );
      // This process increments too, through another store on the same directory.
      const store = new FileStore({ dir });
      for (let i = 0; i < perProcess; i++) {
        for (;;) {
          const current = await store.get('counter', ctx);
          const count = current === null ? 0 : (JSON.parse(current.data) as { n: number }).n;
          const version = (current?.version ?? 0) + 1;
          if (await store.set('counter', rec({ data: JSON.stringify({ n: count + 1 }), version }), version - 1, ctx)) break;
        }
      }
      await Promise.all(done);
      const final = await store.get('counter', ctx);
      assert.deepEqual(JSON.parse(final!.data), { n: 4 * perProcess });
      assert.equal(final!.version, 4 * perProcess);
    });
  });

  describe('fsync', () => {
    async function countSyncs(options: { fsync?: boolean }, fn: (store: FileStore) => Promise<void>): Promise<{ file: number; dir: number }> {
      const store = new FileStore({ dir: freshDir(), ...options });
      const proto = await handlePrototype();
      const { sync, datasync } = proto;
      const counts = { file: 0, dir: 0 };
      proto.datasync = function (this: FileHandle) {
        counts.file++;
        return datasync.call(this);
      };
      proto.sync = function (this: FileHandle) {
        counts.dir++;
        return sync.call(this);
      };
      try {
        await fn(store);
      } finally {
        proto.sync = sync;
        proto.datasync = datasync;
      }
      return counts;
    }

    it('is off by default: no flush at all', async () => {
      const counts = await countSyncs({}, async (store) => {
        await store.set('k', rec({ userId: 'u' }), 0, ctx);
        await store.delete('k', ctx);
      });
      assert.deepEqual(counts, { file: 0, dir: 0 });
    });

    it('flushes the new file before the rename and the directory after it', async () => {
      const counts = await countSyncs({ fsync: true }, async (store) => {
        await store.set('k', rec(), 0, ctx);
        await store.set('k', rec({ version: 2 }), 1, ctx);
      });
      assert.deepEqual(counts, { file: 2, dir: 2 });
    });

    it('flushes deletes and new user index entries too', async () => {
      const counts = await countSyncs({ fsync: true }, async (store) => {
        await store.set('k', rec({ userId: 'u' }), 0, ctx); // file, sessions dir, new user dir, its marker
        await store.delete('k', ctx); // sessions dir
      });
      assert.deepEqual(counts, { file: 1, dir: 4 });
    });

    it('still reads back what it wrote', async () => {
      const dir = freshDir();
      const store = new FileStore({ dir, fsync: true });
      await store.set('k', rec({ data: 'durable' }), 0, ctx);
      assert.equal((await new FileStore({ dir }).get('k', ctx))?.data, 'durable');
    });
  });

  it('close waits for writes in flight', async () => {
    const dir = freshDir();
    const store = new FileStore({ dir });
    const write = store.set('k', rec({ data: 'x'.repeat(1_000_000) }), 0, ctx);
    await store.close();
    assert.equal(existsSync(sessionFile(dir, 'k')), true);
    assert.equal(await write, true);
  });

  it('refuses bad options with ConfigError', () => {
    assert.throws(() => new FileStore({ dir: '' }), ConfigError);
    assert.throws(() => new FileStore({ dir: freshDir(), lockTimeout: 0 }), ConfigError);
    assert.throws(() => new FileStore({ dir: freshDir(), staleLockAfter: Number.NaN }), ConfigError);
    const notADir = join(root, 'plain-file');
    writeFileSync(notADir, '');
    assert.throws(() => new FileStore({ dir: notADir }), ConfigError);
    mkdirSync(join(root, 'ok'));
    assert.doesNotThrow(() => new FileStore({ dir: join(root, 'ok') }));
  });
});

/** The prototype of fs/promises file handles, to observe what the store does with its files. */
async function handlePrototype(): Promise<FileHandle> {
  const handle = await open(process.execPath, 'r');
  await handle.close();
  return Object.getPrototypeOf(handle) as FileHandle;
}
