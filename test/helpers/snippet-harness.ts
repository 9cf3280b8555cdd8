/**
 * The child side of `runSnippet` (test/helpers/snippets.ts): runs one snippet module in a process
 * of its own and checks what it did. Not a test file; started as
 * `node --import tsx snippet-harness.ts <module> <requests as JSON> [tests]`.
 *
 * - Every server the snippet starts listens on a free port of 127.0.0.1, whatever it asked for
 *   (`listen(3000)`, `app.listen({ port: 3000 })`, `serve(app)`): `net.Server#listen` is replaced
 *   before the snippet is imported.
 * - Once the module has run (top-level `await` included), the requests are sent in order to the
 *   first server it started, as one browser (cookies kept), and each answer is compared with
 *   what it expects. A snippet that starts a server without requests to check it fails, and so
 *   do requests without a server.
 * - Every `Tessera` the module holds at top level (and every store it holds that is not the
 *   encrypted cookie) stores, reads back and destroys one session: a store pointed at the wrong
 *   place fails here, not later in a reader's app. It is closed afterwards.
 * - With `tests`, the snippet registers node:test tests (the store conformance kit): the harness
 *   only imports it, and node:test runs them and sets the exit code.
 *
 * Any failure is printed on stderr and the process exits 1; success exits 0.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { createTessera, Tessera } from '../../src/index.js';
import { CookieStore } from '../../src/stores/cookie.js';
import type { SessionStore } from '../../src/stores/store.js';
import type { RequestStep } from './snippets.js';

const [file, requestsJson = '[]', mode] = process.argv.slice(2);
if (!file) throw new Error('usage: snippet-harness.ts <module> [requests as JSON] [tests]');
const requests = JSON.parse(requestsJson) as RequestStep[];
const STEP_TIMEOUT = 20_000;

const servers: net.Server[] = [];
const listen = net.Server.prototype.listen as (this: net.Server, ...args: unknown[]) => net.Server;
net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]): net.Server {
  const callback = args.findLast((arg) => typeof arg === 'function');
  servers.push(this);
  return listen.call(this, { port: 0, host: '127.0.0.1' }, callback);
} as typeof net.Server.prototype.listen;

function within<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${STEP_TIMEOUT / 1000} s`)), STEP_TIMEOUT);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The requests, in order, as one browser: each sends the cookies the previous answers set. */
async function sendRequests(port: number): Promise<void> {
  const jar = new Map<string, string>();
  for (const [index, step] of requests.entries()) {
    const what = `request ${index + 1}, ${step.method} ${step.path}`;
    const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
    const headers: Record<string, string> = cookie ? { cookie } : {};
    if (!['GET', 'HEAD'].includes(step.method)) {
      // As a page's script does: a same-origin request carrying the CSRF token the page's cookie holds.
      headers['sec-fetch-site'] = 'same-origin';
      const token = [...jar].find(([name]) => /(^|[-_.])csrf$/i.test(name))?.[1];
      if (token !== undefined) headers['x-csrf-token'] = token;
    }
    const response = await within(what, fetch(`http://127.0.0.1:${port}${step.path}`, { method: step.method, headers, redirect: 'manual' }));
    const body = await response.text();
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const name = pair.slice(0, pair.indexOf('=')).trim();
      const gone = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) < Date.now()));
      if (gone) jar.delete(name);
      else jar.set(name, pair.slice(pair.indexOf('=') + 1).trim());
    }
    if (step.status !== undefined) assert.equal(response.status, step.status, `${what}: status (body: ${JSON.stringify(body.slice(0, 200))})`);
    else assert.ok(response.ok, `${what}: status ${response.status}, expected 2xx (body: ${JSON.stringify(body.slice(0, 200))})`);
    if (step.body !== undefined) assert.equal(body, step.body, `${what}: body ${JSON.stringify(body)}, expected ${JSON.stringify(step.body)}`);
    if (step.json !== undefined) assert.deepEqual(JSON.parse(body), step.json, `${what}: body ${body}, expected ${JSON.stringify(step.json)}`);
  }
}

function isStore(value: unknown): value is SessionStore {
  const v = value as Partial<SessionStore> | null;
  return typeof v === 'object' && v !== null && typeof v.name === 'string' &&
    typeof v.get === 'function' && typeof v.set === 'function' && typeof v.delete === 'function';
}

/** One session through `tessera`: created, read back, destroyed. */
async function roundTrip(what: string, tessera: Tessera): Promise<void> {
  const { id } = await within(`${what}: create a session`, tessera.create({ data: { snippet: 'checked' } }));
  assert.equal(await within(`${what}: read it`, tessera.get(id, 'snippet')), 'checked', `${what}: reads back what it stored`);
  assert.equal(await within(`${what}: destroy it`, tessera.destroy(id)), true, `${what}: destroys it`);
}

async function main(): Promise<void> {
  const namespace = (await within('the snippet', import(pathToFileURL(file!).href))) as Record<string, unknown>;
  // A CommonJS snippet's bindings are on its module.exports: the namespace's default.
  const module = /\.c[jt]s$/.test(file!) ? { ...(namespace.default as object), ...namespace } : namespace;
  if (mode === 'tests') return; // node:test runs the tests the module registered, and sets the exit code

  await within('listening', Promise.all(servers.map((s) => (s.listening ? undefined : once(s, 'listening')))));
  if (requests.length > 0) {
    assert.ok(servers.length > 0, 'requests to check, but the snippet started no server');
    await sendRequests((servers[0]!.address() as net.AddressInfo).port);
  } else {
    assert.equal(servers.length, 0, 'the snippet starts a server, but nothing says what it serves: give it requests to check');
  }

  for (const [name, value] of Object.entries(module)) {
    if (value instanceof Tessera) {
      await roundTrip(`\`${name}\``, value);
      await within(`\`${name}\`: close`, value.close());
    } else if (isStore(value) && !(value instanceof CookieStore)) {
      const tessera = createTessera({ secrets: [process.env.SESSION_SECRET!], store: value });
      await roundTrip(`a manager on \`${name}\``, tessera);
      await within(`\`${name}\`: close`, tessera.close());
    }
  }
}

main().then(
  () => {
    if (mode !== 'tests') process.exit(0);
  },
  (error: unknown) => {
    process.stderr.write(`snippet check failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
