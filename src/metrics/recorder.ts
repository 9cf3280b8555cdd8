/**
 * Where the core's counts go when metrics are on: the in-process Prometheus registry, an
 * OpenTelemetry meter's instruments, or both. With metrics off there is no recorder at all, so
 * the request path pays one `null` check.
 *
 * @module
 * @internal
 */
import type { AuditEventType } from '../core/events.js';
import type { OtelInstruments } from './otel.js';
import type { PrometheusRegistry } from './prometheus.js';

/** A store call tessera times. */
export type StoreOperation = 'get' | 'set' | 'delete';

/** The attributes of each store operation, made once: a measurement allocates none. */
const OPERATION_ATTRIBUTES: Readonly<Record<StoreOperation, Record<string, string>>> = {
  get: Object.freeze({ 'tessera.store.operation': 'get' }),
  set: Object.freeze({ 'tessera.store.operation': 'set' }),
  delete: Object.freeze({ 'tessera.store.operation': 'delete' }),
};

/**
 * Records tessera's counts and timings.
 *
 * @example
 * ```ts
 * const recorder = new MetricsRecorder(new PrometheusRegistry(), null);
 * recorder.event('created');
 * recorder.store('get', 0.0004, false);
 * ```
 */
export class MetricsRecorder {
  readonly #prometheus: PrometheusRegistry | null;
  readonly #otel: OtelInstruments | null;

  constructor(prometheus: PrometheusRegistry | null, otel: OtelInstruments | null) {
    this.#prometheus = prometheus;
    this.#otel = otel;
  }

  /** An audit event: counted when it is one tessera has a counter for. */
  event(type: AuditEventType, reason: string | undefined): void {
    if (type === 'created') {
      this.#prometheus?.created.add();
      this.#otel?.created.add(1);
    } else if (type === 'conflict') {
      this.#prometheus?.conflicts.add();
      this.#otel?.conflicts.add(1);
    } else if (type === 'csrfRejected') {
      this.#prometheus?.csrf.add(reason ?? 'unknown');
      this.#otel?.csrf.add(1, { 'tessera.csrf.reason': reason ?? 'unknown' });
    }
  }

  /** A commit written. */
  commit(): void {
    this.#prometheus?.commits.add();
    this.#otel?.commits.add(1);
  }

  /** A store call answered (or failed, `failed`) after `seconds`. */
  store(operation: StoreOperation, seconds: number, failed: boolean): void {
    const prometheus = this.#prometheus;
    if (prometheus !== null) {
      prometheus.storeDuration.observe(operation, seconds);
      if (failed) prometheus.storeErrors.add(operation);
    }
    const otel = this.#otel;
    if (otel !== null) {
      otel.storeDuration.record(seconds, OPERATION_ATTRIBUTES[operation]);
      if (failed) otel.storeErrors.add(1, OPERATION_ATTRIBUTES[operation]);
    }
  }
}
