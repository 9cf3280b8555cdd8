/**
 * The adapter behaviour suite on Express 5 (`express`) and Express 4 (`express4`): the middleware
 * made with `session({ tessera, resave: false })`, so the suite's options apply, and routes written
 * against express-session's API (`req.session.key = value`, `regenerate(cb)`, `destroy(cb)`).
 *
 * The suite's sessions have Secure cookies, which express-session (and so `tessera/express`) never
 * sends over plain HTTP. The app is served as the suite serves every app, behind a TLS-terminating
 * proxy on the same host: it trusts loopback proxies (`trust proxy`).
 *
 * `POST /regenerate` keeps the data, as the suite allows, the way passport's `keepSessionInfo`
 * does: express-session's `regenerate` empties the session, and an empty session is not stored
 * (`saveUninitialized: false`), so its new ID would name nothing the next request could write to.
 */
import { createRequire } from 'node:module';
import express5 from 'express';
import type { NextFunction, Request, Response } from 'express';
import session, { tesseraSession } from '../../src/adapters/express.js';
import { serveOnLoopback } from './http-client.js';
import { adapterSuite, type AdapterHarness } from './suite.js';

const express4 = createRequire(import.meta.url)('express4') as typeof express5;

/** A route for Express 4 and 5 alike: a rejection goes to `next`. */
const route =
  (fn: (req: Request, res: Response) => unknown) =>
  async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      await fn(req, res);
    } catch (error) {
      next(error);
    }
  };

/** The request's query parameter `name`, as a string. */
const param = (req: Request, name: string): string => String(req.query[name] ?? '');

function expressHarness(name: string, express: typeof express5): AdapterHarness {
  return {
    name,
    streams: true,
    answersCommitFailures: false,
    withholdsSecureCookieOverHttp: true,
    async start(tessera, hooks, options) {
      const app = express();
      app.set('env', 'test'); // the default error handler answers without logging
      app.set('trust proxy', 'loopback');
      app.use(session({ tessera, resave: false, ...options }));
      const data = (req: Request): Record<string, unknown> => req.session as unknown as Record<string, unknown>;

      app.get('/read', (req, res) => {
        const { cookie: _cookie, ...values } = data(req);
        res.json(values);
      });
      app.post('/write', (req, res) => {
        data(req)[param(req, 'key')] = param(req, 'value');
        res.send('ok');
      });
      app.post(
        '/slow-write',
        route(async (req, res) => {
          await hooks.slowWrite();
          data(req)[param(req, 'key')] = param(req, 'value');
          res.send('ok');
        }),
      );
      app.post('/regenerate', (req, res, next) => {
        const previous = data(req);
        req.session.regenerate((err) => {
          if (err) return next(err);
          // The replaced object still shows the old data: copy it over (`cookie` too: its lifetime).
          for (const key in previous) data(req)[key] = previous[key];
          res.send('ok');
        });
      });
      app.post('/destroy', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.send('ok'))));
      app.get(
        '/stream',
        route(async (req, res) => {
          data(req).streamed = 'yes';
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('one');
          await hooks.firstChunkSeen();
          res.end('two');
        }),
      );
      app.get('/untouched', (_req, res) => res.send('ok'));
      app.post(
        '/sign-in',
        route(async (req, res) => {
          await tesseraSession(req).signIn({ sub: param(req, 'user') });
          res.send('ok');
        }),
      );
      app.post('/sign-out', (req, res) => {
        tesseraSession(req).signOut();
        res.send('ok');
      });
      app.get(
        '/me',
        route(async (req, res) => {
          res.send(JSON.stringify((await tesseraSession(req).user())?.sub ?? null));
        }),
      );
      app.get('/token', (req, res) => res.send(tesseraSession(req).csrfToken()));

      return serveOnLoopback(app);
    },
  };
}

adapterSuite(expressHarness('Express 5', express5));
adapterSuite(expressHarness('Express 4', express4));
