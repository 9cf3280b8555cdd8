/**
 * The `tessera` command line: finds the command, parses its arguments, runs it, and turns what
 * goes wrong into a message on standard error and a documented exit code ({@link EXIT}).
 *
 * @module
 */
import { TesseraError } from '../errors.js';
import { SECRETS_ENV } from '../crypto/keyring.js';
import { EXIT, UsageError, commandHelp, parseCommand } from './args.js';
import type { CliIo, Command } from './command.js';
import { cleanupCommand, keygenCommand, migrateCommand } from './maintenance.js';
import { listCommand, revokeCommand, revokeUserCommand, showCommand, statsCommand } from './sessions.js';
import { STORE_ENV } from './store-url.js';

/** Every command, by its words on the command line. */
const COMMANDS: ReadonlyMap<string, Command> = new Map(
  [listCommand, showCommand, revokeCommand, revokeUserCommand, statsCommand, cleanupCommand, migrateCommand, keygenCommand].map((c) => [c.spec.name, c]),
);

/** Configuration mistakes: the command did not run, as with a bad command line. */
const USAGE_CODES = new Set(['ERR_CONFIG', 'ERR_SECRET', 'ERR_TENANT', 'ERR_NOT_SUPPORTED']);

/**
 * The CLI's own `--help`: its commands, environment and exit codes.
 *
 * @example
 * ```ts
 * process.stdout.write(mainHelp());
 * ```
 */
export function mainHelp(): string {
  const width = Math.max(...[...COMMANDS.keys()].map((n) => n.length));
  const commands = [...COMMANDS.values()].map((c) => `  ${c.spec.name.padEnd(width)}  ${c.spec.summary.split('. ')[0]!.replace(/\.$/, '')}`);
  return [
    'Usage: tessera <command> [options]',
    '',
    'Look after the sessions of a tessera app: list, show and revoke them, count them, remove the',
    'expired ones, create the tables, make secrets.',
    '',
    'Commands:',
    ...commands,
    '',
    `Run 'tessera <command> --help' for a command's options.`,
    '',
    'Environment:',
    `  ${STORE_ENV}    the store, when --store is not given: sqlite:<path>, file:<dir>,`,
    '                   postgres://user@host/db?table=…, redis://host:6379?prefix=…',
    `  ${SECRETS_ENV}  the app's secrets (comma-separated, current first); needed with --encrypt-data`,
    '',
    'Exit codes:',
    `  ${EXIT.ok}  done`,
    `  ${EXIT.failure}  failed while running (store unreachable, query failed)`,
    `  ${EXIT.usage}  not run: bad command line, store URL or configuration (secrets, --encrypt-data)`,
    `  ${EXIT.notFound}  no such session (sessions show, sessions revoke)`,
    '',
  ].join('\n');
}

/**
 * Run the CLI on `argv` (the arguments after `tessera`); resolves the exit code. Never rejects:
 * every failure is reported on `io.err`.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(process.argv.slice(2), { out: process.stdout, err: process.stderr });
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let command: Command | undefined;
  try {
    const [first, second] = argv;
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      const asked = first === 'help' && argv.length > 1 ? COMMANDS.get(argv.slice(1).join(' ')) : undefined;
      if (first === 'help' && argv.length > 1 && asked === undefined) throw new UsageError(`unknown command ${JSON.stringify(argv.slice(1).join(' '))}`);
      (first === undefined ? io.err : io.out).write(asked ? commandHelp(asked.spec) : mainHelp());
      return first === undefined ? EXIT.usage : EXIT.ok;
    }
    const grouped = first === 'sessions';
    command = COMMANDS.get(grouped ? `sessions ${second ?? ''}` : first);
    if (command === undefined) {
      if (grouped && (second === undefined || second === '--help' || second === '-h')) {
        (second === undefined ? io.err : io.out).write(sessionsHelp());
        return second === undefined ? EXIT.usage : EXIT.ok;
      }
      throw new UsageError(`unknown command ${JSON.stringify(grouped ? `sessions ${second}` : first)}`);
    }
    const parsed = parseCommand(command.spec, argv.slice(grouped ? 2 : 1));
    if (parsed.help) {
      io.out.write(commandHelp(command.spec));
      return EXIT.ok;
    }
    return await command.run(parsed, io);
  } catch (error) {
    return report(error, command, io);
  }
}

/** The `sessions` group's commands. */
function sessionsHelp(): string {
  const group = [...COMMANDS.values()].filter((c) => c.spec.name.startsWith('sessions '));
  const width = Math.max(...group.map((c) => c.spec.name.length));
  return ['Usage: tessera sessions <command> [options]', '', 'Commands:', ...group.map((c) => `  ${c.spec.name.padEnd(width)}  ${c.spec.summary}`), ''].join('\n');
}

/** Print what went wrong; the exit code it means. */
function report(error: unknown, command: Command | undefined, io: CliIo): number {
  if (error instanceof UsageError) {
    io.err.write(`tessera: ${error.message}\n`);
    io.err.write(error.command === null ? `\n${mainHelp()}` : `Run 'tessera ${error.command} --help' for its usage.\n`);
    return EXIT.usage;
  }
  if (error instanceof TesseraError && USAGE_CODES.has(error.code)) {
    io.err.write(`tessera: ${error.message}\n`);
    return EXIT.usage;
  }
  // tessera.admin's checks of what it is given (a cursor that is not one, a bad limit).
  if (error instanceof TypeError && error.message.startsWith('admin')) {
    io.err.write(`tessera: ${error.message.replace(/^admin(\.\w+)?:\s*/, '')}${command ? ` (see 'tessera ${command.spec.name} --help')` : ''}\n`);
    return EXIT.usage;
  }
  io.err.write(`tessera: ${describeFailure(error)}\n`);
  return EXIT.failure;
}

/** A failure while running, with its cause and, for a missing PostgreSQL table, what to do. */
function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  if (code === '42P01') return `${error.message}: the table does not exist (check ?table= and ?schema=, or create it with 'tessera migrate')`;
  const cause = error.cause instanceof Error && !error.message.includes(error.cause.message) ? ` (${error.cause.message})` : '';
  return `${error.message}${cause}`;
}
