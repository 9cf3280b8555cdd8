/**
 * The live routes as a Web `Response`, as the Hono adapter serves them (on `@hono/node-server` and
 * socket-free under `app.request()`): the adapter finds the route ({@link liveRoute}), makes the
 * request's session context, and hands both here.
 *
 * @module
 */
import type { SessionContext } from '../core/context.js';
import type { Tessera } from '../manager.js';
import { clientScriptReply } from './client-route.js';
import { MAX_TICKET_BYTES, prepareStream, redeemTicket, ticketTooLong, webStream, type LiveRequest, type LiveRoute } from './endpoint.js';

/**
 * Answer live route `route`: the stream (its head carrying the session's cookies, which
 * `cookies()` gives once `settle()`, the request's commit, is done), a redeemed cookie ticket, or
 * the client script. Rejects with the error to answer, for the adapter's usual error reply.
 *
 * @example
 * ```ts
 * const route = liveRoute(tessera.live, url);
 * if (route !== null) return serveWebLive(tessera, route, ctx, request, c.req.raw, () => handlerDone(ctx, false), () => outgoing.lines);
 * ```
 */
export async function serveWebLive(
  tessera: Tessera,
  route: LiveRoute,
  ctx: SessionContext,
  request: LiveRequest,
  raw: Request,
  settle: () => Promise<void> | undefined,
  cookies: () => readonly string[],
): Promise<Response> {
  switch (route) {
    case 'stream': {
      const start = await prepareStream(tessera, ctx, request);
      await settle();
      return webStream(tessera.live, start, cookies());
    }
    case 'cookie': {
      const headers = new Headers({ 'cache-control': 'no-store' });
      for (const line of await redeemTicket(tessera, ctx, request, () => readLimited(raw, MAX_TICKET_BYTES))) headers.append('set-cookie', line);
      return new Response(null, { status: 204, headers });
    }
    case 'client': {
      const reply = clientScriptReply(request.method, request.header('if-none-match'));
      return new Response(reply.body || null, { status: reply.status, headers: reply.headers });
    }
  }
}

/** A request's body as text, refused (413) as soon as it passes `max` bytes: never buffered whole. */
async function readLimited(request: Request, max: number): Promise<string> {
  const reader = request.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw ticketTooLong();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
