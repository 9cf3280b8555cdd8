/**
 * Crash safety of the durable stores: a child process writes sessions in a tight loop (large
 * values, many versions, concurrent compare-and-set) and is killed with SIGKILL mid-write. Every
 * session must then read back as exactly one complete version the child wrote — never torn, never
 * mixed, never gone, never older than before — and the store must stay fully usable: every session
 * can be updated (no lock left stuck), the user index matches the records, and cleanup leaves no
 * debris. Three rounds per store, each killing two writers that race on the same sessions (for the
 * file store, one of them frozen halfway through writing a session file, so it dies holding that
 * session's lock with a torn temporary file), each round starting from what the previous one left.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { FileStore } from '../../src/stores/file.js';
import { SqliteStore } from '../../src/stores/sqlite.js';
import type { SessionStore } from '../../src/stores/store.js';
import { KEYS, T0, USERS, problemWith, recordFor } from '../fixtures/crash-payload.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const WRITER = fileURLToPath(new URL('../fixtures/crash-writer.ts', import.meta.url));
const ROUNDS = 3;
const ctx = { now: T0 };

const root = mkdtempSync(join(tmpdir(), 'tessera-crash-'));
const children = new Set<ReturnType<typeof spawn>>();
after(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

/** A running writer: resolves `started` with its write count once it reports it has started. */
function startWriter(kind: 'file' | 'sqlite', path: string, minWrites: number, mode: 'run' | 'freeze') {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, kind, path, String(minWrites), mode], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))));
  void exited.then(() => children.delete(child));
  const started = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /started (\d+)\n/.exec(stdout);
      if (match) resolve(Number(match[1]));
    });
    void exited.then((how) => reject(new Error(`writer exited (${how}) before starting; stderr:\n${stderr}`)));
  });
  return { child, started, exited };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Run writers at once on the store, one per mode (they race on the same sessions, so the file
 * store's cross-process locks are in play). SIGKILL each as soon as it reports it has started
 * (after `minWrites` writes): a `run` writer never stops writing, a `freeze` writer stopped halfway
 * through writing a session. The others keep writing over what it left (its lock included). Wait
 * until all are gone; every wait is bounded. Resolves the writes they reported.
 */
async function runAndKill(kind: 'file' | 'sqlite', path: string, modes: readonly ('run' | 'freeze')[], minWrites: number): Promise<number> {
  const writers = modes.map((mode) => startWriter(kind, path, minWrites, mode));
  try {
    const killed = writers.map(({ child, started }) => started.then((n) => (child.kill('SIGKILL'), n)));
    const writes = await within(Promise.all(killed), 20_000, 'writers did not all start');
    const ends = await within(Promise.all(writers.map((w) => w.exited)), 5_000, 'writers still alive after SIGKILL');
    assert.deepEqual(ends, writers.map(() => 'SIGKILL'), 'the writers were killed, not stopped by an error');
    return writes.reduce((a, b) => a + b, 0);
  } finally {
    for (const { child } of writers) child.kill('SIGKILL');
  }
}

/**
 * Check every session after a crash; returns the versions read. `before` holds the versions read
 * after the previous crash: none may go back.
 */
async function checkAfterCrash(store: SessionStore, before: Map<string, number>): Promise<Map<string, number>> {
  const versions = new Map<string, number>();
  const byUser = new Map<string, string[]>(USERS.map((u) => [u, []]));
  for (const key of KEYS) {
    const record = await store.get(key, ctx);
    assert.ok(record, `${key} is readable after the crash`);
    assert.equal(problemWith(key, record), null, `${key} is one complete version the writer wrote`);
    assert.ok(record.version >= (before.get(key) ?? 1), `${key} did not go back from v${before.get(key)} to v${record.version}`);
    versions.set(key, record.version);
    if (record.userId !== null) byUser.get(record.userId)!.push(key);
  }
  // The user index agrees with the records, whatever the crash interrupted.
  for (const [user, keys] of byUser) {
    const listed = (await store.listByUser!(user, null, ctx)).map((r) => r.key).sort();
    assert.deepEqual(listed, keys.sort(), `listByUser(${user}) matches the records`);
  }
  // Nothing was left locked: every session takes its next version at once.
  for (const [key, version] of versions) {
    assert.equal(await store.set(key, recordFor(key, version + 1), version, ctx), true, `${key} can be updated after the crash`);
    versions.set(key, version + 1);
  }
  // Nothing is expired, so cleanup removes no session (but clears what the crash left behind).
  assert.equal(await store.deleteExpired!(ctx), 0);
  return versions;
}

async function crashRounds(kind: 'file' | 'sqlite', path: string, modes: readonly ('run' | 'freeze')[], open: () => SessionStore): Promise<void> {
  let versions = new Map<string, number>();
  let totalWrites = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // A different number of writes before each kill, so the kill lands at different points.
    totalWrites += await runAndKill(kind, path, modes, 40 + round * 37);
    const store = open();
    try {
      versions = await checkAfterCrash(store, versions);
    } finally {
      await store.close?.();
    }
  }
  assert.ok(totalWrites >= KEYS.length * ROUNDS, 'the writers really wrote');
  assert.ok([...versions.values()].some((v) => v > 10), 'sessions went through many versions');
}

describe('crash safety (SIGKILL mid-write)', () => {
  it('FileStore: every session survives intact, and no lock, temp file or index entry is left wrong', { timeout: 60_000 }, async () => {
    const dir = join(root, 'file-store');
    // A short lock timeout: a lock the killed writer left must be recognised as dead, not waited out.
    await crashRounds('file', dir, ['run', 'freeze'], () => new FileStore({ dir, lockTimeout: 2_000 }));
    const leftovers = readdirSync(join(dir, 'sessions')).filter((name) => !/^[0-9a-f]{64}$/.test(name));
    assert.deepEqual(leftovers, [], 'cleanup removed the temporary files of the killed writers');
    assert.deepEqual(readdirSync(join(dir, 'locks')), [], 'no lock file is left');
  });

  it('SqliteStore: every session survives intact', { timeout: 60_000 }, async () => {
    const path = join(root, 'sqlite', 'sessions.db');
    await crashRounds('sqlite', path, ['run', 'run'], () => new SqliteStore({ path }));
  });
});
