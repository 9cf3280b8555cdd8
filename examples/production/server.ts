/**
 * One server process of a production deployment: several of these run behind a load balancer
 * (examples/production/nginx.conf), without sticky sessions, sharing PostgreSQL or Redis for the
 * sessions and for the live bus. Everything comes from the environment (docs/production.md):
 *
 * - `PORT` — where this process listens (on `HOST`, default 127.0.0.1: only the proxy reaches it).
 * - `TESSERA_SECRETS` — the secrets, comma-separated, newest first (`npx tessera keygen`).
 * - `SESSION_STORE` — `redis://…` or `postgres://…`: the sessions and the bus, on one service.
 * - `INSTANCE` — a name for this process in its answers and logs (default: the PID).
 * - `OPERATORS` — the user IDs (comma-separated) who may open the admin page at `/admin`.
 *
 * Routes: `GET /` a page with a counter and its live stream; `GET /api/count` counts and answers
 * `{ count, instance, csrf }`; `POST /api/notify` (CSRF header) pushes an event to every tab of
 * the session, wherever their streams are held, and answers `{ sent, instance }`; `GET /healthz` for the load balancer; the live
 * routes under `/tessera/live`; the admin page under `/admin`.
 *
 * Usage: NODE_ENV=production TESSERA_SECRETS=… SESSION_STORE=redis://127.0.0.1:6379 PORT=3001 \
 *   node --import tsx examples/production/server.ts
 *
 * @module
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
// In your app: 'tessera', 'tessera/node', 'tessera/stores/redis', 'tessera/live/redis' and so on.
import { adminPage, nodeSessions } from '../../src/adapters/node.js';
import { createTessera } from '../../src/index.js';
import type { LiveBus } from '../../src/live/bus.js';
import type { SessionStore } from '../../src/stores/store.js';

const instance = process.env.INSTANCE ?? String(process.pid);
const service = process.env.SESSION_STORE ?? '';

/** The session store and the live bus, both on the service `SESSION_STORE` names. */
async function backing(url: string): Promise<{ store: SessionStore; bus: LiveBus }> {
  if (url.startsWith('redis://') || url.startsWith('rediss://')) {
    const { RedisStore } = await import('../../src/stores/redis.js');
    const { RedisBus } = await import('../../src/live/redis.js');
    return { store: new RedisStore({ url }), bus: new RedisBus({ url }) };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { PostgresStore } = await import('../../src/stores/postgres.js');
    const { PostgresBus } = await import('../../src/live/postgres.js');
    return { store: new PostgresStore({ connectionString: url }), bus: new PostgresBus({ connectionString: url }) };
  }
  // Refused at start-up: a process on a store of its own would sign users out at random.
  throw new Error(`SESSION_STORE must be a redis:// or postgres:// URL shared by every process (got ${JSON.stringify(url)})`);
}

const { store, bus } = await backing(service);
// The secrets come from TESSERA_SECRETS (with NODE_ENV=production a missing one is refused).
const tessera = createTessera({ store, live: { bus } });
await tessera.live.start();
// One proxy in front: its X-Forwarded-For and X-Forwarded-Proto are believed, no one else's.
const sessions = nodeSessions(tessera, { trustProxy: 1 });
// The admin page (docs/admin.md), for the operators only: your sign-in sets `session.userId`.
const operators = new Set((process.env.OPERATORS ?? '').split(',').filter(Boolean));
const admin = adminPage(sessions, { guard: (_req, session) => session.userId !== null && operators.has(session.userId) });

const page = (csrf: string) => `<!doctype html>
<meta charset="utf-8"><title>tessera in production</title>
<p>Served by <b>${instance}</b>. <button id="count">Count</button> <span id="out"></span></p>
<ul id="events"></ul>
<script type="module">
  import { connect } from '/tessera/live/client.js';
  connect();
  document.addEventListener('notify', (e) => document.querySelector('#events').insertAdjacentHTML('beforeend', '<li>' + e.detail.from + '</li>'));
  document.querySelector('#count').onclick = async () => {
    const r = await fetch('/api/count');
    document.querySelector('#out').textContent = JSON.stringify(await r.json());
    await fetch('/api/notify', { method: 'POST', headers: { 'x-csrf-token': ${JSON.stringify(csrf)} } });
  };
</script>`;

const server = createServer(
  sessions.wrap(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.end('ok');
      return;
    }
    if (await admin(req, res)) return;
    const session = await sessions.load(req, res);
    if (path === '/' && req.method === 'GET') {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(page(session.csrfToken()));
    } else if (path === '/api/count' && req.method === 'GET') {
      const count = await session.update<number>('count', (n) => (n ?? 0) + 1);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ count, instance, csrf: session.csrfToken() }));
    } else if (path === '/api/notify' && req.method === 'POST') {
      // CSRF was checked before this handler ran (403 without the header).
      await tessera.live.broadcast(session, { type: 'event', name: 'notify', detail: { from: instance } });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ sent: true, instance }));
    } else {
      res.statusCode = 404;
      res.end('not found');
    }
  }),
);

server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ instance, port })}\n`);
});

// Rolling deploys: stop taking connections, end the streams (browsers reconnect to the others), close the store.
process.on('SIGTERM', () => {
  server.close();
  void tessera.close().then(() => {
    server.closeAllConnections();
    process.exit(0);
  });
});
