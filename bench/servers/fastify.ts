/**
 * Fastify 5 apps answering "hello" at `/`. Arguments:
 *
 * - `--session=none` (the baseline): plain Fastify; its clients send a session-shaped `Cookie`
 *   header all the same, so requests are the same size.
 * - `--session=hooks` (a reference): plain Fastify with an empty `onRequest` and an empty `onSend`
 *   hook, the two tessera/fastify registers: what any plugin using them costs.
 * - `--session=tessera`: `tessera/fastify` on a `MemoryStore`.
 * - `--session=tessera-cookie`: `tessera/fastify` on a `CookieStore` (the session sealed in the
 *   cookie, AES-256-GCM).
 * - `--session=fastify-session`: `@fastify/session` (with `@fastify/cookie`, its default memory
 *   store) — the server-side peer.
 * - `--session=secure-session`: `@fastify/secure-session` (libsodium secretbox in the cookie) —
 *   the peer of tessera's sealed cookie.
 * - `--path=read` reads the session's `n` on every request; `--path=write` increments it (a sealed
 *   session then sends a new cookie with every response, which the client sends back next time).
 *
 * One session per connection, made by a request to the app before measuring.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify';
import tesseraSessions from '../../src/adapters/fastify.js';
import { createTessera } from '../../src/index.js';
import { CookieStore } from '../../src/stores/cookie.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { fastifyListener, START_PATH, startSessions } from '../lib/apps.js';
import { serveBench } from '../lib/serve.js';

// The peers are loaded without their types: each declares `FastifyRequest.session` its own way,
// as tessera/fastify does, and one program cannot hold both declarations.
const require = createRequire(import.meta.url);
const fastifySession = require('@fastify/session') as FastifyPluginAsync<Record<string, unknown>>;
const fastifySecureSession = require('@fastify/secure-session') as FastifyPluginAsync<Record<string, unknown>>;

/** A fixed bench secret (>= 32 bytes). Never reuse a published secret in an app. */
const SECRET = 'tessera-bench-secret-not-for-production-0123456789';

/** How a route reaches the session's `n`, per session plugin. */
interface Access {
  get(request: FastifyRequest): number | undefined;
  set(request: FastifyRequest, n: number): void;
}

/** Register the session plugin of `kind` on `app`; how to read and write `n` with it; and what it is. */
async function plugin(app: FastifyInstance, kind: string): Promise<{ access: Access; description: string; sealed: boolean } | null> {
  type Plain = { get(key: string): unknown; set(key: string, value: unknown): void };
  const plain: Access = {
    get: (request) => ((request as unknown as { session: Plain }).session.get('n') as number | undefined),
    set: (request, n) => (request as unknown as { session: Plain }).session.set('n', n),
  };
  switch (kind) {
    case 'none':
      return null;
    case 'hooks': {
      // Reference: what the two hooks tessera/fastify registers cost by themselves, empty.
      app.addHook('onRequest', (_request, _reply, done) => done());
      app.addHook('onSend', (_request, _reply, _payload, done) => done());
      return null;
    }
    case 'tessera':
    case 'tessera-cookie': {
      const sealed = kind === 'tessera-cookie';
      const tessera = createTessera({ secrets: [SECRET], store: sealed ? new CookieStore() : new MemoryStore(), cookie: { secure: false }, logger: {} });
      await app.register(tesseraSessions, { tessera });
      app.addHook('onClose', () => tessera.close());
      const access: Access = {
        get: (request) => request.session.get<number>('n'),
        set: (request, n) => void request.session.set('n', n),
      };
      return { access, description: `tessera/fastify (${sealed ? 'CookieStore' : 'MemoryStore'})`, sealed };
    }
    case 'fastify-session':
      await app.register(fastifyCookie);
      await app.register(fastifySession, { secret: SECRET, saveUninitialized: false, cookie: { secure: false } });
      return { access: plain, description: '@fastify/session (+ @fastify/cookie, its MemoryStore)', sealed: false };
    case 'secure-session':
      await app.register(fastifySecureSession, { key: randomBytes(32), cookie: { path: '/', httpOnly: true } });
      return { access: plain, description: '@fastify/secure-session (sealed cookie)', sealed: true };
    default:
      throw new Error(`bench/servers/fastify.ts: unknown --session=${kind}`);
  }
}

serveBench(async ({ args, connections, anomaly }) => {
  const kind = args.session ?? 'none';
  const path = args.path ?? 'read';
  if (path !== 'read' && path !== 'write') throw new Error(`bench/servers/fastify.ts: unknown --path=${path}`);
  let chosen: Awaited<ReturnType<typeof plugin>> = null;
  const { app, listener } = await fastifyListener(
    (options) => Fastify(options),
    async (app) => {
      chosen = await plugin(app, kind);
      if (chosen === null) {
        app.get('/', async () => 'hello');
        return;
      }
      const { access } = chosen;
      app.get(START_PATH, async (request) => {
        access.set(request, 1);
        return 'started';
      });
      app.get(
        '/',
        path === 'read'
          ? async (request) => {
              if (access.get(request) === undefined) anomaly();
              return 'hello';
            }
          : async (request) => {
              const n = access.get(request);
              if (n === undefined) anomaly();
              access.set(request, (n ?? 0) + 1);
              return 'hello';
            },
      );
    },
  );
  const found = chosen as Awaited<ReturnType<typeof plugin>>;
  if (found === null) {
    const cookie = `sessionId=${randomBytes(32).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
    const what = kind === 'hooks' ? 'Fastify 5 + an empty onRequest and onSend hook' : 'Fastify 5';
    return { description: `${what}, return "hello", same Cookie header as the sessions`, handler: listener, headerSets: [{ cookie }], close: () => app.close() };
  }
  const headerSets = (await startSessions(listener, connections)).map((cookie) => ({ cookie }));
  return {
    description: `Fastify 5 + ${found.description}, ${path} path`,
    handler: listener,
    headerSets,
    followCookies: found.sealed && path === 'write',
    close: () => app.close(),
  };
});
