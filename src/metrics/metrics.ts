/**
 * tessera's metrics (the `metrics` option, `tessera.metrics`): counters, a histogram and gauges,
 * recorded through OpenTelemetry's metrics API when the app has it, and kept in process for a
 * Prometheus text endpoint when it has not. See docs/observability.md.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigError, NotSupportedError } from '../errors.js';
import { globalMeter, instrumentsOn, meterOf, type GaugeSources, type OtelMeter, type OtelMeterProvider } from './otel.js';
import { PrometheusRegistry } from './prometheus.js';
import { MetricsRecorder } from './recorder.js';

/**
 * The `metrics` option. `true` is `{ otel: true }`: the global OpenTelemetry meter provider and
 * the Prometheus text. Every field is optional.
 *
 * @example
 * ```ts
 * const prometheusOnly: MetricsOptions = { prometheus: true };
 * ```
 */
export interface MetricsOptions {
  /**
   * Record through OpenTelemetry: `true` for the global meter provider's meter (`@opentelemetry/api`
   * must be installed: it is an optional peer), or a `Meter` or `MeterProvider` of the app's.
   * Default: none.
   */
  otel?: boolean | OtelMeter | OtelMeterProvider;
  /** Keep the counts in process for {@link TesseraMetrics.prometheus}. Default `true`. */
  prometheus?: boolean;
}

/** The `metrics` option, validated. */
export interface ResolvedMetricsOptions {
  readonly otel: OtelMeter | 'global' | null;
  readonly prometheus: boolean;
}

/**
 * Validate the `metrics` option: `null` when metrics are off (nothing is recorded).
 *
 * @throws {@link ConfigError} on anything but a boolean or {@link MetricsOptions}.
 * @example
 * ```ts
 * resolveMetricsOptions({ prometheus: true }); // { otel: null, prometheus: true }
 * ```
 */
export function resolveMetricsOptions(given: MetricsOptions | boolean | undefined): ResolvedMetricsOptions | null {
  if (given === undefined || given === false) return null;
  if (given === true) return { otel: 'global', prometheus: true };
  if (given === null || typeof given !== 'object') throw new ConfigError('metrics must be a boolean or { otel?, prometheus? }');
  for (const key of Object.keys(given)) if (key !== 'otel' && key !== 'prometheus') throw new ConfigError(`metrics.${key} is not an option (otel, prometheus)`);
  const prometheus = given.prometheus ?? true;
  if (typeof prometheus !== 'boolean') throw new ConfigError('metrics.prometheus must be a boolean');
  const otel = given.otel === undefined || given.otel === false ? null : given.otel === true ? 'global' : meterOf(given.otel);
  if (otel === null && !prometheus) throw new ConfigError('metrics: with prometheus: false, give otel (a meter, a provider, or true) — or leave metrics off');
  return { otel, prometheus };
}

/** The Prometheus text format's content type. */
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * tessera's metrics, as `tessera.metrics` (metrics on). The instruments, OpenTelemetry names
 * first, Prometheus names after:
 *
 * - `tessera.sessions.created` / `tessera_sessions_created_total` — sessions first stored;
 * - `tessera.sessions.active` / `tessera_sessions_active` — live sessions in the store (a gauge:
 *   counted when read on stores with `countLive` — memory, SQLite, PostgreSQL; on stores that can
 *   only list their sessions — Redis, file — the count of a walk made at most once a minute);
 * - `tessera.commits` / `tessera_commits_total` — commits written;
 * - `tessera.commit.conflicts` / `tessera_commit_conflicts_total` — commits that met another writer;
 * - `tessera.store.duration` / `tessera_store_duration_seconds` — store latency, a histogram by operation;
 * - `tessera.store.errors` / `tessera_store_errors_total` — store calls failed or timed out, by operation;
 * - `tessera.live.streams` / `tessera_live_streams` — open live-tab streams (a gauge, live tabs on);
 * - `tessera.csrf.rejections` / `tessera_csrf_rejections_total` — CSRF refusals, by reason.
 *
 * @example
 * ```ts
 * const tessera = createTessera({ secrets, metrics: { prometheus: true } });
 * http.createServer((req, res) => (req.url === '/metrics' ? tessera.metrics.handler()(req, res) : app(req, res)));
 * ```
 */
export class TesseraMetrics {
  /** @internal What the core records to. */
  readonly recorder: MetricsRecorder;
  readonly #registry: PrometheusRegistry | null;

  /** @internal Made by the manager, with the gauges' sources. */
  constructor(options: ResolvedMetricsOptions, gauges: GaugeSources) {
    const registry = (this.#registry = options.prometheus ? new PrometheusRegistry() : null);
    if (registry !== null) {
      const { activeSessions, openStreams } = gauges;
      if (activeSessions !== null) registry.gauge('tessera_sessions_active', 'Live sessions in the store.', activeSessions);
      if (openStreams !== null) registry.gauge('tessera_live_streams', 'Open live-tab event streams in this process.', openStreams);
    }
    const otel = options.otel === null ? null : instrumentsOn(options.otel === 'global' ? globalMeter() : options.otel, gauges);
    this.recorder = new MetricsRecorder(registry, otel);
  }

  /**
   * The metrics in Prometheus' text format (0.0.4), gauges read now.
   *
   * @throws {@link NotSupportedError} with `metrics: { prometheus: false }`.
   * @example
   * ```ts
   * const text = await tessera.metrics.prometheus();
   * // # TYPE tessera_sessions_created_total counter
   * // tessera_sessions_created_total 42
   * ```
   */
  prometheus(): Promise<string> {
    if (this.#registry === null) return Promise.reject(new NotSupportedError('the Prometheus text is off (metrics: { prometheus: false })'));
    return this.#registry.text();
  }

  /**
   * A `node:http` request handler serving {@link TesseraMetrics.prometheus} (GET or HEAD; other
   * methods 405). Mount it at the path the scraper reads, behind whatever keeps it private.
   *
   * @example
   * ```ts
   * const metrics = tessera.metrics.handler();
   * http.createServer((req, res) => (req.url === '/metrics' ? metrics(req, res) : app(req, res)));
   * ```
   */
  handler(): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method Not Allowed\n');
        return;
      }
      this.prometheus().then(
        (text) => res.writeHead(200, { 'content-type': CONTENT_TYPE, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : text),
        (error: unknown) => res.writeHead(error instanceof NotSupportedError ? 404 : 500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${String((error as Error)?.message ?? error)}\n`),
      );
    };
  }
}
