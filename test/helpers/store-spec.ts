/**
 * A server store described as plain data, so a test and its child processes can each open the
 * same store (a file, a directory, a table, a key prefix).
 */
import type { SessionStore } from '../../src/stores/store.js';

/** Which store, and where its data lives (`timeout`: the store's query or command timeout, when not its default). */
export type StoreSpec =
  | { kind: 'sqlite'; path: string }
  | { kind: 'file'; dir: string }
  | { kind: 'postgres'; url: string; table: string; timeout?: number }
  | { kind: 'redis'; url: string; prefix: string; timeout?: number };

/** The store of `spec`, for this process (its driver loaded only when needed). */
export async function storeOf(spec: StoreSpec): Promise<SessionStore> {
  switch (spec.kind) {
    case 'sqlite':
      return new (await import('../../src/stores/sqlite.js')).SqliteStore({ path: spec.path });
    case 'file':
      return new (await import('../../src/stores/file.js')).FileStore({ dir: spec.dir });
    case 'postgres':
      return new (await import('../../src/stores/postgres.js')).PostgresStore({ connectionString: spec.url, table: spec.table, queryTimeout: spec.timeout });
    case 'redis':
      return new (await import('../../src/stores/redis.js')).RedisStore({ url: spec.url, prefix: spec.prefix, timeout: spec.timeout });
  }
}
