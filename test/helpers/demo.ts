/**
 * The demo tests' browser (a cookie jar that posts forms with their CSRF token), what they read off
 * the pages, and the stores `STORE=` can pick, with their clean-up (Redis and PostgreSQL skipped,
 * saying so, when down).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { PG_URL, REDIS_URL, serviceSkip } from './services.js';

/** The session cookie's names (plain http; production's), and the readable CSRF token cookie's. */
const SESSION_COOKIES = new Set(['tessera', '__Host-tessera']);

/** A browser, as far as cookies go: a jar that keeps what Set-Cookie gives, drops what it expires. */
export class Client {
  /** Cookie values by name, sent back with every request. */
  readonly jar = new Map<string, string>();
  lastSetCookie: string[] = [];
  constructor(
    readonly base: string,
    readonly userAgent?: string,
  ) {}

  /** `name=value` of the session cookie, if the client holds one. Settable, as a copied cookie. */
  get cookie(): string | undefined {
    for (const [name, value] of this.jar) if (SESSION_COOKIES.has(name)) return `${name}=${value}`;
    return undefined;
  }
  set cookie(pair: string | undefined) {
    for (const name of SESSION_COOKIES) this.jar.delete(name);
    if (pair !== undefined) this.jar.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
  }

  async get(path: string, init: RequestInit = {}): Promise<{ status: number; body: string; headers: Headers }> {
    const headers = new Headers(init.headers);
    if (this.jar.size > 0) headers.set('cookie', [...this.jar].map(([name, value]) => `${name}=${value}`).join('; '));
    if (this.userAgent !== undefined && !headers.has('user-agent')) headers.set('user-agent', this.userAgent);
    const res = await fetch(new URL(path, this.base), { ...init, headers, redirect: 'manual' });
    this.lastSetCookie = res.headers.getSetCookie();
    for (const line of this.lastSetCookie) {
      const pair = line.split(';', 1)[0]!;
      const name = pair.slice(0, pair.indexOf('='));
      if (/;\s*Max-Age=0/i.test(line)) this.jar.delete(name);
      else this.jar.set(name, pair.slice(pair.indexOf('=') + 1));
    }
    return { status: res.status, body: await res.text(), headers: res.headers };
  }

  /**
   * POST a URL-encoded form, as a browser submits one: `fields`, plus the `_csrf` token from the
   * page at `from` (the hidden field its forms carry) unless `csrf: false`.
   */
  async post(path: string, fields: Record<string, string> = {}, options: { from?: string; csrf?: boolean; headers?: Record<string, string> } = {}) {
    const form = new URLSearchParams(fields);
    if (options.csrf !== false) form.set('_csrf', csrfTokenIn((await this.get(options.from ?? '/account')).body));
    return this.get(path, { method: 'POST', body: form, headers: options.headers });
  }

  /** GET /increment and read the counter off the page. */
  async increment(): Promise<number> {
    const { status, body } = await this.get('/increment');
    assert.equal(status, 200);
    const m = /<output id="count">(\d+)<\/output>/.exec(body);
    assert.ok(m, 'the counter is on the page');
    return Number(m[1]);
  }

  /** Sign in as `name` through the form; asserts the 303 to /account. */
  async signIn(name: string): Promise<void> {
    const res = await this.post('/sign-in', { name }, { from: '/sign-in' });
    assert.equal(res.status, 303, res.body);
    assert.equal(res.headers.get('location'), '/account');
  }

  /** The session ID the cookie carries (`name=id.signature`, or `name=id~signature` provisional). */
  get sessionId(): string {
    const cookie = this.cookie;
    assert.ok(cookie, 'the client holds a session cookie');
    return cookie.slice(cookie.indexOf('=') + 1).split(/[.~]/)[0]!;
  }
}

/** The CSRF token of the first form on a page (its hidden `_csrf` field). */
export function csrfTokenIn(page: string): string {
  const m = /<input type="hidden" name="_csrf" value="([^"]+)">/.exec(page);
  assert.ok(m, 'the page has a form with a CSRF token');
  return m[1]!;
}

/** The devices the account page lists: browser, IP, last active, this device or a revoke handle. */
export function devicesIn(page: string): { browser: string; ip: string; lastActive: string; current: boolean; handle: string | null }[] {
  return [...page.matchAll(/<tr class="device( current)?">([\s\S]*?)<\/tr>/g)].map(([, current, row]) => {
    const cells = [...row!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => m[1]!);
    return {
      browser: cells[0]!,
      ip: cells[1]!,
      lastActive: /<time[^>]*>([^<]*)<\/time>/.exec(cells[2]!)?.[1] ?? '',
      current: current !== undefined,
      handle: /name="handle" value="([^"]+)"/.exec(cells[3]!)?.[1] ?? null,
    };
  });
}

export const CHROME_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
export const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
export const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

export const ENV = { NODE_ENV: 'test' } as NodeJS.ProcessEnv;

const redisSkip = await serviceSkip('Redis', REDIS_URL);
const pgSkip = await serviceSkip('PostgreSQL', PG_URL);

/** A store the counter runs on: its `STORE` value, what the home page calls it, and how to clean up. */
export interface StoreCase {
  readonly name: string;
  readonly store: (dataDir: string) => string;
  readonly label: RegExp;
  readonly skip: string | false;
  readonly cleanup?: () => Promise<void>;
}

/** Keys and tables of this process only: other test processes may share the servers. */
const redisPrefix = `tessera-demo-test:${process.pid}:`;
const pgTable = `tessera_demo_test_${process.pid}`;

export const STORE_CASES: StoreCase[] = [
  { name: 'memory', store: () => 'memory', label: /<strong>memory<\/strong>/, skip: false },
  { name: 'file', store: (dir) => `file:${join(dir, 'file-sessions')}`, label: /<strong>files<\/strong>/, skip: false },
  { name: 'cookie', store: () => 'cookie', label: /<strong>encrypted cookie<\/strong>/, skip: false },
  {
    name: 'Redis',
    store: () => `${REDIS_URL}${REDIS_URL.includes('?') ? '&' : '?'}prefix=${encodeURIComponent(redisPrefix)}`,
    label: /<strong>Redis<\/strong>/,
    skip: redisSkip,
    cleanup: async () => {
      const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      try {
        const keys = await client.keys(`${redisPrefix}*`);
        if (keys.length > 0) await client.del(...keys);
      } finally {
        client.disconnect();
      }
    },
  },
  {
    name: 'PostgreSQL',
    store: () => `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}table=${pgTable}`,
    label: /<strong>PostgreSQL<\/strong>/,
    skip: pgSkip,
    cleanup: async () => {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        await client.query(`DROP TABLE IF EXISTS "${pgTable}"`);
      } finally {
        await client.end();
      }
    },
  },
];
