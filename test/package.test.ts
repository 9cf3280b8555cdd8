/**
 * The published package, as its consumers get it. The build in dist/ (reused when no source is
 * newer than it, otherwise made afresh in a copy under .tmp/, never in the repo, where tshy would
 * write into src/ while other tests run) is packed with `npm pack`, then unpacked into consumer projects whose
 * node_modules hold that tessera, what npm installs with it, and symlinks to what the consumer
 * installed — nothing else:
 *
 * - bare: typescript and @types/node; plain: also express and @types/express; peers: typescript,
 *   @types/node, ioredis, pg and @types/pg.
 * - TypeScript compiles them with `skipLibCheck: false` under `module` commonjs (node10
 *   resolution, with and without esModuleInterop), node16 and nodenext (CommonJS and ES module
 *   files) and esnext with bundler resolution, using every subpath, `import session = require`,
 *   default and named imports, and the Express augmentation, so a published type that needs a
 *   package the consumer lacks (a devDependency, a peer it did not install) fails. CommonJS and ES
 *   module files are compiled apart: one program holding both builds' declarations of
 *   `tessera/express` augments `Express.Request` twice (the dual-package hazard, for types).
 * - Node runs both builds: `require('tessera/express')` is the factory itself (also with
 *   require(esm) turned off, as before Node 20.19) and serves an Express app, `import` gives the
 *   ES module, and a missing optional peer is a ConfigError naming the package to install.
 * - The files: a LICENSE, every export target present, no source map pointing at a missing file.
 * - The `tessera` CLI (`bin`): linked as npm links it, it runs from its shebang, prints its help,
 *   and creates and lists a SQLite store with the better-sqlite3 npm installs with tessera.
 *
 * Consumers live in the OS temp folder, not under .tmp/: from there Node and TypeScript would walk
 * up into the repo's node_modules and find what the consumer lacks.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODULES = join(ROOT, 'node_modules');
const SECRET = 'package-test-secret-0123456789abcdefghij';

interface Manifest {
  name: string;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  exports: Record<string, string | Record<string, Record<string, string>>>;
  typesVersions?: Record<string, Record<string, string[]>>;
  tshy: { exports: Record<string, string> };
}

/** Runs `command` in `cwd` and returns its standard output; fails, showing both outputs, unless it exits with 0. */
function succeed(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((done, fail) => {
    execFile(command, args, { cwd, maxBuffer: 16 << 20, env: { ...process.env, NODE_OPTIONS: '' } }, (error, stdout, stderr) => {
      if (error === null) done(stdout);
      else fail(new assert.AssertionError({ message: `${command} ${args.join(' ')} (in ${cwd}) failed:\n${stdout}${stderr}` }));
    });
  });
}

/** Every file under `dir`, recursively. */
function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? files(path) : [path];
  });
}

/** The files under `dir` whose names match `extension`, without it (`adapters/node` for `adapters/node.ts`). */
function stems(dir: string, extension: RegExp): string[] {
  return files(dir)
    .filter((f) => extension.test(f))
    .map((f) => relative(dir, f).replace(extension, '').split(sep).join('/'))
    .sort();
}

/**
 * Whether dist/ surely holds the build of the sources as they are: both builds hold one module
 * per source module, and no source or build setting changed after the newest file in dist/.
 * (package.json is left out: tshy rewrites it after every build. tshy also leaves alone the files
 * whose output did not change, so after a checkout that changes nothing this says no, and the
 * test builds in its copy: slower, never wrong. In CI, `npm run build` runs on a fresh clone.)
 */
function distIsFresh(): boolean {
  const dist = join(ROOT, 'dist');
  if (!existsSync(join(dist, 'esm')) || !existsSync(join(dist, 'commonjs'))) return false;
  const sources = stems(join(ROOT, 'src'), /\.ts$/);
  for (const build of ['esm', 'commonjs']) {
    if (stems(join(dist, build), /\.js$/).join() !== sources.join()) return false;
  }
  const built = Math.max(...files(dist).map((f) => statSync(f).mtimeMs));
  const inputs = [...files(join(ROOT, 'src')), join(ROOT, 'tsconfig.json'), join(ROOT, 'tsconfig.build.json')];
  return inputs.every((f) => statSync(f).mtimeMs <= built);
}

/** Builds the package in a copy of the repo under `work` (tshy writes into src/ while it builds). */
async function buildCopy(work: string): Promise<string> {
  const copy = join(work, 'build');
  for (const name of ['src', 'docs', 'package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE']) {
    if (existsSync(join(ROOT, name))) cpSync(join(ROOT, name), join(copy, name), { recursive: true });
  }
  symlinkSync(MODULES, join(copy, 'node_modules'), 'dir');
  const { bin } = JSON.parse(readFileSync(join(MODULES, 'tshy', 'package.json'), 'utf8')) as { bin: string | Record<string, string> };
  await succeed(process.execPath, [join(MODULES, 'tshy', typeof bin === 'string' ? bin : bin.tshy!)], copy);
  return copy;
}

/** A consumer project at `dir` (type commonjs, like `npm init`) with tessera unpacked from `tarball`. */
async function consumer(dir: string, tarball: string, installed: string[]): Promise<void> {
  const modules = join(dir, 'node_modules');
  mkdirSync(join(modules, 'tessera'), { recursive: true });
  mkdirSync(join(modules, '@types'), { recursive: true });
  await succeed('tar', ['-xzf', tarball, '-C', join(modules, 'tessera'), '--strip-components=1'], dir);
  const manifest = JSON.parse(readFileSync(join(modules, 'tessera', 'package.json'), 'utf8')) as Manifest;
  // What npm installs with tessera, and what the consumer installed; their own dependencies are
  // found from the symlinks' targets, as Node and TypeScript resolve through symlinks.
  for (const name of [...Object.keys(manifest.dependencies ?? {}), ...installed]) {
    symlinkSync(join(MODULES, name), join(modules, name), 'dir');
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'commonjs' }));
}

/**
 * Compiles `sources` in `dir` with the tsconfig `options`, as `tsc --noEmit` would with
 * `skipLibCheck: false`, but checks only the consumer's own files and tessera's declarations (not
 * all of @types/node, which takes seconds per setting). Returns the errors and the program's files.
 */
function typecheck(dir: string, options: Record<string, unknown>, sources: string[]): { errors: string; files: string[] } {
  const compilerOptions = { target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, ...options };
  const config = ts.parseJsonConfigFileContent({ compilerOptions, files: sources }, ts.sys, dir);
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
  const checked = program.getSourceFiles().filter((f) => !f.fileName.includes('/node_modules/') || f.fileName.includes('/node_modules/tessera/'));
  const diagnostics = [
    ...config.errors,
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...checked.flatMap((f) => [...program.getSyntacticDiagnostics(f), ...program.getSemanticDiagnostics(f)]),
  ];
  const host = { getCanonicalFileName: (f: string) => f, getCurrentDirectory: () => dir, getNewLine: () => '\n' };
  return { errors: ts.formatDiagnostics(diagnostics, host), files: program.getSourceFiles().map((f) => f.fileName) };
}

// ---------------------------------------------------------------- consumer sources

/** Imports of every subpath that needs no optional peer (CommonJS-mode file). */
const CJS_APP = `
import session = require('tessera/express');
import sessionDefault from 'tessera/express';
import { session as named, tesseraSession, type ExpressSessionOptions, type SessionData } from 'tessera/express';
import express = require('express');
import { ConfigError, createTessera, type Tessera } from 'tessera';
import { nodeSessions } from 'tessera/node';
import { SqliteStore, type SqliteStoreOptions } from 'tessera/stores/sqlite';
import { MemoryStore } from 'tessera/stores/memory';
import { FileStore } from 'tessera/stores/file';
import { CookieStore } from 'tessera/stores/cookie';
import { storeConformance } from 'tessera/stores/conformance';

declare module 'tessera/express' {
  interface SessionData {
    views: number;
  }
}

const options: ExpressSessionOptions = { secret: '${SECRET}', resave: false, saveUninitialized: false };
const app = express();
app.use(session(options), sessionDefault(options), named(options), session.session(options), session.default(options));
app.use(session({ ...options, store: new session.MemoryStore() }));
app.get('/', (req, res) => {
  req.session.views = (req.session.views ?? 0) + 1;
  // @ts-expect-error -- SessionData, augmented above, makes views a number
  req.session.views = 'many';
  tesseraSession(req).userId = 'user-1';
  res.send(String(req.session.views));
});
const data: Partial<SessionData> = { views: 1 };
const sqlite: SqliteStoreOptions = { path: ':memory:' };
const tessera: Tessera = createTessera({ secrets: ['${SECRET}'], store: new SqliteStore(sqlite) });
nodeSessions(tessera);
export const used = [data, ConfigError, MemoryStore, FileStore, CookieStore, storeConformance, session.tesseraSession];
`;

/** The same from an ES module. */
const ESM_APP = `
import session, { session as named, tesseraSession, type ExpressSessionOptions, type SessionData } from 'tessera/express';
import express from 'express';
import { ConfigError, createTessera, type Tessera } from 'tessera';
import { nodeSessions } from 'tessera/node';
import { SqliteStore, type SqliteStoreOptions } from 'tessera/stores/sqlite';
import { MemoryStore } from 'tessera/stores/memory';
import { FileStore } from 'tessera/stores/file';
import { CookieStore } from 'tessera/stores/cookie';
import { storeConformance } from 'tessera/stores/conformance';

declare module 'tessera/express' {
  interface SessionData {
    views: number;
  }
}

const options: ExpressSessionOptions = { secret: '${SECRET}', resave: false, saveUninitialized: false };
const app = express();
app.use(session(options), named(options));
app.get('/', (req, res) => {
  req.session.views = (req.session.views ?? 0) + 1;
  // @ts-expect-error -- SessionData, augmented above, makes views a number
  req.session.views = 'many';
  tesseraSession(req).userId = 'user-1';
  res.send(String(req.session.views));
});
const data: Partial<SessionData> = { views: 1 };
const sqlite: SqliteStoreOptions = { path: ':memory:' };
const tessera: Tessera = createTessera({ secrets: ['${SECRET}'], store: new SqliteStore(sqlite) });
nodeSessions(tessera);
export const used = [data, ConfigError, MemoryStore, FileStore, CookieStore, storeConformance];
`;

/** Every subpath but the optional peers', for a consumer with nothing but typescript and @types/node. */
const BARE_APP = (esm: boolean) => `
${esm ? "import session from 'tessera/express';" : "import session = require('tessera/express');"}
import { createTessera } from 'tessera';
import { nodeSessions } from 'tessera/node';
import { SqliteStore, type SqliteDatabase } from 'tessera/stores/sqlite';
import { MemoryStore } from 'tessera/stores/memory';
import { FileStore } from 'tessera/stores/file';
import { CookieStore } from 'tessera/stores/cookie';
import { storeConformance } from 'tessera/stores/conformance';
import { connect, type LiveClient } from 'tessera/live/client';

declare const database: SqliteDatabase;
export const middleware = session({ secret: '${SECRET}', resave: false, saveUninitialized: false });
export const sessions = nodeSessions(createTessera({ secrets: ['${SECRET}'], store: new SqliteStore({ database }) }));
export const used = [MemoryStore, FileStore, CookieStore, storeConformance];
export const live: (options?: { path?: string }) => LiveClient = connect;
`;

/** The optional peers' subpaths, for a consumer that installed the peers (and @types/pg: pg has no types of its own). */
const PEERS_APP = (esm: boolean) => `
import { RedisStore } from 'tessera/stores/redis';
import { PostgresStore } from 'tessera/stores/postgres';
import { RedisBus } from 'tessera/live/redis';
import { PostgresBus } from 'tessera/live/postgres';
import { busConformance } from 'tessera/live/bus-conformance';
import { Redis } from 'ioredis';
${esm ? "import pg from 'pg';" : "import pg = require('pg');"}
export const redis = new RedisStore({ client: new Redis({ lazyConnect: true }) });
export const postgres = new PostgresStore({ pool: new pg.Pool() });
export const configured = new PostgresStore({ connectionString: 'postgres://localhost/app', poolConfig: { max: 4 } });
export const buses = [new RedisBus({ client: new Redis({ lazyConnect: true }) }), new PostgresBus({ pool: new pg.Pool() }), busConformance];
`;

/** The framework adapters, for a consumer that installed Fastify and Hono (their optional peers). */
const FRAMEWORKS_APP = (esm: boolean) => `
import Fastify from 'fastify';
import { Hono } from 'hono';
import ${esm ? 'fastifySessions' : '{ sessions as fastifySessions }'} from 'tessera/fastify';
import { sessions as honoSessions, type SessionVariables } from 'tessera/hono';
import { MemoryStore } from 'tessera/stores/memory';

export async function fastifyApp() {
  const app = Fastify();
  await app.register(fastifySessions, { secrets: ['${SECRET}'], store: new MemoryStore() });
  app.get('/', async (request) => ({ views: request.session.get<number>('views') ?? 0, manager: app.tessera.cookieName }));
  return app;
}
export const hono = new Hono<{ Variables: SessionVariables<{ views: number }> }>();
hono.use(honoSessions({ secrets: ['${SECRET}'], store: new MemoryStore() }));
hono.get('/', (c) => c.text(String(c.get('session').get('views') ?? 0)));
`;

/**
 * Run by both builds: a SqliteStore on a file, whose checkpoint thread (its code run with eval,
 * loading the better-sqlite3 installed with tessera) copies the log into the database file while
 * the store is open, with no warning that it fell back; then close and reopen.
 */
const SQLITE_FILE_RUN = `
async function sqliteOnFile(SqliteStore) {
  const { mkdtempSync, rmSync, statSync, existsSync } = require('node:fs');
  const { join } = require('node:path');
  const dir = mkdtempSync(join(require('node:os').tmpdir(), 'tessera-package-sqlite-'));
  const warnings = [];
  const logger = { warn: (fields, message) => warnings.push(message) };
  try {
    const path = join(dir, 'sessions.db');
    const store = new SqliteStore({ path, logger });
    const now = Date.now();
    for (let i = 0; i < 100; i++) {
      await store.set('k' + i, { data: 'x'.repeat(500), version: 1, expiresAt: now + 60000, userId: null, tenant: null }, 0, { now });
    }
    // About 600 pages of log, under SQLite's automatic 1,000: only the thread copies them.
    const deadline = Date.now() + 10000;
    while (statSync(path).size < 50000 && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 50));
    assert.ok(statSync(path).size >= 50000, 'the checkpoint thread copied the log into ' + path);
    assert.deepEqual(warnings, []);
    await store.close();
    assert.equal(existsSync(path + '-wal'), false);
    const again = new SqliteStore({ path, logger });
    assert.equal(await again.countLive({ now }), 100);
    await again.close();
    assert.deepEqual(warnings, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
`;

/** Runs in the plain consumer as CommonJS. */
const CJS_RUN = `
const assert = require('node:assert/strict');
const session = require('tessera/express');
const { ConfigError, createTessera } = require('tessera');

async function main() {
  assert.match(require.resolve('tessera/express'), /dist[\\\\/]commonjs[\\\\/]adapters[\\\\/]express\\.js$/);
  assert.equal(typeof session, 'function');
  assert.equal(session.session, session);
  assert.equal(session.default, session);
  assert.equal(typeof session.tesseraSession, 'function');
  assert.equal(typeof createTessera, 'function');

  // Every value the ES module exports, and everything on its session, is on the CommonJS export.
  const esm = await import('tessera/express');
  for (const key of [...Object.keys(esm), ...Object.keys(esm.session)]) {
    assert.ok(key in session, 'require("tessera/express").' + key + ' is missing');
    assert.equal(typeof session[key], typeof (key in esm ? esm[key] : esm.session[key]), key);
  }

  // An Express app with the middleware, through real requests.
  const app = require('express')();
  app.use(session({ secret: '${SECRET}', resave: false, saveUninitialized: false, store: new session.MemoryStore() }));
  app.get('/', (req, res) => {
    req.session.views = (req.session.views || 0) + 1;
    res.send(String(req.session.views));
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((ok) => server.once('listening', ok));
  try {
    const url = 'http://127.0.0.1:' + server.address().port + '/';
    const first = await fetch(url);
    assert.equal(await first.text(), '1');
    const cookie = first.headers.get('set-cookie').split(';')[0];
    const second = await fetch(url, { headers: { cookie } });
    assert.equal(await second.text(), '2');
  } finally {
    server.close();
  }

  // The browser client: its module loads (it starts nothing outside a browser), and the CommonJS
  // build serves it.
  assert.equal(typeof require('tessera/live/client').connect, 'function');
  const { nodeSessions } = require('tessera/node');
  const { MemoryStore } = require('tessera/stores/memory');
  const live = createTessera({ secrets: ['${SECRET}'], store: new MemoryStore(), live: {} });
  const liveServer = require('node:http').createServer(nodeSessions(live).wrap((req, res) => res.end()));
  await new Promise((ok) => liveServer.listen(0, '127.0.0.1', ok));
  try {
    const script = await fetch('http://127.0.0.1:' + liveServer.address().port + '/tessera/live/client.js');
    assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.match(await script.text(), /EventSource/);
  } finally {
    liveServer.close();
    await live.close();
  }

  // better-sqlite3 comes with tessera; the optional peers are not installed here.
  const { SqliteStore } = require('tessera/stores/sqlite');
  await new SqliteStore({ path: ':memory:' }).close();
  await sqliteOnFile(SqliteStore);
  const { RedisStore } = require('tessera/stores/redis');
  const { PostgresStore } = require('tessera/stores/postgres');
  const missing = (name) => (error) =>
    error instanceof ConfigError && error.code === 'ERR_CONFIG' && error.message.includes('npm install ' + name);
  assert.throws(() => new RedisStore({ url: 'redis://127.0.0.1:6379' }), missing('ioredis'));
  assert.throws(() => new PostgresStore({ connectionString: 'postgres://127.0.0.1/x' }), missing('pg'));
  const { RedisBus } = require('tessera/live/redis');
  const { PostgresBus } = require('tessera/live/postgres');
  assert.throws(() => new RedisBus({ url: 'redis://127.0.0.1:6379' }), missing('ioredis'));
  assert.throws(() => new PostgresBus({ connectionString: 'postgres://127.0.0.1/x' }), missing('pg'));
  console.log('cjs ok');
}
${SQLITE_FILE_RUN}
main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;

/** Runs in the plain consumer as an ES module. */
const ESM_RUN = `
import assert from 'node:assert/strict';
import session, { session as named, tesseraSession } from 'tessera/express';
import { ConfigError, createTessera } from 'tessera';
import { RedisStore } from 'tessera/stores/redis';
import { PostgresStore } from 'tessera/stores/postgres';
import { SqliteStore } from 'tessera/stores/sqlite';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
${SQLITE_FILE_RUN}
assert.match(import.meta.resolve('tessera/stores/sqlite'), /dist\\/esm\\/stores\\/sqlite\\.js$/);
await sqliteOnFile(SqliteStore);
assert.match(import.meta.resolve('tessera/express'), /dist\\/esm\\/adapters\\/express\\.js$/);
const namespace = await import('tessera/express');
assert.equal(namespace.default, namespace.session);
assert.equal(session, named);
assert.equal(typeof session({ secret: '${SECRET}', resave: false, saveUninitialized: false, store: new session.MemoryStore() }), 'function');
assert.equal(typeof tesseraSession, 'function');
assert.equal(typeof createTessera, 'function');
const missing = (name) => (error) =>
  error instanceof ConfigError && error.code === 'ERR_CONFIG' && error.message.includes('npm install ' + name);
assert.throws(() => new RedisStore({ url: 'redis://127.0.0.1:6379' }), missing('ioredis'));
assert.throws(() => new PostgresStore({ connectionString: 'postgres://127.0.0.1/x' }), missing('pg'));
const { RedisBus } = await import('tessera/live/redis');
const { PostgresBus } = await import('tessera/live/postgres');
assert.throws(() => new RedisBus({ url: 'redis://127.0.0.1:6379' }), missing('ioredis'));
assert.throws(() => new PostgresBus({ connectionString: 'postgres://127.0.0.1/x' }), missing('pg'));
// The browser client: its module loads (it starts nothing outside a browser), and the ES module build serves it.
assert.equal(typeof (await import('tessera/live/client')).connect, 'function');
const { nodeSessions } = await import('tessera/node');
const { MemoryStore } = await import('tessera/stores/memory');
const { createServer } = await import('node:http');
const live = createTessera({ secrets: ['${SECRET}'], store: new MemoryStore(), live: {} });
const liveServer = createServer(nodeSessions(live).wrap((req, res) => res.end()));
await new Promise((ok) => liveServer.listen(0, '127.0.0.1', ok));
const script = await fetch('http://127.0.0.1:' + liveServer.address().port + '/tessera/live/client.js');
assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
assert.match(await script.text(), /EventSource/);
liveServer.close();
await live.close();
console.log('esm ok');
`;

/** Runs in the frameworks consumer as CommonJS: a session through each adapter, from the CommonJS build. */
const FRAMEWORKS_RUN = `
const assert = require('node:assert/strict');
const Fastify = require('fastify');
const { Hono } = require('hono');
const { sessions } = require('tessera/fastify');
const hono = require('tessera/hono');
const { MemoryStore } = require('tessera/stores/memory');
(async () => {
  const app = Fastify();
  await app.register(sessions, { secrets: ['${SECRET}'], store: new MemoryStore() });
  app.get('/', async (request) => { request.session.set('n', 1); return 'ok'; });
  const reply = await app.inject('/');
  assert.equal(reply.statusCode, 200);
  assert.match(String(reply.headers['set-cookie']), /tessera=/);
  const web = new Hono();
  web.use(hono.sessions({ secrets: ['${SECRET}'], store: new MemoryStore() }));
  web.get('/', (c) => { c.get('session').set('n', 1); return c.text('ok'); });
  const res = await web.request('/');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('set-cookie') ?? '', /tessera=/);
  await app.close();
  console.log('frameworks ok');
})();
`;

/** Runs in the consumer with the peers: the CommonJS build finds them next to tessera. */
const PEERS_RUN = `
const assert = require('node:assert/strict');
const { PostgresStore } = require('tessera/stores/postgres');
const store = new PostgresStore({ connectionString: 'postgres://127.0.0.1:1/none' });
assert.equal(store.name, 'postgres');
store.close().then(() => console.log('peers ok'));
`;

// ---------------------------------------------------------------- the tests

describe('the published package', { timeout: 180_000 }, () => {
  let work: string;
  let consumers: string;
  let bare: string;
  let plain: string;
  let peers: string;
  let frameworks: string;
  let unpacked: string;
  let manifest: Manifest;

  before(async () => {
    mkdirSync(join(ROOT, '.tmp'), { recursive: true });
    work = mkdtempSync(join(ROOT, '.tmp', 'package-test-'));
    consumers = mkdtempSync(join(tmpdir(), 'tessera-consumers-'));
    for (let dir = dirname(consumers); dir !== dirname(dir); dir = dirname(dir)) {
      assert.ok(!existsSync(join(dir, 'node_modules')), `${dir}/node_modules would be visible to the consumers: set TMPDIR elsewhere`);
    }
    const packageRoot = distIsFresh() ? ROOT : await buildCopy(work);
    const packed = JSON.parse(await succeed('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], packageRoot)) as { filename: string }[];
    const tarball = join(work, packed[0]!.filename);

    bare = join(consumers, 'bare');
    plain = join(consumers, 'plain');
    peers = join(consumers, 'peers');
    frameworks = join(consumers, 'frameworks');
    await consumer(bare, tarball, ['typescript', '@types/node']);
    await consumer(plain, tarball, ['typescript', '@types/node', '@types/express', 'express']);
    await consumer(peers, tarball, ['typescript', '@types/node', 'ioredis', 'pg', '@types/pg']);
    await consumer(frameworks, tarball, ['typescript', '@types/node', 'fastify', 'hono']);
    unpacked = join(plain, 'node_modules', 'tessera');
    manifest = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8')) as Manifest;
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
    if (consumers) rmSync(consumers, { recursive: true, force: true });
  });

  it('ships a LICENSE, and a file for every export', () => {
    const license = readFileSync(join(unpacked, 'LICENSE'), 'utf8');
    assert.match(license, /^MIT License/);
    assert.match(license, /Copyright \(c\) 2026 the tessera authors/);

    assert.deepEqual(Object.keys(manifest.exports).sort(), Object.keys(manifest.tshy.exports).sort());
    const targets = (value: unknown): string[] =>
      typeof value === 'string' ? [value] : Object.values(value as Record<string, unknown>).flatMap(targets);
    for (const [subpath, value] of Object.entries(manifest.exports)) {
      const paths = targets(value);
      if (subpath !== './package.json') {
        for (const build of ['dist/esm/', 'dist/commonjs/']) assert.ok(paths.some((p) => p.startsWith(`./${build}`)), `${subpath} has a ${build} build`);
      }
      for (const path of paths) assert.ok(existsSync(join(unpacked, path)), `${subpath}: ${path} is shipped`);
    }
    // TypeScript's node10 resolution ignores `exports`: typesVersions maps each subpath for it.
    const versions = manifest.typesVersions?.['*'] ?? {};
    for (const subpath of Object.keys(manifest.exports).filter((s) => s !== '.' && s !== './package.json')) {
      const mapped = versions[subpath.slice(2)];
      assert.ok(mapped, `typesVersions maps ${subpath}`);
      for (const path of mapped) assert.ok(existsSync(join(unpacked, path)), `typesVersions ${subpath}: ${path} is shipped`);
    }
    // tshy's CommonJS forms take the place of their ES module twins, under the twins' names.
    assert.deepEqual(files(join(unpacked, 'dist')).filter((f) => /-cjs\.|\.cts$/.test(f)), []);
  });

  it('ships no source map that points at a file it does not ship', () => {
    for (const file of files(unpacked)) {
      if (file.endsWith('.map')) {
        const map = JSON.parse(readFileSync(file, 'utf8')) as { sources: string[]; sourceRoot?: string };
        for (const source of map.sources) {
          const path = resolve(dirname(file), map.sourceRoot ?? '', source);
          assert.ok(existsSync(path), `${relative(unpacked, file)} points at ${source}, which is not shipped`);
        }
      } else if (/\.(c|m)?js$|\.d\.(c|m)?ts$/.test(file)) {
        const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(file, 'utf8'))?.[1];
        if (url !== undefined && !url.startsWith('data:')) {
          assert.ok(existsSync(resolve(dirname(file), url)), `${relative(unpacked, file)} names the map ${url}, which is not shipped`);
        }
      }
    }
  });

  it('type-checks for consumers under every module setting, with no package they lack', async () => {
    // A new subpath needs a consumer here (and, if it needs a package, a decision on who installs it).
    const sources = [BARE_APP(false), BARE_APP(true), CJS_APP, ESM_APP, PEERS_APP(false), PEERS_APP(true), FRAMEWORKS_APP(false), FRAMEWORKS_APP(true)].join('\n');
    const imported = new Set([...sources.matchAll(/'tessera(\/[\w/-]+)?'/g)].map((m) => `.${m[1] ?? ''}`));
    const exported = Object.keys(manifest.exports).filter((s) => s !== './package.json');
    assert.deepEqual([...imported].sort(), exported.sort(), 'every subpath is type-checked by a consumer');

    writeFileSync(join(bare, 'app.ts'), BARE_APP(false));
    writeFileSync(join(bare, 'app.mts'), BARE_APP(true));
    writeFileSync(join(plain, 'app.ts'), CJS_APP);
    writeFileSync(join(plain, 'app.mts'), ESM_APP);
    writeFileSync(join(peers, 'peers.ts'), PEERS_APP(false));
    writeFileSync(join(peers, 'peers.mts'), PEERS_APP(true));
    writeFileSync(join(frameworks, 'frameworks.ts'), FRAMEWORKS_APP(false));
    writeFileSync(join(frameworks, 'frameworks.mts'), FRAMEWORKS_APP(true));
    const cjs = 'dist/commonjs/adapters/express.d.ts';
    const esm = 'dist/esm/adapters/express.d.ts';
    const cases: [dir: string, options: Record<string, unknown>, sources: string[], declarations: string][] = [
      [bare, { module: 'commonjs' }, ['app.ts'], cjs],
      [bare, { module: 'nodenext' }, ['app.mts'], esm],
      [plain, { module: 'commonjs', esModuleInterop: true }, ['app.ts'], cjs],
      [plain, { module: 'commonjs', moduleResolution: 'node10' }, ['app.ts'], cjs],
      [plain, { module: 'node16' }, ['app.ts'], cjs],
      [plain, { module: 'nodenext' }, ['app.ts'], cjs],
      [plain, { module: 'node16' }, ['app.mts'], esm],
      [plain, { module: 'nodenext' }, ['app.mts'], esm],
      [plain, { module: 'esnext', moduleResolution: 'bundler' }, ['app.mts'], esm],
      [peers, { module: 'commonjs', esModuleInterop: true }, ['peers.ts'], 'dist/commonjs/stores/redis.d.ts'],
      [peers, { module: 'nodenext' }, ['peers.ts', 'peers.mts'], 'dist/esm/stores/postgres.d.ts'],
      [frameworks, { module: 'commonjs', esModuleInterop: true }, ['frameworks.ts'], 'dist/commonjs/adapters/fastify.d.ts'],
      [frameworks, { module: 'node16' }, ['frameworks.ts'], 'dist/commonjs/adapters/hono.d.ts'],
      [frameworks, { module: 'nodenext' }, ['frameworks.mts'], 'dist/esm/adapters/hono.d.ts'],
    ];
    for (const [dir, options, sources, declarations] of cases) {
      const setting = `${JSON.stringify(options)} ${sources.join(' ')} in ${relative(consumers, dir)}`;
      const { errors, files } = typecheck(dir, options, sources);
      assert.equal(errors, '', setting);
      assert.ok(files.some((f) => f.endsWith(`/node_modules/tessera/${declarations}`)), `${setting} uses ${declarations}`);
    }
  });

  it('runs from require() and from import, and names a missing optional peer', async () => {
    writeFileSync(join(plain, 'run.cjs'), CJS_RUN);
    writeFileSync(join(plain, 'run.mjs'), ESM_RUN);
    writeFileSync(join(peers, 'run.cjs'), PEERS_RUN);
    writeFileSync(join(frameworks, 'run.cjs'), FRAMEWORKS_RUN);
    assert.match(await succeed(process.execPath, ['run.cjs'], plain), /cjs ok/);
    // As on Node before 20.19 (no require() of ES modules): the CommonJS build must not need it.
    if (process.allowedNodeEnvironmentFlags.has('--no-experimental-require-module')) {
      assert.match(await succeed(process.execPath, ['--no-experimental-require-module', 'run.cjs'], plain), /cjs ok/);
    }
    assert.match(await succeed(process.execPath, ['run.mjs'], plain), /esm ok/);
    assert.match(await succeed(process.execPath, ['run.cjs'], peers), /peers ok/);
    assert.match(await succeed(process.execPath, ['run.cjs'], frameworks), /frameworks ok/);
  });

  it('installs the tessera CLI, which runs from its bin link', async () => {
    const target = manifest.bin?.tessera;
    assert.ok(target, 'package.json has bin.tessera');
    assert.ok(existsSync(join(unpacked, target)), `bin.tessera: ${target} is shipped`);
    assert.match(readFileSync(join(unpacked, target), 'utf8'), /^#!\/usr\/bin\/env node\n/);
    // What npm does at install: a link in node_modules/.bin, and the file made executable.
    const bin = join(bare, 'node_modules', '.bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(join('..', 'tessera', target), join(bin, 'tessera'));
    chmodSync(join(bare, 'node_modules', 'tessera', target), 0o755);
    const tessera = join(bin, 'tessera');
    assert.match(await succeed(tessera, ['--help'], bare), /Usage: tessera <command>[\s\S]*Exit codes:/);
    assert.match(await succeed(tessera, ['keygen'], bare), /^[\w-]{43}\n$/);
    const store = `sqlite:${join(bare, 'data', 'sessions.db')}`;
    assert.match(await succeed(tessera, ['migrate', '--store', store], bare), /SQLite: table tessera_sessions/);
    assert.equal(await succeed(tessera, ['sessions', 'list', '--store', store], bare), 'no sessions\n');
  });
});
