/**
 * The `client` live route: the browser client's script at `{live.path}/client.js`, the same bytes
 * from the sources and from both builds (they are in client-script.ts), revalidated by ETag.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LiveError } from '../errors.js';
import { CLIENT_SCRIPT } from './client-script.js';

/** An answer to a request for the client script, for any adapter to send. */
export interface ClientScriptReply {
  readonly status: 200 | 304;
  readonly headers: Readonly<Record<string, string>>;
  /** The script (empty for 304, and for HEAD). */
  readonly body: string;
}

let tag: string | undefined;

/**
 * The client script's ETag: a hash of its text, so a new version of tessera is fetched anew.
 *
 * @example
 * ```ts
 * clientScriptEtag(); // '"Xq3…"'
 * ```
 */
export function clientScriptEtag(): string {
  tag ??= `"${createHash('sha256').update(CLIENT_SCRIPT).digest('base64url').slice(0, 22)}"`;
  return tag;
}

/**
 * Answer a request for the client script: 200 with it, or 304 when `If-None-Match` names its
 * ETag. Browsers keep it for a minute, then revalidate.
 *
 * @throws {@link LiveError} (405) for a method other than GET or HEAD.
 * @example
 * ```ts
 * const reply = clientScriptReply('GET', req.headers['if-none-match']);
 * res.writeHead(reply.status, reply.headers).end(reply.body);
 * ```
 */
export function clientScriptReply(method: string, ifNoneMatch: string | undefined): ClientScriptReply {
  if (method !== 'GET' && method !== 'HEAD') throw new LiveError('the live client script is fetched with GET', { status: 405 });
  const etag = clientScriptEtag();
  const headers = { 'cache-control': 'public, max-age=60', etag };
  if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*')) {
    return { status: 304, headers, body: '' };
  }
  return {
    status: 200,
    headers: { ...headers, 'content-type': 'text/javascript; charset=utf-8', 'content-length': String(Buffer.byteLength(CLIENT_SCRIPT)), 'x-content-type-options': 'nosniff' },
    body: method === 'HEAD' ? '' : CLIENT_SCRIPT,
  };
}

/**
 * Serve the client script on a Node response.
 *
 * @throws {@link LiveError} (405) for a method other than GET or HEAD.
 * @example
 * ```ts
 * if (liveRoute(tessera.live, req.url!) === 'client') return serveNodeClient(req, res);
 * ```
 */
export function serveNodeClient(req: IncomingMessage, res: ServerResponse): void {
  const reply = clientScriptReply(req.method ?? 'GET', req.headers['if-none-match']);
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body);
}
