/**
 * Hono apps on Node (`@hono/node-server`'s request listener) answering "hello" at `/`. Arguments:
 *
 * - `--session=none` (the baseline): plain Hono; its clients send a session-shaped `Cookie`
 *   header all the same, so requests are the same size.
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
import { serveBench } from '../lib/serve.js';

serveBench(async ({ args }) => {
  const kind = args.session ?? 'none';
  const path = args.path ?? 'read';
  if (path !== 'read' && path !== 'write') throw new Error(`bench/servers/hono.ts: unknown --path=${path}`);
  if (kind !== 'none') throw new Error(`bench/servers/hono.ts: unknown --session=${kind}`);
  const app = new Hono();
  app.get('/', (c) => c.text('hello'));
  const cookie = `tessera=${randomBytes(32).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
  return { description: 'Hono on @hono/node-server, c.text("hello"), same Cookie header as the sessions', handler: getRequestListener(app.fetch), headerSets: [{ cookie }] };
});
