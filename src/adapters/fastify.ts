/**
 * Fastify plugin (Fastify 5): `await app.register(sessions, options)` gives every request of the
 * scope it is registered in a `request.session` (tessera's {@link Session}), and the instance a
 * `fastify.tessera` (the manager). Built on the adapter kit. How a request meets Fastify's hooks:
 *
 * - **onRequest**: with a store that answers with promises (PostgreSQL, Redis, files), the session
 *   is loaded here, awaited, so every later hook and the handler read `request.session` at once.
 *   With a store that answers synchronously (memory, SQLite, the encrypted cookie) nothing is read
 *   here: the session is loaded at the first read of `request.session`, so a route that never
 *   reads it costs no store read, and its commits are held until that synchronous code ends.
 * - **onSend**: the commit the route queued is started and awaited before the response head goes
 *   out, so a store failure while committing is still an error reply (503), not a lost write.
 * - **onError**: a 503 (store unavailable) gets `Retry-After: 1`; Fastify's error handling (the
 *   app's `setErrorHandler`, or the default one, which reads `error.status`) makes the reply.
 *
 * The session cookie is written through the reply's headers the moment the session needs it, next
 * to cookies the app sets (`reply.header`, `@fastify/cookie`'s `reply.setCookie`), and copied to
 * `reply.raw` so a hijacked reply (`reply.hijack()`) sends it too. Bodies are never buffered:
 * streams and hijacked replies go out as the app writes them.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { createTessera } from 'tessera';
 * import sessions from 'tessera/fastify';
 * import { RedisStore } from 'tessera/stores/redis';
 *
 * const tessera = createTessera({ secrets: [process.env.SESSION_SECRET!], store: new RedisStore({ url: process.env.REDIS_URL }) });
 * const app = Fastify({ trustProxy: 1 });
 * await app.register(sessions, { tessera });
 * app.post('/login', async (request) => {
 *   const user = await signIn(request.body);
 *   request.session.regenerate();            // a new ID on sign-in: no session fixation
 *   request.session.userId = user.id;
 *   return { ok: true };
 * });
 * app.post('/sign-out-elsewhere', async (request) =>
 *   ({ signedOut: await app.tessera.destroyByUser(request.session.userId!, { except: request.session.id }) }));
 * ```
 * @module
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ConfigError, SessionStateError } from '../errors.js';
import { createTessera, type CreateTesseraOptions } from '../index.js';
import { Tessera, type CookieSink, type CsrfRequest, type SessionContext } from '../manager.js';
import type { Session } from '../session.js';
import type { SessionData } from '../session-values.js';
import type { TLSSocket } from 'node:tls';
import {
  clientIp,
  cookieSink,
  errorReply,
  handlerDone,
  PlainHttpWarning,
  requestInput,
  requestIsSecure,
  resolveAdapterOptions,
  setCookieLines,
  type AdapterOptions,
  type RequestParts,
  type SetCookieHeaders,
} from './kit.js';
import { firstHeader, mustCheckCsrf, pathOf } from './csrf.js';
import { liveRoute, redeemTicket, type LiveRoute } from '../live/endpoint.js';
import { serveNodeLive } from '../live/node.js';
import { respondWithError } from './node.js';
import { TAB_HEADER } from '../live/protocol.js';

export { adminPage } from '../admin-page/fastify.js';
export type { FastifyAdminPageOptions } from '../admin-page/fastify.js';
export type { AdminGuard, AdminPageOptions } from '../admin-page/router.js';
export type { SamplerOptions } from '../admin-page/sampler.js';

/**
 * The shape of your session data, for TypeScript: augment it and `request.session.get('views')`
 * is typed.
 *
 * @example
 * ```ts
 * declare module 'tessera/fastify' {
 *   interface FastifySessionData { views: number; cart: string[] }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- augmented by apps
export interface FastifySessionData {}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The request's session, set by `tessera/fastify`. With a store that answers synchronously it
     * is loaded at the first read; otherwise by the plugin's onRequest hook. Reading it throws what
     * loading met (`StoreUnavailableError`, answered 503).
     */
    readonly session: Session<SessionData & FastifySessionData>;
  }
  interface FastifyInstance {
    /** The session manager, set by `tessera/fastify`: operations by ID and by user, events, `close()`. */
    readonly tessera: Tessera;
  }
}

/**
 * Options of {@link sessions}: a `tessera` manager, or the options `createTessera` takes (the
 * plugin then makes the manager, and closes it when Fastify closes); and how requests are read.
 *
 * @example
 * ```ts
 * await app.register(sessions, { tessera, trustProxy: 1, tenant: { host: true } });
 * await other.register(sessions, { secrets: [process.env.SESSION_SECRET!], store: new RedisStore({ url }) });
 * ```
 */
export interface FastifySessionsOptions extends CreateTesseraOptions, AdapterOptions<FastifyRequest> {
  /**
   * Use this manager (to share it with operations by ID or other adapters); it stays open when
   * Fastify closes. Its own options apply: pass no `createTessera` option with it.
   */
  tessera?: Tessera;
  /**
   * How many proxies in front of the app to trust for the client IP (`bindIp`, `meta.ip`), counted
   * from the right of `X-Forwarded-For` as in the adapter kit, and for HTTPS (`X-Forwarded-Proto`);
   * `true` is one, `false` none (the socket's address and TLS). Default: Fastify's own `trustProxy`
   * server option decides (`request.ip`, `request.protocol`).
   */
  trustProxy?: boolean | number;
}

/** The plugin's own options and those of Fastify's `register`: never manager options. */
const NOT_MANAGER_OPTIONS = new Set(['tessera', 'trustProxy', 'tenant', 'prefix', 'logLevel', 'logSerializers']);

// Per-request slots, declared with decorateRequest so every request has the same shape.
const kReply = Symbol('tessera.fastify.reply');
const kContext = Symbol('tessera.fastify.context');
const kLoadFailure = Symbol('tessera.fastify.loadFailure');

interface Slots {
  [kReply]: FastifyReply | null;
  [kContext]: SessionContext | null;
  /** What an onRequest load rejected with: thrown by `request.session`, so only routes using it fail. */
  [kLoadFailure]: unknown;
}
type SlottedRequest = FastifyRequest & Slots;

/** The manager the options name or describe, validated now; `owned` when the plugin made it. */
function managerOf(options: FastifySessionsOptions): { tessera: Tessera; owned: boolean } {
  const given = options.tessera;
  const rest = Object.keys(options).filter((key) => !NOT_MANAGER_OPTIONS.has(key) && (options as Record<string, unknown>)[key] !== undefined);
  if (given === undefined) {
    const manager: Record<string, unknown> = {};
    for (const key of rest) manager[key] = (options as Record<string, unknown>)[key];
    return { tessera: createTessera(manager as CreateTesseraOptions), owned: true };
  }
  if (!(given instanceof Tessera)) throw new ConfigError('tessera/fastify: tessera must be a Tessera made by createTessera()');
  if (rest.length > 0) {
    throw new ConfigError(`tessera/fastify: with { tessera } its own options apply: remove ${rest.map((k) => `\`${k}\``).join(', ')}, or set them on createTessera()`);
  }
  return { tessera: given, owned: false };
}

/** How the tenant rules read a Fastify request. */
const FASTIFY_REQUEST_PARTS: RequestParts<FastifyRequest> = {
  header: (request, name) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value.join(',') : value;
  },
  path: (request) => request.url,
};

/**
 * The {@link CookieSink} of a Fastify reply. Fastify keeps headers on the reply and writes them
 * over `reply.raw`'s at the head, so the reply's are the truth; `reply.header('set-cookie', …)`
 * appends, so the lines are replaced by removing the header first. They are copied to `reply.raw`
 * too: a hijacked reply never writes the reply's headers.
 */
function replyCookieSink(reply: FastifyReply, name: string, plainHttp: PlainHttpWarning<FastifyRequest>): CookieSink {
  return cookieSink(new ReplySetCookie(reply), name, plainHttp, reply.request);
}

/** The `Set-Cookie` lines of a Fastify reply (see {@link replyCookieSink}). */
class ReplySetCookie implements SetCookieHeaders {
  readonly #reply: FastifyReply;

  constructor(reply: FastifyReply) {
    this.#reply = reply;
  }

  /** The reply's lines, or (none there) the ones the app put on `reply.raw`. */
  read(): readonly string[] {
    return setCookieLines(this.#reply.getHeader('set-cookie') as string | string[] | undefined);
  }

  write(lines: readonly string[]): void {
    const reply = this.#reply;
    reply.removeHeader('set-cookie');
    if (lines.length === 0) return;
    reply.header('set-cookie', lines);
    reply.raw.setHeader('set-cookie', lines);
  }

  sent(): boolean {
    return this.#reply.raw.headersSent;
  }
}

async function plugin(fastify: FastifyInstance, options: FastifySessionsOptions): Promise<void> {
  const { hops, tenant } = resolveAdapterOptions(options, 'tessera/fastify', FASTIFY_REQUEST_PARTS);
  const { tessera, owned } = managerOf(options);
  const name = tessera.cookieName;
  const synchronous = tessera.loadsSynchronously;
  const ipOf =
    options.trustProxy === undefined
      ? (request: FastifyRequest) => request.ip
      : (request: FastifyRequest) => clientIp(request.headers['x-forwarded-for'], request.socket?.remoteAddress, hops);
  const isSecure =
    options.trustProxy === undefined
      ? (request: FastifyRequest) => request.protocol === 'https'
      : (request: FastifyRequest) => requestIsSecure((request.socket as TLSSocket | undefined)?.encrypted === true, request.headers['x-forwarded-proto'], hops);
  const plainHttp = new PlainHttpWarning(tessera, 'tessera/fastify', isSecure, "set Fastify's trustProxy (or the plugin's)");

  function begin(request: SlottedRequest, reply: FastifyReply | null): SessionContext {
    if (reply === null) {
      throw new SessionStateError("request.session was read before tessera/fastify's onRequest hook ran: register the plugin before the hooks that read the session");
    }
    const input = requestInput(request.headers.cookie, ipOf(request), request.headers['user-agent'], tenant?.(request), request.headers[TAB_HEADER]);
    return (request[kContext] = tessera.begin(input, replyCookieSink(reply, name, plainHttp)));
  }

  function sessionOf(request: SlottedRequest): Session {
    if (request[kLoadFailure] !== null) throw request[kLoadFailure];
    let ctx = request[kContext];
    if (ctx === null) {
      // A store that answers synchronously: loaded now, at the first read. Commits are held until
      // the synchronous code reading it ends, or the reply is sent (onSend), whichever comes first:
      // a handler that changes the session and sends at once has it written before the head,
      // with no promise. Never longer: a hijacked reply has no onSend.
      ctx = begin(request, request[kReply]);
      ctx.hold();
      const held = ctx;
      queueMicrotask(() => held.release());
    }
    return ctx.loadSync();
  }

  fastify.decorate('tessera', tessera);
  fastify.decorateRequest(kReply, null);
  fastify.decorateRequest(kContext, null);
  fastify.decorateRequest(kLoadFailure, null);
  fastify.decorateRequest('session', {
    getter(this: FastifyRequest) {
      return sessionOf(this as SlottedRequest) as Session<SessionData & FastifySessionData>;
    },
  });

  fastify.addHook('onRequest', (request, reply, done) => {
    const slots = request as SlottedRequest;
    if (synchronous) {
      slots[kReply] = reply;
      return done();
    }
    // A store that answers with promises: load before the hooks and handler that read it. A failure
    // (an empty tenant too: TenantError, 400) is kept for `request.session` to throw, so routes
    // that never read it still answer.
    let ctx: SessionContext;
    try {
      ctx = begin(slots, reply);
    } catch (error) {
      slots[kLoadFailure] = error;
      return done();
    }
    ctx
      .load()
      .then(
        () => done(),
        (error: unknown) => {
          slots[kLoadFailure] = error;
          done();
        },
      );
  });

  // An unsafe request passes the CSRF check before its handler (refused: a 403 through Fastify's
  // error handling). In preHandler, so a form body parsed by @fastify/formbody is there to read.
  if (tessera.csrf.enforced) {
    fastify.addHook('preHandler', (request, reply, done) => {
      if (!mustCheckCsrf(tessera, request.method)) return done();
      // A cookie ticket is its own proof (see redeemTicket): no token asked for.
      if (live !== null && liveRoute(live, request.url) === 'cookie') return done();
      const slots = request as SlottedRequest;
      if (slots[kLoadFailure] !== null) return done(slots[kLoadFailure] as Error);
      const ctx = slots[kContext] ?? begin(slots, reply);
      Promise.resolve(tessera.checkCsrf(ctx, fastifyCsrfRequest(request))).then(
        (refused) => done(refused ?? undefined),
        (error: unknown) => done(error as Error),
      );
    });
  }

  function fastifyCsrfRequest(request: FastifyRequest): CsrfRequest {
    const headers = request.headers;
    const body = request.body;
    return {
      method: request.method,
      path: pathOf(request.url),
      host: headers.host,
      origin: firstHeader(headers.origin),
      secFetchSite: firstHeader(headers['sec-fetch-site']),
      token: firstHeader(headers[tessera.csrf.header]),
      formToken: () => {
        const value = body !== null && typeof body === 'object' ? (body as Record<string, unknown>)[tessera.csrf.field] : undefined;
        return typeof value === 'string' ? value : undefined;
      },
    };
  }

  const live = tessera.options.live === null ? null : tessera.live;
  if (live !== null) {
    // Live tabs: the stream and the client script on the raw response (hijacked: Fastify lets go
    // of it), the cookie ticket as an ordinary route.
    const getLive = (route: LiveRoute) => async (request: FastifyRequest, reply: FastifyReply) => {
      const slots = request as SlottedRequest;
      if (slots[kLoadFailure] !== null) throw slots[kLoadFailure];
      const ctx = slots[kContext] ?? begin(slots, reply);
      reply.hijack();
      await serveNodeLive(tessera, route, ctx, request.raw, reply.raw).then(
        // An open stream needs no session (the hub holds its handle): let the context go with it.
        () => void (route === 'stream' && (slots[kContext] = null)),
        (error: unknown) => respondWithError(reply.raw, error),
      );
    };
    fastify.get(live.options.path, getLive('stream'));
    fastify.get(`${live.options.path}/client.js`, getLive('client'));
    fastify.post(`${live.options.path}/cookie`, async (request, reply) => {
      const headers = request.headers;
      const slots = request as SlottedRequest;
      const lines = await redeemTicket(
        tessera,
        slots[kContext] ?? begin(slots, reply),
        { method: request.method, url: request.url, header: (h: string) => firstHeader(headers[h]) },
        async () => (typeof request.body === 'string' ? request.body : ''),
      );
      reply.header('set-cookie', lines).header('cache-control', 'no-store').code(204).send();
    });
  }

  fastify.addHook('onSend', (request, _reply, _payload, done) => {
    // Before the head: start the commit and wait for it; a failure goes to Fastify's error handling.
    const pending = handlerDone((request as SlottedRequest)[kContext] ?? undefined, false);
    if (pending === undefined) return done();
    pending.then(() => done(), (error: unknown) => done(error as Error));
  });

  fastify.addHook('onError', (_request, reply, error, done) => {
    if (errorReply(error).retryAfter && !reply.raw.headersSent) reply.header('retry-after', '1');
    done();
  });

  if (owned) fastify.addHook('onClose', () => tessera.close());
}

/**
 * The Fastify plugin. Register it once, before the routes (and hooks) that use sessions; it is not
 * encapsulated, so it serves the scope it is registered in and every child plugin of it —
 * register it inside a plugin to give sessions to that plugin's routes only. Works with and
 * without `@fastify/cookie`, registered before or after it.
 *
 * @throws {@link ConfigError}, {@link SecretError} or {@link CookieConfigError} from `register` on bad options.
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import sessions from 'tessera/fastify';
 *
 * const app = Fastify();
 * await app.register(sessions, { secrets: [process.env.SESSION_SECRET!] }); // >= 32 bytes; SQLite by default
 *
 * app.get('/', async (request) => {
 *   const views = (request.session.get<number>('views') ?? 0) + 1;
 *   request.session.set('views', views);
 *   return { views };
 * });
 *
 * await app.listen({ port: 3000 });
 * ```
 */
export const sessions: FastifyPluginAsync<FastifySessionsOptions> = Object.defineProperties(plugin, {
  // What fastify-plugin would set, without depending on it: serve the parent scope (decorations
  // and hooks on the instance that registers the plugin), a name, and the Fastify versions.
  [Symbol.for('skip-override')]: { value: true },
  [Symbol.for('fastify.display-name')]: { value: 'tessera' },
  [Symbol.for('plugin-meta')]: { value: { name: 'tessera', fastify: '5.x' } },
});

export default sessions;
