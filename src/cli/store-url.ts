/**
 * The `--store` URL of the CLI (or `TESSERA_STORE`): which store, and its options. One URL names
 * each store the CLI can open:
 *
 * - `sqlite:./data/sessions.db`, `sqlite:///var/lib/app/sessions.db` — a SQLite file; `?table=`.
 * - `file:./data/sessions`, `file:///var/lib/app/sessions` — a `FileStore` folder; no parameters.
 * - `postgres://user:pass@host:5432/db` (or `postgresql://`) — `?table=`, `?schema=` for tessera;
 *   `sslmode`, `application_name` and the other connection parameters pg knows go to pg.
 * - `redis://host:6379/0` (or `rediss://`) — `?prefix=` (default `tessera:`), `?timeout=` (ms).
 *
 * Anything else — another scheme, a parameter the store does not take, an empty path — is a
 * {@link ConfigError}, so a typo never reaches the wrong table or prefix.
 *
 * @module
 */
import { ConfigError } from '../errors.js';

/** The environment variable read when `--store` is not given. */
export const STORE_ENV = 'TESSERA_STORE';

/**
 * A store named by a URL, parsed: what the CLI opens.
 *
 * @example
 * ```ts
 * const target: StoreTarget = parseStoreUrl('sqlite:./data/sessions.db?table=app_sessions');
 * // { kind: 'sqlite', path: './data/sessions.db', table: 'app_sessions' }
 * ```
 */
export type StoreTarget =
  | { readonly kind: 'sqlite'; readonly path: string; readonly table?: string }
  | { readonly kind: 'file'; readonly dir: string }
  | { readonly kind: 'postgres'; readonly connectionString: string; readonly table?: string; readonly schema?: string }
  | { readonly kind: 'redis'; readonly url: string; readonly prefix?: string; readonly timeout?: number };

/** Connection parameters pg reads from a connection string (pg-connection-string), passed on to it. */
const PG_PARAMS = new Set([
  'host',
  'port',
  'user',
  'password',
  'database',
  'ssl',
  'sslmode',
  'sslcert',
  'sslkey',
  'sslrootcert',
  'application_name',
  'fallback_application_name',
  'options',
  'client_encoding',
  'connect_timeout',
]);

/**
 * Parse a `--store` URL. The password of a PostgreSQL or Redis URL stays in it (the drivers need
 * it); {@link describeStore} gives a form without it for messages.
 *
 * @throws {@link ConfigError} for an unknown scheme, an unknown or repeated parameter, a bad value.
 * @example
 * ```ts
 * parseStoreUrl('redis://127.0.0.1:6379?prefix=myapp:sess:'); // { kind: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'myapp:sess:' }
 * parseStoreUrl('mysql://db');                                  // throws ConfigError
 * ```
 */
export function parseStoreUrl(text: string): StoreTarget {
  if (typeof text !== 'string' || text.trim() === '') throw new ConfigError(`no store given: pass --store <url> or set ${STORE_ENV}`);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'sqlite': {
      const { path, params } = splitPath(text, 'sqlite');
      const table = take(params, 'table');
      refuseRest(params, 'sqlite', ['table']);
      return table === undefined ? { kind: 'sqlite', path } : { kind: 'sqlite', path, table };
    }
    case 'file': {
      const { path, params } = splitPath(text, 'file');
      refuseRest(params, 'file', []);
      return { kind: 'file', dir: path };
    }
    case 'postgres':
    case 'postgresql': {
      const url = parseUrl(text);
      const table = take(url.searchParams, 'table');
      const schema = take(url.searchParams, 'schema');
      const unknown = [...new Set(url.searchParams.keys())].filter((name) => !PG_PARAMS.has(name));
      if (unknown.length > 0) {
        throw new ConfigError(
          `store URL: unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} ` +
            '(a postgres store URL takes table, schema, and the connection parameters of pg: sslmode, application_name, …)',
        );
      }
      return { kind: 'postgres', connectionString: url.href, ...(table === undefined ? {} : { table }), ...(schema === undefined ? {} : { schema }) };
    }
    case 'redis':
    case 'rediss': {
      const url = parseUrl(text);
      const prefix = take(url.searchParams, 'prefix');
      const timeoutText = take(url.searchParams, 'timeout');
      refuseRest(url.searchParams, 'redis', ['prefix', 'timeout']);
      let timeout: number | undefined;
      if (timeoutText !== undefined) {
        timeout = Number(timeoutText);
        if (!/^\d+$/.test(timeoutText) || timeout < 1) throw new ConfigError(`store URL: timeout must be a positive whole number of milliseconds, not ${JSON.stringify(timeoutText)}`);
      }
      url.search = '';
      return { kind: 'redis', url: url.href, ...(prefix === undefined ? {} : { prefix }), ...(timeout === undefined ? {} : { timeout }) };
    }
    default:
      throw new ConfigError(
        `store URL ${JSON.stringify(redact(text))}: unknown scheme${scheme === undefined ? '' : ` "${scheme}:"`}; ` +
          'use sqlite:<path>, file:<dir>, postgres://… or redis://…',
      );
  }
}

/**
 * A store URL fit for messages and logs: the password, if any, replaced by `***`.
 *
 * @example
 * ```ts
 * describeStore('postgres://app:s3cret@db/app'); // 'postgres://app:***@db/app'
 * ```
 */
export function describeStore(text: string): string {
  return redact(text);
}

/** Query parameters that carry secrets (pg's connection parameters). */
const SECRET_PARAMS = ['password', 'sslpassword', 'sslkey'];

/** `text` with its password (in the authority or the query) replaced by `***`. */
function redact(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not a URL: drop everything between the scheme and the last `@` of the authority.
    return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@');
  }
  if (url.password !== '') url.password = '***';
  for (const name of SECRET_PARAMS) if (url.searchParams.has(name)) url.searchParams.set(name, '***');
  return url.href.replace(/%2A%2A%2A/g, '***');
}

function parseUrl(text: string): URL {
  try {
    return new URL(text);
  } catch {
    throw new ConfigError(`store URL ${JSON.stringify(redact(text))} is not a valid URL`);
  }
}

/**
 * The path of a `sqlite:` or `file:` URL and its parameters. `scheme:relative/path`,
 * `scheme:/absolute/path` and `scheme:///absolute/path` are all accepted; the path is
 * percent-decoded (`%20` for a space, `%3F` for a `?`).
 */
function splitPath(text: string, scheme: string): { path: string; params: URLSearchParams } {
  let rest = text.slice(scheme.length + 1);
  const query = rest.indexOf('?');
  const params = new URLSearchParams(query < 0 ? '' : rest.slice(query + 1));
  rest = query < 0 ? rest : rest.slice(0, query);
  if (rest.startsWith('//')) {
    // `sqlite:///abs` names /abs; `sqlite://x` would make x a host, which means nothing here.
    if (!rest.startsWith('///')) throw new ConfigError(`store URL ${JSON.stringify(text)}: write ${scheme}:<relative path> or ${scheme}:///<absolute path>`);
    rest = rest.slice(2);
  }
  let path: string;
  try {
    path = decodeURIComponent(rest);
  } catch {
    throw new ConfigError(`store URL ${JSON.stringify(text)}: the path is not validly percent-encoded`);
  }
  if (path === '') throw new ConfigError(`store URL ${JSON.stringify(text)} names no ${scheme === 'file' ? 'folder' : 'file'}: write ${scheme}:<path>`);
  return { path, params };
}

/** The value of the parameter `name`, removed from `params`; given twice or empty: an error. */
function take(params: URLSearchParams, name: string): string | undefined {
  const values = params.getAll(name);
  params.delete(name);
  if (values.length === 0) return undefined;
  if (values.length > 1) throw new ConfigError(`store URL: the parameter ${name} is given twice`);
  if (values[0] === '') throw new ConfigError(`store URL: the parameter ${name} is empty`);
  return values[0];
}

/** Refuse the parameters left in `params`, naming those `store` takes. */
function refuseRest(params: URLSearchParams, store: string, known: readonly string[]): void {
  const unknown = [...new Set(params.keys())].filter((name) => !known.includes(name));
  if (unknown.length === 0) return;
  const takes = known.length === 0 ? 'takes no parameters' : `takes ${known.join(', ')}`;
  throw new ConfigError(`store URL: unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (a ${store} store URL ${takes})`);
}
