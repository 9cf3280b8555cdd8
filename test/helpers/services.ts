/**
 * Real services for tests (PostgreSQL, Redis on this machine). When one is unreachable its tests
 * are skipped with a clear reason, unless TESSERA_REQUIRE_SERVICES=1 (set by .ci/run), which turns
 * the skip into a failure.
 */
import { connect } from 'node:net';

export const REQUIRE_SERVICES = process.env.TESSERA_REQUIRE_SERVICES === '1';
export const REDIS_URL = process.env.TESSERA_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PG_URL = process.env.TESSERA_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';

function portOpen(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.setTimeout(1_000, () => socket.destroy(new Error('timed out')));
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('error', reject);
  });
}

/**
 * `false` when the service answers; otherwise the skip reason, or a thrown error when services are
 * required. Use as `{ skip: await serviceSkip('Redis', REDIS_URL) }`.
 */
export async function serviceSkip(name: string, url: string): Promise<string | false> {
  try {
    await portOpen(url);
    return false;
  } catch (error) {
    const reason = `${name} not reachable at ${new URL(url).host} (${(error as Error).message}); its tests are skipped`;
    if (REQUIRE_SERVICES) throw new Error(`${name} is required (TESSERA_REQUIRE_SERVICES=1) but ${reason}`);
    process.stdout.write(`# SKIPPED: ${reason}\n`);
    return reason;
  }
}
