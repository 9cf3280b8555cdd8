/**
 * Three real Node processes (test/fixtures/bus-node.ts), each with a bus of its own on one channel,
 * as three servers of an app would be: a message published in each reaches the other two (and
 * itself), over Redis and over PostgreSQL. Skipped, saying why, when the service is down.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PG_URL, REDIS_URL, serviceSkip } from '../helpers/services.js';

const NODE = join(import.meta.dirname, '../fixtures/bus-node.ts');

interface Node {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
}

function start(kind: string, url: string, channel: string): Node {
  const child = spawn(process.execPath, ['--import', 'tsx', NODE, kind, url, channel], { stdio: ['pipe', 'pipe', 'pipe'] });
  const node: Node = { child, lines: [] };
  createInterface({ input: child.stdout }).on('line', (line) => node.lines.push(line));
  child.stderr.on('data', (data: Buffer) => node.lines.push(`stderr ${data.toString()}`));
  return node;
}

async function until(condition: () => boolean, what: string, nodes: Node[]): Promise<void> {
  const end = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > end) assert.fail(`timed out waiting until ${what}; output: ${JSON.stringify(nodes.map((n) => n.lines))}`);
    await sleep(20);
  }
}

for (const [kind, service, url] of [['redis', 'Redis', REDIS_URL], ['postgres', 'PostgreSQL', PG_URL]] as const) {
  const skip = await serviceSkip(service, url);
  describe(`three processes on one ${service} bus`, { skip }, () => {
    it('a message published in each process reaches all three', async () => {
      const channel = `tessera-test-${process.pid}-${randomBytes(4).toString('hex')}`;
      const nodes = [0, 1, 2].map(() => start(kind, url, channel));
      try {
        await until(() => nodes.every((n) => n.lines.includes('ready')), 'every process subscribed', nodes);
        nodes.forEach((node, i) => node.child.stdin.write(`publish from process ${i} (pid ${node.child.pid})\n`));
        const want = nodes.map((node, i) => `got ${JSON.stringify(`from process ${i} (pid ${node.child.pid})`)}`).sort();
        const heard = (node: Node) => node.lines.filter((l) => l.startsWith('got ')).sort();
        await until(() => nodes.every((n) => heard(n).length >= 3), 'every process heard three messages', nodes);
        for (const node of nodes) assert.deepEqual(heard(node), want, `process ${node.child.pid} heard each message once`);
        for (const node of nodes) node.child.stdin.end();
        const codes = await Promise.all(nodes.map((n) => n.child.exitCode ?? new Promise((resolve) => n.child.once('exit', resolve))));
        assert.deepEqual(codes, [0, 0, 0], 'every process closed its bus and exited by itself');
      } finally {
        for (const node of nodes) if (node.child.exitCode === null) node.child.kill();
      }
    });
  });
}
