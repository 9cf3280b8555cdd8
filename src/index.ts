/**
 * tessera: session management for TypeScript web apps on Node.js.
 *
 * @example
 * ```ts
 * import { createTessera } from 'tessera';
 * import { nodeSessions } from 'tessera/node';
 * const tessera = createTessera({ secrets: [process.env.SESSION_SECRET!] });
 * const sessions = nodeSessions(tessera);
 * http.createServer(sessions.wrap(async (req, res) => {
 *   const session = await sessions.load(req, res);
 *   session.set('views', (session.get<number>('views') ?? 0) + 1);
 *   res.end(`views: ${session.get('views')}`);
 * })).listen(3000);
 * ```
 * @module
 */
import { Tessera } from './manager.js';
import type { TesseraOptions } from './options.js';
import { SqliteStore } from './stores/sqlite.js';

/** Options of {@link createTessera}: {@link TesseraOptions} plus encryption at rest. */
export interface CreateTesseraOptions extends TesseraOptions {
  /**
   * Encrypt session data in the store with AES-256-GCM under the keyring's `data` subkey (records
   * sealed with an older secret stay readable and are re-sealed on their next write). Default `false`.
   */
  encryptData?: boolean;
}

/**
 * Create the session manager. Options are validated here, once: bad configuration throws now,
 * never per request.
 *
 * @throws {@link ConfigError}, {@link SecretError} or {@link CookieConfigError} on bad options.
 * @example
 * ```ts
 * const tessera = createTessera({
 *   secrets: [process.env.SESSION_SECRET!],   // >= 32 bytes; first signs, all verify
 *   idleTimeout: 30 * 60_000,
 * });                                           // store: SQLite at ./data/sessions.db
 * ```
 */
export function createTessera(options: CreateTesseraOptions = {}): Tessera {
  const store = options.store ?? new SqliteStore({ path: './data/sessions.db' });
  return new Tessera({ ...options, store });
}

export { Tessera, SessionContext } from './manager.js';
export type { RequestInput, CookieSink, ByIdOptions, CreateOptions, DestroyByHandleOptions, SessionInfo, SessionEvent, AuditEvent, AuditEventType, TesseraEventName, CleanupOptions, CleanupProgress } from './manager.js';
export { Session } from './session.js';
export type { SessionMeta } from './session.js';
export type { SessionData } from './session-values.js';
export type { TesseraOptions, ResolvedOptions, Logger, LogLevel, TenantOptions, Lifetimes } from './options.js';
export { TesseraMetrics } from './metrics/metrics.js';
export type { MetricsOptions, ResolvedMetricsOptions } from './metrics/metrics.js';
export type { OtelMeter, OtelMeterProvider } from './metrics/otel.js';
export type { BindingMode } from './core/binding.js';
export { DEFAULTS } from './options.js';
export type { CookieOptions, ResolvedCookie, SameSite } from './cookie.js';
export { readCookie, parseCookies, serializeCookie, clearCookie, resolveCookieOptions } from './cookie.js';
export { Keyring, MIN_SECRET_BYTES, SECRETS_ENV, generateSecret } from './crypto/keyring.js';
export type { Secret, KeyPurpose, KeyringOptions } from './crypto/keyring.js';
export { Sealer } from './crypto/seal.js';
export { generateId, storeKey } from './crypto/ids.js';
export {
  TesseraError,
  ConfigError,
  SecretError,
  CookieConfigError,
  SessionNotFoundError,
  SessionStateError,
  WriteConflictError,
  StoreUnavailableError,
  PayloadTooLargeError,
  NotSupportedError,
  TenantError,
  CsrfError,
  BusUnavailableError,
  LiveError,
} from './errors.js';
export { CsrfProtection, crossOriginVerdict } from './csrf.js';
export { AuthTokens, sessionBinding } from './auth/tokens.js';
export type { AuthOptions, AuthClaims, AuthKey, AuthFailure } from './auth/tokens.js';
export type { CsrfOptions, CsrfFailure, CsrfRoute } from './csrf.js';
export type { TesseraErrorCode } from './errors.js';
export type { SessionStore, StoreRecord, StoreContext, KeyedRecord, ActivityQuery, SessionActivity, ListQuery, SessionPage, DeleteExpiredOptions } from './stores/store.js';
export { isExpired, isSessionRecord, lastOf, pageByKey, SynchronousStore } from './stores/store.js';
export { SessionAdmin } from './admin.js';
export type { AdminListQuery, AdminPage, AdminSession, AdminStats } from './admin.js';
export { ActivityTracker } from './activity.js';
export type { ActivityOptions, ActiveSession, ActiveSessionsQuery } from './activity.js';
export { MemoryStore } from './stores/memory.js';
export { CookieStore } from './stores/cookie.js';
export type { CookieStoreOptions } from './stores/cookie.js';
export type { MemoryStoreOptions } from './stores/memory.js';
export { LiveHub } from './live/hub.js';
export type { LiveTarget } from './live/hub.js';
export { LocalBus, MAX_BUS_MESSAGE_BYTES } from './live/bus.js';
export type { LiveBus } from './live/bus.js';
export { LIVE_DEFAULTS } from './live/options.js';
export type { LiveOptions, ResolvedLiveOptions } from './live/options.js';
export { TAB_HEADER, isTabId, checkEvent } from './live/protocol.js';
export type { LiveEvent, HtmlMode, EndReason } from './live/protocol.js';
