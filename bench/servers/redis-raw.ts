/**
 * Baseline for the Redis scenarios: a bare node:http server doing one raw `GET` per request with
 * ioredis, then answering "hello". The client has the settings `RedisStore` gives a client it makes
 * from a URL (fail fast: see `redisClientOptions`), and each connection of the
 * load generator reads its own key, holding a value shaped like a session record's data, as each
 * connection of `redis-read` reads its own session.
 *
 * The difference between this and `redis-read` is what tessera adds on top of the Redis round trip.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { serveBench } from '../lib/serve.js';
import { benchName, deleteKeys, deleteStaleKeys, REDIS_URL, redisClientOptions } from '../lib/services.js';

serveBench(async ({ connections, anomaly }) => {
  const client = new Redis(REDIS_URL, redisClientOptions());
  client.on('error', () => {}); // a failed request answers 500; the report counts non-2xx answers
  await deleteStaleKeys(client);
  const prefix = `${benchName('raw')}:`;
  const now = Date.now();
  const value = JSON.stringify({ d: { n: 1 }, c: now, s: now, l: null, ip: '127.0.0.1', ua: null });
  const headerSets: Record<string, string>[] = [];
  for (let i = 0; i < connections; i++) {
    // A key as long as a store key (SHA-256 hex), so both servers parse similar request headers.
    const key = `${prefix}${createHash('sha256').update(String(i)).digest('hex')}`;
    await client.set(key, value, 'PX', 3_600_000);
    headerSets.push({ 'x-bench-key': key });
  }

  return {
    description: `node:http + ioredis GET <key of the connection> (RedisStore's client settings), ${connections} keys`,
    handler: async (req, res) => {
      try {
        const found = await client.get(req.headers['x-bench-key'] as string);
        if (found === null) anomaly();
        res.end('hello');
      } catch {
        res.statusCode = 500;
        res.end();
      }
    },
    headerSets,
    close: async () => {
      try {
        await deleteKeys(client, prefix);
      } finally {
        await client.quit().catch(() => client.disconnect());
      }
    },
  };
});
