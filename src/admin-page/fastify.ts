/**
 * The admin page on Fastify: the `adminPage` plugin of `tessera/fastify`, registered after the
 * session plugin.
 *
 * @module
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { pathOf } from '../adapters/csrf.js';
import { ConfigError } from '../errors.js';
import { formFields } from './node.js';
import { AdminRouter, type AdminPageOptions } from './router.js';

/** Largest form body the page's routes parse, when the app has no parser of its own for forms. */
const FORM_LIMIT = 16 * 1024;

/**
 * Options of the Fastify {@link adminPage} plugin.
 *
 * @example
 * ```ts
 * const options: FastifyAdminPageOptions = { guard: (request, session) => session.userId === 'root' };
 * ```
 */
export type FastifyAdminPageOptions = AdminPageOptions<FastifyRequest>;

async function plugin(fastify: Parameters<FastifyPluginAsync>[0], options: FastifyAdminPageOptions): Promise<void> {
  if (!fastify.hasDecorator('tessera')) {
    throw new ConfigError("tessera/fastify adminPage: register the session plugin (tessera/fastify's default export) before the admin page");
  }
  const router = new AdminRouter(fastify.tessera, options, 'tessera/fastify');
  // This plugin is encapsulated: a form parser added here serves its routes only.
  if (!fastify.hasContentTypeParser('application/x-www-form-urlencoded')) {
    fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_request, body, done) => {
      done(null, formFields(new URLSearchParams(body as string)));
    });
  }
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const query = request.url.indexOf('?');
    const answer = await router.handle(
      {
        method: request.method,
        path: pathOf(request.url),
        query: new URLSearchParams(query === -1 ? '' : request.url.slice(query + 1)),
        header: (name) => {
          const value = request.headers[name];
          return Array.isArray(value) ? value[0] : value;
        },
        form: async () => (request.body !== null && typeof request.body === 'object' ? (request.body as Record<string, unknown>) : {}),
        session: () => request.session,
      },
      request,
    );
    return reply.code(answer.status).headers(answer.headers).send(answer.body);
  };
  fastify.route({ method: ['GET', 'POST'], url: router.path, handler });
  fastify.route({ method: ['GET', 'POST'], url: `${router.path}/*`, handler });
}

/**
 * The admin page as a Fastify plugin: register it after the session plugin, in the same scope or
 * a child of it; it answers the requests under `path` (default `/admin`). Every request under
 * `path` is checked by your `guard` (403 unless it returns `true`); the session plugin checks the
 * revoke forms' CSRF token. Mount it with `path`, not Fastify's `prefix`. See docs/admin.md.
 *
 * @throws {@link ConfigError} from `register` without a guard, on a bad `path` or `sampler`, or
 * when the session plugin is not registered.
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import sessions, { adminPage } from 'tessera/fastify';
 *
 * const app = Fastify();
 * await app.register(sessions, { tessera });
 * await app.register(adminPage, { guard: (request, session) => operators.has(session.userId ?? '') });
 * ```
 */
export const adminPage: FastifyPluginAsync<FastifyAdminPageOptions> = Object.defineProperties(plugin, {
  [Symbol.for('fastify.display-name')]: { value: 'tessera-admin' },
  [Symbol.for('plugin-meta')]: { value: { name: 'tessera-admin', fastify: '5.x' } },
});
