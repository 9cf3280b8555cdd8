/**
 * `tessera/express` for `require()`: the CommonJS build uses this module in place of
 * `express.ts` (tshy's `-cjs.cts` convention). As with express-session, `module.exports` is the
 * `session` factory itself — `require('tessera/express')(options)` — and what the ES module
 * exports hangs on it: `session.session`, `session.default`, `session.tesseraSession`, `session.adminPage` (and
 * `session.MemoryStore`, `session.Store`, `session.Session` and `session.Cookie`, as on the ES module's `session`).
 *
 * For TypeScript, `export =` of a function merged with a namespace gives CommonJS projects
 * `import session = require('tessera/express')`, `import session from 'tessera/express'` (through
 * `default`, or `esModuleInterop`) and `import { session } from 'tessera/express'`. `SessionData`
 * is the ES module's own interface, reached through the namespace, so
 * `declare module 'tessera/express' { interface SessionData { ... } }` types `req.session` the
 * same way from both builds.
 *
 * @module
 */
import * as middleware from './express/middleware.js';
import * as data from './express/session-data.js';
import type * as migrate from './express/migrate.js';
import * as admin from '../admin-page/express.js';
import type * as router from '../admin-page/router.js';
import type * as sampler from '../admin-page/sampler.js';

/** express-session compatible middleware: see `session` in `express/middleware.ts`. */
function session(options?: middleware.ExpressSessionOptions): middleware.SessionMiddleware {
  return middleware.session(options);
}

declare namespace session {
  export import SessionData = data.SessionData;
  export type ExpressCookieOptions = middleware.ExpressCookieOptions;
  export type ExpressSessionOptions = middleware.ExpressSessionOptions;
  export type SessionCallback = middleware.SessionCallback;
  export type SessionCookieData = middleware.SessionCookieData;
  export type SessionCookie = middleware.SessionCookie;
  export type ExpressSession = middleware.ExpressSession;
  export type SessionMiddleware = middleware.SessionMiddleware;
  export type MigrateFromOptions = migrate.MigrateFromOptions;
  export type ExpressSessionStore = migrate.ExpressSessionStore;
  export const tesseraSession: typeof middleware.tesseraSession;
  export const MemoryStore: typeof middleware.session.MemoryStore;
  export const adminPage: typeof admin.adminPage;
  export type AdminGuard<Req> = router.AdminGuard<Req>;
  export type AdminPageOptions<Req> = router.AdminPageOptions<Req>;
  export type SamplerOptions = sampler.SamplerOptions;
  export const Store: typeof middleware.session.Store;
  export const Session: typeof middleware.session.Session;
  export const Cookie: typeof middleware.session.Cookie;
  export { session, session as default };
}

// The values the namespace declares, and whatever else the ES module's `session` carries.
Object.assign(session, middleware.session, { session, default: session, tesseraSession: middleware.tesseraSession, adminPage: admin.adminPage });

export = session;
