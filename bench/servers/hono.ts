/**
 * Hono apps on Node (`@hono/node-server`'s request listener) answering "hello" at `/`. Arguments:
 *
 * - `--session=none` (the baseline): plain Hono; its clients send a session-shaped `Cookie`
 *   header all the same, so requests are the same size.
 * - `--session=noop` (a reference): plain Hono with one middleware that only awaits `next()`:
 *   what any middleware costs (Hono answers a route with a single handler without composing).
 * - `--session=tessera`: `tessera/hono` on a `MemoryStore`.
 * - `--path=read` reads the session's `n` on every request; `--path=write` increments it.
 *
 * One session per connection, made by a request to the app before measuring.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { sessions } from '../../src/adapters/hono.js';
import { createTessera } from '../../src/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { START_PATH, startSessions } from '../lib/apps.js';
import { serveBench } from '../lib/serve.js';

/** A fixed bench secret (>= 32 bytes). Never reuse a published secret in an app. */
const SECRET = 'tessera-bench-secret-not-for-production-0123456789';

serveBench(async ({ args, connections, anomaly }) => {
  const kind = args.session ?? 'none';
  const path = args.path ?? 'read';
  if (path !== 'read' && path !== 'write') throw new Error(`bench/servers/hono.ts: unknown --path=${path}`);
  if (kind === 'none' || kind === 'noop') {
    const app = new Hono();
    // Reference: a middleware that only awaits next(): what any middleware costs in Hono.
    if (kind === 'noop') app.use(async (_c, next) => { await next(); });
    app.get('/', (c) => c.text('hello'));
    const cookie = `tessera=${randomBytes(32).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
    return { description: 'Hono on @hono/node-server, c.text("hello"), same Cookie header as the sessions', handler: getRequestListener(app.fetch), headerSets: [{ cookie }] };
  }
  if (kind !== 'tessera') throw new Error(`bench/servers/hono.ts: unknown --session=${kind}`);
  const tessera = createTessera({ secrets: [SECRET], store: new MemoryStore(), cookie: { secure: false }, logger: {} });
  const app = new Hono();
  app.use(sessions({ tessera }));
  app.get(START_PATH, (c) => {
    c.get('session').set('n', 1);
    return c.text('started');
  });
  app.get(
    '/',
    path === 'read'
      ? (c) => {
          if (c.get('session').get('n') === undefined) anomaly();
          return c.text('hello');
        }
      : (c) => {
          const session = c.get('session');
          const n = session.get<number>('n');
          if (n === undefined) anomaly();
          session.set('n', (n ?? 0) + 1);
          return c.text('hello');
        },
  );
  const handler = getRequestListener(app.fetch);
  const headerSets = (await startSessions(handler, connections)).map((cookie) => ({ cookie }));
  return { description: `Hono on @hono/node-server + tessera/hono (MemoryStore), ${path} path`, handler, headerSets, close: () => tessera.close() };
});
