/** src/core/commit.ts: what one commit does, decided once over the session's status. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide } from '../../src/core/commit.js';
import { freshState, type SessionState } from '../../src/core/state.js';

function state(over: Partial<SessionState> = {}): SessionState {
  return { ...freshState(null, null, 0), id: 'id', key: 'k', ...over };
}

describe('decide', () => {
  it('writes a session that is neither ignored, destroyed nor renewed (changed or not: the backend writes only a change)', () => {
    assert.equal(decide(state()), 'write');
    assert.equal(decide(state({ changes: new Map([['a', 1]]), touchDue: true })), 'write');
  });

  it('renews a session that retired keys (regenerated): write the new record, retire the old', () => {
    assert.equal(decide(state({ retired: [{ key: 'old', expiresAt: 1 }] })), 'renew');
  });

  it('drops a destroyed session, even one that retired keys', () => {
    assert.equal(decide(state({ destroyed: true })), 'drop');
    assert.equal(decide(state({ destroyed: true, retired: [{ key: 'old', expiresAt: 1 }] })), 'drop');
  });

  it('ignores an ignored session whatever else it did', () => {
    assert.equal(decide(state({ ignored: true })), 'ignore');
    assert.equal(decide(state({ ignored: true, destroyed: true, retired: [{ key: 'old', expiresAt: 1 }], touchDue: true })), 'ignore');
  });
});
