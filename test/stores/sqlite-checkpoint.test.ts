import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { ConfigError } from '../../src/errors.js';
import { substitutePeer } from '../../src/stores/peer.js';
import { startCheckpointer, withCheckpointHooks, type CheckpointResult } from '../../src/stores/sqlite-checkpoint.js';
import { SqliteStore } from '../../src/stores/sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-checkpoint-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const HOUR = 3_600_000;

async function write(store: SqliteStore, count: number, prefix = 'k'): Promise<void> {
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    await store.set(`${prefix}${i}`, { data: 'x'.repeat(500), version: 1, expiresAt: now + HOUR, userId: null, tenant: null }, 0, { now });
  }
}

/** The sessions in the database file alone — what a checkpoint has copied there — read from a copy without its log. */
function rowsInDatabaseFile(path: string): number {
  const copy = `${path}.alone`;
  copyFileSync(path, copy);
  const db = new Database(copy, { readonly: true });
  try {
    const table = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'tessera_sessions'`).get();
    return table ? (db.prepare('SELECT COUNT(*) AS n FROM tessera_sessions').get() as { n: number }).n : 0;
  } finally {
    db.close();
    rmSync(copy);
  }
}

/**
 * `promise`, failing after `ms`. The timer also keeps this process's event loop alive meanwhile:
 * the checkpoint thread, unref'd, does not.
 */
function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer!: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** The next checkpoint the store's thread reports that satisfies `test`. */
function checkpoints(): { hook: (r: CheckpointResult) => void; next: (test: (r: CheckpointResult) => boolean) => Promise<CheckpointResult> } {
  const waiters: { test: (r: CheckpointResult) => boolean; resolve: (r: CheckpointResult) => void }[] = [];
  return {
    hook: (result) => {
      for (const waiter of waiters.filter((w) => w.test(result))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(result);
      }
    },
    next: (test) => within(new Promise((resolve) => waiters.push({ test, resolve })), 'such checkpoint'),
  };
}

describe('SqliteStore checkpoints', () => {
  it('copies the log into the database file from its thread, with no checkpoint on the store’s connection', async () => {
    // 100 sessions: about 600 pages of log, under SQLite's automatic 1,000, so no commit checkpoints.
    const inline = new SqliteStore({ path: join(dir, 'inline.db'), checkpoint: 'inline' });
    await write(inline, 100);
    assert.equal(rowsInDatabaseFile(join(dir, 'inline.db')), 0, 'inline: still only in the log');
    await inline.close();

    const path = join(dir, 'background.db');
    const { hook, next } = checkpoints();
    const store = withCheckpointHooks({ onCheckpoint: hook }, () => new SqliteStore({ path }));
    const copied = next((r) => r.mode === 'PASSIVE' && r.checkpointed > 0 && r.checkpointed === r.log);
    await write(store, 100);
    const result = await copied;
    assert.ok(result.log >= 100, `${result.log} frames of log checkpointed`);
    assert.equal(rowsInDatabaseFile(path), 100, 'background: every session is in the database file');
    await store.close();
  });

  it('keeps checkpointing while the store writes, and truncates the log once it is idle', async () => {
    const path = join(dir, 'idle.db');
    const { hook, next } = checkpoints();
    const store = withCheckpointHooks({ onCheckpoint: hook, checkpointTimings: { interval: 50, idle: 300, truncateAbove: 0 } }, () => new SqliteStore({ path }));
    for (let round = 0; round < 3; round++) {
      const copied = next((r) => r.mode === 'PASSIVE' && r.checkpointed > 0 && r.checkpointed === r.log);
      await write(store, 50, `r${round}-`);
      await copied;
      assert.equal(rowsInDatabaseFile(path), 50 * (round + 1));
    }
    assert.ok(statSync(`${path}-wal`).size > 0);
    await next((r) => r.mode === 'TRUNCATE' && r.busy === 0);
    assert.equal(statSync(`${path}-wal`).size, 0, 'the -wal file is truncated');
    // And the store writes on after it.
    await write(store, 10, 'after-');
    assert.equal(await store.countLive({ now: Date.now() }), 160);
    await store.close();
  });

  it('keeps every session across a close and a reopen, and leaves no log behind', async () => {
    const path = join(dir, 'durable.db');
    const first = new SqliteStore({ path });
    await write(first, 300);
    await first.close();
    assert.equal(existsSync(`${path}-wal`), false, 'the last connection checkpointed and removed the log');
    assert.equal(rowsInDatabaseFile(path), 300);
    const second = new SqliteStore({ path });
    assert.equal(await second.countLive({ now: Date.now() }), 300);
    assert.equal((await second.get('k299', { now: Date.now() }))?.data, 'x'.repeat(500));
    await second.close();
  });

  for (const how of ['close', 'no close']) {
    it(`lets the process exit by itself (${how})`, { timeout: 30_000 }, async () => {
      const path = join(dir, `exit-${how.replace(' ', '-')}.db`);
      const started = Date.now();
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, ['--import', 'tsx', join(FIXTURES, 'sqlite-exit.ts'), path, how], { timeout: 20_000 }, (error, out, err) =>
          error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out),
        );
      });
      assert.equal(stdout, 'written\n');
      // Loading tsx takes most of it; a thread keeping the process alive would hit the 20 s timeout.
      assert.ok(Date.now() - started < 15_000);
      const reopened = new SqliteStore({ path });
      assert.equal(await reopened.countLive({ now: Date.now() }), 200, 'every session written is there');
      await reopened.close();
    });
  }

  it('falls back to SQLite’s own checkpoints, and says so once, when the thread cannot start', async () => {
    substitutePeer('better-sqlite3', join(FIXTURES, 'sqlite-main-thread-only.cjs'));
    const warnings: string[] = [];
    let warned!: () => void;
    const warning = new Promise<void>((resolve) => (warned = resolve));
    const path = join(dir, 'fallback.db');
    let store: SqliteStore;
    try {
      store = new SqliteStore({ path, logger: { warn: (_fields, message) => (warnings.push(message), warned()) } });
    } finally {
      substitutePeer('better-sqlite3', undefined);
    }
    await within(warning, 'warning');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /checkpoint thread failed.*does not load in worker threads.*event loop/);
    // 400 sessions: about 2,400 pages, past SQLite's 1,000, so commits checkpoint again.
    await write(store, 400);
    assert.ok(rowsInDatabaseFile(path) > 0, 'the store’s connection checkpointed');
    assert.equal(warnings.length, 1);
    await store.close();
  });

  it('reports a thread that cannot load its driver', async () => {
    const require = createRequire(import.meta.url);
    const path = join(dir, 'no-driver.db');
    new Database(path).close();
    const failure = await within(new Promise<Error>((onFailure) => startCheckpointer({ file: path, driver: join(dir, 'missing-driver.js'), onFailure })), 'failure');
    assert.match(failure.message, /Cannot find module/);
    // A driver that loads, on a file that is there: no failure, and stop() ends it.
    let failed = false;
    const running = startCheckpointer({ file: path, driver: require.resolve('better-sqlite3'), onFailure: () => (failed = true) });
    await running.stop();
    assert.equal(failed, false);
  });

  it('refuses a checkpoint setting it cannot honour', () => {
    assert.throws(() => new SqliteStore({ path: ':memory:', checkpoint: 'later' as 'inline' }), ConfigError);
    const db = new Database(':memory:');
    assert.throws(() => new SqliteStore({ database: db, checkpoint: 'background' }), { name: 'ConfigError', message: /path/ });
    new SqliteStore({ database: db, checkpoint: 'inline' });
    db.close();
  });
});
