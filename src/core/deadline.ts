/**
 * Deadlines judged after the sockets are read. A timer fires in the event loop's timers phase,
 * which comes before the phase that reads sockets: after the process stalled for longer than a
 * deadline (a long garbage collection, a synchronous task, a starved CPU), a plain timer would
 * give up on an answer that has already arrived. Here the timer only schedules the verdict for the
 * end of that loop turn (`setImmediate`), after a poll of the sockets, so an answer that came
 * during the stall settles the promise first and the verdict finds nothing left to do.
 *
 * @module
 */

/**
 * Call `fn(...args)` at the end of the loop turn in which a timer fired, after the sockets have
 * been read: use it as a timer's callback, `setTimeout(afterPoll, ms, fn, ...args)`.
 *
 * @example
 * ```ts
 * const timer = setTimeout(afterPoll, 500, () => reject(new Error('no answer within 500 ms')));
 * ```
 */
export function afterPoll<A extends unknown[]>(fn: (...args: A) => void, ...args: A): void {
  setImmediate(fn, ...args);
}

/**
 * `promise`, or a rejection with `late()` when it has not settled `ms` after the call (judged after
 * the sockets are read: see the module). The promise goes on; only the wait ends.
 *
 * @example
 * ```ts
 * await within(this.#subscribed, 2_000, () => new BusUnavailableError('could not subscribe within 2000 ms (still trying)'));
 * ```
 */
export function within<T>(promise: PromiseLike<T>, ms: number, late: () => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(afterPoll, ms, () => reject(late()));
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
