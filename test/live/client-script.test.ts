/**
 * The browser client as tessera serves it: the served text is the current client minified (not a
 * stale build), it stays within its size budget, and the route answers with the right headers.
 * What the client does in a browser is tested in test/browser/.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { createTessera } from '../../src/index.js';
import { nodeSessions } from '../../src/adapters/node.js';
import { CLIENT_SCRIPT } from '../../src/live/client-script.js';
import { TAB_HEADER } from '../../src/live/protocol.js';
import type { Tessera } from '../../src/manager.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { CLIENT_MODULE, clientModule, minifiedClient } from '../../scripts/build-client.js';

const SECRET = 'live-client-test-secret-0123456789abcdef';
/** The budget the client is held to: minified and gzipped. */
const MAX_GZIPPED = 4 * 1024;

describe('the browser client script', () => {
  it('is the current src/live/client.ts, minified (run `npm run build:client` after changing it)', async () => {
    assert.equal(readFileSync(CLIENT_MODULE, 'utf8'), clientModule(await minifiedClient()));
  });

  it(`is at most ${MAX_GZIPPED} bytes minified and gzipped`, () => {
    const size = gzipSync(CLIENT_SCRIPT, { level: 9 }).byteLength;
    assert.ok(size <= MAX_GZIPPED, `${size} bytes`);
  });

  it('is an ES module with no imports, exporting connect, and names the tab header the server reads', () => {
    assert.doesNotMatch(CLIENT_SCRIPT, /\bimport\s*[\w{*"']|\brequire\(/);
    assert.match(CLIENT_SCRIPT, /export\s*\{[^}]*\bas connect\b/);
    assert.ok(CLIENT_SCRIPT.includes(`"${TAB_HEADER}"`));
  });
});

describe('the client route', () => {
  let tessera: Tessera;
  let server: Server;
  let base: string;
  before(async () => {
    tessera = createTessera({ secrets: [SECRET], store: new MemoryStore(), cookie: { secure: false }, live: { path: '/live' } });
    const sessions = nodeSessions(tessera);
    server = createServer(sessions.wrap((_req, res) => res.end('app')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await tessera.close();
  });

  it('serves the script at {path}/client.js as JavaScript, cacheable for a minute, with an ETag and no cookie', async () => {
    const res = await fetch(`${base}/live/client.js`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'public, max-age=60');
    assert.match(res.headers.get('etag') ?? '', /^"[\w-]{22}"$/);
    assert.equal(res.headers.get('set-cookie'), null, 'a cacheable script sets no session cookie');
    assert.equal(await res.text(), CLIENT_SCRIPT);
  });

  it('answers 304 to a revalidation with its ETag, and serves it anew for another', async () => {
    const etag = (await fetch(`${base}/live/client.js`)).headers.get('etag')!;
    const same = await fetch(`${base}/live/client.js`, { headers: { 'if-none-match': `W/"old", ${etag}` } });
    assert.equal(same.status, 304);
    assert.equal(await same.text(), '');
    const other = await fetch(`${base}/live/client.js`, { headers: { 'if-none-match': '"old"' } });
    assert.equal(other.status, 200);
    assert.equal(await other.text(), CLIENT_SCRIPT);
  });

  it('answers HEAD with the headers only, and refuses POST with 405', async () => {
    const head = await new Promise<{ status: number; length: string | undefined; body: string }>((resolve, reject) => {
      const req = request(`${base}/live/client.js`, { method: 'HEAD' }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, length: res.headers['content-length'], body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(head, { status: 200, length: String(Buffer.byteLength(CLIENT_SCRIPT)), body: '' });
    const post = await fetch(`${base}/live/client.js`, { method: 'POST' });
    assert.equal(post.status, 405);
  });

  it('leaves other paths to the app', async () => {
    assert.equal(await (await fetch(`${base}/live/client.jsx`)).text(), 'app');
  });
});
