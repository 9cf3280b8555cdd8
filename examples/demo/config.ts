/**
 * The demo's configuration from the environment: which store (`STORE=`) and which secret
 * (`SESSION_SECRET`, or one the demo keeps in its data folder).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// In your app: `import { MemoryStore } from 'tessera/stores/memory'` and so on.
import type { SessionStore } from '../../src/index.js';
import { CookieStore } from '../../src/stores/cookie.js';
import { FileStore } from '../../src/stores/file.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { PostgresStore } from '../../src/stores/postgres.js';
import { RedisStore } from '../../src/stores/redis.js';
import { SqliteStore } from '../../src/stores/sqlite.js';

/** The store the demo runs on, and how its pages describe it. */
export interface StoreChoice {
  /** The store to give `createTessera`. */
  readonly store: SessionStore | CookieStore;
  /** Short name for the pages and the start-up log, e.g. `SQLite`. */
  readonly label: string;
  /** Where the sessions are, in a sentence fragment, e.g. `in the SQLite file data/sessions.db`. */
  readonly where: string;
  /** Whether sessions outlive a restart of the demo. */
  readonly durable: boolean;
  /** `false` when the session lives in the cookie itself (`STORE=cookie`): the server keeps only revocations. */
  readonly serverSide: boolean;
}

/** What a store factory gets: the whole `STORE` value and the demo's data folder. */
export interface StoreContext {
  /** The `STORE` value, e.g. `memory`, `sqlite:./other.db`, `redis://localhost:6379`. */
  readonly spec: string;
  /** The demo's data folder (default `./data`). */
  readonly dataDir: string;
}

/** One kind of store the demo knows. */
interface StoreKind {
  /** How the value is written, for the error message listing the choices. */
  readonly usage: string;
  readonly make: (ctx: StoreContext) => StoreChoice;
}

/** `sqlite:<rest>` → `<rest>` (empty when the value is the bare name). */
function after(spec: string, scheme: string): string {
  return spec.length > scheme.length + 1 ? spec.slice(scheme.length + 1) : '';
}

/**
 * A `redis://` or `postgres://` URL, and the demo-only query parameter `name` (a key prefix, a
 * table) taken out of it: the rest goes to the client unchanged. Throws for a value that is no URL.
 */
function serviceUrl(spec: string, name: string, example: string): { url: URL; option: string | undefined } {
  let url: URL | null = null;
  try {
    url = new URL(spec);
  } catch {
    // reported below
  }
  if (url === null || !url.host) throw new Error(`STORE=${spec} is not a URL with a host; for example STORE=${example}`);
  const option = url.searchParams.get(name) ?? undefined;
  url.searchParams.delete(name);
  return { url, option };
}

/** `host:port/database` of a service URL, without user or password (what the pages show). */
function shown(url: URL, defaultPort: number): string {
  return `${url.hostname || 'localhost'}:${url.port || defaultPort}${url.pathname.length > 1 ? url.pathname : ''}`;
}

function redis({ spec }: StoreContext): StoreChoice {
  const { url, option: prefix } = serviceUrl(spec, 'prefix', 'redis://127.0.0.1:6379');
  const store = new RedisStore({ url: url.href, ...(prefix === undefined ? {} : { prefix }) });
  return { store, label: 'Redis', where: `in Redis at ${shown(url, 6379)} (keys under ${store.prefix})`, durable: true, serverSide: true };
}

function postgres({ spec }: StoreContext): StoreChoice {
  const { url, option: table } = serviceUrl(spec, 'table', 'postgres://user@127.0.0.1:5432/db');
  const store = new PostgresStore({ connectionString: url.href, ...(table === undefined ? {} : { table }) });
  return {
    store,
    label: 'PostgreSQL',
    where: `in the PostgreSQL table ${table ?? 'tessera_sessions'} at ${shown(url, 5432)}`,
    durable: true,
    serverSide: true,
  };
}

/**
 * The stores the demo knows, by the scheme of `STORE` (`redis://…` → `redis`) or its whole value
 * (`memory`). To add one, add an entry; `pickStore` and the error message follow.
 */
const STORES: Record<string, StoreKind> = {
  sqlite: {
    usage: 'sqlite[:<file>]',
    make: ({ spec, dataDir }) => {
      // `sqlite` alone: <dataDir>/sessions.db (./data/sessions.db, createTessera's default).
      const path = after(spec, 'sqlite') || join(dataDir, 'sessions.db');
      return { store: new SqliteStore({ path }), label: 'SQLite', where: `in the SQLite file ${path}`, durable: true, serverSide: true };
    },
  },
  memory: {
    usage: 'memory',
    make: () => ({
      store: new MemoryStore(),
      label: 'memory',
      where: "in the demo process's memory (lost when it stops)",
      durable: false,
      serverSide: true,
    }),
  },
  file: {
    usage: 'file[:<dir>]',
    make: ({ spec, dataDir }) => {
      // `file` alone: <dataDir>/sessions. `file:./dir` is a path; `file:///abs/dir` a file URL.
      const rest = after(spec, 'file');
      const dir = rest.startsWith('//') ? fileURLToPath(spec) : rest || join(dataDir, 'sessions');
      return { store: new FileStore({ dir }), label: 'files', where: `in one file per session under ${dir}`, durable: true, serverSide: true };
    },
  },
  redis: { usage: 'redis://host:6379[?prefix=<key prefix>]', make: redis },
  rediss: { usage: 'rediss://…', make: redis },
  postgres: { usage: 'postgres://user@host:5432/db[?table=<table>]', make: postgres },
  postgresql: { usage: 'postgresql://…', make: postgres },
  cookie: {
    usage: 'cookie',
    make: ({ dataDir }) => ({
      // Signed-out sessions are remembered (revoked) in the demo's SQLite file, so a copy of their
      // cookie cannot be replayed: what `new CookieStore()` does with ./data/sessions.db.
      store: new CookieStore({ revocation: new SqliteStore({ path: join(dataDir, 'sessions.db'), table: 'tessera_revoked_sessions' }) }),
      label: 'encrypted cookie',
      where: 'in your browser, sealed in the session cookie itself (AES-256-GCM); the server only remembers signed-out sessions',
      // The demo keeps its secret in the data folder, so a restart can still open the cookies.
      durable: true,
      serverSide: false,
    }),
  },
};

/**
 * The accepted `STORE` values, as the error message lists them.
 *
 * @example
 * ```ts
 * console.log(`STORE can be one of: ${STORE_CHOICES.join(', ')}`); // sqlite[:<file>], memory, file[:<dir>], …
 * ```
 */
export const STORE_CHOICES: readonly string[] = Object.values(STORES).map((kind) => kind.usage);

/**
 * Choose the session store from `env.STORE`:
 *
 * - unset or `sqlite` (the default): SQLite at `<dataDir>/sessions.db`; `sqlite:<path>` another file;
 * - `memory`: an in-process store, lost when the demo stops;
 * - `file` (`<dataDir>/sessions`) or `file:<dir>`: one file per session;
 * - `redis://…` or `rediss://…`: Redis (`?prefix=` sets the key prefix, default `tessera:`);
 * - `postgres://…` or `postgresql://…`: PostgreSQL (`?table=` sets the table, default `tessera_sessions`);
 * - `cookie`: the session sealed in the cookie (AES-256-GCM); the server only remembers signed-out
 *   sessions (in `<dataDir>/sessions.db`), so their cookies cannot be replayed.
 *
 * Redis and PostgreSQL are not contacted here: the first request that needs the session does,
 * and gets a 503 while the server is unreachable.
 *
 * @throws Error naming the supported values when `STORE` is not one of them.
 * @example
 * ```ts
 * pickStore({ STORE: 'memory' }, './data').label;                      // 'memory'
 * pickStore({}, './data').where;                                       // 'in the SQLite file data/sessions.db'
 * pickStore({ STORE: 'redis://127.0.0.1:6379?prefix=demo:' }, './data').label; // 'Redis'
 * ```
 */
export function pickStore(env: NodeJS.ProcessEnv, dataDir: string): StoreChoice {
  const spec = env.STORE?.trim() || 'sqlite';
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(spec)?.[1]?.toLowerCase() ?? spec.toLowerCase();
  const kind = Object.hasOwn(STORES, scheme) ? STORES[scheme] : undefined;
  if (!kind) {
    throw new Error(`STORE=${spec} is not supported by the demo; use one of: ${STORE_CHOICES.join(', ')} (default sqlite)`);
  }
  return kind.make({ spec, dataDir });
}

/** Where the secret came from. */
export type SecretSource = 'SESSION_SECRET' | 'file' | 'generated';

/**
 * The secret that signs the demo's cookies: `env.SESSION_SECRET` if set (at least 32 bytes),
 * otherwise one generated on first start and kept in `<dataDir>/demo-secret`, so sessions survive
 * restarts of the demo. With `NODE_ENV=production`, `SESSION_SECRET` is required.
 *
 * Never keep a secret in a file next to the data in production: give it through the environment or
 * a secret manager, and rotate it by listing the new one first (`secrets: [next, current]`).
 *
 * @throws Error in production without `SESSION_SECRET`.
 * @example
 * ```ts
 * const { secret, source } = demoSecret(process.env, './data'); // source: 'generated' on first run
 * ```
 */
export function demoSecret(env: NodeJS.ProcessEnv, dataDir: string): { secret: string; source: SecretSource; file?: string } {
  if (env.SESSION_SECRET) return { secret: env.SESSION_SECRET, source: 'SESSION_SECRET' };
  if (env.NODE_ENV === 'production') {
    throw new Error('NODE_ENV=production: set SESSION_SECRET (at least 32 bytes, e.g. `openssl rand -base64 32`)');
  }
  const file = resolve(dataDir, 'demo-secret');
  try {
    return { secret: readFileSync(file, 'utf8').trim(), source: 'file', file };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  try {
    // 'wx': never overwrite a secret another demo process wrote a moment ago; 0600: owner only.
    writeFileSync(file, `${secret}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { secret: readFileSync(file, 'utf8').trim(), source: 'file', file };
    throw error;
  }
  return { secret, source: 'generated', file };
}
