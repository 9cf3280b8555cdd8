/**
 * Express adapter: a drop-in replacement for `express-session` (Express 4 and 5). `req.session`
 * has express-session's API — property access, `regenerate`, `destroy`, `save`, `reload`,
 * `touch`, `req.session.cookie` — and its options keep their meaning, while sessions get tessera's
 * guarantees: signed 256-bit IDs, stores that see hashes, no lost concurrent updates, typed errors.
 *
 * Unlike express-session, `res.end` and `res.write` are never replaced: the Set-Cookie header is
 * put on the response the moment the session needs it, so streaming and SSE work. Changes are
 * committed right after the synchronous code that made them (a change inside a nested object
 * when `req.session` is next checked, at the latest when the response finishes).
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
import type { CookieStore } from '../stores/cookie.js';
import type { SessionStore } from '../stores/store.js';
import { session, type ExpressSession } from './express/middleware.js';

/**
 * The shape of your session data, for TypeScript. Augment it like express-session's:
 *
 * @example
 * ```ts
 * declare module 'tessera/express' {
 *   interface SessionData { views: number; cart: { items: string[] } }
 * }
 * ```
 */
export interface SessionData {}

declare global {
  // Express's own request type (declared by @types/express) is extended like express-session's.
  namespace Express {
    interface Request {
      /** The request's session (`undefined` after `destroy()`). Set by `tessera/express`. */
      session: ExpressSession & Partial<SessionData>;
      /** The session ID, same as `req.session.id`. Set by `tessera/express`. */
      sessionID: string;
      /** The tessera store sessions are kept in. Set by `tessera/express`. */
      sessionStore: SessionStore | CookieStore;
    }
  }
}

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
export default session;
