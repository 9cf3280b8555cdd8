/**
 * The admin page on Node requests and responses (node:http and Express): the request shape the
 * router reads, the reply written to a `ServerResponse`, and the node:http mount, `adminPage`
 * of `tessera/node`.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeSessions } from '../adapters/node.js';
import { firstHeader, pathOf } from '../adapters/csrf.js';
import type { Session } from '../session.js';
import { AdminRouter, type AdminPageOptions, type AdminReply, type AdminRequest } from './router.js';

/** Largest form body the page reads, in bytes: its forms hold a user ID, a tenant and a token. */
const FORM_LIMIT = 16 * 1024;

/**
 * The router's view of a Node request. `url` is the whole path (Express: `originalUrl`).
 *
 * @example
 * ```ts
 * const request = nodeAdminRequest(req, req.url ?? '/', () => sessions.load(req, res));
 * ```
 */
export function nodeAdminRequest(req: IncomingMessage, url: string, session: () => Session | Promise<Session>): AdminRequest {
  const query = url.indexOf('?');
  let form: Promise<Readonly<Record<string, unknown>>> | undefined;
  return {
    method: req.method ?? 'GET',
    path: pathOf(url),
    query: new URLSearchParams(query === -1 ? '' : url.slice(query + 1)),
    header: (name) => firstHeader(req.headers[name]),
    form: () => (form ??= readNodeForm(req)),
    session,
  };
}

/**
 * The fields of a URL-encoded form: `req.body` when a body parser (or tessera's CSRF check) has
 * read it, else read here, at most 16 KiB. Another body, or a bigger one: `{}`.
 *
 * @example
 * ```ts
 * const { user } = await readNodeForm(req);
 * ```
 */
export async function readNodeForm(req: IncomingMessage): Promise<Readonly<Record<string, unknown>>> {
  const parsed = (req as IncomingMessage & { body?: unknown }).body;
  if (parsed !== null && typeof parsed === 'object') return firstValues(parsed as Record<string, unknown>);
  const type = firstHeader(req.headers['content-type'])?.split(';', 1)[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded' || req.readableEnded) return {};
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > FORM_LIMIT) return {};
    chunks.push(chunk);
  }
  return formFields(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}

/**
 * A form's fields, the first value of each.
 *
 * @example
 * ```ts
 * formFields(new URLSearchParams('a=1&a=2')); // { a: '1' }
 * ```
 */
export function formFields(params: Iterable<[string, string]>): Record<string, string> {
  const fields: Record<string, string> = Object.create(null);
  for (const [key, value] of params) if (!(key in fields)) fields[key] = value;
  return fields;
}

function firstValues(body: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = Object.create(null);
  for (const [key, value] of Object.entries(body)) fields[key] = Array.isArray(value) ? value[0] : value;
  return fields;
}

/**
 * Write the router's reply on a Node response (the session's cookies are on it already).
 *
 * @example
 * ```ts
 * sendNodeReply(res, await router.handle(request, req));
 * ```
 */
export function sendNodeReply(res: ServerResponse, reply: AdminReply): void {
  res.statusCode = reply.status;
  for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
  res.end(reply.body);
}

/**
 * The admin page on node:http: a function to call first in your wrapped handler, which answers
 * the requests under `path` (default `/admin`) and resolves `true`, or resolves `false` for the
 * others. Every request under `path` is checked by your `guard` (403 unless it returns `true`);
 * revoking needs the operator session's CSRF token (the page's forms carry it). See docs/admin.md.
 *
 * @throws {@link ConfigError} without a guard, or on a bad `path` or `sampler`.
 * @example
 * ```ts
 * import { nodeSessions, adminPage } from 'tessera/node';
 *
 * const sessions = nodeSessions(tessera);
 * const admin = adminPage(sessions, { guard: (_req, session) => operators.has(session.userId ?? '') });
 * http.createServer(sessions.wrap(async (req, res) => {
 *   if (await admin(req, res)) return;
 *   // ... the app's own routes
 * }));
 * ```
 */
export function adminPage(sessions: NodeSessions, options: AdminPageOptions<IncomingMessage>): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const router = new AdminRouter(sessions.tessera, options, 'tessera/node');
  return async (req, res) => {
    const url = req.url ?? '/';
    if (!router.matches(pathOf(url))) return false;
    sendNodeReply(res, await router.handle(nodeAdminRequest(req, url, () => sessions.load(req, res)), req));
    return true;
  };
}
