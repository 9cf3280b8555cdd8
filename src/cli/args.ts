/**
 * The CLI's command lines: each command declares its options and arguments once, in a
 * {@link CommandSpec}, from which both its parsing (node:util `parseArgs`, strict) and its
 * `--help` text are made. A command line that does not fit is a {@link UsageError} (exit 2).
 *
 * @module
 */
import { parseArgs } from 'node:util';

/**
 * The CLI's exit codes (documented in `tessera --help` and docs/cli.md).
 *
 * @example
 * ```ts
 * process.exitCode = found ? EXIT.ok : EXIT.notFound;
 * ```
 */
export const EXIT = Object.freeze({
  /** Done. */
  ok: 0,
  /** Failed while running: the store unreachable, a query failed. */
  failure: 1,
  /** Not run: a bad command line, store URL or configuration (secrets, `--encrypt-data`). */
  usage: 2,
  /** The session named (`sessions show`, `sessions revoke`) does not exist or has expired. */
  notFound: 3,
});

/**
 * A command line the CLI cannot run: an unknown command or option, a missing argument, a bad
 * value. The CLI prints it with the command's usage and exits with 2.
 *
 * @example
 * ```ts
 * throw new UsageError('--limit must be a whole number from 1 to 1000', 'sessions list');
 * ```
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** The command whose usage to show; `null` for the CLI's own. */
  readonly command: string | null;

  constructor(message: string, command: string | null = null) {
    super(message);
    this.command = command;
  }
}

/**
 * An option of a command, as `parseArgs` takes it plus its help.
 *
 * @example
 * ```ts
 * const user: OptionSpec = { type: 'string', value: 'id', help: 'only the sessions of this user' };
 * ```
 */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** The value's name in the help (`--user <id>`). */
  readonly value?: string;
  readonly help: string;
}

/**
 * A command: its name, what it does, its options and its positional arguments.
 *
 * @example
 * ```ts
 * const spec: CommandSpec = {
 *   name: 'sessions show', summary: 'one session by its handle', args: ['handle'],
 *   options: { json: { type: 'boolean', help: 'print JSON' } }, store: true,
 * };
 * ```
 */
export interface CommandSpec {
  /** Its words on the command line: `keygen`, `sessions list`. */
  readonly name: string;
  /** One line: what it does. */
  readonly summary: string;
  /** More lines for its `--help`, after the usage. */
  readonly details?: string;
  /** Its required positional arguments, by name; a last name ending in `...` takes one or more. */
  readonly args?: readonly string[];
  readonly options?: Readonly<Record<string, OptionSpec>>;
  /** It opens a store (`--store`). */
  readonly store?: boolean;
  /** It reads session data (`--encrypt-data`). */
  readonly reads?: boolean;
}

/**
 * What {@link parseCommand} found.
 *
 * @example
 * ```ts
 * const { values, args }: ParsedCommand = parseCommand(spec, ['--json', 'abc']);
 * ```
 */
export interface ParsedCommand {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly args: readonly string[];
  readonly help: boolean;
}

/** The option of every command that opens a store. */
const STORE_OPTION: OptionSpec = { type: 'string', short: 's', value: 'url', help: 'the store: sqlite:<path>, file:<dir>, postgres://…, redis://… (default: $TESSERA_STORE)' };
/** The option of every command that reads session data. */
const ENCRYPT_OPTION: OptionSpec = { type: 'boolean', help: 'the app encrypts session data at rest (encryptData: true); needs $TESSERA_SECRETS' };

const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', help: 'show this help' };

function optionsOf(spec: CommandSpec): Record<string, OptionSpec> {
  return { ...spec.options, ...(spec.store ? { store: STORE_OPTION } : {}), ...(spec.reads ? { 'encrypt-data': ENCRYPT_OPTION } : {}), help: HELP_OPTION };
}

/** A session handle (43 base64url characters) that starts with `-`, which `parseArgs` would take for options. */
const DASHED_HANDLE = /^-[A-Za-z0-9_-]{42}$/;

/**
 * `argv` with its dash-led handles moved behind `--`, so that `sessions show -R3SL…` names a
 * session (one handle in 64 starts with `-`) instead of failing as an unknown option. A token
 * that is the value of a string option stays where it is.
 */
function handlesLast(argv: readonly string[], options: Readonly<Record<string, OptionSpec>>): string[] {
  const end = argv.indexOf('--');
  const head = end === -1 ? argv : argv.slice(0, end);
  const rest = end === -1 ? [] : argv.slice(end + 1);
  const takesValue = (token: string | undefined): boolean => {
    if (token === undefined || !token.startsWith('-') || token.includes('=')) return false;
    const name = token.startsWith('--') ? token.slice(2) : Object.keys(options).find((k) => options[k]!.short === token.slice(1));
    return name !== undefined && options[name]?.type === 'string';
  };
  const kept: string[] = [];
  const handles: string[] = [];
  head.forEach((token, i) => (DASHED_HANDLE.test(token) && !takesValue(head[i - 1]) ? handles : kept).push(token));
  return handles.length === 0 && end === -1 ? [...argv] : [...kept, '--', ...handles, ...rest];
}

/**
 * Parse the arguments after a command's name. `--help` anywhere wins: the rest is not checked.
 *
 * @throws {@link UsageError} for an unknown option, a missing value or argument, too many arguments.
 * @example
 * ```ts
 * parseCommand(listSpec, ['--user', 'u1', '--json']); // { values: { user: 'u1', json: true }, args: [], help: false }
 * ```
 */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): ParsedCommand {
  const options = optionsOf(spec);
  if (argv.includes('--help') || argv.includes('-h')) return { values: {}, args: [], help: true };
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: handlesLast(argv, options),
      options: Object.fromEntries(Object.entries(options).map(([name, o]) => [name, o.short ? { type: o.type, short: o.short } : { type: o.type }])),
      allowPositionals: true,
      strict: true,
    }) as typeof parsed;
  } catch (error) {
    throw new UsageError(cleanParseError(error), spec.name);
  }
  const names = spec.args ?? [];
  const variadic = names.at(-1)?.endsWith('...') ?? false;
  const given = parsed.positionals;
  if (given.length < names.length) throw new UsageError(`missing argument <${names[given.length]!.replace(/\.\.\.$/, '')}>`, spec.name);
  if (given.length > names.length && !variadic) {
    throw new UsageError(`unexpected argument ${JSON.stringify(given[names.length])}`, spec.name);
  }
  for (const [name, value] of Object.entries(parsed.values)) {
    if (value === '') throw new UsageError(`--${name} is empty`, spec.name);
  }
  return { values: parsed.values, args: given, help: false };
}

/** parseArgs's messages, without their Node-specific tail ("To specify a positional argument…"). */
function cleanParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('. To specify')[0]!.replace(/^Unknown option '([^']+)'$/, 'unknown option $1');
}

/**
 * The `--help` text of a command.
 *
 * @example
 * ```ts
 * process.stdout.write(commandHelp(spec));
 * ```
 */
export function commandHelp(spec: CommandSpec): string {
  const options = optionsOf(spec);
  const args = (spec.args ?? []).map((a) => (a.endsWith('...') ? `<${a.slice(0, -3)}>...` : `<${a}>`));
  const lines = [`Usage: tessera ${spec.name}${Object.keys(options).length > 0 ? ' [options]' : ''}${args.length ? ` ${args.join(' ')}` : ''}`, '', spec.summary];
  if (spec.details) lines.push('', spec.details);
  lines.push('', 'Options:');
  const rows = Object.entries(options).map(([name, o]) => [`${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` <${o.value}>` : ''}`, o.help] as const);
  const width = Math.max(...rows.map(([left]) => left.length));
  for (const [left, help] of rows) lines.push(`  ${left.padEnd(width)}  ${help}`);
  return `${lines.join('\n')}\n`;
}

const UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A point in time given as a duration before `now` (`90s`, `15m`, `2h`, `7d`) or as a date
 * (`2026-12-04`, `2026-12-04T10:00:00Z`): ms since the epoch.
 *
 * @throws {@link UsageError} for anything else.
 * @example
 * ```ts
 * parseSince('15m', Date.now()); // 15 minutes ago
 * ```
 */
export function parseSince(text: string, now: number, command: string): number {
  const duration = /^(\d+)([smhd])$/.exec(text);
  if (duration) return now - Number(duration[1]) * UNITS[duration[2]!]!;
  const time = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(time)) throw new UsageError(`--active-since takes a duration (90s, 15m, 2h, 7d) or a date (2026-12-04T10:00:00Z), not ${JSON.stringify(text)}`, command);
  return time;
}

/**
 * A whole number option between `min` and `max`.
 *
 * @throws {@link UsageError} otherwise.
 * @example
 * ```ts
 * parseCount('--limit', '100', 1, 1000, 'sessions list'); // 100
 * ```
 */
export function parseCount(option: string, text: string, min: number, max: number, command: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new UsageError(`${option} must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`, command);
  return n;
}
