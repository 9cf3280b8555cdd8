/**
 * What every CLI command is made of: its {@link CommandSpec} and a `run` that resolves an exit
 * code, with the streams it writes to ({@link CliIo}) and the two ways commands reach a store —
 * {@link withStore} (the store alone) and {@link withSessions} (a Tessera reading the app's
 * sessions) — which open it, check it, and close it whatever happens.
 *
 * @module
 */
import { StoreUnavailableError } from '../errors.js';
import type { Tessera } from '../manager.js';
import type { CommandSpec, ParsedCommand } from './args.js';
import { UsageError } from './args.js';
import { checkReadable, openStore, openTessera, type OpenedStore } from './open.js';
import type { ProgressStream } from './progress.js';
import { STORE_ENV, describeStore, parseStoreUrl } from './store-url.js';

/**
 * The streams a command writes to: its result to `out`, messages and progress to `err`.
 *
 * @example
 * ```ts
 * const io: CliIo = { out: process.stdout, err: process.stderr };
 * ```
 */
export interface CliIo {
  readonly out: { write(text: string): unknown; readonly isTTY?: boolean };
  readonly err: ProgressStream;
}

/**
 * A command of the CLI.
 *
 * @example
 * ```ts
 * const keygen: Command = {
 *   spec: { name: 'keygen', summary: 'print a new secret' },
 *   run: async (_parsed, io) => { io.out.write(`${generateSecret()}\n`); return EXIT.ok; },
 * };
 * ```
 */
export interface Command {
  readonly spec: CommandSpec;
  /** Run it; resolves its exit code. Errors it throws are mapped to exit codes by the CLI. */
  run(parsed: ParsedCommand, io: CliIo): Promise<number>;
}

/**
 * Run `use` on the store the command line names (`--store`, else `TESSERA_STORE`), closing it after.
 *
 * @throws {@link UsageError} when no store is named; what {@link openStore} throws.
 * @example
 * ```ts
 * const removed = await withStore(parsed, spec, { create: false }, (opened) => opened.countExpired?.(Date.now()));
 * ```
 */
export async function withStore<T>(parsed: ParsedCommand, spec: CommandSpec, options: { create: boolean }, use: (opened: OpenedStore) => Promise<T>): Promise<T> {
  const url = (parsed.values.store as string | undefined) ?? process.env[STORE_ENV];
  if (url === undefined || url === '') throw new UsageError(`no store given: pass --store <url> or set ${STORE_ENV}`, spec.name);
  const opened = await openStore(parseStoreUrl(url), options);
  try {
    return await use(opened);
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
    // The app's message says "try again shortly"; an operator wants to know which store, and why.
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    throw new Error(`cannot reach the store ${describeStore(url)}${cause}`);
  } finally {
    await opened.close().catch(() => {
      // Closing a store that could not be reached may fail too; the failure that matters is reported.
    });
  }
}

/**
 * Run `use` with a Tessera that reads the sessions of the store the command line names, as the
 * app writes them (`--encrypt-data`, `TESSERA_SECRETS`), after checking it can read them.
 *
 * @example
 * ```ts
 * const stats = await withSessions(parsed, spec, io, (tessera) => tessera.admin.stats());
 * ```
 */
export function withSessions<T>(parsed: ParsedCommand, spec: CommandSpec, io: CliIo, use: (tessera: Tessera, opened: OpenedStore) => Promise<T>): Promise<T> {
  const reading = { encryptData: parsed.values['encrypt-data'] === true };
  return withStore(parsed, spec, { create: false }, async (opened) => {
    const tessera = openTessera(opened, reading, (message) => io.err.write(`tessera: ${message}\n`));
    try {
      await checkReadable(opened.store, tessera, reading);
      return await use(tessera, opened);
    } finally {
      await tessera.close();
    }
  });
}
