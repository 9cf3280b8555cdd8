/**
 * Options of live tabs (`createTessera({ live })`), validated once at start-up.
 *
 * @module
 */
import { ConfigError } from '../errors.js';
import type { LiveBus } from './bus.js';

/**
 * Live tabs: server-sent event streams per browser tab, pushes and broadcasts across processes.
 * Off unless given (`live: {}` or `live: true` turns it on with the defaults).
 *
 * @example
 * ```ts
 * createTessera({
 *   secrets,
 *   live: { bus: new RedisBus({ url: process.env.REDIS_URL! }), heartbeat: 20_000 },
 * });
 * ```
 */
export interface LiveOptions {
  /** What carries pushes between processes. Default: a `LocalBus` (this process only). */
  bus?: LiveBus;
  /**
   * Where the adapters answer: the stream at `path` (`GET ?tab=`), the browser client at
   * `path/client.js`, cookie tickets at `path/cookie` (`POST`). Default `/tessera/live`.
   */
  path?: string;
  /** How often (ms) an idle stream gets a heartbeat comment, and sessions are checked for expiry. Default 25 s. */
  heartbeat?: number;
  /** Events kept per tab for a reconnect with `Last-Event-ID`. Default 64; `0` keeps none. */
  replay?: number;
  /**
   * How long (ms) a tab whose stream dropped keeps its replay buffer (and gathers the events pushed
   * meanwhile) for its reconnect. Default 30 s.
   */
  reconnectWindow?: number;
  /**
   * A stream whose client does not read: once this many bytes wait unsent for it, it is dropped
   * (the client reconnects, and gets what it missed from the replay buffer). Default 256 KiB.
   */
  maxBuffered?: number;
  /** Most streams one session may hold open in this process (tabs); the oldest goes first. Default 32. */
  maxTabsPerSession?: number;
  /**
   * Most streams this process holds open; a stream asked for beyond it is answered 503, so
   * streams cannot take every file descriptor the process may open from its other requests.
   * Default 10,000 (each stream is a socket: raise the process's open-file limit to go higher).
   */
  maxStreams?: number;
  /** How long (ms) a cookie ticket (`live.setCookie`) may wait to be used. Default 60 s. */
  ticketLifetime?: number;
}

/** Live options with every default filled in. */
export interface ResolvedLiveOptions {
  readonly bus: LiveBus | null;
  readonly path: string;
  readonly heartbeat: number;
  readonly replay: number;
  readonly reconnectWindow: number;
  readonly maxBuffered: number;
  readonly maxTabsPerSession: number;
  readonly maxStreams: number;
  readonly ticketLifetime: number;
}

/**
 * The defaults of {@link LiveOptions}.
 *
 * @example
 * ```ts
 * LIVE_DEFAULTS.path; // '/tessera/live'
 * ```
 */
export const LIVE_DEFAULTS = {
  path: '/tessera/live',
  heartbeat: 25_000,
  replay: 64,
  reconnectWindow: 30_000,
  maxBuffered: 256 * 1024,
  maxTabsPerSession: 32,
  maxStreams: 10_000,
  ticketLifetime: 60_000,
} as const;

const KNOWN = new Set(['bus', 'path', ...Object.keys(LIVE_DEFAULTS)]);

function whole(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`live.${name} must be a whole number from ${min} to ${max} (got ${String(value)})`);
  }
  return value;
}

/**
 * Validate `live`: `null` when live tabs are off (`undefined` or `false`).
 *
 * @throws {@link ConfigError} on an unknown option or a value out of range.
 * @example
 * ```ts
 * resolveLiveOptions({ heartbeat: 10_000 }).heartbeat; // 10000
 * resolveLiveOptions(undefined);                      // null
 * ```
 */
export function resolveLiveOptions(live: LiveOptions | boolean | undefined): ResolvedLiveOptions | null {
  if (live === undefined || live === false) return null;
  const given: LiveOptions = live === true ? {} : live;
  if (given === null || typeof given !== 'object') throw new ConfigError('live must be an options object, true or false');
  for (const key of Object.keys(given)) if (!KNOWN.has(key)) throw new ConfigError(`live.${key} is not an option (known: ${[...KNOWN].join(', ')})`);
  const bus = given.bus ?? null;
  if (bus !== null && (typeof bus !== 'object' || typeof bus.publish !== 'function' || typeof bus.subscribe !== 'function' || typeof bus.close !== 'function')) {
    throw new ConfigError('live.bus must be a bus (subscribe, publish, close): LocalBus, RedisBus or PostgresBus');
  }
  const path = given.path ?? LIVE_DEFAULTS.path;
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*[^/]$/.test(path) || path.includes('//')) {
    throw new ConfigError(`live.path must be a path such as /tessera/live, without a trailing slash or query (got ${String(path)})`);
  }
  return {
    bus,
    path,
    heartbeat: whole('heartbeat', given.heartbeat, LIVE_DEFAULTS.heartbeat, 1_000, 3_600_000),
    replay: whole('replay', given.replay, LIVE_DEFAULTS.replay, 0, 10_000),
    reconnectWindow: whole('reconnectWindow', given.reconnectWindow, LIVE_DEFAULTS.reconnectWindow, 0, 3_600_000),
    maxBuffered: whole('maxBuffered', given.maxBuffered, LIVE_DEFAULTS.maxBuffered, 1_024, 1024 ** 3),
    maxTabsPerSession: whole('maxTabsPerSession', given.maxTabsPerSession, LIVE_DEFAULTS.maxTabsPerSession, 1, 10_000),
    maxStreams: whole('maxStreams', given.maxStreams, LIVE_DEFAULTS.maxStreams, 1, 10_000_000),
    ticketLifetime: whole('ticketLifetime', given.ticketLifetime, LIVE_DEFAULTS.ticketLifetime, 1_000, 3_600_000),
  };
}
