/**
 * The apps the fuzzer drives: one per adapter, each with the routes of the adapter suite it needs
 * (`GET /read`, `POST /write?key=K&value=V`, `GET /token`; see test/adapters/suite.ts), and the
 * auth cookie's `POST /sign-in?user=X` (`session.signIn({ sub: X })`) and `GET /me` (the JSON of
 * `session.user()`), served
 * without a socket where the framework allows: Fastify through `app.inject`, Hono through
 * `app.request`, node:http and Express through light-my-request (Fastify's own in-memory
 * request/response pair, which drives any `(req, res)` listener). CSRF protection is on (the
 * default), the tenant is the `x-tenant` header, one proxy is trusted.
 */
import { createRequire } from 'node:module';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express5 from 'express';
import type { NextFunction, Request, Response } from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import session from '../../src/adapters/express.js';
import { sessions as fastifySessions } from '../../src/adapters/fastify.js';
import { sessions as honoSessions } from '../../src/adapters/hono.js';
import { nodeSessions } from '../../src/adapters/node.js';
import { tesseraSession } from '../../src/adapters/express.js';
import type { Tessera } from '../../src/manager.js';
import type { Reply } from '../adapters/suite.js';
import { injectedReply, replyOf } from '../adapters/http-client.js';

const require = createRequire(import.meta.url);
const express4 = require('express4') as typeof express5;
// light-my-request comes with Fastify (its `inject`); reached through Fastify's own resolution.
const lightMyRequest = createRequire(require.resolve('fastify'))('light-my-request') as {
  inject(dispatch: RequestListener, options: { method: string; url: string; headers: Record<string, string>; payload?: string }): Promise<InjectResponse>;
};

interface InjectResponse {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
}

/** One request, as the fuzzer makes it: header values are byte strings (latin1), as a server reads them. */
export interface FuzzRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** An app under fuzz. */
export interface FuzzApp {
  send(request: FuzzRequest): Promise<Reply>;
  close(): Promise<void>;
}

/** An adapter the fuzzer targets. */
export interface FuzzTarget {
  readonly name: string;
  start(tessera: Tessera): Promise<FuzzApp>;
}

const TENANT = { header: 'x-tenant' } as const;

/** A `(req, res)` listener driven in memory. */
function injecting(listener: RequestListener): FuzzApp {
  return {
    send: async ({ method, path, headers, body }) => injectedReply(await lightMyRequest.inject(listener, { method, url: path, headers, ...(body === undefined ? {} : { payload: body }) })),
    close: async () => {},
  };
}

const nodeTarget: FuzzTarget = {
  name: 'node:http',
  async start(tessera) {
    const sessions = nodeSessions(tessera, { trustProxy: 1, tenant: TENANT });
    return injecting(
      sessions.wrap(async (req: IncomingMessage, res: ServerResponse) => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        switch (`${req.method} ${url.pathname}`) {
          case 'GET /read':
            return res.end(JSON.stringify((await sessions.load(req, res)).toJSON()));
          case 'POST /write':
            (await sessions.load(req, res)).set(url.searchParams.get('key') ?? '', url.searchParams.get('value') ?? '');
            return res.end('ok');
          case 'GET /token':
            return res.end((await sessions.load(req, res)).csrfToken());
          case 'GET /me':
            return res.end(JSON.stringify(await (await sessions.load(req, res)).user()));
          case 'POST /sign-in':
            await (await sessions.load(req, res)).signIn({ sub: url.searchParams.get('user') ?? '' });
            return res.end('ok');
          default:
            res.statusCode = 404;
            return res.end();
        }
      }),
    );
  },
};

function expressTarget(name: string, express: typeof express5): FuzzTarget {
  return {
    name,
    async start(tessera) {
      const app = express();
      app.set('env', 'test');
      app.set('trust proxy', 1);
      app.use(session({ tessera, resave: false, tenant: TENANT }));
      const data = (req: Request) => req.session as unknown as Record<string, unknown>;
      app.get('/read', (req, res) => {
        const { cookie: _cookie, ...values } = data(req);
        res.json(values);
      });
      app.post('/write', (req, res) => {
        data(req)[String(req.query.key ?? '')] = String(req.query.value ?? '');
        res.send('ok');
      });
      app.get('/token', (req, res) => res.send(tesseraSession(req).csrfToken()));
      app.get('/me', async (req, res, next) => {
        try {
          res.send(JSON.stringify(await tesseraSession(req).user()));
        } catch (error) {
          next(error);
        }
      });
      app.post('/sign-in', async (req, res, next) => {
        try {
          await tesseraSession(req).signIn({ sub: String(req.query.user ?? '') });
          res.send('ok');
        } catch (error) {
          next(error);
        }
      });
      // Express's default handler would print a stack trace; the fuzzer reads the status.
      app.use((error: { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
        res.status(error.status ?? 500).send(String(error));
      });
      return injecting(app as unknown as RequestListener);
    },
  };
}

const fastifyTarget: FuzzTarget = {
  name: 'fastify (inject)',
  async start(tessera) {
    const app = Fastify();
    await app.register(fastifySessions, { tessera, trustProxy: 1, tenant: TENANT });
    app.get('/read', async (request) => request.session.toJSON());
    app.post<{ Querystring: { key?: string; value?: string } }>('/write', async (request) => {
      request.session.set(request.query.key ?? '', request.query.value ?? '');
      return 'ok';
    });
    app.get('/token', async (request) => request.session.csrfToken());
    app.get('/me', async (request, reply) => reply.type('text/plain').send(JSON.stringify(await request.session.user())));
    app.post<{ Querystring: { user?: string } }>('/sign-in', async (request) => {
      await request.session.signIn({ sub: request.query.user ?? '' });
      return 'ok';
    });
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    await app.ready();
    return {
      send: async ({ method, path, headers, body }) => injectedReply(await app.inject({ method, url: path, headers, ...(body === undefined ? {} : { payload: body }) })),
      close: () => app.close(),
    };
  },
};

const honoTarget: FuzzTarget = {
  name: 'hono (app.request)',
  async start(tessera) {
    const app = new Hono();
    app.use(honoSessions({ tessera, trustProxy: 1, tenant: TENANT }));
    app.get('/read', (c) => c.text(JSON.stringify(c.get('session').toJSON())));
    app.post('/write', (c) => {
      c.get('session').set(c.req.query('key') ?? '', c.req.query('value') ?? '');
      return c.text('ok');
    });
    app.get('/token', (c) => c.text(c.get('session').csrfToken()));
    app.get('/me', async (c) => c.text(JSON.stringify(await c.get('session').user())));
    app.post('/sign-in', async (c) => {
      await c.get('session').signIn({ sub: c.req.query('user') ?? '' });
      return c.text('ok');
    });
    return {
      send: async ({ method, path, headers, body }) => {
        const res = await app.request(path, { method, headers, ...(body === undefined ? {} : { body }) });
        return replyOf(res, await res.text());
      },
      close: async () => {},
    };
  },
};

/** Every adapter, Express in both majors. */
export const TARGETS: readonly FuzzTarget[] = [nodeTarget, expressTarget('Express 5', express5), expressTarget('Express 4', express4), fastifyTarget, honoTarget];
