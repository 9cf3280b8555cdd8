/**
 * The parent side of the bench: starts each server under test in its own child process, drives it
 * with autocannon from this process, and collects one {@link RoundResult} per measured round.
 *
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { Scenario } from '../scenarios.js';
import type { ChildMessage, ParentMessage, ReadyMessage, StatsMessage } from './protocol.js';

const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));

/** Load-generator settings shared by every round. */
export interface LoadOptions {
  /** Concurrent keep-alive connections. */
  connections: number;
  /** Seconds per round. */
  duration: number;
  /** HTTP/1.1 pipelining depth per connection (1: none, as browsers do). */
  pipelining: number;
}

/** What one measured round of one scenario produced. */
export interface RoundResult {
  /** Completed requests per second (responses / elapsed seconds). */
  rps: number;
  requests: number;
  /** Seconds the round took. */
  seconds: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Server CPU time (user + system) per request, in µs: independent of the load generator. */
  cpuMicrosPerRequest: number;
  /** Server event-loop utilisation during the round (0..1). */
  elu: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Requests that missed the measured path (see `StatsMessage.anomalies`). */
  anomalies: number;
  /** With `followCookies`: responses that carried no new session cookie for the client to send back. */
  cookieMisses: number;
}

/**
 * A server under test, in its own child process.
 *
 * @example
 * ```ts
 * const server = new ServerProcess(scenario);
 * await server.start(load, { compiled: buildForBench() });
 * await server.warmUp(load, 3);
 * const round = await server.measure(load); // { rps, cpuMicrosPerRequest, elu, ... }
 * await server.stop();
 * ```
 */
export class ServerProcess {
  readonly scenario: Scenario;
  #child: ChildProcess | null = null;
  #ready: ReadyMessage | null = null;
  #waiting: { type: ChildMessage['type']; resolve: (m: ChildMessage) => void; reject: (e: Error) => void } | null = null;
  #exit: Error | null = null;
  /** Responses without a Set-Cookie since the last measured round began (`followCookies` only). */
  #cookieMisses = 0;

  constructor(scenario: Scenario) {
    this.scenario = scenario;
  }

  /** The URL clients hit. */
  get url(): string {
    return `http://127.0.0.1:${this.#ready!.port}/`;
  }

  /** The server's description of its set-up. */
  get description(): string {
    return this.#ready?.description ?? '';
  }

  /**
   * Fork the server module and wait until it listens. `compiled` is the folder from
   * `buildForBench()` (the server runs as plain JavaScript); without it the TypeScript source runs
   * under the tsx loader. `nodeOptions` are extra `node` flags (e.g. `--cpu-prof`).
   */
  async start(load: LoadOptions, runtime: { compiled?: string | undefined; nodeOptions?: readonly string[] } = {}): Promise<void> {
    const module = runtime.compiled
      ? join(runtime.compiled, 'bench', this.scenario.server.replace(/\.ts$/, '.js'))
      : join(BENCH_DIR, this.scenario.server);
    const child = fork(module, [...(this.scenario.args ?? [])], {
      execArgv: [...(runtime.compiled ? [] : ['--import', 'tsx']), ...(runtime.nodeOptions ?? [])],
      env: { ...process.env, NODE_ENV: 'production', BENCH_CONNECTIONS: String(load.connections), ...this.scenario.env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child = child;
    child.on('message', (message: ChildMessage) => {
      const waiting = this.#waiting;
      if (message.type === 'failed') {
        this.#waiting = null;
        waiting?.reject(new Error(`${this.scenario.name}: server set-up failed:\n${message.error}`));
        return;
      }
      if (waiting && waiting.type === message.type) {
        this.#waiting = null;
        waiting.resolve(message);
      }
    });
    child.on('exit', (code, signal) => {
      this.#exit = new Error(`${this.scenario.name}: server exited (code ${code}, signal ${signal})`);
      this.#waiting?.reject(this.#exit);
      this.#waiting = null;
    });
    this.#ready = (await this.#next('ready', 60_000)) as ReadyMessage;
  }

  /** One round: snapshot the server, load it for `duration` seconds, collect both sides' figures. */
  async measure(load: LoadOptions): Promise<RoundResult> {
    await this.#ask({ type: 'begin' }, 'begun');
    this.#cookieMisses = 0;
    const result = await this.#load(load, load.duration);
    const stats = (await this.#ask({ type: 'end' }, 'stats')) as StatsMessage;
    const requests = result.requests.total;
    return {
      rps: requests / result.duration,
      requests,
      seconds: result.duration,
      latencyP50Ms: result.latency.p50,
      latencyP99Ms: result.latency.p99,
      cpuMicrosPerRequest: requests > 0 ? stats.cpuMicros / requests : Number.NaN,
      elu: stats.elu,
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      anomalies: stats.anomalies,
      cookieMisses: this.#cookieMisses,
    };
  }

  /** Load the server without measuring (JIT warm-up, caches, connection set-up). */
  async warmUp(load: LoadOptions, seconds: number): Promise<void> {
    if (seconds > 0) await this.#load(load, seconds);
  }

  /** Stop the child (it exits when the IPC channel closes). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.disconnect();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  #load(load: LoadOptions, seconds: number): Promise<autocannon.Result> {
    const sets = this.#ready!.headerSets;
    const options: autocannon.Options = {
      url: this.url,
      connections: load.connections,
      pipelining: load.pipelining,
      duration: seconds,
    };
    if (this.#ready!.followCookies) {
      // A cookie jar per connection: each response's Set-Cookie replaces the cookie the connection
      // sends. The head of a response is parsed before the connection sends its next request, so
      // without pipelining every request carries the cookie of the response before it.
      if (load.pipelining > 1) return Promise.reject(new Error(`${this.scenario.name}: following cookies needs --pipelining 1`));
      let next = 0;
      options.setupClient = (client) => {
        const jar = new Map<string, string>();
        const initial = sets.length > 0 ? sets[next++ % sets.length]! : {};
        for (const pair of (initial.cookie ?? '').split(/;\s*/).filter(Boolean)) jar.set(pair.slice(0, pair.indexOf('=')), pair);
        const send = () => client.setHeaders({ ...initial, cookie: [...jar.values()].join('; ') });
        send();
        client.on('headers', ({ headers }) => {
          let found = false;
          for (let i = 0; i + 1 < headers.length; i += 2) {
            if (headers[i]!.toLowerCase() !== 'set-cookie') continue;
            const pair = headers[i + 1]!.split(';', 1)[0]!;
            jar.set(pair.slice(0, pair.indexOf('=')), pair);
            found = true;
          }
          if (found) send();
          else this.#cookieMisses++;
        });
      };
    } else if (sets.length === 1) {
      options.headers = sets[0]!;
    } else if (sets.length > 1) {
      // autocannon refuses per-connection headers with pipelining.
      if (load.pipelining > 1) return Promise.reject(new Error(`${this.scenario.name}: per-connection headers need --pipelining 1`));
      let next = 0;
      options.setupClient = (client) => client.setHeaders(sets[next++ % sets.length]);
    }
    return Promise.resolve(autocannon(options));
  }

  async #ask(message: ParentMessage, reply: ChildMessage['type']): Promise<ChildMessage> {
    const answer = this.#next(reply, 10_000);
    this.#child!.send(message);
    return answer;
  }

  #next(type: ChildMessage['type'], timeoutMs: number): Promise<ChildMessage> {
    if (this.#exit) return Promise.reject(this.#exit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting = null;
        reject(new Error(`${this.scenario.name}: no '${type}' from the server within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting = {
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }
}
