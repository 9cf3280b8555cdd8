/**
 * src/core/state.ts: the change set's pieces — an `Update` composes and re-runs, `applyChange`
 * applies one recorded change, `hasWrite` says whether a state holds anything for the store.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyChange, DELETED, freshState, hasWrite, NO_CHANGES, Update, type SessionState } from '../../src/core/state.js';
import { SessionStateError } from '../../src/errors.js';

const inc = (n: unknown) => ((n as number | undefined) ?? 0) + 1;
const double = (n: unknown) => (n as number) * 2;

describe('Update', () => {
  it('then: one update that runs this one, then the next, on the value given', () => {
    const both = new Update(inc).then(double);
    assert.equal(both.fn(4), 10);
    assert.equal(both.fn(undefined), 2);
    assert.equal(new Update(double).then(inc).fn(4), 9, 'in order');
  });

  it('after an earlier update of the key: both, in order, still re-run on what is stored', () => {
    const composed = new Update(double).after(new Update(inc));
    assert.ok(composed instanceof Update);
    assert.equal((composed as Update).fn(4), 10);
  });

  it('after a set of the key: the value it gives, no longer depending on the store', () => {
    assert.equal(new Update(double).after(5), 10);
  });

  it('after a delete of the key: its function of undefined, and a result of undefined is a delete', () => {
    assert.equal(new Update(inc).after(DELETED), 1);
    assert.equal(new Update(() => undefined).after(5), DELETED);
  });
});

describe('applyChange', () => {
  it('sets a value, and deletes on DELETED', () => {
    const data: Record<string, unknown> = { a: 1, b: 2 };
    applyChange(data, 'a', 10);
    applyChange(data, 'b', DELETED);
    applyChange(data, 'missing', DELETED);
    assert.deepEqual(data, { a: 10 });
  });

  it('runs an Update on the current value, undefined when the key is missing', () => {
    const data: Record<string, unknown> = { n: 4 };
    applyChange(data, 'n', new Update(inc));
    applyChange(data, 'm', new Update(inc));
    assert.deepEqual(data, { n: 5, m: 1 });
  });

  it('deletes the key when the Update returns undefined', () => {
    const data: Record<string, unknown> = { n: 4 };
    applyChange(data, 'n', new Update(() => undefined));
    assert.deepEqual(data, {});
  });

  it('refuses, with SessionStateError, a value JSON cannot hold from an Update, and leaves the data as it was', () => {
    const data: Record<string, unknown> = { n: 4 };
    for (const bad of [() => 1n, () => () => 1, () => Symbol('s')]) {
      assert.throws(() => applyChange(data, 'n', new Update(bad)), SessionStateError);
    }
    assert.deepEqual(data, { n: 4 });
  });

  it('does not read an inherited property as the current value', () => {
    const data: Record<string, unknown> = {};
    let seen: unknown = 'not called';
    applyChange(data, 'toString', new Update((v) => ((seen = v), 'x')));
    assert.equal(seen, undefined);
    assert.equal(data.toString, 'x');
  });
});

describe('hasWrite', () => {
  /** A state with a key (as once it has an ID), plus `over`. */
  function state(over: Partial<SessionState> = {}): SessionState {
    return { ...freshState(null, null, 0), key: 'k', ...over };
  }

  it('nothing without a key (the session never got an ID)', () => {
    assert.equal(hasWrite({ ...state(), key: null, touchDue: true, changes: new Map([['a', 1]]), data: { a: 1 } }), false);
  });

  it('a touch is a write, even with no change', () => {
    assert.equal(hasWrite(state({ touchDue: true })), true);
  });

  it('no change and no touch: nothing to write', () => {
    assert.equal(hasWrite(state({ version: 3, data: { a: 1 } })), false);
    assert.equal(state().changes, NO_CHANGES);
  });

  it('a new session emptied again (changes, but nothing to keep): nothing to write', () => {
    assert.equal(hasWrite(state({ changes: new Map([['a', DELETED]]) })), false);
    assert.equal(hasWrite(state({ cleared: true })), false);
  });

  it('a change to a new session holding data, to a stored one, or a user on an empty one: a write', () => {
    assert.equal(hasWrite(state({ changes: new Map([['a', 1]]), data: { a: 1 } })), true);
    assert.equal(hasWrite(state({ version: 1, changes: new Map([['a', DELETED]]) })), true, 'emptying a stored session is written');
    assert.equal(hasWrite(state({ version: 1, cleared: true })), true);
    assert.equal(hasWrite(state({ metaChanged: true, userId: 'ann' })), true);
  });
});
