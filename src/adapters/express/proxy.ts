/**
 * What an Express request says about its client behind proxies: its IP and whether it came over
 * HTTPS, by express-session's `proxy` option and Express's own `trust proxy` setting, on the
 * adapter kit's rules (`clientIp`, `requestIsSecure`). See "Behind a proxy" in docs/express.md.
 *
 * @module
 * @internal
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { clientIp, requestIsSecure } from '../kit.js';

/**
 * The request properties Express adds that the proxy rules read.
 *
 * @example
 * ```ts
 * const req = incoming as ProxiedRequest;
 * req.ip; // Express's answer, by its `trust proxy` setting
 * ```
 */
export interface ProxiedRequest extends IncomingMessage {
  ip?: string;
  secure?: boolean;
  /** The Express app (for its `trust proxy` setting). */
  app?: { get(setting: string): unknown };
}

/** `proxy: true` with no `trust proxy`: one proxy is trusted. */
const hopsOf = (proxy: boolean | undefined): number => (proxy === true ? 1 : 0);

/**
 * The client IP (for `bindIp` and `meta.ip`). `proxy: false`: the socket's address. Otherwise
 * Express's `req.ip` when the app has a `trust proxy` setting (it knows how many proxies, or which
 * addresses, to trust), or without one: the socket's address (what `req.ip` then is), or with `proxy: true` one trusted
 * proxy — the `X-Forwarded-For` entry it appended, the rightmost; entries further left are
 * whatever the client sent.
 *
 * @example
 * ```ts
 * const input = requestInput(req.headers.cookie, expressClientIp(req, settings.proxy), req.headers['user-agent'], null);
 * ```
 */
export function expressClientIp(req: ProxiedRequest, proxy: boolean | undefined): string | null {
  // Express's `req.ip` is worked out on every read: ask for it only when a `trust proxy` setting
  // makes it differ from the socket's address.
  if (proxy !== false && appTrustsProxy(req) && req.ip !== undefined) return req.ip;
  return clientIp(req.headers['x-forwarded-for'], req.socket?.remoteAddress, hopsOf(proxy));
}

/**
 * express-session's rule for HTTPS: TLS on the socket; else with `proxy: true`
 * `X-Forwarded-Proto: https`, with `proxy` unset Express's `req.secure` (its `trust proxy`
 * setting decides), with `proxy: false` never.
 *
 * @example
 * ```ts
 * expressRequestIsSecure(req, true); // true behind a TLS proxy that sent X-Forwarded-Proto: https
 * ```
 */
export function expressRequestIsSecure(req: ProxiedRequest, proxy: boolean | undefined): boolean {
  const encrypted = (req.socket as TLSSocket | undefined)?.encrypted === true;
  if (proxy === undefined) return encrypted || req.secure === true;
  return requestIsSecure(encrypted, req.headers['x-forwarded-proto'], hopsOf(proxy));
}

/** Whether the Express app has a `trust proxy` setting (its default is `false`; sub-apps inherit it). */
function appTrustsProxy(req: ProxiedRequest): boolean {
  if (typeof req.app?.get !== 'function') return false;
  const setting = req.app.get('trust proxy');
  return setting !== undefined && setting !== false && setting !== 0;
}
