/**
 * Counters, gauges and a histogram kept in this process, and their Prometheus text exposition
 * (format 0.0.4): what `tessera.metrics.prometheus()` serves, with no dependency.
 *
 * @module
 * @internal
 */

/** Upper bounds (seconds) of the store-duration histogram's buckets: 100 µs to 10 s. */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

/** One counter: a value per label value (`''` for a counter without a label). */
class Counter {
  readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly label: string | null,
  ) {}

  add(labelValue = ''): void {
    this.values.set(labelValue, (this.values.get(labelValue) ?? 0) + 1);
  }
}

/** One histogram per label value: counts per bucket (made cumulative when written out), sum and count. */
class Histogram {
  readonly series = new Map<string, { buckets: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly label: string,
  ) {}

  observe(labelValue: string, value: number): void {
    let s = this.series.get(labelValue);
    if (s === undefined) this.series.set(labelValue, (s = { buckets: DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 }));
    // The first bucket that holds it (none: only +Inf, which is `count`).
    let i = 0;
    while (i < DURATION_BUCKETS.length && value > DURATION_BUCKETS[i]!) i++;
    if (i < DURATION_BUCKETS.length) s.buckets[i]!++;
    s.sum += value;
    s.count++;
  }
}

/** A gauge read when scraped. */
interface Gauge {
  readonly name: string;
  readonly help: string;
  readonly read: () => number | Promise<number>;
}

/**
 * tessera's metrics as Prometheus keeps them: `_total` counters, a `_seconds` histogram, gauges.
 *
 * @example
 * ```ts
 * const registry = new PrometheusRegistry();
 * registry.created.add();
 * await registry.text(); // '# HELP tessera_sessions_created_total ...'
 * ```
 */
export class PrometheusRegistry {
  readonly created = new Counter('tessera_sessions_created_total', 'Sessions first stored.', null);
  readonly commits = new Counter('tessera_commits_total', 'Session commits written to the store (or, with CookieStore, to the cookie).', null);
  readonly conflicts = new Counter('tessera_commit_conflicts_total', 'Commits that met another writer\'s version and were applied again on top of it.', null);
  readonly csrf = new Counter('tessera_csrf_rejections_total', 'Unsafe requests refused by the CSRF check, by reason.', 'reason');
  readonly storeErrors = new Counter('tessera_store_errors_total', 'Store calls that failed or timed out, by operation.', 'operation');
  readonly storeDuration = new Histogram('tessera_store_duration_seconds', 'Time the session store took to answer, by operation.', 'operation');
  readonly #gauges: Gauge[] = [];

  /** Add a gauge read at each scrape. */
  gauge(name: string, help: string, read: () => number | Promise<number>): void {
    this.#gauges.push({ name, help, read });
  }

  /** The exposition text (a gauge that fails to read is left out of it). */
  async text(): Promise<string> {
    const out: string[] = [];
    for (const counter of [this.created, this.commits, this.conflicts, this.csrf, this.storeErrors]) {
      out.push(`# HELP ${counter.name} ${counter.help}`, `# TYPE ${counter.name} counter`);
      if (counter.label === null) out.push(`${counter.name} ${counter.values.get('') ?? 0}`);
      else for (const [value, n] of counter.values) out.push(`${counter.name}{${counter.label}="${escapeLabel(value)}"} ${n}`);
    }
    const h = this.storeDuration;
    out.push(`# HELP ${h.name} ${h.help}`, `# TYPE ${h.name} histogram`);
    for (const [value, s] of h.series) {
      const label = `${h.label}="${escapeLabel(value)}"`;
      let cumulative = 0;
      DURATION_BUCKETS.forEach((le, i) => out.push(`${h.name}_bucket{${label},le="${le}"} ${(cumulative += s.buckets[i]!)}`));
      out.push(`${h.name}_bucket{${label},le="+Inf"} ${s.count}`, `${h.name}_sum{${label}} ${s.sum}`, `${h.name}_count{${label}} ${s.count}`);
    }
    for (const gauge of this.#gauges) {
      let value: number;
      try {
        value = await gauge.read();
      } catch {
        continue;
      }
      out.push(`# HELP ${gauge.name} ${gauge.help}`, `# TYPE ${gauge.name} gauge`, `${gauge.name} ${value}`);
    }
    return `${out.join('\n')}\n`;
  }
}

/** A label value as the text format writes it: backslash, quote and newline escaped. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
