/**
 * Express adapter: a drop-in replacement for `express-session` (Express 4 and 5). `req.session`
 * has express-session's API — property access, `regenerate`, `destroy`, `save`, `reload`,
 * `touch`, `req.session.cookie` — and its options keep their meaning, while sessions get tessera's
 * guarantees: signed 256-bit IDs, stores that see hashes, no lost concurrent updates, typed errors.
 *
 * The Set-Cookie header is put on the response the moment the session needs it, and `res.write`
 * is left alone, so streaming and SSE work. Changes are committed right after the synchronous code
 * that made them (a change inside a nested object when `req.session` is next checked, at the
 * latest when the response ends). On a store that answers asynchronously, `res.end()` waits for
 * the session's commit unless the response streamed, so the next request sees every write.
 * express-session stores (connect-redis, connect-pg-simple, ...) are accepted as they are.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import session from 'tessera/express';          // was: import session from 'express-session'
 *
 * const app = express();
 * app.use(session({ secret: process.env.SESSION_SECRET!, resave: false, saveUninitialized: false }));
 * app.get('/', (req, res) => {
 *   req.session.views = (req.session.views ?? 0) + 1;
 *   res.send(`views: ${req.session.views}`);
 * });
 * ```
 * @module
 */
import { session } from './express/middleware.js';

// The CommonJS build replaces this module with express-cjs.cts, where `module.exports` is
// `session` itself: every value exported here must be attached there too (the package test checks).
export type { SessionData } from './express/session-data.js';
export type { ExpressSessionStore, MigrateFromOptions } from './express/migrate.js';
export {
  session,
  tesseraSession,
  type ExpressCookieOptions,
  type ExpressSessionOptions,
  type SessionCallback,
  type SessionCookieData,
  type SessionCookie,
  type ExpressSession,
  type SessionMiddleware,
} from './express/middleware.js';
export { adminPage } from '../admin-page/express.js';
export type { AdminGuard, AdminPageOptions } from '../admin-page/router.js';
export type { SamplerOptions } from '../admin-page/sampler.js';
export default session;
