/**
 * tessera's instruments on an OpenTelemetry meter. `@opentelemetry/api` is an optional peer: the
 * types here are the part of its `Meter` tessera uses (so an app's meter fits them without
 * tessera's types naming the package), and the package itself is loaded only for `metrics: true`,
 * to find the global meter provider.
 *
 * @module
 */
import { ConfigError } from '../errors.js';
import { loadPeer } from '../stores/peer.js';
import { DURATION_BUCKETS } from './prometheus.js';

/** Attributes of a measurement. */
type Attributes = Record<string, string>;

/**
 * The part of an OpenTelemetry `Meter` (`@opentelemetry/api` 1.4 or later) that tessera uses: a
 * meter from `metrics.getMeter(...)` or `provider.getMeter(...)` is one.
 *
 * @example
 * ```ts
 * import { metrics } from '@opentelemetry/api';
 * const meter: OtelMeter = metrics.getMeter('my-app');
 * ```
 */
export interface OtelMeter {
  createCounter(name: string, options?: { description?: string; unit?: string }): { add(value: number, attributes?: Attributes): void };
  createHistogram(
    name: string,
    options?: { description?: string; unit?: string; advice?: { explicitBucketBoundaries?: number[] } },
  ): { record(value: number, attributes?: Attributes): void };
  createObservableGauge(
    name: string,
    options?: { description?: string; unit?: string },
  ): { addCallback(callback: (result: { observe(value: number, attributes?: Attributes): void }) => void | Promise<void>): void };
}

/**
 * The part of an OpenTelemetry `MeterProvider` tessera uses: sdk-metrics' `MeterProvider` is one.
 *
 * @example
 * ```ts
 * import { MeterProvider } from '@opentelemetry/sdk-metrics';
 * const provider: OtelMeterProvider = new MeterProvider();
 * ```
 */
export interface OtelMeterProvider {
  getMeter(name: string, version?: string): OtelMeter;
}

/** The instruments tessera records to. */
export interface OtelInstruments {
  readonly created: { add(value: number, attributes?: Attributes): void };
  readonly commits: { add(value: number, attributes?: Attributes): void };
  readonly conflicts: { add(value: number, attributes?: Attributes): void };
  readonly csrf: { add(value: number, attributes?: Attributes): void };
  readonly storeErrors: { add(value: number, attributes?: Attributes): void };
  readonly storeDuration: { record(value: number, attributes?: Attributes): void };
}

/** The gauges' sources: read at each collection. */
export interface GaugeSources {
  readonly activeSessions: (() => number | Promise<number>) | null;
  readonly openStreams: (() => number) | null;
}

/**
 * The meter `metrics: true` records to: the global provider's, which needs `@opentelemetry/api`.
 *
 * @throws {@link ConfigError} when `@opentelemetry/api` is not installed, naming the command that installs it.
 * @example
 * ```ts
 * const meter = globalMeter(); // metrics.getMeterProvider().getMeter('tessera')
 * ```
 */
export function globalMeter(): OtelMeter {
  const api = loadPeer<{ metrics: { getMeterProvider(): OtelMeterProvider } }>('@opentelemetry/api', 'metrics: true (OpenTelemetry)');
  return api.metrics.getMeterProvider().getMeter('tessera');
}

/**
 * The meter of `given`: a meter, or a provider's meter named `tessera`.
 *
 * @throws {@link ConfigError} when `given` is neither.
 * @example
 * ```ts
 * const meter = meterOf(new MeterProvider({ readers: [reader] }));
 * ```
 */
export function meterOf(given: OtelMeter | OtelMeterProvider): OtelMeter {
  if (given !== null && typeof given === 'object') {
    if (typeof (given as OtelMeter).createCounter === 'function') return given as OtelMeter;
    if (typeof (given as OtelMeterProvider).getMeter === 'function') return (given as OtelMeterProvider).getMeter('tessera');
  }
  throw new ConfigError('metrics.meter must be an OpenTelemetry Meter, and metrics.meterProvider a MeterProvider');
}

/**
 * tessera's instruments on `meter` (names in OpenTelemetry's dotted style; see docs/observability.md),
 * the gauges reading `gauges` at each collection.
 *
 * @example
 * ```ts
 * const instruments = instrumentsOn(meter, { activeSessions: null, openStreams: () => hub.streams });
 * instruments.created.add(1);
 * ```
 */
export function instrumentsOn(meter: OtelMeter, gauges: GaugeSources): OtelInstruments {
  const instruments: OtelInstruments = {
    created: meter.createCounter('tessera.sessions.created', { description: 'Sessions first stored', unit: '{session}' }),
    commits: meter.createCounter('tessera.commits', { description: 'Session commits written to the store (or, with CookieStore, to the cookie)', unit: '{commit}' }),
    conflicts: meter.createCounter('tessera.commit.conflicts', { description: 'Commits that met another writer\'s version', unit: '{conflict}' }),
    csrf: meter.createCounter('tessera.csrf.rejections', { description: 'Unsafe requests refused by the CSRF check', unit: '{request}' }),
    storeErrors: meter.createCounter('tessera.store.errors', { description: 'Store calls that failed or timed out', unit: '{call}' }),
    storeDuration: meter.createHistogram('tessera.store.duration', {
      description: 'Time the session store took to answer',
      unit: 's',
      advice: { explicitBucketBoundaries: [...DURATION_BUCKETS] },
    }),
  };
  const { activeSessions, openStreams } = gauges;
  if (activeSessions !== null) {
    meter.createObservableGauge('tessera.sessions.active', { description: 'Live sessions in the store', unit: '{session}' }).addCallback(async (result) => {
      result.observe(await activeSessions());
    });
  }
  if (openStreams !== null) {
    meter.createObservableGauge('tessera.live.streams', { description: 'Open live-tab event streams in this process', unit: '{stream}' }).addCallback((result) => {
      result.observe(openStreams());
    });
  }
  return instruments;
}
