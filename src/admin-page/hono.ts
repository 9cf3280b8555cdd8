/**
 * The admin page on Hono: `adminPage` of `tessera/hono`, middleware to use after the session
 * middleware.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode, StatusCode } from 'hono/utils/http-status';
import { SessionStateError } from '../errors.js';
import type { Tessera } from '../manager.js';
import { AdminRouter, type AdminPageOptions } from './router.js';

const FORMS = new Set(['application/x-www-form-urlencoded', 'multipart/form-data']);

/**
 * The admin page as Hono middleware: it answers the requests under `path` (default `/admin`) and
 * passes the others on. Use it after `sessions()` (it reads `c.get('session')`, and the session
 * middleware checks the revoke forms' CSRF token). Every request under `path` is checked by your
 * `guard` (403 unless it returns `true`). See docs/admin.md.
 *
 * @throws {@link ConfigError} without a guard, or on a bad `path` or `sampler`.
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { sessions, adminPage } from 'tessera/hono';
 *
 * const app = new Hono();
 * const sessionMiddleware = sessions({ tessera });
 * app.use(sessionMiddleware);
 * app.use(adminPage(sessionMiddleware, { guard: (c, session) => operators.has(session.userId ?? '') }));
 * ```
 */
export function adminPage(sessions: { readonly tessera: Tessera }, options: AdminPageOptions<Context>): MiddlewareHandler {
  const router = new AdminRouter(sessions.tessera, options, 'tessera/hono');
  return async (c, next) => {
    const path = c.req.path;
    if (!router.matches(path)) return next();
    const reply = await router.handle(
      {
        method: c.req.method,
        path,
        query: new URL(c.req.url).searchParams,
        header: (name) => c.req.header(name),
        form: async () => {
          const type = c.req.header('content-type')?.split(';', 1)[0]!.trim().toLowerCase();
          return type !== undefined && FORMS.has(type) ? c.req.parseBody() : {};
        },
        session: () => {
          const session = c.get('session');
          if (session === undefined) throw new SessionStateError('tessera/hono adminPage: use the sessions() middleware before the admin page');
          return session;
        },
      },
      c,
    );
    // A 304 (and a HEAD) has no body: a Response refuses one for 304.
    return reply.body === '' ? c.body(null, reply.status as StatusCode, reply.headers) : c.body(reply.body, reply.status as ContentfulStatusCode, reply.headers);
  };
}
