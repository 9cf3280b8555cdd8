/**
 * Which failures of {@link PostgresStore} mean "the database cannot be reached" (answered 503,
 * retried later) rather than a wrong statement.
 *
 * @module
 * @internal
 */
import { StoreUnavailableError } from '../errors.js';

/** Network errors that mean "the server cannot be reached", as Node reports them. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
]);
/**
 * SQLSTATEs that mean the server is unavailable or overloaded rather than the statement wrong:
 * 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 57P05 idle_session_timeout,
 * 57014 query_canceled (statement_timeout), 55P03 lock_not_available (lock_timeout). Whole classes
 * 08 (connection exception) and 53 (insufficient resources: too many connections, disk full, ...)
 * are checked by prefix.
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57P05', '57014', '55P03']);
/** Messages of pg and pg-pool for a connection that closed, never opened, or timed out. */
const CONNECTION_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|timeout expired|Query read timeout|not queryable|the database system is (starting up|shutting down|in recovery mode)/i;

/**
 * Whether `error` says the database cannot be reached (as opposed to a statement that is wrong).
 * Looks through `cause` chains and the `errors` of an `AggregateError` (Node's happy-eyeballs
 * connect reports one per address).
 *
 * @example
 * ```ts
 * if (isConnectionError(error)) throw new StoreUnavailableError('postgres', error);
 * ```
 */
export function isConnectionError(error: unknown, depth = 0): boolean {
  if (depth > 4 || error === null || typeof error !== 'object') return false;
  if (error instanceof StoreUnavailableError) return true;
  const { code, message, cause, errors } = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code)) return true;
    if (/^(08|53)[0-9A-Z]{3}$/.test(code)) return true;
  }
  if (typeof message === 'string' && CONNECTION_MESSAGE.test(message)) return true;
  if (Array.isArray(errors) && errors.some((e) => isConnectionError(e, depth + 1))) return true;
  return cause !== undefined && isConnectionError(cause, depth + 1);
}
