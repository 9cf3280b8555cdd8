/**
 * The live routes on a Node request and response, as node:http, Express and Fastify serve them:
 * the adapter finds the route ({@link liveRoute}), makes the request's session context, and hands
 * both here.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SessionContext } from '../core/context.js';
import type { Tessera } from '../manager.js';
import { MAX_TICKET_BYTES, openNodeStream, prepareStream, redeemTicket, ticketTooLong, type LiveRequest, type LiveRoute } from './endpoint.js';
import { setCookieLines } from '../adapters/kit.js';
import type { LiveError } from '../errors.js';
import { serveNodeClient } from './client-route.js';

/**
 * A Node request as the live endpoint reads it.
 *
 * @example
 * ```ts
 * const request = nodeLiveRequest(req);
 * request.header('last-event-id');
 * ```
 */
export function nodeLiveRequest(req: IncomingMessage): LiveRequest {
  return {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    header: (name) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

/**
 * Serve live route `route` on a Node response. Resolves once the stream is open (it then lives on
 * until either side closes it) or the request was answered; rejects with the error to answer
 * (a {@link LiveError}, a store failure), for the adapter's usual error reply.
 *
 * @example
 * ```ts
 * const route = liveRoute(tessera.live, req.url!);
 * if (route !== null) return serveNodeLive(tessera, route, context(req, res), req, res).catch((e) => fail(res, e));
 * ```
 */
export async function serveNodeLive(tessera: Tessera, route: LiveRoute, ctx: SessionContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const hub = tessera.live;
  switch (route) {
    case 'stream': {
      const start = await prepareStream(tessera, ctx, nodeLiveRequest(req));
      // The session's cookies are on the head already; its commit (a touch, say) is written now.
      ctx.release();
      if (!ctx.settled) await ctx.settle();
      openNodeStream(hub, start, res);
      return;
    }
    case 'client':
      serveNodeClient(req, res);
      return;
    case 'cookie': {
      const lines = await redeemTicket(tessera, ctx, nodeLiveRequest(req), () => readBody(req));
      res.setHeader('set-cookie', [...setCookieLines(res.getHeader('set-cookie')), ...lines]);
      res.setHeader('cache-control', 'no-store');
      res.statusCode = 204;
      res.end();
      return;
    }
  }
}

/** The request body as text, up to {@link MAX_TICKET_BYTES} (a body already read by a framework's parser: its text). */
async function readBody(req: IncomingMessage & { body?: unknown }): Promise<string> {
  if (typeof req.body === 'string') return req.body;
  if (req.readableEnded) return '';
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_TICKET_BYTES) throw ticketTooLong();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
