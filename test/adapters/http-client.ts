/**
 * A client for adapters served on a real socket (node:http, Express): `fetch` against a server on
 * 127.0.0.1, reading the body chunk by chunk so a stream's first chunk is seen as it arrives
 * (`node:http`'s client instead for a request that names its `Host`, which `fetch` does not
 * send); and that reading alone, for adapters whose apps answer Web `Response`s without a socket (Hono).
 */
import { createServer, request as httpRequest, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HarnessApp, Reply } from './suite.js';

/**
 * Serve `listener` on a free port of 127.0.0.1 and return a {@link HarnessApp} for it.
 *
 * @example
 * ```ts
 * const app = await serveOnLoopback(sessions.wrap(handler));
 * ```
 */
export async function serveOnLoopback(listener: RequestListener): Promise<HarnessApp> {
  const server: Server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    async request(method, path, headers = {}, onFirstChunk, body) {
      if ('host' in headers) return requestWithHost(base + path, method, headers, onFirstChunk, body);
      return readReply(await fetch(base + path, { method, headers, body }), onFirstChunk);
    },
    open: (path, headers = {}) => fetch(base + path, { headers }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The {@link Reply} of a Web `Response`, its body read chunk by chunk as it arrives (`onFirstChunk`
 * is called when the first chunk is in).
 *
 * @example
 * ```ts
 * const reply = await readReply(await app.request(path), () => console.log('first chunk'));
 * ```
 */
export async function readReply(res: Response, onFirstChunk?: () => void): Promise<Reply> {
  let body = '';
  if (res.body === null) return replyOf(res, body);
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  for (let first = true; ; first = false) {
    const { done, value } = await reader.read();
    if (done) break;
    body += decoder.decode(value, { stream: true });
    if (first) onFirstChunk?.();
  }
  return replyOf(res, body);
}

/**
 * A {@link Reply} from a Web `Response` and its body.
 *
 * @example
 * ```ts
 * replyOf(response, await response.text());
 * ```
 */
export function replyOf(res: Response, body: string): Reply {
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value;
  });
  return { status: res.status, headers, setCookies: res.headers.getSetCookie(), body };
}

/** One request through `node:http`'s client, which sends the `Host` header given. */
function requestWithHost(url: string, method: string, headers: Record<string, string>, onFirstChunk?: () => void, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      let body = '';
      let first = true;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (first) onFirstChunk?.();
        first = false;
      });
      res.on('end', () => {
        const replyHeaders: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) {
          if (name !== 'set-cookie' && value !== undefined) replyHeaders[name] = String(value);
        }
        resolve({ status: res.statusCode ?? 0, headers: replyHeaders, setCookies: res.headers['set-cookie'] ?? [], body });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * A {@link Reply} from an injected response (Fastify's `app.inject`, light-my-request).
 *
 * @example
 * ```ts
 * injectedReply(await app.inject('/read'));
 * ```
 */
export function injectedReply(res: { statusCode: number; headers: Record<string, unknown>; body: string }): Reply {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (name !== 'set-cookie' && value !== undefined) headers[name] = String(value);
  }
  const lines = res.headers['set-cookie'];
  const setCookies = lines === undefined ? [] : Array.isArray(lines) ? lines.map(String) : [String(lines)];
  return { status: res.statusCode, headers, setCookies, body: res.body };
}
