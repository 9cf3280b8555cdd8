/**
 * The live endpoint as every adapter serves it: which requests are live requests, and opening a
 * tab's event stream — the checks (same origin, a tab ID, the session) and the stream itself, on
 * a Node response (node:http, Express, Fastify) or as a Web `Response` body (Hono).
 *
 * @module
 */
import type { ServerResponse } from 'node:http';
import { LiveError } from '../errors.js';
import type { SessionContext } from '../core/context.js';
import type { Tessera } from '../manager.js';
import type { LiveHub } from './hub.js';
import { isTabId, sseControl, TAB_HEADER, type EndReason } from './protocol.js';
import type { StreamSink } from './tab.js';

/**
 * Which live route a request is for: the `stream`, the browser `client` script, a `cookie`
 * ticket; `null` for any other request (the app's own).
 *
 * @example
 * ```ts
 * liveRoute(tessera.live, '/tessera/live?tab=abc'); // 'stream'
 * liveRoute(tessera.live, '/cart');                 // null
 * ```
 */
export type LiveRoute = 'stream' | 'client' | 'cookie';

/**
 * The live route `url` (path and query, as the request line has it) names, or `null`. One string
 * comparison for requests that are not live ones.
 *
 * @example
 * ```ts
 * if (tessera.liveEnabled && liveRoute(tessera.live, req.url!) !== null) return serveLive(...);
 * ```
 */
export function liveRoute(hub: LiveHub, url: string): LiveRoute | null {
  const base = hub.options.path;
  if (!url.startsWith(base)) return null;
  const rest = url.length === base.length ? '' : url.slice(base.length);
  const path = rest.split('?', 1)[0]!;
  if (path === '') return 'stream';
  if (path === '/client.js') return 'client';
  if (path === '/cookie') return 'cookie';
  return null;
}

/** A live request as the endpoint reads it: method, path with query, and headers. */
export interface LiveRequest {
  readonly method: string;
  readonly url: string;
  header(name: string): string | undefined;
}

/** A stream that may open: the tab and session it is for, and what the client last saw. */
export interface StreamStart {
  readonly key: string;
  readonly tab: string;
  readonly lastEventId: string | null;
  readonly expiresAt: number;
  /** The stream is only to tell the tab this (its cookie's session is gone), then close. */
  readonly ended?: EndReason;
}

/** The response headers of an event stream. */
export const STREAM_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  // no-transform: compression middleware (Express's compression()) leaves the stream alone.
  'cache-control': 'no-store, no-transform',
  'x-accel-buffering': 'no',
};

/**
 * Check a stream request and load its session: same origin (Fetch Metadata, else `Origin`), a
 * valid tab ID in `?tab=`, a `Last-Event-ID` (header, or `?last=` from the client's own
 * reconnects). A session that has no ID yet gets one, and its cookie (provisional, with the
 * CSRF token's cookie), on this response.
 *
 * @throws {@link LiveError} (400, or 403 for another origin); store failures as the adapters answer them.
 * @example
 * ```ts
 * const start = await prepareStream(tessera, ctx, request);
 * ```
 */
export async function prepareStream(tessera: Tessera, ctx: SessionContext, request: LiveRequest): Promise<StreamStart> {
  if (request.method !== 'GET') throw new LiveError('the live stream is opened with GET', { status: 405 });
  const verdict = crossSite(tessera, request);
  if (verdict !== null) throw new LiveError(`the live stream is for pages of this site (${verdict} request refused)`, { status: 403 });
  const query = new URLSearchParams(request.url.slice(request.url.indexOf('?') + 1 || request.url.length));
  const tab = query.get('tab');
  if (!isTabId(tab)) throw new LiveError('the live stream needs ?tab= with the tab ID the browser client made');
  const hub = tessera.live;
  if (hub.streams >= hub.options.maxStreams) throw new LiveError(`this process holds its most streams (live.maxStreams = ${hub.options.maxStreams})`, { status: 503 });
  const session = await ctx.load();
  if (ctx.cookieSent && session.isNew && ctx.state?.provisional !== true) {
    // The cookie names a session that is gone (expired, destroyed, or given a new ID by a sign-in
    // whose response this tab may not have yet): told so, and no cookie of a new session goes out
    // over the one the browser may be about to get. The client reloads with what it holds then.
    return { key: '', tab, lastEventId: null, expiresAt: 0, ended: 'expired' };
  }
  // The tab's pushes are addressed by the session's handle: it must have an ID, and the browser its cookie.
  session.csrfToken();
  const key = session.handle;
  const expiresAt = session.meta.expiresAt;
  // Opening (or reopening) the stream is the tab's activity, as a request naming it is.
  if (!session.isNew) tessera.activity.record(key, tab, tessera.options.now(), expiresAt);
  return { key, tab, lastEventId: eventId(request.header('last-event-id') ?? query.get('last')), expiresAt };
}

function eventId(value: string | null | undefined): string | null {
  return value !== null && value !== undefined && /^[\w-]{1,16}\.\d{1,15}$/.test(value) ? value : null;
}

/**
 * Open the stream on a Node response: the head (with the session's cookies already on it), then
 * the hub's messages until either side closes.
 *
 * @example
 * ```ts
 * const start = await prepareStream(tessera, ctx, request);
 * openNodeStream(tessera.live, start, res);
 * ```
 */
export function openNodeStream(hub: LiveHub, start: StreamStart, res: ServerResponse): void {
  const socket = res.socket;
  // HTTP/1.x: no chunked framing — the body runs until the connection closes (a response without a
  // declared length, RFC 9112 §6.3) — and each event is written to the socket as is. A broadcast
  // to 18,000 streams took about 40 % less server time so (docs/benchmarks.md). HTTP/2 (whose
  // compatibility response has no socket of its own to write to) keeps its framing.
  const plain = res.req?.httpVersionMajor === 1 && socket !== null;
  if (plain) {
    res.removeHeader('transfer-encoding');
    res.setHeader('connection', 'close');
  }
  res.writeHead(200, STREAM_HEADERS);
  if (start.ended !== undefined) {
    res.end(sseControl('end', { reason: start.ended }));
    return;
  }
  res.flushHeaders();
  // Streams are long: Node's default socket timeouts must not end them (heartbeats keep them busy anyway).
  socket?.setTimeout(0);
  socket?.setNoDelay(true);
  const detach = hub.attach(start.key, start.tab, new NodeSink(res, plain ? socket : res), start.lastEventId, start.expiresAt);
  res.once('close', detach);
}

/** Where a Node stream's events are written: the socket itself (HTTP/1.x) or the response. */
interface EventWriter {
  write(text: string): boolean;
  readonly writableLength: number;
}

class NodeSink implements StreamSink {
  readonly #res: ServerResponse;
  readonly #out: EventWriter;

  constructor(res: ServerResponse, out: EventWriter) {
    this.#res = res;
    this.#out = out;
  }

  write(text: string): boolean {
    return this.#out.write(text);
  }

  buffered(): number {
    return this.#out.writableLength;
  }

  end(): void {
    this.#res.end();
  }

  close(): void {
    this.#res.destroy();
  }
}

/**
 * Open the stream as a Web `Response` (Hono): a `ReadableStream` body the hub writes into.
 *
 * @example
 * ```ts
 * return webStream(tessera.live, await prepareStream(tessera, ctx, request), cookieLines);
 * ```
 */
export function webStream(hub: LiveHub, start: StreamStart, setCookies: readonly string[]): Response {
  if (start.ended !== undefined) {
    const headers = new Headers(STREAM_HEADERS);
    for (const line of setCookies) headers.append('set-cookie', line);
    return new Response(sseControl('end', { reason: start.ended }), { status: 200, headers });
  }
  const encoder = new TextEncoder();
  let detach: (() => void) | null = null;
  let open = true;
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const finish = (): void => {
          if (!open) return;
          open = false;
          detach?.();
          try {
            controller.close();
          } catch {
            // Already closed by the reader.
          }
        };
        const sink: StreamSink = {
          write: (text) => {
            if (open) controller.enqueue(encoder.encode(text));
          },
          // What waits unread beyond the queue's high-water mark.
          buffered: () => Math.max(0, -(controller.desiredSize ?? 0)),
          end: finish,
          close: () => {
            if (!open) return;
            open = false;
            detach?.();
            controller.error(new Error('tessera: live stream dropped'));
          },
        };
        detach = hub.attach(start.key, start.tab, sink, start.lastEventId, start.expiresAt);
      },
      cancel() {
        open = false;
        detach?.();
      },
    },
    { highWaterMark: 16 * 1024, size: (chunk) => chunk.byteLength },
  );
  const headers = new Headers(STREAM_HEADERS);
  for (const line of setCookies) headers.append('set-cookie', line);
  return new Response(body, { status: 200, headers });
}

/**
 * Check a cookie-ticket request (`POST {path}/cookie`, the ticket as its body) and redeem the
 * ticket: the `Set-Cookie` lines to answer with. The ticket is the proof (one-time, for this tab,
 * sealed, and only with the cookie of the session it was made for), so no CSRF token is asked
 * for — the tab's token may be of the session the ticket replaces — but the request must come
 * from a page of this site.
 *
 * @throws {@link LiveError} (405, 403).
 * @example
 * ```ts
 * const lines = await redeemTicket(tessera, ctx, request, () => readBody(req));
 * ```
 */
export async function redeemTicket(tessera: Tessera, ctx: SessionContext, request: LiveRequest, readBody: () => Promise<string>): Promise<string[]> {
  if (request.method !== 'POST') throw new LiveError('cookie tickets are posted', { status: 405 });
  const verdict = crossSite(tessera, request);
  if (verdict !== null) throw new LiveError(`cookie tickets are posted by pages of this site (${verdict} request refused)`, { status: 403 });
  // Read only now: nothing of a request refused above is read.
  const declared = request.header('content-length');
  if (declared !== undefined && !(Number(declared) <= MAX_TICKET_BYTES)) throw ticketTooLong();
  return tessera.live.redeem(await readBody(), request.header(TAB_HEADER), ctx.cookieKey());
}

/**
 * The refusal of a ticket body over {@link MAX_TICKET_BYTES}, for the adapters' body readers.
 *
 * @example
 * ```ts
 * if (size > MAX_TICKET_BYTES) throw ticketTooLong();
 * ```
 */
export function ticketTooLong(): LiveError {
  return new LiveError(`a cookie ticket is at most ${MAX_TICKET_BYTES / 1024} KiB`, { status: 413 });
}

/** The Fetch Metadata (else `Origin`) verdict on a live request: `null` for a page of this site. */
function crossSite(tessera: Tessera, request: LiveRequest): 'cross-site' | 'cross-origin' | null {
  return tessera.csrf.crossOrigin({ secFetchSite: request.header('sec-fetch-site'), origin: request.header('origin'), host: request.header('host') });
}

/** The longest cookie-ticket body read (bytes). */
export const MAX_TICKET_BYTES = 16 * 1024;
