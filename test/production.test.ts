/**
 * The production example (examples/production/, docs/production.md) as it is meant to run: real
 * nginx with its config, ending TLS, in front of three server processes without sticky sessions,
 * on Redis and on PostgreSQL. A session made through one process is used by the others; a tab's
 * stream is held by one process and events pushed from the others reach it; a process stopped
 * mid-way loses nothing. Skipped, saying why, without nginx or the service (failures in CI, which
 * installs nginx and sets TESSERA_REQUIRE_SERVICES=1).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { until } from './helpers/chromium.js';
import { freePort } from './helpers/ports.js';
import { PG_URL, REDIS_URL, REQUIRE_SERVICES, serviceSkip } from './helpers/services.js';
import { SseClient } from './helpers/sse.js';

const EXAMPLE = join(import.meta.dirname, '../examples/production');
const NGINX = process.env.TESSERA_NGINX ?? '/usr/sbin/nginx';
const SECRET = 'production-example-secret-0123456789abcdef';
const TAB = 'prodTabAAAAAAAAAAAAAAA';

function nginxSkip(): string | false {
  if (existsSync(NGINX)) return false;
  const reason = `nginx not found at ${NGINX} (apt-get install nginx, or set TESSERA_NGINX); the production example's test is skipped`;
  if (REQUIRE_SERVICES) throw new Error(`nginx is required (TESSERA_REQUIRE_SERVICES=1) but ${reason}`);
  process.stdout.write(`# SKIPPED: ${reason}\n`);
  return reason;
}

const children: ChildProcessWithoutNullStreams[] = [];
const nginxes: ChildProcess[] = [];
const streams: SseClient[] = [];
const dirs: string[] = [];

/** Stop nginx with SIGTERM (a fast shutdown: its workers exit too; SIGKILL would leave them running) and wait for it. */
async function stopNginx(nginx: ChildProcess): Promise<void> {
  if (nginx.exitCode !== null || nginx.signalCode !== null) return;
  const exited = new Promise((resolve) => nginx.once('exit', resolve));
  nginx.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
}

after(async () => {
  for (const stream of streams) stream.destroy();
  await Promise.all(nginxes.map(stopNginx));
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Start a process and wait for its first stdout line (JSON). */
function start(command: string, args: string[], env: Record<string, string>): Promise<{ child: ChildProcessWithoutNullStreams; ready: unknown }> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.at(-1)} did not start: ${stderr}`)), 20_000);
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve({ child, ready: JSON.parse(line) });
    });
    child.once('exit', (code) => reject(new Error(`${args.at(-1)} exited (${code}): ${stderr}`)));
  });
}

/** A browser-like HTTPS client: keeps its cookies, trusts the test's certificate. */
class Browser {
  readonly cookies = new Map<string, string>();
  constructor(readonly base: string, readonly ca: string) {}

  get cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  send(method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; setCookie: string[] }> {
    return new Promise((resolve, reject) => {
      // agent: false — a connection per request, closed after it: nothing left open when the test ends.
      const req = request(this.base + path, { method, ca: this.ca, agent: false, headers: { cookie: this.cookieHeader, 'sec-fetch-site': 'same-origin', ...headers } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          const setCookie = res.headers['set-cookie'] ?? [];
          for (const line of setCookie) {
            const [pair] = line.split(';');
            const eq = pair!.indexOf('=');
            this.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
          }
          resolve({ status: res.statusCode ?? 0, body, setCookie });
        });
      });
      req.on('error', reject);
      req.end();
    });
  }
}

const services: [string, string][] = [
  ['Redis', REDIS_URL],
  ['PostgreSQL', PG_URL],
];

const noNginx = nginxSkip();
for (const [service, url] of services) {
  const skip = noNginx || (await serviceSkip(service, url));
  describe(`the production example behind nginx on ${service}`, { skip, timeout: 90_000 }, () => {
    it('three processes without sticky sessions share sessions and live pushes; one stopped loses nothing', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tessera-prod-'));
      dirs.push(dir);
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
        '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
      const ca = readFileSync(join(dir, 'cert.pem'), 'utf8');

      const env = { NODE_ENV: 'production', TESSERA_SECRETS: SECRET, SESSION_STORE: url, PORT: '0', OPERATORS: 'ada' };
      const servers = await Promise.all(['a', 'b', 'c'].map((name) => start(process.execPath, ['--import', 'tsx', join(EXAMPLE, 'server.ts')], { ...env, INSTANCE: name })));
      const ports = servers.map((s) => (s.ready as { port: number }).port);

      // The example's nginx.conf as shipped, with this run's ports.
      const [https, http] = [await freePort(), await freePort()];
      let conf = readFileSync(join(EXAMPLE, 'nginx.conf'), 'utf8');
      ports.forEach((port, i) => (conf = conf.replace(`127.0.0.1:300${i + 1}`, `127.0.0.1:${port}`)));
      conf = conf.replaceAll('8443', String(https)).replace('127.0.0.1:8080', `127.0.0.1:${http}`);
      writeFileSync(join(dir, 'nginx.conf'), conf);
      const nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
      nginxes.push(nginx);
      let nginxErr = '';
      nginx.stderr.on('data', (d: Buffer) => (nginxErr += d.toString()));
      const browser = new Browser(`https://127.0.0.1:${https}`, ca);
      await until(`nginx to listen (${nginxErr})`, () => browser.send('GET', '/healthz').then((r) => r.status === 200, () => false), 10_000);

      // One session, counted by every process in turn.
      const seenBy = new Set<string>();
      for (let i = 1; i <= 6; i++) {
        const res = await browser.send('GET', '/api/count');
        assert.equal(res.status, 200, res.body);
        const body = JSON.parse(res.body) as { count: number; instance: string };
        assert.equal(body.count, i, `request ${i} saw every write before it (served by ${body.instance})`);
        seenBy.add(body.instance);
        if (i === 1) {
          const line = res.setCookie.find((l) => l.startsWith('__Host-'));
          assert.ok(line, `a __Host- session cookie over HTTPS: ${res.setCookie.join(' | ')}`);
          assert.match(line!, /; Secure/i);
          assert.match(line!, /; HttpOnly/i);
        }
      }
      assert.deepEqual([...seenBy].sort(), ['a', 'b', 'c'], 'round robin: every process served the session');
      assert.equal((await browser.send('GET', '/admin')).status, 403, 'the admin page: operators only');

      // A tab's stream, held by one process; pushes made by the others reach it.
      const stream = await SseClient.open(`${browser.base}/tessera/live?tab=${TAB}`, { cookie: browser.cookieHeader, 'sec-fetch-site': 'same-origin' }, { ca });
      streams.push(stream);
      assert.equal(stream.status, 200);
      await stream.next('hello', 10_000);
      assert.equal((await browser.send('POST', '/api/notify')).status, 403, 'no CSRF header: refused');
      const { csrf } = JSON.parse((await browser.send('GET', '/api/count')).body) as { csrf: string };
      // nginx balances each connection's requests in turn, per worker: push until two processes
      // have (at least one of them is not the one holding the stream), each push delivered.
      const pushers = new Set<string>();
      for (let i = 0; i < 12 && pushers.size < 2; i++) {
        const res = await browser.send('POST', '/api/notify', { 'x-csrf-token': csrf });
        assert.equal(res.status, 200, res.body);
        const { instance } = JSON.parse(res.body) as { instance: string };
        const event = JSON.parse((await stream.next('event', 10_000)).data) as { type: string; name: string; detail: { from: string } };
        assert.deepEqual(event, { type: 'event', name: 'notify', detail: { from: instance } }, 'the push of the process that answered, delivered to the one stream');
        pushers.add(instance);
      }
      assert.equal(pushers.size, 2, 'pushes from two processes reached the stream one of them (at most) holds');
      stream.destroy();

      // A rolling restart: one process stops; the others serve the same session on.
      const stopped = servers[0]!.child;
      stopped.kill('SIGTERM');
      await new Promise((resolve) => stopped.once('exit', resolve));
      const before = JSON.parse((await browser.send('GET', '/api/count')).body) as { count: number };
      for (let i = 1; i <= 3; i++) {
        const res = await browser.send('GET', '/api/count');
        assert.equal(res.status, 200, res.body);
        const body = JSON.parse(res.body) as { count: number; instance: string };
        assert.equal(body.count, before.count + i);
        assert.notEqual(body.instance, 'a');
      }
      await stopNginx(nginx);
      for (const s of servers.slice(1)) s.child.kill('SIGTERM');
    });
  });
}
