/**
 * Metrics through OpenTelemetry: sdk-metrics' MeterProvider with a pull reader, read after real
 * requests — the app's provider, its meter, or the global provider (`metrics: true`); and the clear
 * error when `@opentelemetry/api` is not installed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metrics as otelMetrics } from '@opentelemetry/api';
import { DataPointType, MeterProvider, MetricReader, type HistogramMetricData, type MetricData } from '@opentelemetry/sdk-metrics';
import { createTessera } from '../../src/index.js';
import type { Tessera } from '../../src/manager.js';
import type { MetricsOptions } from '../../src/metrics/metrics.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { substitutePeer } from '../../src/stores/peer.js';
import { Browser } from '../helpers/browser.js';

const SECRET = 'otel-metrics-test-secret-0123456789abcdef';

/** A reader the test pulls from. */
class PullReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** The metrics `reader` holds now, by name. */
async function read(reader: MetricReader): Promise<Map<string, MetricData>> {
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, []);
  return new Map(resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).map((m) => [m.descriptor.name, m]));
}

/** The single value of a counter or gauge, or the value of the data point with `attributes`. */
function value(metric: MetricData | undefined, attributes: Record<string, string> = {}): number | undefined {
  const point = metric?.dataPoints.find((p) => JSON.stringify(p.attributes) === JSON.stringify(attributes));
  return point?.value as number | undefined;
}

/** A tessera recording to `otel`, and some traffic: two sessions, one written twice, a CSRF refusal. */
async function traffic(otel: MetricsOptions['otel']): Promise<Tessera> {
  const tessera = createTessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, cookie: { secure: true }, metrics: { otel, prometheus: false }, logger: {} });
  const ann = new Browser(tessera);
  await ann.request((s) => s.set('a', 1));
  await ann.request((s) => s.set('a', 2));
  await new Browser(tessera).request((s) => s.set('b', 1));
  const ctx = tessera.begin({ cookieHeader: ann.cookieHeader }, { writable: () => true, setCookie: () => true, withdrawCookie: () => {} });
  const refused = await tessera.checkCsrf(ctx, { method: 'POST', path: '/x', host: 'a.example', origin: 'https://evil.example', secFetchSite: 'cross-site', token: undefined });
  assert.equal(refused?.reason, 'cross-site');
  return tessera;
}

describe('metrics through OpenTelemetry', () => {
  it("records to the app's MeterProvider: counters, the store-latency histogram, the active-sessions gauge", async () => {
    const reader = new PullReader();
    const provider = new MeterProvider({ readers: [reader] });
    const tessera = await traffic(provider);
    const found = await read(reader);
    assert.equal(value(found.get('tessera.sessions.created')), 2);
    assert.equal(value(found.get('tessera.commits')), 3);
    assert.equal(value(found.get('tessera.commit.conflicts')), undefined, 'no conflict: no data point');
    assert.equal(value(found.get('tessera.csrf.rejections'), { 'tessera.csrf.reason': 'cross-site' }), 1);
    assert.equal(value(found.get('tessera.sessions.active')), 2);
    assert.equal(found.get('tessera.live.streams'), undefined, 'live tabs are off: no gauge');

    const duration = found.get('tessera.store.duration') as HistogramMetricData;
    assert.equal(duration.dataPointType, DataPointType.HISTOGRAM);
    assert.equal(duration.descriptor.unit, 's');
    const sets = duration.dataPoints.find((p) => p.attributes['tessera.store.operation'] === 'set')!;
    assert.equal(sets.value.count, 3, 'one set per commit');
    assert.ok(sets.value.sum! >= 0 && sets.value.sum! < 1);
    assert.deepEqual(sets.value.buckets.boundaries.slice(0, 3), [0.0001, 0.0005, 0.001], "tessera's bucket advice");
    await tessera.close();
    await provider.shutdown();
  });

  it('records to a meter the app gives', async () => {
    const reader = new PullReader();
    const provider = new MeterProvider({ readers: [reader] });
    const tessera = await traffic(provider.getMeter('my-app'));
    const found = await read(reader);
    assert.equal(value(found.get('tessera.sessions.created')), 2);
    await tessera.close();
    await provider.shutdown();
  });

  it('metrics: true records to the global provider, and keeps the Prometheus text too', async () => {
    const reader = new PullReader();
    const provider = new MeterProvider({ readers: [reader] });
    assert.ok(otelMetrics.setGlobalMeterProvider(provider));
    try {
      const tessera = createTessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, cookie: { secure: true }, metrics: true, logger: {} });
      await new Browser(tessera).request((s) => s.set('a', 1));
      assert.equal(value((await read(reader)).get('tessera.sessions.created')), 1);
      assert.match(await tessera.metrics.prometheus(), /^tessera_sessions_created_total 1$/m);
      await tessera.close();
    } finally {
      otelMetrics.disable();
      await provider.shutdown();
    }
  });

  it('metrics: true without @opentelemetry/api installed: a ConfigError naming the package', () => {
    substitutePeer('@opentelemetry/api', 'tessera-test-not-installed');
    try {
      assert.throws(() => createTessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, metrics: true }), {
        code: 'ERR_CONFIG',
        message: /needs the @opentelemetry\/api package, which is not installed: npm install @opentelemetry\/api/,
      });
      // Prometheus alone needs no package.
      createTessera({ secrets: [SECRET], store: new MemoryStore(), cleanupInterval: 0, metrics: {} }).close();
    } finally {
      substitutePeer('@opentelemetry/api', undefined);
    }
  });
});
