/**
 * Putting a manager's live hub together: what the hub needs from the core (the backend's
 * by-key reads, one-time marks and expiry; sessions opened by handle; the user index), wired once
 * when `createTessera({ live })` makes the manager.
 *
 * @module
 * @internal
 */
import { clearCookie } from '../cookie.js';
import type { Backend } from '../core/backend.js';
import type { SessionState } from '../core/state.js';
import type { SessionInfo } from '../manager.js';
import type { ResolvedOptions } from '../options.js';
import type { Session } from '../session.js';
import { LiveHub } from './hub.js';
import type { ResolvedLiveOptions } from './options.js';
import { CookieTickets } from './tickets.js';

/** The manager's operations the hub uses. */
interface ManagerOps {
  listByUser(userId: string, options: { tenant: string | null }): Promise<SessionInfo[]>;
  destroyByHandle(handle: string, options: { anyUser: true }): Promise<boolean>;
}

/**
 * The live hub of a manager.
 *
 * @example
 * ```ts
 * const hub = liveHubOf(options, options.live!, backend, (state) => new Session(state, lifecycle), manager);
 * ```
 */
export function liveHubOf(options: ResolvedOptions, live: ResolvedLiveOptions, backend: Backend, session: (state: SessionState) => Session, manager: ManagerOps): LiveHub {
  return new LiveHub({
    options: live,
    now: options.now,
    logger: options.logger,
    expiryOf: (key) => backend.expiryByKey(key),
    userKeys: async (userId, tenant) => (await manager.listByUser(userId, { tenant })).map((info) => info.handle),
    tickets: new CookieTickets({
      keys: options.keyring.keys('live'),
      lifetime: live.ticketLifetime,
      now: options.now,
      claimOnce: (mark, until) => backend.claimOnce(mark, until),
    }),
    openByKey: async (key, sink) => {
      const state = await backend.openByKey(key, sink);
      return state && session(state);
    },
    signOutLines: () => signOutLines(options),
    csrfCookie: options.csrf.clearLine() !== null,
    destroyByKey: (key) => manager.destroyByHandle(key, { anyUser: true }),
  });
}

/** The `Set-Cookie` lines that take tessera's cookies (session, CSRF token, auth) out of a browser. */
function signOutLines(options: ResolvedOptions): string[] {
  const lines = [clearCookie(options.cookie)];
  const csrf = options.csrf.clearLine();
  if (csrf !== null) lines.push(csrf);
  if (options.auth !== null) lines.push(clearCookie(options.auth.cookie));
  return lines;
}
