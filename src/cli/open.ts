/**
 * Opening what a CLI command works on: the store a `--store` URL names ({@link openStore}), and a
 * {@link Tessera} over it that reads the app's sessions ({@link openTessera}).
 *
 * The CLI's Tessera is not the app's: it knows neither the app's lifetimes nor its tenants'. So it
 * is made with the longest lifetimes there are, hiding no session the store still holds: each
 * record's expiry, written by the app, is the truth (the stores hide expired records), and the
 * commands show it ({@link expiryOf}).
 *
 * @module
 */
import { existsSync } from 'node:fs';
import type Pg from 'pg';
import { SECRETS_ENV, generateSecret } from '../crypto/keyring.js';
import { Sealer } from '../crypto/seal.js';
import { ConfigError, SecretError } from '../errors.js';
import { Tessera } from '../manager.js';
import { FileStore } from '../stores/file.js';
import { loadPeer } from '../stores/peer.js';
import { PostgresStore } from '../stores/postgres.js';
import { RedisStore } from '../stores/redis.js';
import type { SqliteDatabase } from '../stores/sqlite.js';
import { SqliteStore } from '../stores/sqlite.js';
import type { KeyedRecord, SessionPage, SessionStore } from '../stores/store.js';
import type { StoreTarget } from './store-url.js';

/** How many records {@link checkReadable} samples, in how many pages at most. */
const SAMPLE_SIZE = 20;
const SAMPLE_PAGES = 20;

/** The longest duration tessera accepts (100 years): the CLI's lifetimes, so it hides no stored session. */
const FOREVER = 36_500 * 86_400_000;

/**
 * A store the CLI opened, with what only some stores can do.
 *
 * @example
 * ```ts
 * const opened: OpenedStore = await openStore(parseStoreUrl('sqlite:./data/sessions.db'), { create: false });
 * const expired = await opened.countExpired?.(Date.now());
 * await opened.close();
 * ```
 */
export interface OpenedStore {
  readonly target: StoreTarget;
  readonly store: SessionStore;
  /** How many records have expired by `now`, where the store can count them cheaply (SQL); `null` elsewhere. */
  readonly countExpired: ((now: number) => Promise<number>) | null;
  /** Close the store and what the CLI opened for it. Idempotent. */
  close(): Promise<void>;
}

/**
 * Open the store `target` names. Without `create`, a SQLite file or store folder that does not
 * exist is an error (a typo in the path must not make an empty store), and PostgreSQL creates no
 * table; with it (`tessera migrate`), they are created.
 *
 * @throws {@link ConfigError} for a missing file or folder, a bad option, a driver not installed.
 * @example
 * ```ts
 * const { store, close } = await openStore({ kind: 'file', dir: './data/sessions' }, { create: false });
 * ```
 */
export async function openStore(target: StoreTarget, options: { create: boolean }): Promise<OpenedStore> {
  switch (target.kind) {
    case 'sqlite': {
      const table = target.table ?? 'tessera_sessions';
      if (options.create) {
        const store = new SqliteStore({ path: target.path, table });
        return { target, store, countExpired: null, close: () => store.close() };
      }
      if (!existsSync(target.path)) throw new ConfigError(`no SQLite database at ${target.path}: check --store (tessera migrate creates it)`);
      const Database = loadPeer<new (path: string, options: { fileMustExist: boolean }) => SqliteDatabase>('better-sqlite3', 'the tessera CLI');
      const db = new Database(target.path, { fileMustExist: true });
      let store: SqliteStore;
      try {
        store = new SqliteStore({ database: db, table });
      } catch (error) {
        db.close();
        throw error;
      }
      // The table name was checked by the store.
      const count = db.prepare(`SELECT count(*) AS n FROM ${table} WHERE expires_at <= ?`);
      return {
        target,
        store,
        countExpired: async (now) => (count.get(now) as { n: number }).n,
        close: once(async () => {
          await store.close();
          db.close();
        }),
      };
    }
    case 'file': {
      if (!options.create && !existsSync(target.dir)) throw new ConfigError(`no store folder at ${target.dir}: check --store`);
      const store = new FileStore({ dir: target.dir });
      return { target, store, countExpired: null, close: once(() => store.close()) };
    }
    case 'postgres': {
      const pg = loadPeer<typeof Pg>('pg', 'the tessera CLI');
      const pool = new pg.Pool({ connectionString: target.connectionString, connectionTimeoutMillis: 5_000, allowExitOnIdle: true, fallback_application_name: 'tessera-cli' });
      pool.on('error', () => {
        // An idle connection broke: the pool drops it; the next query reports the failure.
      });
      let store: PostgresStore;
      try {
        store = new PostgresStore({ pool, createTable: options.create, ...(target.table ? { table: target.table } : {}), ...(target.schema ? { schema: target.schema } : {}) });
      } catch (error) {
        await pool.end();
        throw error;
      }
      const table = `${target.schema ? `"${target.schema}".` : ''}"${target.table ?? 'tessera_sessions'}"`;
      return {
        target,
        store,
        countExpired: async (now) => {
          const result = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE expires_at <= $1`, [now]);
          return Number(result.rows[0]!.n);
        },
        close: once(async () => {
          await store.close();
          await pool.end();
        }),
      };
    }
    case 'redis': {
      const store = new RedisStore({ url: target.url, ...(target.prefix === undefined ? {} : { prefix: target.prefix }), ...(target.timeout === undefined ? {} : { timeout: target.timeout }) });
      return { target, store, countExpired: null, close: once(() => store.close()) };
    }
  }
}

/**
 * How the CLI reads the app's sessions: with its secrets, and whether it encrypts data at rest.
 *
 * @example
 * ```ts
 * const reading: Reading = { encryptData: true };
 * ```
 */
export interface Reading {
  /** The app sets `encryptData: true`: session data opens only with its secrets (`TESSERA_SECRETS`). */
  readonly encryptData: boolean;
}

/**
 * A Tessera over `opened`, to read the app's sessions: the secrets come from `TESSERA_SECRETS`.
 * They are needed only to open data encrypted at rest; without `encryptData`, a throwaway secret
 * is used when the variable is unset (session data is plain JSON then, and the CLI signs nothing).
 * No cleanup timer runs.
 *
 * @throws {@link SecretError} with `encryptData` and no `TESSERA_SECRETS`, or a malformed one.
 * @example
 * ```ts
 * const tessera = openTessera(opened, { encryptData: false });
 * const { sessions } = await tessera.admin.list();
 * ```
 */
export function openTessera(opened: OpenedStore, reading: Reading, warn: (message: string) => void): Tessera {
  const configured = process.env[SECRETS_ENV];
  if (reading.encryptData && (configured === undefined || configured.trim() === '')) {
    throw new SecretError(
      `${SECRETS_ENV} is not set: with --encrypt-data the CLI needs the app's secrets to open session data ` +
        `(the same value as the app's: secrets separated by commas, current first)`,
    );
  }
  return new Tessera({
    store: opened.store,
    // Read from TESSERA_SECRETS by the keyring when set; the CLI never signs a cookie.
    secrets: configured === undefined ? generateSecret() : undefined,
    encryptData: reading.encryptData,
    idleTimeout: FOREVER,
    maxLifetime: FOREVER,
    absoluteTimeout: Infinity,
    cleanupInterval: 0,
    logger: { warn: (_fields, message) => warn(message), error: (_fields, message) => warn(message) },
  });
}

/**
 * The expiry the app wrote into the record under `handle` (ms since the epoch), `null` when none
 * is live. This, not the CLI's own lifetimes, is when the session ends.
 *
 * @example
 * ```ts
 * const expiresAt = await expiryOf(opened.store, session.handle);
 * ```
 */
export async function expiryOf(store: SessionStore, handle: string): Promise<number | null> {
  const record = await store.get(handle, { now: Date.now() });
  return record === null ? null : record.expiresAt;
}

/**
 * Check that the CLI reads this store's sessions as the app writes them: a sample of records
 * (the first page the store lists) sealed at rest needs `--encrypt-data`, and with it, the secrets
 * must open them. Otherwise every listing would come back silently empty.
 *
 * @throws {@link ConfigError} when the records are encrypted and `encryptData` is off;
 * {@link SecretError} when none of the sampled sealed records opens with `TESSERA_SECRETS`.
 * @example
 * ```ts
 * await checkReadable(opened.store, tessera, { encryptData: false });
 * ```
 */
export async function checkReadable(store: SessionStore, tessera: Tessera, reading: Reading): Promise<void> {
  if (store.listSessions === undefined) return;
  const sample: KeyedRecord[] = [];
  let cursor: string | null = null;
  // A page may come back short, even empty, with more to come (Redis scans): a few pages at most.
  for (let pages = 0; pages < SAMPLE_PAGES && sample.length < SAMPLE_SIZE; pages++) {
    const page: SessionPage = await store.listSessions({ tenant: null, cursor, limit: SAMPLE_SIZE - sample.length }, { now: Date.now() });
    sample.push(...page.records);
    cursor = page.next;
    if (cursor === null) break;
  }
  const sealed = sample.filter(({ record }) => Sealer.formatOf(record.data) !== 0);
  if (sealed.length === 0) return;
  if (!reading.encryptData) {
    throw new ConfigError(
      'the session data in this store is encrypted at rest (the app sets encryptData: true): ' +
        `pass --encrypt-data, with the app's secrets in ${SECRETS_ENV}`,
    );
  }
  for (const { key } of sealed) if ((await tessera.admin.show(key)) !== null) return;
  throw new SecretError(
    `${SECRETS_ENV} does not open the session data in this store: it must hold the app's secrets ` +
      '(during a rotation, the new one first and the old ones after it)',
  );
}

/** `close` that runs once, however often it is called. */
function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | null = null;
  return () => (closing ??= close());
}
