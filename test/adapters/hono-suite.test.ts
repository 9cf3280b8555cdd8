/**
 * The adapter behaviour suite on Hono: `app.use(sessions({ tessera, trustProxy: 1 }))`, the session through
 * `c.get('session')`, every request through `app.request()` — no socket. A Hono response's body
 * is a stream read here chunk by chunk, so the suite sees a streamed body arrive as it is written.
 */
import { Hono } from 'hono';
import { stream } from 'hono/streaming';
import { sessions } from '../../src/adapters/hono.js';
import { readReply } from './http-client.js';
import { adapterSuite, type AdapterHarness } from './suite.js';

const honoHarness: AdapterHarness = {
  name: 'hono (app.request)',
  streams: true,
  answersCommitFailures: true,
  withholdsSecureCookieOverHttp: false,
  async start(tessera, hooks, options) {
    const app = new Hono();
    app.use(sessions({ tessera, trustProxy: 1, ...options }));
    const param = (c: { req: { query(name: string): string | undefined } }, name: string) => c.req.query(name) ?? '';
    app.get('/read', (c) => c.text(JSON.stringify(c.get('session').toJSON())));
    app.post('/write', (c) => {
      c.get('session').set(param(c, 'key'), param(c, 'value'));
      return c.text('ok');
    });
    app.post('/slow-write', async (c) => {
      const session = c.get('session');
      await hooks.slowWrite();
      session.set(param(c, 'key'), param(c, 'value'));
      return c.text('ok');
    });
    app.post('/regenerate', (c) => {
      c.get('session').regenerate();
      return c.text('ok');
    });
    app.post('/destroy', (c) => {
      c.get('session').destroy();
      return c.text('ok');
    });
    app.get('/stream', (c) => {
      c.get('session').set('streamed', 'yes');
      c.header('content-type', 'text/plain');
      return stream(c, async (body) => {
        await body.write('one');
        await hooks.firstChunkSeen();
        await body.write('two');
      });
    });
    app.get('/untouched', (c) => c.text('ok'));
    app.post('/sign-in', async (c) => {
      await c.get('session').signIn({ sub: param(c, 'user') });
      return c.text('ok');
    });
    app.post('/sign-out', (c) => {
      c.get('session').signOut();
      return c.text('ok');
    });
    app.get('/me', async (c) => c.text(JSON.stringify((await c.get('session').user())?.sub ?? null)));
    app.get('/token', (c) => c.text(c.get('session').csrfToken()));
    return {
      request: async (method, path, headers = {}, onFirstChunk, body) => readReply(await app.request(path, { method, headers, body }), onFirstChunk),
      open: async (path, headers = {}) => app.request(path, { headers }),
      close: async () => {},
    };
  },
};

adapterSuite(honoHarness);
