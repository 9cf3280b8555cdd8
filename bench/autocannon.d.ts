/**
 * The slice of autocannon's programmatic API the bench uses (autocannon ships no types, and
 * `@types/autocannon` is not a dependency). See node_modules/autocannon/README.md.
 */
declare module 'autocannon' {
  namespace autocannon {
    /** One autocannon connection. */
    interface Client {
      setHeaders(headers: Record<string, string> | undefined): void;
      /**
       * `headers`: emitted when a response's head has been parsed, before the connection sends its
       * next request. `info.headers` is the raw list: name, value, name, value, …
       */
      on(event: 'headers', listener: (info: { statusCode: number; headers: string[] }) => void): this;
    }

    interface Options {
      url: string;
      connections?: number;
      pipelining?: number;
      /** Seconds. */
      duration?: number;
      /** Seconds to wait for a response. */
      timeout?: number;
      method?: string;
      headers?: Record<string, string>;
      title?: string;
      setupClient?: (client: Client) => void;
    }

    /** A histogram summary (per-second samples for `requests`, ms for `latency`). */
    interface Histogram {
      average: number;
      mean: number;
      stddev: number;
      min: number;
      max: number;
      total: number;
      p50: number;
      p90: number;
      p99: number;
    }

    interface Result {
      title?: string;
      url: string;
      requests: Histogram;
      latency: Histogram;
      throughput: Histogram;
      /** Seconds the run took. */
      duration: number;
      errors: number;
      timeouts: number;
      non2xx: number;
      connections: number;
      pipelining: number;
    }

    /** A running instance: an EventEmitter that is also a promise of the result. */
    interface Instance extends PromiseLike<Result> {
      stop(): void;
    }
  }

  function autocannon(options: autocannon.Options): autocannon.Instance;
  export = autocannon;
}
