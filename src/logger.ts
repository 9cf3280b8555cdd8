/**
 * The logger tessera reports to (the option `logger`): its shape, which a pino logger has, and
 * the default used without one.
 *
 * @module
 */

/**
 * A logger level tessera logs at.
 *
 * @example
 * ```ts
 * const level: LogLevel = 'warn';
 * ```
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * Where tessera reports what it does: each method is optional and takes pino's order — the fields
 * first, then the message — so a pino logger (or a child of one) is a `Logger` as it is. With
 * `isLevelEnabled` (pino has it), levels that are off cost nothing: no line is built for them.
 * Fields never hold raw session IDs: audit events carry a hashed `ref` (docs/observability.md).
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const logger: Logger = pino({ level: 'info' });
 * const lines: Logger = { warn: (fields, message) => console.warn(message, fields) };
 * ```
 */
export interface Logger {
  debug?(fields: Record<string, unknown>, message: string): void;
  info?(fields: Record<string, unknown>, message: string): void;
  warn?(fields: Record<string, unknown>, message: string): void;
  error?(fields: Record<string, unknown>, message: string): void;
  /** Whether `level` is logged; without it, every level the logger has a method for is. */
  isLevelEnabled?(level: LogLevel): boolean;
}

/** The logger without `logger`: see the option `logger` of `createTessera`. */
export const DEFAULT_LOGGER: Logger = Object.freeze({
  warn: (_fields: Record<string, unknown>, message: string) => process.emitWarning(message, 'TesseraWarning'),
  error: (fields: Record<string, unknown>, message: string) => {
    if (Object.keys(fields).length === 0) console.error(message);
    else console.error(message, fields);
  },
});

/**
 * @internal Whether `logger` is tessera's default (no `logger` option): audit events are then not
 * logged (they are for listeners, or for a logger the app gives), only the warnings and errors
 * tessera always reported.
 *
 * @example
 * ```ts
 * isDefaultLogger(resolveOptions({}).logger); // true
 * ```
 */
export function isDefaultLogger(logger: Logger): boolean {
  return logger === DEFAULT_LOGGER;
}

