/**
 * Deadlines judged after the sockets are read (src/core/deadline.ts): an answer that arrived while
 * the process was blocked past the deadline is used; one that never comes is given up on.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { within } from '../../src/core/deadline.js';

const ECHO_SERVER = `require('node:net').createServer((s) => s.pipe(s)).listen(0, '127.0.0.1', function () { console.log(this.address().port); });`;

let server: ChildProcess;
let client: Socket;

before(async () => {
  // An echo server in another process (one in this process would be blocked too): the answer
  // comes through a real socket while this process is busy, as a store's does.
  server = spawn(process.execPath, ['-e', ECHO_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: server.stdout! }), 'line')) as [string];
  client = connect(Number(line), '127.0.0.1');
  await once(client, 'connect');
});

after(() => {
  client.destroy();
  server.kill();
});

/** Send `text`; resolves when it comes back. */
function echo(text: string): Promise<string> {
  return new Promise((resolve) => {
    client.once('data', (chunk: Buffer) => resolve(chunk.toString()));
    client.write(text);
  });
}

/** Keep the process busy for `ms`. */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('within', () => {
  it('uses an answer that arrived while the process was blocked past the deadline', async () => {
    for (let round = 0; round < 2; round++) {
      const answer = within(echo(`ping ${round}`), 50, () => new Error('late'));
      block(1_000); // the echo arrives during the block; the 50 ms timer is due when it ends
      assert.equal(await answer, `ping ${round}`);
    }
  });

  it('rejects with late() when no answer comes, and passes a failure on', async () => {
    const started = performance.now();
    await assert.rejects(within(new Promise(() => {}), 50, () => new Error('no answer in 50 ms')), /no answer in 50 ms/);
    assert.ok(performance.now() - started >= 45, 'not before the deadline');
    await assert.rejects(within(Promise.reject(new Error('refused')), 50, () => new Error('late')), /refused/);
  });
});
