/**
 * A Redis Cluster of its own for a test file: three masters started with `redis-server` in
 * cluster mode on free ports (data in a temporary folder), joined with `redis-cli --cluster
 * create`, and stopped and removed afterwards — also when the test process exits early.
 *
 * Without `redis-server` (or `redis-cli`) on the PATH, {@link redisClusterSkip} gives the reason
 * the tests are skipped for — or fails under TESSERA_REQUIRE_SERVICES=1, as serviceSkip does.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from './ports.js';
import { REQUIRE_SERVICES } from './services.js';

const run = promisify(execFile);

/** `false` when redis-server and redis-cli can be run; otherwise the skip reason (or a thrown error when services are required). */
export function redisClusterSkip(): string | false {
  const missing = ['redis-server', 'redis-cli'].filter((bin) => spawnSync(bin, ['--version']).status !== 0);
  if (missing.length === 0) return false;
  const reason = `${missing.join(' and ')} not found on the PATH, so no Redis Cluster can be started; its tests are skipped`;
  if (REQUIRE_SERVICES) throw new Error(`a Redis Cluster is required (TESSERA_REQUIRE_SERVICES=1) but ${reason}`);
  process.stdout.write(`# SKIPPED: ${reason}\n`);
  return reason;
}

/** One master of the cluster. */
export interface ClusterNode {
  host: string;
  port: number;
}

/** A running cluster: its nodes, and the means to stop one node, start it again, or stop them all. */
export interface RedisCluster {
  nodes: ClusterNode[];
  /** Run `redis-cli` against `node` with `args`; its output. */
  cli(node: ClusterNode, ...args: string[]): Promise<string>;
  /** Stop one node (SIGKILL, as a crash), until {@link RedisCluster.restart}. */
  kill(node: ClusterNode): Promise<void>;
  /** Start a killed node again from its config file, and wait until the cluster is whole. */
  restart(node: ClusterNode): Promise<void>;
  /** Stop every node and remove the folder. Idempotent. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/** Start a cluster of `masters` nodes and wait until every node reports `cluster_state:ok`. */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-redis-cluster-'));
  const processes = new Map<number, ChildProcess>();
  const busPorts = new Map<number, number>();
  const nodes: ClusterNode[] = [];
  let stopped = false;

  const cli = async (node: ClusterNode, ...args: string[]): Promise<string> =>
    (await run('redis-cli', ['-h', node.host, '-p', String(node.port), ...args], { timeout: 10_000 })).stdout;

  const launch = (port: number): void => {
    const child = spawn(
      'redis-server',
      [
        '--port', String(port), '--bind', HOST, '--cluster-enabled', 'yes', '--cluster-port', String(busPorts.get(port)),
        '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '1000', '--dir', dir,
        '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning',
      ],
      { stdio: 'ignore' },
    );
    processes.set(port, child);
  };

  const waitFor = async (what: string, check: () => Promise<boolean>): Promise<void> => {
    const end = Date.now() + 20_000;
    for (;;) {
      if (await check().catch(() => false)) return;
      if (Date.now() > end) throw new Error(`Redis Cluster: timed out waiting until ${what}`);
      await sleep(50);
    }
  };
  const healthy = (): Promise<void> =>
    waitFor('every node reports cluster_state:ok', async () => {
      for (const node of nodes) {
        if (!processes.has(node.port)) continue;
        if (!(await cli(node, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
      }
      return true;
    });

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stopNow);
    await Promise.all(
      [...processes.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    processes.clear();
    rmSync(dir, { recursive: true, force: true });
  };
  // If the test process ends without `stop` (a crash), take the servers and the folder with it.
  const stopNow = (): void => {
    for (const child of processes.values()) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', stopNow);

  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      busPorts.set(port, await freePort());
      nodes.push({ host: HOST, port });
      launch(port);
    }
    for (const node of nodes) await waitFor(`${node.port} answers PING`, async () => (await cli(node, 'PING')).trim() === 'PONG');
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 30_000,
    });
    await healthy();
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    nodes,
    cli,
    async kill(node) {
      const child = processes.get(node.port);
      processes.delete(node.port);
      if (!child || child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    },
    async restart(node) {
      launch(node.port);
      await waitFor(`${node.port} answers PING again`, async () => (await cli(node, 'PING')).trim() === 'PONG');
      await healthy();
    },
    stop,
  };
}
