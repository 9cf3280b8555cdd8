/**
 * The demo app: tessera on `node:http`, a counter per browser session, and signing in with a list
 * of the user's devices. `startDemo` builds and starts it; server.ts (what `npm start` runs) calls
 * it, and so do the tests, on a free port with a temporary data folder.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
// In your app: `import { createTessera } from 'tessera'` and `import { nodeSessions } from 'tessera/node'`.
import { createTessera, type Tessera } from '../../src/index.js';
import { adminPage, nodeSessions } from '../../src/adapters/node.js';
import { demoSecret, pickStore, type SecretSource, type StoreChoice } from './config.js';
import { html, layout, send } from './page.js';
import { allowed, routes, type DemoContext } from './routes.js';
import { refreshOnline } from './routes/live.js';

/** Options of {@link startDemo}. */
export interface DemoOptions {
  /** Port to listen on; `0` picks a free one. Default 3000. */
  port?: number;
  /** Address to listen on. Default: every interface (like `app.listen(port)` in Express). */
  host?: string;
  /** Folder for the SQLite database and the generated secret. Default `./data`. */
  dataDir?: string;
  /** Environment to read `SESSION_SECRET`, `STORE` and `NODE_ENV` from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Where log lines go (start-up, requests, warnings). Default `console.log`; `() => {}` for quiet. */
  log?: (line: string) => void;
  /** How often the admin page's chart gets a point (ms). Default 10 000; the browser test takes 1 000. */
  adminSampleEvery?: number;
}

/** A running demo. */
export interface Demo {
  /** The URL to open, e.g. `http://localhost:3000/`. */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly tessera: Tessera;
  readonly store: StoreChoice;
  /** Where the signing secret came from. */
  readonly secretSource: SecretSource;
  /**
   * Stop taking connections, let requests in flight finish (and commit their sessions), then close
   * the store. Connections still open after `graceMs` (default 5 s) are cut.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Build and start the demo server.
 *
 * @throws when `STORE` names an unsupported store, the secret is invalid, or the port is taken.
 * @example
 * ```ts
 * const demo = await startDemo({ port: 0, dataDir: await mkdtemp(join(tmpdir(), 'demo-')) });
 * await fetch(new URL('/increment', demo.url));
 * await demo.close();
 * ```
 */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const env = options.env ?? process.env;
  const dataDir = options.dataDir ?? './data';
  const log = options.log ?? ((line: string) => console.log(line));
  const production = env.NODE_ENV === 'production';

  const { secret, source: secretSource } = demoSecret(env, dataDir);
  const store = pickStore(env, dataDir);
  const tessera = createTessera({
    secrets: [secret],
    store: store.store,
    cookie: {
      // The demo is served over plain http://localhost. Browsers drop a Secure cookie on plain http
      // (Safari even on localhost, every browser on a LAN address), so the counter would never count.
      // In production, behind HTTPS, keep the default (Secure, and the name gets the __Host- prefix).
      secure: production,
    },
    // Live tabs (the /live page): an event stream per tab; tabs' activity kept every 5 s at most.
    live: {},
    activity: { interval: 5_000 },
    // Counters, store latency and gauges, served as Prometheus text at /metrics (docs/observability.md).
    metrics: {},
    logger: {
      warn: (fields, message) => log(`warning: ${message}${Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : ''}`),
      error: (fields, message) => log(`error: ${message}${Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : ''}`),
    },
  });
  const sessions = nodeSessions(tessera);
  // The operators' page at /admin: in the demo, anyone signed in is an operator (a real app checks
  // a role here). Everyone else gets 403.
  const admin = adminPage(sessions, {
    guard: (_req, session) => session.userId !== null,
    sampler: { every: options.adminSampleEvery ?? 10_000 },
  });
  const metrics = tessera.metrics.handler();

  const handler = sessions.wrap(async (req: IncomingMessage, res: ServerResponse) => {
    if (await admin(req, res)) return;
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (path === '/favicon.ico') {
      res.statusCode = 204; // no icon; and no session for it
      res.end();
      return;
    }
    const methods = routes.get(path);
    if (!methods) {
      send(res, 404, layout({ title: 'Not found', path, body: html`<p>There is no page at <code>${path}</code>.</p>` }));
      return;
    }
    const route = req.method === 'GET' || req.method === 'HEAD' ? methods.GET : req.method === 'POST' ? methods.POST : undefined;
    if (!route) {
      res.setHeader('allow', allowed(methods));
      send(res, 405, layout({ title: 'Method not allowed', path, body: html`<p>${path} only answers ${allowed(methods)}.</p>` }));
      return;
    }
    const ctx: DemoContext = { req, res, session: () => sessions.load(req, res), tessera, store, cookieName: tessera.cookieName };
    await route(ctx);
  });

  const server = createServer((req, res) => {
    const started = performance.now();
    res.once('finish', () => log(`${req.method} ${req.url} ${res.statusCode} ${(performance.now() - started).toFixed(1)} ms`));
    // For a scraper, outside the session wrapper: no session, no cookie. A public app keeps this
    // path private (another port, or behind its proxy's access rules).
    if (req.url === '/metrics') metrics(req, res);
    else handler(req, res);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 3000, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await tessera.close();
    throw error;
  }

  // Every open /live page's "who's online" panel, pushed every 5 s.
  const stopRefresh = refreshOnline(tessera, 5_000);
  const { port } = server.address() as AddressInfo;
  const shownHost = !options.host || options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}/`;

  let closing: Promise<void> | null = null;
  const close = (graceMs = 5_000): Promise<void> =>
    (closing ??= (async () => {
      stopRefresh();
      // Streams first: finished without `end`, so their tabs reconnect to the next server.
      await tessera.live.close();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      timer.unref();
      await new Promise<void>((resolve) => {
        server.close(() => resolve()); // stops accepting; resolves when the last connection ends
        server.closeIdleConnections(); // keep-alive connections a browser holds open
      });
      clearTimeout(timer);
      // After the last request has committed: closing the store first would fail those commits.
      await tessera.close();
    })());

  return { url, port, server, tessera, store, secretSource, close };
}
