/**
 * The data behind the admin page's chart and its "who's online" count: every `every` ms, one
 * process counts the sessions (and distinct users) with a tab active in the last `window` ms —
 * one `tessera.activity.activeSessions` query — and keeps the counts in a bounded ring. The page
 * polls the ring ({@link ActivitySampler.snapshot}); a poll costs no store query. One sampler per
 * manager, started by the first admin page mounted on it; its timer is unref'd and it stops
 * itself once the manager is closed.
 *
 * @module
 */
import { ConfigError } from '../errors.js';
import type { Tessera } from '../manager.js';

const SECOND = 1_000;
/** Most sessions one sample counts: past it the count reads "at least". */
export const SAMPLE_LIMIT = 10_000;

/**
 * The `sampler` option of the admin page: how often the chart gets a point, what "online" means,
 * and how many points are kept.
 *
 * @example
 * ```ts
 * const sampler: SamplerOptions = { every: 10_000, window: 5 * 60_000, keep: 360 }; // the defaults: an hour of points
 * ```
 */
export interface SamplerOptions {
  /** Time between two samples (ms), and between two refreshes of an open page. Default 10 000; at least 1 000. */
  every?: number;
  /** A session is online when a tab of it was active within this window (ms). Default 5 minutes. */
  window?: number;
  /** Samples kept (the chart's width). Default 360; from 2 to 10 000. */
  keep?: number;
}

/**
 * One point of the chart.
 *
 * @example
 * ```ts
 * const point: Sample = { at: Date.now(), sessions: 12, users: 9 };
 * ```
 */
export interface Sample {
  /** When it was taken (ms since the epoch). */
  readonly at: number;
  /** Sessions active within the window (at most {@link SAMPLE_LIMIT}). */
  readonly sessions: number;
  /** Distinct signed-in users among them (per tenant). */
  readonly users: number;
}

/**
 * What the page's script fetches: the settings and the points, oldest first. `available: false`
 * when the store keeps no activity (the chart then says so).
 *
 * @example
 * ```ts
 * const { samples, every } = sampler.snapshot();
 * ```
 */
export interface SamplerSnapshot {
  readonly available: boolean;
  readonly every: number;
  readonly window: number;
  readonly samples: readonly Sample[];
}

interface ResolvedSampler {
  readonly every: number;
  readonly window: number;
  readonly keep: number;
}

const samplers = new WeakMap<Tessera, ActivitySampler>();

/**
 * Samples active sessions for the admin page. Use {@link ActivitySampler.of}: one per manager.
 *
 * @example
 * ```ts
 * const sampler = ActivitySampler.of(tessera, { every: 10_000 });
 * await sampler.sample();
 * sampler.latest(); // { at, sessions, users }
 * ```
 */
export class ActivitySampler {
  readonly every: number;
  readonly window: number;
  readonly keep: number;
  readonly #tessera: Tessera;
  readonly #ring: Sample[] = [];
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<Sample | null> | null = null;

  private constructor(tessera: Tessera, options: ResolvedSampler) {
    this.#tessera = tessera;
    this.every = options.every;
    this.window = options.window;
    this.keep = options.keep;
  }

  /**
   * The sampler of `tessera`, made and started on the first call (a first sample is taken at
   * once). Later calls return the same one; options they give must agree with it.
   *
   * @throws {@link ConfigError} on bad options, or options that differ from the running sampler's.
   * @example
   * ```ts
   * const sampler = ActivitySampler.of(tessera);
   * ```
   */
  static of(tessera: Tessera, options: SamplerOptions = {}): ActivitySampler {
    const resolved = resolveSampler(options);
    const running = samplers.get(tessera);
    if (running !== undefined) {
      if (running.every !== resolved.every || running.window !== resolved.window || running.keep !== resolved.keep) {
        throw new ConfigError(
          `admin page: this manager already samples every ${running.every} ms over ${running.window} ms, keeping ${running.keep}; give every admin page of it the same sampler options`,
        );
      }
      return running;
    }
    const sampler = new ActivitySampler(tessera, resolved);
    samplers.set(tessera, sampler);
    sampler.#start();
    return sampler;
  }

  /** Whether the store keeps activity (otherwise nothing is sampled). */
  get available(): boolean {
    return this.#tessera.activity.enabled;
  }

  /**
   * Take a sample now (one store query), add it to the ring and resolve it; `null` when the store
   * keeps no activity, the manager is closed, or the query failed (logged). Overlapping calls share one query.
   *
   * @example
   * ```ts
   * const { sessions, users } = (await sampler.sample()) ?? { sessions: 0, users: 0 };
   * ```
   */
  sample(): Promise<Sample | null> {
    this.#running ??= this.#take().finally(() => (this.#running = null));
    return this.#running;
  }

  /**
   * The newest sample, or `null` before the first.
   *
   * @example
   * ```ts
   * sampler.latest()?.sessions;
   * ```
   */
  latest(): Sample | null {
    return this.#ring[this.#ring.length - 1] ?? null;
  }

  /**
   * The settings and the samples kept, oldest first.
   *
   * @example
   * ```ts
   * JSON.stringify(sampler.snapshot());
   * ```
   */
  snapshot(): SamplerSnapshot {
    return { available: this.available, every: this.every, window: this.window, samples: [...this.#ring] };
  }

  /**
   * Stop sampling (also done by itself once the manager is closed). The samples stay readable.
   *
   * @example
   * ```ts
   * sampler.stop();
   * ```
   */
  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    if (samplers.get(this.#tessera) === this) samplers.delete(this.#tessera);
  }

  #start(): void {
    if (!this.available) return;
    void this.sample();
    this.#timer = setInterval(() => void this.sample(), this.every);
    this.#timer.unref();
  }

  async #take(): Promise<Sample | null> {
    const tessera = this.#tessera;
    if (tessera.closed) {
      this.stop();
      return null;
    }
    if (!this.available) return null;
    const at = tessera.options.now();
    let online;
    try {
      online = await tessera.activity.activeSessions({ since: at - this.window, limit: SAMPLE_LIMIT });
    } catch (error) {
      if (tessera.closed) this.stop();
      else tessera.options.logger.warn?.({ error: String(error) }, 'tessera: admin page: sampling active sessions failed');
      return null;
    }
    const users = new Set<string>();
    for (const s of online) if (s.userId !== null) users.add(`${s.tenant ?? ''}\0${s.userId}`);
    const sample = { at, sessions: online.length, users: users.size };
    this.#ring.push(sample);
    if (this.#ring.length > this.keep) this.#ring.splice(0, this.#ring.length - this.keep);
    return sample;
  }
}

function resolveSampler(options: SamplerOptions): ResolvedSampler {
  if (options === null || typeof options !== 'object') throw new ConfigError('admin page: sampler must be { every?, window?, keep? }');
  const every = options.every ?? 10 * SECOND;
  const window = options.window ?? 5 * 60 * SECOND;
  const keep = options.keep ?? 360;
  if (typeof every !== 'number' || !Number.isInteger(every) || every < SECOND || every > 3_600_000) {
    throw new ConfigError('admin page: sampler.every must be a whole number of ms from 1 000 to 3 600 000');
  }
  if (typeof window !== 'number' || !Number.isInteger(window) || window < SECOND) throw new ConfigError('admin page: sampler.window must be a whole number of ms, at least 1 000');
  if (typeof keep !== 'number' || !Number.isInteger(keep) || keep < 2 || keep > 10_000) throw new ConfigError('admin page: sampler.keep must be an integer from 2 to 10 000');
  return { every, window, keep };
}
