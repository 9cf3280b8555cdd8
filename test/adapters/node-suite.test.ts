/**
 * The adapter behaviour suite on node:http: `nodeSessions(tessera, { trustProxy: 1 }).wrap(handler)`,
 * the session through `sessions.load(req, res)`.
 */
import { nodeSessions } from '../../src/adapters/node.js';
import { serveOnLoopback } from './http-client.js';
import { adapterSuite, type AdapterHarness } from './suite.js';

const nodeHarness: AdapterHarness = {
  name: 'node:http',
  streams: true,
  answersCommitFailures: false,
  withholdsSecureCookieOverHttp: false,
  start(tessera, hooks, options) {
    const sessions = nodeSessions(tessera, { trustProxy: 1, ...options });
    return serveOnLoopback(
      sessions.wrap(async (req, res) => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        const key = url.searchParams.get('key') ?? '';
        const value = url.searchParams.get('value') ?? '';
        switch (`${req.method} ${url.pathname}`) {
          case 'GET /read':
            return res.end(JSON.stringify((await sessions.load(req, res)).toJSON()));
          case 'POST /write':
            (await sessions.load(req, res)).set(key, value);
            return res.end('ok');
          case 'POST /slow-write': {
            const session = await sessions.load(req, res);
            await hooks.slowWrite();
            session.set(key, value);
            return res.end('ok');
          }
          case 'POST /regenerate':
            (await sessions.load(req, res)).regenerate();
            return res.end('ok');
          case 'POST /destroy':
            (await sessions.load(req, res)).destroy();
            return res.end('ok');
          case 'GET /stream':
            (await sessions.load(req, res)).set('streamed', 'yes');
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.write('one');
            await hooks.firstChunkSeen();
            return res.end('two');
          case 'GET /untouched':
            return res.end('ok');
          case 'POST /sign-in':
            await (await sessions.load(req, res)).signIn({ sub: url.searchParams.get('user') ?? '' });
            return res.end('ok');
          case 'POST /sign-out':
            (await sessions.load(req, res)).signOut();
            return res.end('ok');
          case 'GET /me':
            return res.end(JSON.stringify((await (await sessions.load(req, res)).user())?.sub ?? null));
          case 'GET /token':
            return res.end((await sessions.load(req, res)).csrfToken());
          default:
            res.statusCode = 404;
            return res.end();
        }
      }),
    );
  },
};

adapterSuite(nodeHarness);
