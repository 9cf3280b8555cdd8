/**
 * Helpers for the framework servers (Express, Fastify, Hono): the cookies of browsers holding an
 * existing session, made by the app itself — sessions of express-session or @fastify/session can
 * only be made by a request — and the node:http listener of a Fastify app.
 *
 * @module
 */
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The path every framework server answers by starting a session holding `{ n: 1 }` (used only in set-up). */
export const START_PATH = '/__start';

/**
 * Ask `listener` for `count` new sessions (one request each to {@link START_PATH}, as a new
 * browser) and return the `Cookie` header each browser would send back. Served on a port of its
 * own on 127.0.0.1, closed afterwards.
 *
 * @example
 * ```ts
 * const headerSets = (await startSessions(app, connections)).map((cookie) => ({ cookie }));
 * ```
 */
export async function startSessions(listener: RequestListener, count: number): Promise<string[]> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${START_PATH}`;
    const cookies: string[] = [];
    for (let i = 0; i < count; i++) {
      const res = await fetch(url);
      await res.arrayBuffer();
      const pairs = res.headers.getSetCookie().map((line) => line.split(';', 1)[0]!);
      if (res.status !== 200 || pairs.length === 0) throw new Error(`${START_PATH} answered ${res.status} with no session cookie`);
      cookies.push(pairs.join('; '));
    }
    return cookies;
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/**
 * The node:http listener of a Fastify app: what `serverFactory` is given (Fastify routes every
 * request through it), so the bench's own server can run the app.
 *
 * @example
 * ```ts
 * const { app, listener } = await fastifyListener((options) => Fastify(options));
 * ```
 */
export async function fastifyListener<App extends { ready(): PromiseLike<unknown> }>(
  make: (options: { serverFactory: (handler: RequestListener) => ReturnType<typeof createServer> }) => App,
  register: (app: App) => unknown,
): Promise<{ app: App; listener: RequestListener }> {
  let listener: RequestListener | undefined;
  const app = make({
    serverFactory: (handler) => {
      listener = handler;
      return createServer(handler);
    },
  });
  await register(app);
  await app.ready();
  if (listener === undefined) throw new Error('Fastify did not call serverFactory');
  return { app, listener };
}
