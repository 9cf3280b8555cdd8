/**
 * Express 5 apps answering "hello" at `/`. Arguments:
 *
 * - `--session=none` (the baseline): plain Express, no session middleware; its clients send a
 *   session-shaped `Cookie` header all the same, so requests are the same size.
 * - `--session=noop` (a reference): one middleware that only calls `next()`.
 * - `--session=tessera`: `tessera/express` (the express-session drop-in) on a `MemoryStore`.
 * - `--session=express-session`: express-session itself, on its own MemoryStore — the peer a user
 *   would otherwise pick.
 * - `--path=read` reads `req.session.n` on every request; `--path=write` increments it.
 *
 * Both session middlewares get the options a production app would: `resave: false`,
 * `saveUninitialized: false`, a non-Secure cookie (the bench speaks plain HTTP). One session per
 * connection, made by a request to the app before measuring.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import express, { type RequestHandler } from 'express';
import expressSession from 'express-session';
import tesseraSession from '../../src/adapters/express.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { START_PATH, startSessions } from '../lib/apps.js';
import { serveBench } from '../lib/serve.js';

/** A fixed bench secret (>= 32 bytes). Never reuse a published secret in an app. */
const SECRET = 'tessera-bench-secret-not-for-production-0123456789';

serveBench(async ({ args, connections, anomaly }) => {
  const kind = args.session ?? 'none';
  const path = args.path ?? 'read';
  if (path !== 'read' && path !== 'write') throw new Error(`bench/servers/express.ts: unknown --path=${path}`);
  const app = express();
  let description: string;
  let middleware: RequestHandler | undefined;
  switch (kind) {
    case 'none':
      description = 'Express 5, res.send("hello"), same Cookie header as the sessions';
      break;
    case 'noop':
      description = 'Express 5 + a middleware that only calls next(), res.send("hello")';
      app.use((_req, _res, next) => next());
      break;
    case 'tessera':
      description = `Express 5 + tessera/express (MemoryStore), ${path} path`;
      middleware = tesseraSession({ secret: SECRET, store: new MemoryStore(), resave: false, saveUninitialized: false, cookie: { secure: false }, logger: {} }) as unknown as RequestHandler;
      break;
    case 'express-session':
      description = `Express 5 + express-session (its MemoryStore), ${path} path`;
      middleware = expressSession({ secret: SECRET, resave: false, saveUninitialized: false, cookie: { secure: false } });
      break;
    default:
      throw new Error(`bench/servers/express.ts: unknown --session=${kind}`);
  }
  if (middleware === undefined) {
    app.get('/', (_req, res) => {
      res.send('hello');
    });
    const cookie = `connect.sid=s%3A${randomBytes(24).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
    return { description, handler: app, headerSets: [{ cookie }] };
  }
  app.use(middleware);
  type Counter = { n?: number };
  app.get(START_PATH, (req, res) => {
    (req.session as Counter).n = 1;
    res.send('started');
  });
  app.get(
    '/',
    path === 'read'
      ? (req, res) => {
          if ((req.session as Counter).n === undefined) anomaly();
          res.send('hello');
        }
      : (req, res) => {
          const session = req.session as Counter;
          if (session.n === undefined) anomaly();
          session.n = (session.n ?? 0) + 1;
          res.send('hello');
        },
  );
  const headerSets = (await startSessions(app, connections)).map((cookie) => ({ cookie }));
  return { description, handler: app, headerSets };
});
