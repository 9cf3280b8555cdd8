/**
 * "100 concurrent increments across three processes end at exactly 100 on every server store":
 * three child processes (test/fixtures/update-worker.ts), each with its own manager on one shared
 * store — a SQLite file, a FileStore directory, PostgreSQL, Redis — start their share of 100
 * `tessera.update(id, 'n', n => (n ?? 0) + 1)` calls on one session at once. And the contrast
 * that motivates update(): the same increments as `get` then `set` lose most of their counts.
 * (Each process starts all its reads before any of its writes, so the read-modify-write cannot
 * reach 100 whatever the timing: the contrast does not flake.)
 *
 * PostgreSQL and Redis are the real services (skipped with a reason when down, a failure with
 * TESSERA_REQUIRE_SERVICES=1); each test uses a table, key prefix or directory of its own,
 * removed afterwards.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Tessera } from '../../src/manager.js';
import { storeOf, type StoreSpec } from '../helpers/store-spec.js';
import { PG_URL, REDIS_URL, serviceSkip } from '../helpers/services.js';

const SECRET = 'across-processes-secret-0123456789abcdef';
const TOTAL = 100;
const SHARES = [34, 33, 33];
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = fileURLToPath(new URL('../fixtures/update-worker.ts', import.meta.url));

const pgSkip = await serviceSkip('PostgreSQL', PG_URL);
const redisSkip = await serviceSkip('Redis', REDIS_URL);
const dir = mkdtempSync(join(tmpdir(), 'tessera-across-'));
const run = `${process.pid}_${randomUUID().slice(0, 8)}`;
/**
 * The networked stores' query timeout here. The default (500 ms) is for a healthy database;
 * a hundred writers on one row queue behind each other's commits, and on a loaded CI machine a
 * slow disk flush can hold that queue past half a second. This test is about lost updates, not
 * about timeouts (test/stores/postgres.test.ts and redis.test.ts test those).
 */
const TIMEOUT = 5_000;


/** A child process taking commands (one JSON line each) and answering each with one JSON line. */
class Worker {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #answers: ((line: string) => void)[] = [];
  #stderr = '';

  constructor() {
    this.#child = spawn(process.execPath, ['--import', 'tsx', WORKER], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.#child.stdout }).on('line', (line) => this.#answers.shift()?.(line));
    this.#child.stderr.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    this.#child.once('exit', (code) => {
      for (const answer of this.#answers.splice(0)) answer(JSON.stringify({ ok: false, error: `worker exited (${code}): ${this.#stderr}` }));
    });
  }

  /** Send `command`; resolve its answer, or reject with the worker's error. */
  send(command: Record<string, unknown>): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      this.#answers.push((line) => {
        const answer = JSON.parse(line) as { ok: boolean; error?: string };
        if (answer.ok) resolve(answer);
        else reject(new Error(`worker: ${answer.error}`));
      });
      this.#child.stdin.write(`${JSON.stringify(command)}\n`);
    });
  }

  /** End its input: it closes and exits. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.stdin.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

let workers: Worker[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

before(() => {
  workers = SHARES.map(() => new Worker());
});

after(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  for (const cleanup of cleanups) await cleanup().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

/** Every worker increments `key` of session `id` its share of TOTAL times, all at once, in `mode`. */
async function race(mode: 'update' | 'get-set', key: string): Promise<void> {
  const answers = await Promise.all(workers.map((w, i) => w.send({ op: 'run', mode, key, count: SHARES[i] })));
  const errors = answers.flatMap((a) => a.errors as string[]);
  assert.deepEqual(errors, [], `${mode}: every call succeeded`);
}

async function acrossProcesses(spec: StoreSpec): Promise<void> {
  const tessera = new Tessera({ secrets: [SECRET], store: await storeOf(spec), cleanupInterval: 0, logger: {} });
  try {
    const { id } = await tessera.create({ data: { n: 0, m: 0 } });
    const opened = await Promise.all(workers.map((w) => w.send({ op: 'open', store: spec, secret: SECRET, id })));
    assert.ok(opened.every((o) => o.valid === true), 'every process sees the session');
    try {
      await race('update', 'n');
      assert.equal(await tessera.get(id, 'n'), TOTAL, 'update(): no increment lost');
      await race('get-set', 'm');
      const m = await tessera.get<number>(id, 'm');
      assert.ok(m !== undefined && m >= 1 && m < TOTAL, `get then set: increments lost (m = ${m})`);
    } finally {
      await Promise.all(workers.map((w) => w.send({ op: 'close' })));
    }
  } finally {
    await tessera.close();
  }
}

describe('update() across processes', () => {
  it(`${TOTAL} concurrent increments across three processes end at exactly ${TOTAL}: SQLite (a shared file)`, { timeout: 30_000 }, () =>
    acrossProcesses({ kind: 'sqlite', path: join(dir, 'sessions.db') }),
  );

  it(`${TOTAL} concurrent increments across three processes end at exactly ${TOTAL}: FileStore (a shared directory)`, { timeout: 30_000 }, () =>
    acrossProcesses({ kind: 'file', dir: join(dir, 'files') }),
  );

  it(`${TOTAL} concurrent increments across three processes end at exactly ${TOTAL}: PostgreSQL`, { skip: pgSkip, timeout: 30_000 }, async () => {
    const table = `tessera_across${run}`;
    cleanups.push(async () => {
      const { default: pg } = await import('pg');
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      try {
        await admin.query(`DROP TABLE IF EXISTS "${table}" CASCADE`);
      } finally {
        await admin.end();
      }
    });
    await acrossProcesses({ kind: 'postgres', url: PG_URL, table, timeout: TIMEOUT });
  });

  it(`${TOTAL} concurrent increments across three processes end at exactly ${TOTAL}: Redis`, { skip: redisSkip, timeout: 30_000 }, async () => {
    const prefix = `tessera-test:across-${run}:`;
    cleanups.push(async () => {
      const { Redis } = await import('ioredis');
      const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      try {
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, batch] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
          cursor = next;
          keys.push(...batch);
        } while (cursor !== '0');
        if (keys.length > 0) await admin.del(...keys);
      } finally {
        await admin.quit();
      }
    });
    await acrossProcesses({ kind: 'redis', url: REDIS_URL, prefix, timeout: TIMEOUT });
  });
});
