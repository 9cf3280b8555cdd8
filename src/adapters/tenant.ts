/**
 * Tenants in the adapters: the `tenant` option every adapter takes ({@link TenantResolver}) —
 * a function of the framework's request, or a rule read from the request (its Host, a header, its
 * path) — validated and compiled once, at start-up, into one function that gives a request's
 * tenant or `null` for none.
 *
 * A tenant name that is present but empty (`Host:` with nothing after it, `X-Tenant:` empty, a
 * path starting `//`, a resolver function returning `''`) is refused with {@link TenantError}
 * (400): it is never taken as "no tenant", the namespace of sessions outside every tenant.
 *
 * @module
 */
import { ConfigError, TenantError } from '../errors.js';

/**
 * Where an adapter finds a request's tenant: its `tenant` option.
 *
 * - a function of the framework's request, returning the tenant's name, or `null` / `undefined`
 *   for none;
 * - `{ host: true }`: the `Host` header, lower-cased, without its port (or a trailing dot) —
 *   `Acme.Example.com:8443` is `acme.example.com`;
 * - `{ header: 'x-tenant' }`: that request header, trimmed;
 * - `{ path: true }`: the first segment of the path (`/acme/cart` is `acme`), percent-decoded;
 * - `{ path: /^\/t\/([^/]+)/ }`: the first capture group of that expression (or the group named
 *   `tenant`) matched against the path without its query, percent-decoded.
 *
 * A request where the rule finds nothing (no such header, the path `/`, no match) has no tenant.
 * One where it finds an empty name, or a name over 255 characters, is answered 400.
 *
 * @example
 * ```ts
 * nodeSessions(tessera, { tenant: { host: true } });                 // acme.example.com, globex.example.com
 * nodeSessions(tessera, { tenant: { header: 'x-tenant' } });         // set by your gateway
 * nodeSessions(tessera, { tenant: { path: /^\/orgs\/([^/]+)/ } });   // /orgs/acme/...
 * nodeSessions(tessera, { tenant: (req) => tenantOfUser(req) });
 * ```
 */
export type TenantResolver<Req> =
  | ((request: Req) => string | null | undefined)
  | { readonly host: true }
  | { readonly header: string }
  | { readonly path: true | RegExp };

/**
 * What the rules of a {@link TenantResolver} read from an adapter's request.
 *
 * @example
 * ```ts
 * const parts: RequestParts<IncomingMessage> = {
 *   header: (req, name) => headerText(req.headers[name]),
 *   path: (req) => req.url ?? '/',
 * };
 * ```
 */
export interface RequestParts<Req> {
  /** A header by lower-case name, several values joined by commas; `undefined` when absent. */
  header(request: Req, name: string): string | undefined;
  /** The request's target path, as sent (percent-encoded), with or without its query. */
  path(request: Req): string;
}

/** A request's tenant: its name, or `null` for none. Throws {@link TenantError} for an empty or overlong name. */
export type TenantOf<Req> = (request: Req) => string | null;

/** The longest tenant name accepted, in characters. */
export const MAX_TENANT_LENGTH = 255;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Validate a `tenant` option and compile it, once, at start-up: `null` for no tenants.
 *
 * @throws {@link ConfigError} for anything but a function or one of the rules above.
 * @example
 * ```ts
 * const tenantOf = resolveTenant({ header: 'x-tenant' }, parts, 'tessera/node');
 * tenantOf(req); // 'acme', null, or throws TenantError (400) for an empty header
 * ```
 */
export function resolveTenant<Req>(option: TenantResolver<Req> | null | undefined, parts: RequestParts<Req>, adapter: string): TenantOf<Req> | null {
  if (option === undefined || option === null) return null;
  const bad = (why: string) => new ConfigError(`${adapter}: tenant ${why}`);
  if (typeof option === 'function') {
    return (request) => checked(option(request), 'the tenant resolver');
  }
  if (typeof option === 'string') {
    throw bad(option === '' ? 'is an empty name: give a function or a rule ({ host: true }, { header }, { path })' : 'must be a function of the request or a rule ({ host: true }, { header }, { path }), not a string');
  }
  if (typeof option !== 'object') throw bad('must be a function of the request or a rule ({ host: true }, { header }, { path })');
  const keys = Object.keys(option);
  if (keys.length !== 1 || !['host', 'header', 'path'].includes(keys[0]!)) {
    throw bad(`must be exactly one of { host: true }, { header: name }, { path: true | RegExp }, not { ${keys.join(', ')} }`);
  }
  if ('host' in option) {
    if (option.host !== true) throw bad('{ host } must be true');
    return (request) => hostTenant(parts.header(request, 'host') ?? parts.header(request, ':authority'));
  }
  if ('header' in option) {
    const name = option.header;
    if (typeof name !== 'string' || name === '') throw bad('{ header } must name a header, such as "x-tenant"');
    if (!TOKEN.test(name)) throw bad(`{ header } ${JSON.stringify(name)} is not a valid header name`);
    const lower = name.toLowerCase();
    return (request) => {
      const value = parts.header(request, lower);
      return value === undefined ? null : checked(value.trim(), `the ${lower} header`);
    };
  }
  const rule = option.path;
  if (rule === true) return (request) => firstSegment(pathOnly(parts.path(request)));
  if (!(rule instanceof RegExp)) throw bad('{ path } must be true (the first path segment) or a RegExp with a capture group');
  const groups = new RegExp(`${rule.source}|`, rule.flags).exec('')!.length - 1;
  if (groups === 0) throw bad(`{ path } ${String(rule)} has no capture group: which part of the path is the tenant?`);
  // A copy without `g` or `y`: those make `exec` start at the last match's end, request after request.
  const pattern = new RegExp(rule.source, rule.flags.replace(/[gy]/g, ''));
  return (request) => {
    const match = pattern.exec(pathOnly(parts.path(request)));
    if (match === null) return null;
    const captured = match.groups?.tenant ?? match[1];
    return captured === undefined ? null : decoded(captured, 'the path');
  };
}

/** A resolved name, or a refusal: `''` is never "no tenant". */
function checked(name: unknown, source: string): string | null {
  if (name === null || name === undefined) return null;
  if (typeof name !== 'string') throw new TypeError(`${source} must return a string, null or undefined, not ${typeof name}`);
  if (name === '') throw new TenantError(`the request's tenant is empty (from ${source})`);
  if (name.length > MAX_TENANT_LENGTH) throw new TenantError(`the request's tenant is longer than ${MAX_TENANT_LENGTH} characters (from ${source})`);
  return name;
}

/** `Host` lower-cased, without port or trailing dot; `[::1]:3000` is `[::1]`. */
function hostTenant(host: string | undefined): string | null {
  if (host === undefined) return null;
  let name = host.trim().toLowerCase();
  if (name.startsWith('[')) {
    const end = name.indexOf(']');
    name = end === -1 ? name : name.slice(0, end + 1);
  } else {
    const colon = name.indexOf(':');
    if (colon !== -1) name = name.slice(0, colon);
  }
  if (name.endsWith('.')) name = name.slice(0, -1);
  return checked(name, 'the Host header');
}

/** The path without its query (or fragment). */
function pathOnly(target: string): string {
  const end = target.search(/[?#]/);
  return end === -1 ? target : target.slice(0, end);
}

/** The first segment of `path`, decoded: `null` for `/` (no segment), a refusal for `//x` (an empty one). */
function firstSegment(path: string): string | null {
  if (path === '/' || path === '') return null;
  const from = path.startsWith('/') ? 1 : 0;
  const end = path.indexOf('/', from);
  return decoded(end === -1 ? path.slice(from) : path.slice(from, end), 'the path');
}

function decoded(raw: string, source: string): string | null {
  if (!raw.includes('%')) return checked(raw, source);
  try {
    return checked(decodeURIComponent(raw), source);
  } catch {
    throw new TenantError(`the request's tenant in ${source} is not valid percent-encoding`);
  }
}
