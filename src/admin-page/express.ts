/**
 * The admin page on Express (4 and 5): `adminPage` of `tessera/express`, middleware to mount after
 * the session middleware.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathOf } from '../adapters/csrf.js';
import { tesseraSession, type SessionMiddleware } from '../adapters/express/middleware.js';
import { nodeAdminRequest, sendNodeReply } from './node.js';
import { AdminRouter, type AdminPageOptions } from './router.js';

/**
 * The admin page as Express middleware: it answers the requests under `path` (default `/admin`)
 * and passes the others on. Mount it after `session()` (it reads the operator's session, and the
 * session middleware checks the revoke forms' CSRF token). Every request under `path` is checked
 * by your `guard` (403 unless it returns `true`). Errors go to Express's error handlers. See
 * docs/admin.md.
 *
 * @throws {@link ConfigError} without a guard, or on a bad `path` or `sampler`.
 * @example
 * ```ts
 * import express from 'express';
 * import session, { adminPage } from 'tessera/express';
 *
 * const app = express();
 * const sessions = session({ secret: process.env.SESSION_SECRET!, resave: false, saveUninitialized: false });
 * app.use(sessions);
 * app.use(adminPage(sessions, { guard: (req, session) => operators.has(session.userId ?? '') }));
 * ```
 */
export function adminPage(
  sessions: Pick<SessionMiddleware, 'tessera'>,
  options: AdminPageOptions<IncomingMessage>,
): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  const router = new AdminRouter(sessions.tessera, options, 'tessera/express');
  return (req, res, next) => {
    const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    if (!router.matches(pathOf(url))) return next();
    router.handle(nodeAdminRequest(req, url, () => tesseraSession(req)), req).then(
      (reply) => sendNodeReply(res, reply),
      (error: unknown) => next(error),
    );
  };
}
