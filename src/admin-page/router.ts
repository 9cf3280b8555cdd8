/**
 * The admin page's framework-neutral core: a router from a small request shape
 * ({@link AdminRequest}) to a reply (status, headers, body), built on `tessera.admin`. The
 * adapters' mounts (node:http, Express, Fastify, Hono) only translate. Every route runs behind the
 * app's guard; a POST also needs the operator session's CSRF token, whatever the `csrf` option.
 * See docs/admin.md.
 *
 * Routes, under `path` (default `/admin`): `GET {path}` the list; `GET {path}/sessions/{handle}`
 * one session; `POST {path}/sessions/{handle}/revoke`; `POST {path}/users/revoke` (fields `user`,
 * `tenant`); `GET {path}/chart.json`; `GET {path}/admin.js` and `{path}/admin.css`.
 *
 * @module
 */
import { ConfigError, NotSupportedError, TesseraError } from '../errors.js';
import type { Tessera } from '../manager.js';
import type { Session } from '../session.js';
import { assetReply, isAsset } from './assets.js';
import { detailPage, listHref, listPage, messagePage, type ListFilters, type ViewContext } from './pages.js';
import { ActivitySampler, type SamplerOptions } from './sampler.js';

/**
 * Who may see the page: called with the framework's request and the operator's session on every
 * request under the page's path; only `true` lets it through (anything else: 403).
 *
 * @example
 * ```ts
 * const guard: AdminGuard<unknown> = (_req, session) => session.userId !== null && admins.has(session.userId);
 * ```
 */
export type AdminGuard<Req> = (request: Req, session: Session) => boolean | Promise<boolean>;

/**
 * Options of an adapter's `adminPage`.
 *
 * @example
 * ```ts
 * const options: AdminPageOptions<unknown> = { guard: (_req, s) => s.userId === 'root', path: '/ops/sessions' };
 * ```
 */
export interface AdminPageOptions<Req> {
  /** Required: who may see the page (there is no default that lets anyone in). */
  guard: AdminGuard<Req>;
  /** Where the page is mounted. Default `/admin`. */
  path?: string;
  /** The chart's sampling: see {@link SamplerOptions}. */
  sampler?: SamplerOptions;
}

/**
 * One request as the router reads it; the mounts make it from their framework's request.
 *
 * @example
 * ```ts
 * const request: AdminRequest = { method: 'GET', path: '/admin', query: new URLSearchParams(), header: () => undefined, form: async () => ({}), session: () => sessions.load(req, res) };
 * ```
 */
export interface AdminRequest {
  readonly method: string;
  /** The URL path, without the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** A request header by lower-case name. */
  header(name: string): string | undefined;
  /** The URL-encoded form body's fields (for a POST); `{}` for another body. */
  form(): Promise<Readonly<Record<string, unknown>>>;
  /** The request's session: the operator's. */
  session(): Session | Promise<Session>;
}

/**
 * The router's answer, for the mount to send.
 *
 * @example
 * ```ts
 * res.writeHead(reply.status, reply.headers).end(reply.body);
 * ```
 */
export interface AdminReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
} as const;
const HANDLE = /^[A-Za-z0-9_-]{1,128}$/;
const PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;

/**
 * The admin page's router for one manager. Made by the adapters' mounts, once, at start-up.
 *
 * @throws {@link ConfigError} without a guard function, on a bad path or sampler option.
 * @example
 * ```ts
 * const router = new AdminRouter(tessera, { guard: (_req, s) => s.userId === 'root' }, 'tessera/node');
 * if (router.matches(path)) send(await router.handle(request, req));
 * ```
 */
export class AdminRouter<Req> {
  /** The mount path, without a trailing slash. */
  readonly path: string;
  readonly sampler: ActivitySampler;
  readonly #tessera: Tessera;
  readonly #guard: AdminGuard<Req>;

  constructor(tessera: Tessera, options: AdminPageOptions<Req>, adapter: string) {
    if (options === null || typeof options !== 'object' || typeof options.guard !== 'function') {
      throw new ConfigError(`${adapter} adminPage: a guard is required, e.g. { guard: (req, session) => isOperator(session.userId) }: the page lets no one in by default`);
    }
    const path = options.path ?? '/admin';
    if (typeof path !== 'string' || !PATH.test(path) || path === '/' || path.endsWith('/') || path.includes('//')) {
      throw new ConfigError(`${adapter} adminPage: path must be a URL path such as "/admin" (not "/", no trailing slash)`);
    }
    this.path = path;
    this.#tessera = tessera;
    this.#guard = options.guard;
    this.sampler = ActivitySampler.of(tessera, options.sampler);
  }

  /**
   * Whether `path` (without the query) is the page's or under it.
   *
   * @example
   * ```ts
   * router.matches('/admin/sessions/abc'); // true
   * ```
   */
  matches(path: string): boolean {
    return path === this.path || path.startsWith(`${this.path}/`);
  }

  /**
   * Answer a request for a path the router {@link AdminRouter.matches}. Rejects only with what
   * the guard, the session or the store threw (a store outage: its 503).
   *
   * @example
   * ```ts
   * const reply = await router.handle(request, req);
   * ```
   */
  async handle(request: AdminRequest, native: Req): Promise<AdminReply> {
    const session = await request.session();
    if ((await this.#guard(native, session)) !== true) return { status: 403, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, body: 'Forbidden' };
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const rest = request.path === this.path ? '/' : request.path.slice(this.path.length);
    const parts = rest.split('/').slice(1);
    const reply = await this.#route(method, parts, request, session);
    return request.method === 'HEAD' ? { ...reply, body: '' } : reply;
  }

  async #route(method: string, parts: string[], request: AdminRequest, session: Session): Promise<AdminReply> {
    const [first = '', second, third] = parts;
    if (parts.length === 1 && first === '') return method === 'GET' ? this.#list(request, session) : notAllowed('GET, HEAD');
    if (parts.length === 1 && isAsset(first)) {
      return method === 'GET' ? assetReply(first, request.method, request.header('if-none-match')) : notAllowed('GET, HEAD');
    }
    if (parts.length === 1 && first === 'chart.json') {
      if (method !== 'GET') return notAllowed('GET, HEAD');
      return { status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }, body: JSON.stringify(this.sampler.snapshot()) };
    }
    if (first === 'sessions' && second !== undefined && HANDLE.test(second)) {
      if (parts.length === 2) return method === 'GET' ? this.#detail(second, session) : notAllowed('GET, HEAD');
      if (parts.length === 3 && third === 'revoke') return method === 'POST' ? this.#revoke(second, request, session) : notAllowed('POST');
    }
    if (parts.length === 2 && first === 'users' && second === 'revoke') return method === 'POST' ? this.#revokeUser(request, session) : notAllowed('POST');
    return this.#page(404, messagePage(this.path, 'Not found', 'There is no admin page here.'));
  }

  async #list(request: AdminRequest, session: Session): Promise<AdminReply> {
    const q = request.query;
    const activeText = q.get('active') ?? '';
    const active = /^[1-9][0-9]{0,4}$/.test(activeText) ? Number(activeText) : null;
    const limitText = q.get('limit') ?? '';
    const limit = /^[1-9][0-9]{0,2}$/.test(limitText) ? Math.min(Number(limitText), 500) : 50;
    const filters: ListFilters = { user: (q.get('user') ?? '').trim().slice(0, 256), tenant: (q.get('tenant') ?? '').trim().slice(0, 255), active, limit };
    const now = this.#tessera.options.now();
    let page: { sessions: Awaited<ReturnType<Tessera['admin']['list']>>['sessions']; next: string | null } = { sessions: [], next: null };
    let error: string | null = null;
    let status = 200;
    try {
      page = await this.#tessera.admin.list({
        userId: filters.user || undefined,
        tenant: filters.tenant || undefined,
        activeSince: active === null ? undefined : now - active * 60_000,
        limit,
        cursor: q.get('cursor'),
      });
    } catch (e) {
      if (!(e instanceof TypeError || e instanceof NotSupportedError || (e instanceof TesseraError && e.status === 400))) throw e;
      status = e instanceof NotSupportedError ? 501 : 400;
      error = e instanceof NotSupportedError ? `This store cannot answer that: ${e.message}` : `That filter cannot be used: ${e.message}`;
    }
    const countText = q.get('n') ?? '';
    const sampler = this.sampler;
    return this.#page(
      status,
      listPage(this.#view(session, now), {
        filters,
        sessions: page.sessions,
        next: page.next,
        online: { available: sampler.available, latest: sampler.latest(), every: sampler.every, window: sampler.window },
        error,
        notice: q.get('done'),
        count: /^[0-9]{1,6}$/.test(countText) ? Number(countText) : null,
      }),
    );
  }

  async #detail(handle: string, session: Session): Promise<AdminReply> {
    const admin = this.#tessera.admin;
    const shown = await admin.show(handle);
    if (shown === null) return this.#page(404, messagePage(this.path, 'Session not found', 'No live session has this handle: it was revoked, signed out or expired.'));
    const others = shown.userId === null ? [] : (await admin.list({ userId: shown.userId, tenant: shown.tenant ?? undefined })).sessions.filter((s) => s.handle !== handle);
    return this.#page(200, detailPage(this.#view(session, this.#tessera.options.now()), shown, others));
  }

  async #revoke(handle: string, request: AdminRequest, session: Session): Promise<AdminReply> {
    const refused = await this.#checkCsrf(request, session);
    if (refused !== null) return refused;
    const done = await this.#tessera.admin.revoke(handle);
    void this.sampler.sample();
    return redirect(listHref(this.path, {}) + (done ? '?done=revoked' : '?done=gone'));
  }

  async #revokeUser(request: AdminRequest, session: Session): Promise<AdminReply> {
    const refused = await this.#checkCsrf(request, session);
    if (refused !== null) return refused;
    const form = await request.form();
    const user = form.user;
    const tenant = form.tenant;
    if (typeof user !== 'string' || user === '' || (tenant !== undefined && (typeof tenant !== 'string' || tenant === ''))) {
      return this.#page(400, messagePage(this.path, 'Bad request', 'The form names no user.'));
    }
    const count = await this.#tessera.admin.revokeUser(user, { tenant: tenant as string | undefined });
    void this.sampler.sample();
    return redirect(`${this.path}?done=revoked-user&n=${count}`);
  }

  /**
   * The CSRF check of a POST, made here whatever the `csrf` option (the adapters make it too when
   * it is on): Fetch Metadata first, then the session's token from the header or the form field.
   */
  async #checkCsrf(request: AdminRequest, session: Session): Promise<AdminReply | null> {
    const csrf = this.#tessera.csrf;
    const crossSite = csrf.crossOrigin({ secFetchSite: request.header('sec-fetch-site'), origin: request.header('origin'), host: request.header('host') });
    const token = request.header(csrf.header) ?? (await request.form())[csrf.field];
    if (crossSite === null && csrf.verify(token, session.handle)) return null;
    return this.#page(403, messagePage(this.path, 'Refused', 'This form has no valid CSRF token (or came from another site): reload the page and try again.'));
  }

  #view(session: Session, now: number): ViewContext {
    return { base: this.path, now, self: session.handle, csrfField: session.csrfField() };
  }

  #page(status: number, page: { value: string }): AdminReply {
    return { status, headers: PAGE_HEADERS, body: page.value };
  }
}

function notAllowed(allow: string): AdminReply {
  return { status: 405, headers: { allow, 'content-type': 'text/plain; charset=utf-8' }, body: 'Method not allowed' };
}

function redirect(location: string): AdminReply {
  return { status: 303, headers: { location, 'cache-control': 'no-store', 'content-type': 'text/plain; charset=utf-8' }, body: `See ${location}` };
}
