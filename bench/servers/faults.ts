/**
 * The server of `npm run bench:faults` (bench/faults.ts): tessera on node:http with the read
 * handler of `memory-read` (the client's session exists; the handler reads `n` and answers
 * `hello`), on a store given by `--store`:
 *
 * - `--store=sqlite --dir=DIR [--checkpoint=background|inline]`: `SqliteStore` on `DIR/sessions.db`, a plain handler (`loadSync`).
 *   On `fill`, it inserts N expired rows in one transaction, over its own connection to the file;
 *   on `clean`, it removes them while serving: `--mode`-less `tessera.cleanupExpired()` (`paced`),
 *   or, for comparison, the store's own loop as tessera called it before paced cleanup
 *   (`store.deleteExpired({ now })`: statements of 500 rows with a `setImmediate` between them:
 *   `store`), or one `DELETE` of every expired row (`one`).
 * - `--store=redis --url=URL` / `--store=postgres --url=URL`: `RedisStore` / `PostgresStore` with
 *   their default timeouts (`--timeouts=before`: those of before 2026-12-05), at `URL` (the bench's
 *   proxy), an `async` handler; failures are the adapter's 503.
 *
 * It reports the event loop's delay (`monitorEventLoopDelay`, 1 ms resolution) between two `mark`s.
 *
 * @module
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { createTessera, type Tessera } from '../../src/index.js';
import { nodeSessions } from '../../src/adapters/node.js';
import { PostgresStore } from '../../src/stores/postgres.js';
import { RedisStore } from '../../src/stores/redis.js';
import { SqliteStore } from '../../src/stores/sqlite.js';
import type { SessionStore } from '../../src/stores/store.js';
import type { FaultsChildMessage, FaultsParentMessage } from '../lib/faults-protocol.js';
import { benchName } from '../lib/services.js';
import { serverArgs } from '../lib/serve.js';

const SECRET = 'tessera-bench-secret-not-for-production-0123456789';
const TABLE = 'tessera_sessions';

function send(message: FaultsChildMessage): void {
  process.send?.(message);
}

/**
 * A `SqliteStore` whose cleanup batches can be held between two batches, so the bench can measure
 * normal windows and cleaning windows in turn during one cleanup. While open it calls the store
 * at once, so the batch's work is still done before the call hands back its promise, as tessera's
 * pacing expects.
 */
class GatedSqliteStore extends SqliteStore {
  #held: { promise: Promise<void>; release: () => void } | null = null;

  hold(): void {
    if (this.#held) return;
    let release = () => {};
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.#held = { promise, release };
  }

  release(): void {
    this.#held?.release();
    this.#held = null;
  }

  override deleteExpired(...args: Parameters<SqliteStore['deleteExpired']>): Promise<number> {
    const held = this.#held;
    return held ? held.promise.then(() => this.deleteExpired(...args)) : super.deleteExpired(...args);
  }
}

async function main(): Promise<void> {
  let gated: GatedSqliteStore | null = null;
  let removedSoFar = 0;
  const { store: kind = 'sqlite', dir, url, timeouts = 'default', checkpoint = 'background' } = serverArgs();
  // `--timeouts=before`: the stores' default limits before this bench (Redis 2 s with no socket
  // timeout; PostgreSQL 5 s to connect, 10 s per query), for comparison.
  const before = timeouts === 'before';
  let store: SessionStore;
  let afterClose = async (): Promise<void> => {};
  if (kind === 'sqlite') {
    if (!dir) throw new Error('--dir is required with --store=sqlite');
    store = gated = new GatedSqliteStore({ path: join(dir, 'sessions.db'), checkpoint: checkpoint as 'background' | 'inline' });
  } else if (kind === 'redis') {
    if (!url) throw new Error('--url is required with --store=redis');
    const prefix = `${benchName('faults')}:`;
    if (before) {
      const { Redis } = await import('ioredis');
      const client = new Redis(url, { enableOfflineQueue: true, maxRetriesPerRequest: 0, connectTimeout: 2_000, commandTimeout: 2_000, retryStrategy: (n) => Math.min(n * 100, 1_000) });
      client.on('error', () => {});
      store = new RedisStore({ client, prefix });
      afterClose = async () => void client.disconnect();
    } else store = new RedisStore({ url, prefix });
  } else if (kind === 'postgres') {
    if (!url) throw new Error('--url is required with --store=postgres');
    const table = benchName('faults');
    store = new PostgresStore({ connectionString: url, table, ...(before ? { connectionTimeout: 5_000, queryTimeout: 10_000 } : {}) });
    afterClose = async () => {
      const pg = (await import('pg')).default;
      const client = new pg.Client({ connectionString: process.env.TESSERA_PG_URL ?? 'postgres://root@127.0.0.1:5432/test' });
      await client.connect();
      await client.query(`DROP TABLE IF EXISTS "${table}", "${table}_act"`).finally(() => client.end());
    };
  } else {
    throw new Error(`unknown --store=${kind}`);
  }
  // No timer: the bench starts the cleanup itself.
  const tessera: Tessera = createTessera({ secrets: [SECRET], store, cleanupInterval: 0, logger: {} });
  const sessions = nodeSessions(tessera);
  const { id } = await tessera.create({ data: { n: 1 } });
  const cookie = `${tessera.cookieName}=${tessera.signCookie(id)}`;
  let anomalies = 0;
  const handler = tessera.loadsSynchronously
    ? sessions.wrap((req, res) => {
        if (sessions.loadSync(req, res).get('n') === undefined) anomalies++;
        res.end('hello');
      })
    : sessions.wrap(async (req, res) => {
        if ((await sessions.load(req, res)).get('n') === undefined) anomalies++;
        res.end('hello');
      });
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let elu = performance.eventLoopUtilization();
  const ms = (ns: number) => ns / 1e6;

  process.on('message', (message: FaultsParentMessage) => {
    void (async () => {
      switch (message.type) {
        case 'mark': {
          const loop = performance.eventLoopUtilization(elu);
          send({ type: 'mark', p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max), elu: loop.utilization, anomalies, removed: removedSoFar });
          delay.reset();
          elu = performance.eventLoopUtilization();
          anomalies = 0;
          break;
        }
        case 'fill': {
          const started = performance.now();
          const db = new Database(join(dir!, 'sessions.db'));
          db.pragma('busy_timeout = 5000');
          const insert = db.prepare(`INSERT INTO ${TABLE} (key, data, version, expires_at, user_id, tenant) VALUES (?, ?, 1, ?, NULL, NULL)`);
          const data = JSON.stringify({ d: { n: 1, cart: ['a', 'b'] }, c: Date.now() });
          const expired = Date.now() - 60_000;
          db.transaction(() => {
            for (let i = 0; i < message.rows; i++) insert.run(`expired-${i.toString(36).padStart(8, '0')}-${(i * 2654435761) % 4294967296}`, data, expired - (i % 1000));
          })();
          db.close();
          send({ type: 'filled', ms: performance.now() - started });
          break;
        }
        case 'clean': {
          const started = performance.now();
          let batches = 0;
          let removed: number;
          removedSoFar = 0;
          if (message.mode === 'paced') {
            removed = await tessera.cleanupExpired({
              onProgress: (p) => {
                batches = p.batches;
                removedSoFar = p.removed;
              },
            });
          }
          else if (message.mode === 'store') removed = await store.deleteExpired!({ now: Date.now() });
          else {
            const db = new Database(join(dir!, 'sessions.db'));
            removed = db.prepare(`DELETE FROM ${TABLE} WHERE expires_at <= ?`).run(Date.now()).changes;
            db.close();
            batches = 1;
          }
          send({ type: 'cleaned', removed, ms: performance.now() - started, batches });
          break;
        }
        case 'gate': {
          if (message.open) gated?.release();
          else gated?.hold();
          send({ type: 'gated' });
          break;
        }
        case 'stop': {
          server.closeAllConnections();
          server.close();
          await tessera.close();
          await afterClose();
          process.exit(0);
        }
      }
    })().catch((error: unknown) => send({ type: 'failed', error: String((error as Error)?.stack ?? error) }));
  });
  process.on('SIGINT', () => {});
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', port: (server.address() as AddressInfo).port, cookie });
}

main().catch((error: unknown) => {
  send({ type: 'failed', error: String((error as Error)?.stack ?? error) });
  process.exit(1);
});
