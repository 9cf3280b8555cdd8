/** The CLI's command-line parsing, in process: handles that start with `-` are arguments, not options. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommand, UsageError, type CommandSpec } from '../../src/cli/args.js';

const SHOW: CommandSpec = {
  name: 'sessions show',
  summary: 'one session',
  args: ['handle'],
  store: true,
  options: { json: { type: 'boolean', help: 'JSON' }, user: { type: 'string', value: 'id', help: 'a user' } },
};
/** A handle as the store gives them: 43 base64url characters, one in 64 starting with `-`. */
const DASHED = '-R3SLqfs10COGK6Ul37EtsUS0LFOe7byWhWKGxmQqRE';

describe('tessera command lines', () => {
  it('takes a handle that starts with - for the argument it is, wherever it stands', () => {
    for (const argv of [[DASHED, '--store', 'sqlite:x.db', '--json'], ['--json', DASHED, '-s', 'sqlite:x.db'], ['--store', 'sqlite:x.db', '--', DASHED]]) {
      const parsed = parseCommand(SHOW, argv);
      assert.deepEqual(parsed.args, [DASHED], argv.join(' '));
      assert.equal(parsed.values.store, 'sqlite:x.db');
    }
  });

  it('leaves such a token to a string option (which says to write --user=…), and still refuses unknown options', () => {
    assert.throws(() => parseCommand({ ...SHOW, args: [] }, ['--user', DASHED]), (error: unknown) => error instanceof UsageError && error.message.includes("'--user=-XYZ'"));
    assert.equal(parseCommand({ ...SHOW, args: [] }, [`--user=${DASHED}`]).values.user, DASHED);
    assert.throws(() => parseCommand(SHOW, ['-R3SL', 'h']), UsageError);
    assert.throws(() => parseCommand(SHOW, ['--nope', DASHED]), UsageError);
  });
});
