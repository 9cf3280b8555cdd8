/**
 * The adapter kit's part of CSRF protection: which requests an adapter must check before their
 * handler, and reading the token from the request — its header, or the `_csrf` field of a form
 * body (URL-encoded), which on Node requests is read here and left parsed on `req.body` for the
 * app, as body-parser would leave it.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { CsrfProtection } from '../csrf.js';
import type { CsrfRequest, Tessera } from '../manager.js';

/** Largest form body read for its `_csrf` field, in bytes (body-parser's default limit). */
export const FORM_LIMIT = 100 * 1024;

/**
 * Whether an adapter must run `tessera.checkCsrf` before the handler of a request with `method`:
 * CSRF protection is on and the method is unsafe (not GET, HEAD, OPTIONS or TRACE).
 *
 * @example
 * ```ts
 * if (mustCheckCsrf(tessera, req.method ?? 'GET')) await guard(req, res);
 * ```
 */
export function mustCheckCsrf(tessera: Tessera, method: string): boolean {
  return tessera.csrf.enforced && CsrfProtection.isUnsafe(method);
}

/**
 * The path of a request URL, without the query.
 *
 * @example
 * ```ts
 * pathOf('/transfer?to=bob'); // '/transfer'
 * ```
 */
export function pathOf(url: string | undefined): string {
  if (url === undefined || url === '') return '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * One value of a header that may come as a list: the first.
 *
 * @example
 * ```ts
 * firstHeader(req.headers['sec-fetch-site']); // 'same-origin'
 * firstHeader(['a', 'b']);                    // 'a'
 * ```
 */
export function firstHeader(value: string | readonly string[] | undefined): string | undefined {
  return Array.isArray(value) ? (value[0] as string | undefined) : (value as string | undefined);
}

/** A Node request as body parsers leave it. */
type ParsedRequest = IncomingMessage & { body?: unknown; _body?: boolean };

/**
 * The CSRF token in the form body of a Node request (node:http, Express): from `req.body` when a
 * body parser already ran, else — for `application/x-www-form-urlencoded` — read here (at most
 * {@link FORM_LIMIT} bytes) and left on `req.body`, marked parsed (`req._body`) so that
 * `express.urlencoded()` after the session middleware does not wait for a body already consumed.
 * `undefined` for other bodies (a multipart form must send the token in the header).
 *
 * @example
 * ```ts
 * const token = req.headers['x-csrf-token'] ?? (await nodeFormToken(req, '_csrf'));
 * ```
 */
export function nodeFormToken(req: IncomingMessage, field: string): string | undefined | Promise<string | undefined> {
  const parsed = req as ParsedRequest;
  if (parsed.body !== undefined && parsed.body !== null && typeof parsed.body === 'object') return fieldOf(parsed.body, field);
  const type = firstHeader(req.headers['content-type'])?.split(';', 1)[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded' || parsed._body === true || req.readableEnded) return undefined;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (value: string | undefined) => {
      req.off('data', onData).off('end', onEnd).off('error', onError);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > FORM_LIMIT) {
        req.pause();
        done(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      const body: Record<string, string | string[]> = Object.create(null);
      for (const [key, value] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) {
        const seen = body[key];
        body[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
      }
      parsed.body = body;
      parsed._body = true;
      done(fieldOf(body, field));
    };
    const onError = () => done(undefined);
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

function fieldOf(body: object, field: string): string | undefined {
  const value = Object.hasOwn(body, field) ? (body as Record<string, unknown>)[field] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/**
 * The {@link CsrfRequest} of a Node request (node:http, Express): method, path, `Host`, `Origin`,
 * `Sec-Fetch-Site`, the token header, and the form field read by {@link nodeFormToken}.
 *
 * @example
 * ```ts
 * const refused = await tessera.checkCsrf(ctx, nodeCsrfRequest(tessera, req, req.url));
 * ```
 */
export function nodeCsrfRequest(tessera: Tessera, req: IncomingMessage, url: string | undefined): CsrfRequest {
  const { header, field } = tessera.csrf;
  const headers = req.headers;
  return {
    method: req.method ?? 'GET',
    path: pathOf(url),
    host: headers.host,
    origin: firstHeader(headers.origin),
    secFetchSite: firstHeader(headers['sec-fetch-site']),
    token: firstHeader(headers[header]),
    formToken: () => nodeFormToken(req, field),
  };
}
