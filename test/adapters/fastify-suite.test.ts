/**
 * The adapter behaviour suite on Fastify: `app.register(sessions, { tessera, trustProxy: 1 })`, the session
 * through `request.session`. Run twice: through `app.inject` (no socket; its client gets the body
 * whole, so the stream test cannot see chunks arrive) and over a loopback socket
 * (`app.routing` behind node:http, read chunk by chunk: the stream test checks nothing is buffered).
 */
import { PassThrough } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { sessions } from '../../src/adapters/fastify.js';
import type { Tessera } from '../../src/manager.js';
import { injectedReply, serveOnLoopback } from './http-client.js';
import { adapterSuite, type AdapterHarness, type HarnessApp, type SuiteAdapterOptions, type SuiteHooks } from './suite.js';

interface KeyValue {
  Querystring: { key?: string; value?: string };
}

async function suiteApp(tessera: Tessera, hooks: SuiteHooks, options: SuiteAdapterOptions): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(sessions, { tessera, trustProxy: 1, ...options });
  app.get('/read', async (request) => request.session.toJSON());
  app.post<KeyValue>('/write', async (request) => {
    request.session.set(request.query.key ?? '', request.query.value ?? '');
    return 'ok';
  });
  app.post<KeyValue>('/slow-write', async (request) => {
    const session = request.session;
    await hooks.slowWrite();
    session.set(request.query.key ?? '', request.query.value ?? '');
    return 'ok';
  });
  app.post('/regenerate', async (request) => {
    request.session.regenerate();
    return 'ok';
  });
  app.post('/destroy', async (request) => {
    request.session.destroy();
    return 'ok';
  });
  app.get('/stream', async (request, reply) => {
    request.session.set('streamed', 'yes');
    const body = new PassThrough();
    reply.type('text/plain').send(body);
    body.write('one');
    await hooks.firstChunkSeen();
    body.end('two');
    return reply;
  });
  app.get('/untouched', async () => 'ok');
  app.post<{ Querystring: { user?: string } }>('/sign-in', async (request) => {
    await request.session.signIn({ sub: request.query.user ?? '' });
    return 'ok';
  });
  app.post('/sign-out', async (request) => {
    request.session.signOut();
    return 'ok';
  });
  app.get('/me', async (request) => JSON.stringify((await request.session.user())?.sub ?? null));
  app.get('/token', async (request) => request.session.csrfToken());
  // What @fastify/formbody does: URL-encoded bodies parsed into request.body.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  return app;
}

const injectHarness: AdapterHarness = {
  name: 'fastify (inject)',
  streams: false,
  answersCommitFailures: true,
  withholdsSecureCookieOverHttp: false,
  async start(tessera, hooks, options): Promise<HarnessApp> {
    const app = await suiteApp(tessera, hooks, options);
    return {
      request: async (method, path, headers = {}, _onFirstChunk, body) => injectedReply(await app.inject({ method, url: path, headers, payload: body })),
      close: () => app.close(),
    };
  },
};

const socketHarness: AdapterHarness = {
  name: 'fastify (socket)',
  streams: true,
  answersCommitFailures: true,
  withholdsSecureCookieOverHttp: false,
  async start(tessera, hooks, options): Promise<HarnessApp> {
    const app = await suiteApp(tessera, hooks, options);
    await app.ready();
    const served = await serveOnLoopback((req, res) => app.routing(req, res));
    return {
      request: served.request,
      open: served.open,
      close: async () => {
        await served.close();
        await app.close();
      },
    };
  },
};

adapterSuite(injectHarness);
adapterSuite(socketHarness);
