/**
 * One statement on a pooled connection, timed by the client: the store's form of
 * `pool.query(statement, values)` with `queryTimeout`.
 *
 * Why not pg's own `query_timeout`: its timer fires in the event loop's timers phase, which comes
 * before the phase that reads sockets. After the process stalled for longer than the timeout (a
 * long garbage collection, a synchronous task, a starved CPU), the timer fires first and fails the
 * call even when the answer has long been waiting in the socket. Here the timer only arms a check
 * for the end of that loop turn (`afterPoll` in core/deadline.ts), after sockets have been read:
 * a call fails only when its answer has not arrived by then.
 *
 * @module
 */
import type * as Pg from 'pg';
import { afterPoll } from '../core/deadline.js';
import type { Statement } from './postgres-statements.js';

/** pg's `query(config, values, callback)`, which it runs (`new Query(config, values, callback)`) but its types leave out. */
type QueryWithCallback<R extends Pg.QueryResultRow> = (this: Pg.PoolClient, statement: Statement, values: unknown[], callback: (error: Error | null, result?: Pg.QueryResult<R>) => void) => void;

/** The message of a call whose answer did not arrive in time (matched by `isConnectionError`). */
const QUERY_TIMEOUT_MESSAGE = 'Query read timeout';

/**
 * Run `statement` with `values` on a connection of `pool`, failing with
 * `Error('Query read timeout')` when no answer has arrived `timeout` ms later (`0`: not timed). A
 * connection that timed out, or that broke, is discarded rather than returned to the pool: it may
 * be silent for good, or still busy with the statement.
 *
 * @example
 * ```ts
 * const { rows } = await timedQuery<Row>(pool, sql.get, [key, now], 500);
 * ```
 */
export function timedQuery<R extends Pg.QueryResultRow>(pool: Pg.Pool, statement: Statement, values: unknown[], timeout: number): Promise<Pg.QueryResult<R>> {
  if (timeout === 0) return pool.query<R>(statement, values);
  return new Promise<Pg.QueryResult<R>>((resolve, reject) => {
    pool.connect((connectError, client, release) => {
      if (connectError !== undefined && connectError !== null) return reject(connectError);
      if (client === undefined) return reject(new Error('pg pool gave no connection'));
      let open = true;
      const finish = (error: Error | null | undefined, result?: Pg.QueryResult<R>): void => {
        if (!open) return;
        open = false;
        clearTimeout(timer);
        client.removeListener('error', finish);
        // An error discards the connection (pg-pool ends it); a result returns it to the pool.
        release(error ?? undefined);
        if (error) reject(error);
        else resolve(result!);
      };
      const timer = setTimeout(afterPoll, timeout, expire, finish);
      // A connection that breaks while checked out emits 'error' on the client (pg-pool listens
      // only while it is idle): unhandled, that would crash the process.
      client.once('error', finish);
      try {
        (client.query as QueryWithCallback<R>).call(client, statement, values, finish);
      } catch (error) {
        finish(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

/** A call's timer ran out with no answer (its Error made only then, not for every call). */
function expire(finish: (error: Error) => void): void {
  finish(new Error(QUERY_TIMEOUT_MESSAGE));
}
