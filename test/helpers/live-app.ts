/**
 * A small app with live tabs for the browser tests: node:http, `nodeSessions(...).wrap`, `live: {}`,
 * on 127.0.0.1. Its pages load the browser client from `/tessera/live/client.js` and record what
 * the client tells `document` in `window.seen`.
 *
 * Routes: `GET /` (and any other GET) a page (`?retry=ms` the client's first reconnect delay,
 * `?reload=0` no reload on `end`, `?auto` the client started by `data-auto`); `POST /api/echo`
 * the tab header and user it got; `POST /form` (a form post) the `_tab` field it got;
 * `POST /push` pushes `pushed` into `#status` of the tab that asked; `POST /destroy` destroys
 * the session.
 *
 * Run as a program (`node --import tsx test/helpers/live-app.ts PORT DB`), it serves on PORT with
 * a SQLite store in the file DB (sessions outlive the process) and prints `listening` when ready.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createTessera, type LiveOptions } from '../../src/index.js';
import { nodeSessions } from '../../src/adapters/node.js';
import type { Tessera } from '../../src/manager.js';
import type { SessionStore } from '../../src/stores/store.js';
import { MemoryStore } from '../../src/stores/memory.js';

export const LIVE_APP_SECRET = 'live-browser-test-secret-0123456789abcdef';

export interface LiveApp {
  readonly tessera: Tessera;
  readonly base: string;
  readonly server: Server;
  /** Destroy the sockets of the open live streams (a dropped connection, as the browser sees it). */
  dropStreams(): void;
  close(): Promise<void>;
}

const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(handle: string, csrf: string, query: URLSearchParams): string {
  const retry = Number(query.get('retry') ?? 150);
  const reload = query.get('reload') !== '0';
  return `<!doctype html>
<html><head><meta charset="utf-8"><meta name="csrf-token" content="${escape(csrf)}"><title>live</title></head>
<body data-handle="${escape(handle)}">
<p id="status">initial</p>
<ul id="list"><li class="item">one</li><li class="item">two</li></ul>
<div class="box">a</div><div class="box">b</div>
<form id="form" method="post" action="/form"><input name="note" value="hi"><button>send</button></form>
<script>
  window.seen = [];
  for (const name of ['tessera:open', 'tessera:end', 'tessera:error', 'app:ping']) {
    document.addEventListener(name, (e) => window.seen.push({ name, detail: e.detail }));
  }
</script>
${
  query.has('auto')
    ? `<script type="module" src="/tessera/live/client.js" data-auto></script>
<script type="module">import { connect } from '/tessera/live/client.js'; window.live = connect();</script>`
    : `<script type="module">
  import { connect } from '/tessera/live/client.js';
  window.live = connect({ retry: { min: ${retry}, max: ${retry * 2} }, reloadOnEnd: ${reload} });
</script>`
}
</body></html>`;
}

/** Start the app on `port` (0: any free one) with `store` (default: in memory) and `live` options. */
export async function startLiveApp(options: { store?: SessionStore; port?: number; live?: LiveOptions } = {}): Promise<LiveApp> {
  const tessera = createTessera({
    secrets: [LIVE_APP_SECRET],
    store: options.store ?? new MemoryStore(),
    cookie: { secure: false },
    live: options.live ?? {},
  });
  const sessions = nodeSessions(tessera);
  const streams = new Set<Socket>();
  const server = createServer(
    sessions.wrap(async (req: IncomingMessage & { body?: Record<string, string> }, res) => {
      const url = new URL(req.url ?? '/', 'http://app');
      const session = await sessions.load(req, res);
      const tab = req.headers['x-tessera-tab'];
      if (req.method === 'POST' && url.pathname === '/api/echo') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ tab: tab ?? null, user: session.userId }));
      } else if (req.method === 'POST' && url.pathname === '/form') {
        res.setHeader('content-type', 'text/plain');
        res.end(`posted tab=${req.body?._tab ?? ''}`);
      } else if (req.method === 'POST' && url.pathname === '/push') {
        await tessera.live.pushHtml(session, String(tab), '#status', 'pushed');
        res.end('ok');
      } else if (req.method === 'POST' && url.pathname === '/destroy') {
        session.destroy();
        res.end('destroyed');
      } else {
        // A stored session (live.signIn needs one), and a page for it.
        session.set('visits', ((session.get('visits') as number | undefined) ?? 0) + 1);
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.end(page(session.handle, session.csrfToken(), url.searchParams));
      }
    }),
  );
  server.on('request', (req: IncomingMessage) => {
    if (req.url?.startsWith(`${tessera.live.options.path}?`)) {
      streams.add(req.socket);
      req.socket.once('close', () => streams.delete(req.socket));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  return {
    tessera,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    dropStreams() {
      for (const socket of streams) socket.destroy();
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await tessera.close();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { SqliteStore } = await import('../../src/stores/sqlite.js');
  const app = await startLiveApp({ store: new SqliteStore({ path: process.argv[3]! }), port: Number(process.argv[2]) });
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
  process.stdout.write('listening\n');
}
