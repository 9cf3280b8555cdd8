/**
 * The demo's configuration from the environment: which store (`STORE=`) and which secret
 * (`SESSION_SECRET`, or one the demo keeps in its data folder).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
// In your app: `import { MemoryStore } from 'tessera/stores/memory'` and so on.
import type { CookieStore, SessionStore } from '../../src/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
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
}

/** What a store factory gets: the whole `STORE` value and the demo's data folder. */
export interface StoreContext {
  /** The `STORE` value, e.g. `memory`, `sqlite:./other.db`, later `redis://localhost:6379`. */
  readonly spec: string;
  /** The demo's data folder (default `./data`). */
  readonly dataDir: string;
}

/**
 * The stores the demo knows, by the scheme of `STORE` (`redis://…` → `redis`) or its whole value
 * (`memory`). To add one, add an entry; `pickStore` and the error message follow.
 */
const STORES: Record<string, (ctx: StoreContext) => StoreChoice> = {
  sqlite: ({ spec, dataDir }) => {
    // `sqlite` alone: <dataDir>/sessions.db (./data/sessions.db, createTessera's default).
    const path = spec.startsWith('sqlite:') && spec.length > 'sqlite:'.length ? spec.slice('sqlite:'.length) : join(dataDir, 'sessions.db');
    return { store: new SqliteStore({ path }), label: 'SQLite', where: `in the SQLite file ${path}`, durable: true };
  },
  memory: () => ({
    store: new MemoryStore(),
    label: 'memory',
    where: "in the demo process's memory (lost when it stops)",
    durable: false,
  }),
};

/**
 * Choose the session store from `env.STORE`: unset or `sqlite` (the default) for SQLite at
 * `<dataDir>/sessions.db`, `sqlite:<path>` for another file, `memory` for an in-process store.
 *
 * @throws Error naming the supported values when `STORE` is not one of them.
 * @example
 * ```ts
 * pickStore({ STORE: 'memory' }, './data').label;   // 'memory'
 * pickStore({}, './data').where;                    // 'in the SQLite file data/sessions.db'
 * ```
 */
export function pickStore(env: NodeJS.ProcessEnv, dataDir: string): StoreChoice {
  const spec = env.STORE?.trim() || 'sqlite';
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(spec)?.[1]?.toLowerCase() ?? spec.toLowerCase();
  const make = Object.hasOwn(STORES, scheme) ? STORES[scheme] : undefined;
  if (!make) {
    throw new Error(`STORE=${spec} is not supported by the demo; use one of: ${Object.keys(STORES).join(', ')} (default sqlite)`);
  }
  return make({ spec, dataDir });
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
