/**
 * The live routes against untrusted input (fast-check): any method, query, `Last-Event-ID`,
 * `Origin` / `Sec-Fetch-Site`, cookie, tab header and ticket body gets a clear answer — a stream,
 * 204, or 400 / 403 / 405 / 413 with a message — never a 500, and the server keeps serving.
 */
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { nodeSessions } from '../../src/adapters/node.js';
import { createTessera } from '../../src/index.js';
import { MemoryStore } from '../../src/stores/memory.js';

const ANSWERS = new Set([200, 204, 400, 403, 405, 413]);

/** One request; resolves its status as soon as the head arrives (a stream is then closed). */
function send(base: string, method: string, path: string, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, { method, headers }, (res) => {
      resolve(res.statusCode ?? 0);
      res.destroy();
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('live routes against untrusted input', () => {
  const tessera = createTessera({ secrets: ['endpoint-input-secret-0123456789abcdef'], store: new MemoryStore(), cookie: { secure: false }, live: {}, logger: {} });
  const sessions = nodeSessions(tessera);
  const server = createServer(sessions.wrap((_req, res) => void res.end('app')));
  let base = '';
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await tessera.close();
  });

  it('answers every request with a stream, 204 or a 4xx — never a 500 — and keeps serving', async () => {
    const text = fc.string({ maxLength: 80, unit: 'binary-ascii' }).map((s) => s.replace(/[^\x20-\x7e]/g, '')); // what an HTTP client can send in a header
    const header = fc.oneof(fc.constant(undefined), text, fc.constantFrom('same-origin', 'cross-site', 'none', 'https://evil.example', '127.0.0.1'));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD'),
        fc.constantFrom('/tessera/live', '/tessera/live/cookie', '/tessera/live/client.js', '/tessera/live/other'),
        fc.oneof(fc.constant(''), text.map((q) => `?tab=${encodeURIComponent(q)}`), fc.constant('?tab=abcdefghijklmnop&last=99999999999999999999')),
        fc.record({ 'sec-fetch-site': header, origin: header, 'last-event-id': header, cookie: header, 'x-tessera-tab': header }),
        fc.oneof(fc.constant(''), text, fc.string({ minLength: 17_000, maxLength: 17_000 })),
        async (method, path, query, given, body) => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(given)) if (value !== undefined) headers[name] = value;
          const status = await send(base, method, path + query, headers, method === 'GET' || method === 'HEAD' ? '' : body);
          assert.ok(ANSWERS.has(status), `${method} ${path}${query} → ${status}`);
          assert.notEqual(status, 500);
        },
      ),
      { numRuns: 300 },
    );
    assert.equal(await send(base, 'GET', '/', {}, ''), 200, 'still serving');
  });
});
