/**
 * src/core/queue.ts: a session's commits run once after the current synchronous code (or at
 * release while held), never overlap, and keep a failure until someone sees it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommitQueue, type CommitRunner, type Step } from '../../src/core/queue.js';
import { freshState } from '../../src/core/state.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A runner whose commits the test controls: each answers with what `next` gives (a value by default). */
class Runner implements CommitRunner {
  commits = 0;
  running = 0;
  overlapped = false;
  readonly reported: unknown[] = [];
  next: () => Step<void> = () => undefined;

  commit(): Step<void> {
    this.commits++;
    const work = this.next();
    if (!(work instanceof Promise)) return work;
    if (++this.running > 1) this.overlapped = true;
    return work.finally(() => this.running--);
  }

  reportError(error: unknown): void {
    this.reported.push(error);
  }
}

/** A promise the test settles. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

function queue(runner: Runner): CommitQueue {
  return new CommitQueue(freshState(null, null, 0), runner);
}

describe('CommitQueue', () => {
  it('runs one commit for several schedules, after the current synchronous code', async () => {
    const runner = new Runner();
    const q = queue(runner);
    q.schedule();
    q.schedule();
    q.schedule();
    assert.equal(runner.commits, 0, 'not while the code that scheduled it runs');
    assert.equal(q.idle, false);
    await q.settle();
    assert.equal(runner.commits, 1);
    assert.equal(q.idle, true);
  });

  it('while held, waits for release (not the next tick), and release starts it at once', async () => {
    const runner = new Runner();
    const q = queue(runner);
    q.hold();
    q.schedule();
    await tick();
    assert.equal(runner.commits, 0, 'held: not on the next tick');
    assert.equal(q.idle, false, 'a deferred commit is not idle');
    q.release();
    assert.equal(runner.commits, 1, 'started by release, synchronously');
    assert.equal(q.idle, true);
  });

  it('release without a deferred commit does nothing; settle ends a hold', async () => {
    const runner = new Runner();
    const q = queue(runner);
    q.hold();
    q.release();
    assert.equal(runner.commits, 0);
    q.hold();
    q.schedule();
    await q.settle();
    assert.equal(runner.commits, 1, 'settle released the hold and waited for the commit');
  });

  it('scheduleLater starts the commit after a macrotask, not a microtask; a change meanwhile joins it; settle waits for it', async () => {
    const runner = new Runner();
    const q = queue(runner);
    q.scheduleLater();
    for (let i = 0; i < 10; i++) await null; // microtasks: what a handler resuming from `await load()` gets first
    assert.equal(runner.commits, 0, 'not within the microtasks that follow');
    q.schedule(); // a change made meanwhile
    assert.equal(q.idle, false);
    await q.settle();
    assert.equal(runner.commits, 1, 'one commit, holding both');
  });

  it('scheduleLater behind a running commit waits for it too', async () => {
    const runner = new Runner();
    const q = queue(runner);
    const first = deferred();
    runner.next = () => first.promise;
    q.schedule();
    await tick();
    runner.next = () => undefined;
    q.scheduleLater();
    await tick();
    await tick();
    assert.equal(runner.commits, 1, 'the first is still on the store');
    first.resolve();
    await q.settle();
    assert.equal(runner.commits, 2);
    assert.equal(runner.overlapped, false);
  });

  it('never runs two commits of one session at once: a commit scheduled meanwhile waits for the running one', async () => {
    const runner = new Runner();
    const q = queue(runner);
    const first = deferred();
    runner.next = () => first.promise;
    q.schedule();
    await tick();
    assert.equal(runner.commits, 1);
    runner.next = () => Promise.resolve();
    q.schedule();
    await tick();
    assert.equal(runner.commits, 1, 'the second waits while the first is on the store');
    first.resolve();
    await q.settle();
    assert.equal(runner.commits, 2);
    assert.equal(runner.overlapped, false);
  });

  it('settle rethrows a commit’s failure once, and the failure is then not reported', async () => {
    const runner = new Runner();
    const q = queue(runner);
    const boom = new Error('store down');
    runner.next = () => Promise.reject(boom);
    q.schedule();
    await assert.rejects(q.settle(), (e) => e === boom);
    await q.settle(); // seen: not rethrown
    await tick();
    await tick();
    assert.deepEqual(runner.reported, []);
  });

  it('keeps a commit that throws synchronously as its failure too', async () => {
    const runner = new Runner();
    const q = queue(runner);
    const boom = new Error('sync store down');
    runner.next = () => {
      throw boom;
    };
    q.hold();
    q.schedule();
    assert.doesNotThrow(() => q.release());
    assert.equal(q.idle, false, 'an unseen failure is not idle');
    await assert.rejects(q.settle(), (e) => e === boom);
    assert.equal(q.idle, true);
  });

  it('reports a failure nobody saw by the next macrotask, once', async () => {
    const runner = new Runner();
    const q = queue(runner);
    const boom = new Error('after the response');
    runner.next = () => Promise.reject(boom);
    q.schedule();
    for (let i = 0; i < 3; i++) await tick();
    assert.deepEqual(runner.reported, [boom]);
  });

  it('a later commit still runs after a failed one', async () => {
    const runner = new Runner();
    const q = queue(runner);
    runner.next = () => Promise.reject(new Error('once'));
    q.schedule();
    await q.settle().catch(() => {});
    runner.next = () => undefined;
    q.schedule();
    await q.settle();
    assert.equal(runner.commits, 2);
  });
});
