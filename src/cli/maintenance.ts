/**
 * The CLI's commands that look after a deployment rather than its sessions: `keygen` (a new
 * secret), `cleanup` (remove expired sessions, with progress) and `migrate` (create the tables).
 *
 * @module
 */
import { SECRETS_ENV, generateSecret } from '../crypto/keyring.js';
import { Tessera } from '../manager.js';
import { PostgresStore } from '../stores/postgres.js';
import { EXIT, type CommandSpec } from './args.js';
import { withStore, type Command } from './command.js';
import { formatJson } from './output.js';
import { Progress } from './progress.js';

const KEYGEN: CommandSpec = {
  name: 'keygen',
  summary: `Print a new secret (32 random bytes, base64url) for ${SECRETS_ENV} or the secrets option.`,
  details:
    'The secret alone goes to standard output; how to use it goes to standard error.\n' +
    `To rotate, put the new secret first and keep the old ones after it: ${SECRETS_ENV}="<new>,<old>".\n` +
    'Remove an old secret once the sessions it signed have ended (docs/secrets.md).',
};

const CLEANUP: CommandSpec = {
  name: 'cleanup',
  summary: 'Remove expired sessions now, with progress on standard error, and print how many.',
  details: 'Redis expires sessions itself: there is nothing to clean up there.',
  store: true,
  options: {
    quiet: { type: 'boolean', short: 'q', help: 'no progress' },
    json: { type: 'boolean', help: 'print JSON: { "removed": n }' },
  },
};

const MIGRATE: CommandSpec = {
  name: 'migrate',
  summary: 'Create the store\'s tables and indexes if missing (PostgreSQL, SQLite). Safe to run again.',
  details:
    'PostgreSQL: the table (?table=, default tessera_sessions), its indexes and its activity table.\n' +
    'SQLite: the database file and its table. A file store: its folder. Redis: nothing to do.',
  store: true,
};

/**
 * `tessera keygen`.
 *
 * @example
 * ```ts
 * await keygenCommand.run(parseCommand(keygenCommand.spec, []), io); // prints 43 characters
 * ```
 */
export const keygenCommand: Command = {
  spec: KEYGEN,
  run: async (_parsed, io) => {
    io.out.write(`${generateSecret()}\n`);
    io.err.write(
      `Put it in ${SECRETS_ENV} (or your app's secrets option), and keep it in your secret manager.\n` +
        `Rotating: ${SECRETS_ENV}="<this one>,<the current one>" — the first signs and encrypts, all verify;\n` +
        'drop the old one once its sessions have ended (after absoluteTimeout, 7 days by default).\n',
    );
    return EXIT.ok;
  },
};

/**
 * `tessera cleanup`.
 *
 * @example
 * ```ts
 * await cleanupCommand.run(parseCommand(cleanupCommand.spec, ['--store', 'sqlite:./data/sessions.db']), io);
 * ```
 */
export const cleanupCommand: Command = {
  spec: CLEANUP,
  run: (parsed, io) =>
    withStore(parsed, CLEANUP, { create: false }, async (opened) => {
      const json = parsed.values.json === true;
      if (opened.target.kind === 'redis') {
        io.err.write('tessera: Redis expires sessions itself: nothing to clean up\n');
        if (json) io.out.write(formatJson({ removed: 0 }));
        return EXIT.ok;
      }
      const now = Date.now();
      const total = opened.countExpired === null ? null : await opened.countExpired(now);
      const progress = parsed.values.quiet === true ? null : new Progress(io.err, { label: 'removing expired sessions', total });
      // Removing expired records reads no session data: no secret is needed.
      const tessera = new Tessera({ store: opened.store, secrets: generateSecret(), cleanupInterval: 0 });
      let removed: number;
      try {
        removed = await tessera.cleanupExpired({ onProgress: (p) => progress?.update(p.removed) });
      } catch (error) {
        progress?.abort();
        throw error;
      } finally {
        await tessera.close();
      }
      progress?.finish(removed);
      io.out.write(json ? formatJson({ removed }) : `removed ${removed} expired session${removed === 1 ? '' : 's'}\n`);
      return EXIT.ok;
    }),
};

/**
 * `tessera migrate`.
 *
 * @example
 * ```ts
 * await migrateCommand.run(parseCommand(migrateCommand.spec, ['--store', 'postgres://db/app?table=sessions']), io);
 * ```
 */
export const migrateCommand: Command = {
  spec: MIGRATE,
  run: (parsed, io) =>
    withStore(parsed, MIGRATE, { create: true }, async (opened) => {
      const { target, store } = opened;
      switch (target.kind) {
        case 'postgres':
          if (store instanceof PostgresStore) await store.migrate();
          io.out.write(`PostgreSQL: table ${target.schema ? `${target.schema}.` : ''}${target.table ?? 'tessera_sessions'} and its indexes are in place\n`);
          break;
        case 'sqlite':
          // Opening the store made the file and the table.
          io.out.write(`SQLite: table ${target.table ?? 'tessera_sessions'} in ${target.path} is in place\n`);
          break;
        case 'file':
          io.out.write(`file store: the folder ${target.dir} is in place; file stores have no tables\n`);
          break;
        case 'redis':
          io.out.write('Redis: nothing to migrate (keys are made as sessions are written)\n');
          break;
      }
      return EXIT.ok;
    }),
};
