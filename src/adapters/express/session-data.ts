/**
 * `SessionData` and the augmentation of Express's `Request` (`req.session`, `req.sessionID`,
 * `req.sessionStore`), in a module of their own so that both forms of `tessera/express` — the ES
 * module and the CommonJS one — carry the very same declarations.
 *
 * @module
 */
import type { CookieStore } from '../../stores/cookie.js';
import type { SessionStore } from '../../stores/store.js';
import type { ExpressSession } from './middleware.js';

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
      /**
       * A fresh CSRF token of the request's session, as csurf's `req.csrfToken()` gave one: for a
       * form's `_csrf` field or the `x-csrf-token` header, which `tessera/express` checks on every
       * unsafe request. Set by `tessera/express`.
       */
      csrfToken(): string;
    }
  }
}
