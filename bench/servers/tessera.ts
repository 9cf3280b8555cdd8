/**
 * tessera on node:http (`nodeSessions(tessera).wrap`). Arguments:
 *
 * - `--path=read`  the client's session exists; the handler reads a value.
 * - `--path=write` the client's session exists; the handler changes a value on every request.
 * - `--store=memory` (default) `MemoryStore`, one session shared by every connection;
 * - `--store=redis`  `RedisStore` at `TESSERA_REDIS_URL`, one session per connection, keys under a
 *   prefix of this process (deleted when the bench ends);
 * - `--store=postgres` `PostgresStore` at `TESSERA_PG_URL`, one session per connection, in a table of
 *   this process (dropped when the bench ends);
 * - `--store=cookie` `CookieStore`: the session is sealed in the cookie. On the write path every
 *   response carries a newly sealed cookie, and the load generator sends it back with the
 *   connection's next request, as a browser would.
 *
 * - `--handler=sync` (the default for stores that answer synchronously: memory, cookie) a plain
 *   function using `sessions.loadSync`, like the bare baseline's; `--handler=async` an async one
 *   awaiting `sessions.load` (the only kind for Redis and PostgreSQL; compare it with `bare-async`).
 *
 * Every request answers "hello", exactly like the baselines, so the difference between the two
 * is the session layer. A request whose session is not found counts as an anomaly: the bench then
 * refuses the figures (it would be measuring "new session" instead of "existing session").
 *
 * @module
 */
import { createTessera, type Tessera } from '../../src/index.js';
import { nodeSessions } from '../../src/adapters/node.js';
import { CookieStore } from '../../src/stores/cookie.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { PostgresStore } from '../../src/stores/postgres.js';
import { RedisStore } from '../../src/stores/redis.js';
import type { SessionStore } from '../../src/stores/store.js';
import type { Session } from '../../src/session.js';
import { serveBench } from '../lib/serve.js';
import { benchName, deleteKeys, deleteStaleKeys, dropStaleTables, PG_POOL_SIZE, PG_QUERY_TIMEOUT, PG_URL, REDIS_URL } from '../lib/services.js';

/** A fixed bench secret (>= 32 bytes). Never reuse a published secret in an app. */
const SECRET = 'tessera-bench-secret-not-for-production-0123456789';

/** A store under test, and what the server must do around it. */
interface StoreSetup {
  store: SessionStore | CookieStore;
  description: string;
  /** Sessions to make: one per connection for networked stores, so requests do not all hit one key. */
  sessions: 'one' | 'per-connection';
  /** Remove what the bench wrote (keys, tables); runs before `tessera.close()`. */
  cleanup?: (tessera: Tessera) => Promise<void>;
  /** Runs after `tessera.close()`. */
  afterClose?: () => Promise<void>;
}

async function makeStore(name: string): Promise<StoreSetup> {
  switch (name) {
    case 'memory':
      return { store: new MemoryStore(), description: 'MemoryStore', sessions: 'one' };
    case 'cookie':
      // One browser per connection: on the write path each follows its own chain of cookies.
      return { store: new CookieStore(), description: 'CookieStore (AES-256-GCM sealed cookie), one session per connection', sessions: 'per-connection' };
    case 'redis': {
      const prefix = `${benchName('store')}:`;
      const store = new RedisStore({ url: REDIS_URL, prefix });
      const client = store.client as import('ioredis').Redis;
      await deleteStaleKeys(client);
      return {
        store,
        description: `RedisStore({ url, prefix: '${prefix}' }), one session per connection`,
        sessions: 'per-connection',
        cleanup: async () => {
          await deleteKeys(client, prefix);
        },
      };
    }
    case 'postgres': {
      const table = benchName('store');
      const pg = (await import('pg')).default;
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      await dropStaleTables(admin);
      await admin.end();
      const store = new PostgresStore({ connectionString: PG_URL, table, poolConfig: { max: PG_POOL_SIZE }, queryTimeout: PG_QUERY_TIMEOUT });
      return {
        store,
        description: `PostgresStore({ connectionString, table: '${table}', pool of ${PG_POOL_SIZE} }), one session per connection`,
        sessions: 'per-connection',
        // The store's pool is ended by tessera.close(); drop the table over a connection of our own.
        afterClose: async () => {
          const client = new pg.Client({ connectionString: PG_URL });
          await client.connect();
          try {
            await client.query(`DROP TABLE IF EXISTS "${table}"`);
          } finally {
            await client.end();
          }
        },
      };
    }
    default:
      throw new Error(`bench/servers/tessera.ts: unknown --store=${name}`);
  }
}

/**
 * The `Cookie` header of a browser holding an existing session with `{ n: 1 }`. A server store's
 * session is made by ID (`tessera.create`); a sealed one by a request, as only requests can.
 */
async function existingSessionCookie(tessera: Tessera): Promise<string> {
  if (!(tessera.store instanceof CookieStore)) {
    const { id } = await tessera.create({ data: { n: 1 } });
    return `${tessera.cookieName}=${tessera.signCookie(id)}`;
  }
  let line: string | undefined;
  const ctx = tessera.begin(
    { cookieHeader: undefined, ip: '127.0.0.1', userAgent: null },
    {
      writable: () => true,
      setCookie: (value) => {
        line = value;
        return true;
      },
      withdrawCookie: () => {
        line = undefined;
      },
    },
  );
  (await ctx.load()).set('n', 1);
  await ctx.settle();
  if (line === undefined) throw new Error('the cookie store set no cookie');
  return line.split(';', 1)[0]!;
}

serveBench(async ({ args, connections, anomaly }) => {
  const path = args.path ?? 'read';
  if (path !== 'read' && path !== 'write') throw new Error(`bench/servers/tessera.ts: unknown --path=${path}`);
  const setup = await makeStore(args.store ?? 'memory');
  const tessera = createTessera({ secrets: [SECRET], store: setup.store });
  const sessions = nodeSessions(tessera);

  const count = setup.sessions === 'one' ? 1 : connections;
  const headerSets: Record<string, string>[] = [];
  for (let i = 0; i < count; i++) headerSets.push({ cookie: await existingSessionCookie(tessera) });

  const kind = args.handler ?? (tessera.loadsSynchronously ? 'sync' : 'async');
  if (kind !== 'sync' && kind !== 'async') throw new Error(`bench/servers/tessera.ts: unknown --handler=${kind}`);
  const read = (session: Session): number => {
    const n = session.get<number>('n');
    if (n === undefined) anomaly();
    return n ?? 0;
  };
  let handler: Parameters<typeof sessions.wrap>[0];
  if (kind === 'sync') {
    handler =
      path === 'read'
        ? (req, res) => {
            read(sessions.loadSync(req, res));
            res.end('hello');
          }
        : (req, res) => {
            const session = sessions.loadSync(req, res);
            session.set('n', read(session) + 1);
            res.end('hello');
          };
  } else {
    handler =
      path === 'read'
        ? async (req, res) => {
            read(await sessions.load(req, res));
            res.end('hello');
          }
        : async (req, res) => {
            const session = await sessions.load(req, res);
            session.set('n', read(session) + 1);
            res.end('hello');
          };
  }

  const sealed = setup.store instanceof CookieStore;
  return {
    description: `nodeSessions(createTessera({ store: ${setup.description} })), ${path} path, ${kind} handler`,
    handler: sessions.wrap(handler),
    headerSets,
    // A sealed session changes its cookie on every write: the client must send back the new one.
    followCookies: sealed && path === 'write',
    close: async () => {
      try {
        await setup.cleanup?.(tessera);
      } finally {
        await tessera.close();
        await setup.afterClose?.();
      }
    },
  };
});
