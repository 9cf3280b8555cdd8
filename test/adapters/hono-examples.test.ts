/**
 * The Hono examples are run, not just read: the `@example` of `sessions` and of the module in
 * src/adapters/hono.ts, and the README's first Hono snippet. Each is written under `.tmp/` with its
 * `tessera/...` imports pointed at `src/` and `@hono/node-server` at a stand-in whose `serve()`
 * keeps the app instead of listening; the test then asks the app for two pages as one browser.
 * The examples use the default store (SQLite at `./data/sessions.db`): they run in a temporary
 * working directory.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '../..');
const OUT = join(ROOT, '.tmp', 'hono-examples');

/** The ```ts blocks of a TSDoc comment or of markdown, without the comment's leading ` * `. */
function codeBlocks(text: string): string[] {
  const lines = text.split('\n').map((line) => line.replace(/^\s*\* ?/, ''));
  return lines
    .join('\n')
    .split(/^```ts\n/m)
    .slice(1)
    .map((block) => block.slice(0, block.indexOf('\n```')) + '\n');
}

/** The TSDoc comment right before `declaration` in `source`. */
function docBefore(source: string, declaration: string): string {
  const end = source.indexOf(`*/\n${declaration}`);
  assert.ok(end > 0, `no TSDoc right before "${declaration}"`);
  return source.slice(source.lastIndexOf('/**', end), end);
}

/** The stand-in for @hono/node-server: `serve()` keeps what it was given. */
const SERVER_STUB = `
export const served: Array<{ fetch(request: Request): Response | Promise<Response> }> = [];
export function serve(app: { fetch(request: Request): Response | Promise<Response> }) {
  served.push(app);
  return { close() {} };
}
`;

/** `code` with tessera's and @hono/node-server's imports pointed at `src/` and the stand-in. */
function rewriteImports(code: string): string {
  const src = (path: string) => pathToFileURL(join(ROOT, 'src', path)).href;
  return code.replace(/from '([^']+)'/g, (whole, specifier: string) => {
    if (specifier === 'tessera') return `from '${src('index.js')}'`;
    if (specifier === '@hono/node-server') return `from './node-server.js'`;
    const sub = /^tessera\/(.+)$/.exec(specifier)?.[1];
    if (sub === undefined) return whole;
    return `from '${src(sub.startsWith('stores/') ? `${sub}.js` : `adapters/${sub}.js`)}'`;
  });
}

type Served = Array<{ fetch(request: Request): Response | Promise<Response> }>;

/** Run `code` as a module and return the app it served. */
async function run(name: string, code: string): Promise<{ fetch(request: Request): Response | Promise<Response> }> {
  const file = join(OUT, `${name}.ts`);
  writeFileSync(file, rewriteImports(code));
  const { served } = (await import(pathToFileURL(join(OUT, 'node-server.ts')).href)) as { served: Served };
  const before = served.length;
  await import(pathToFileURL(file).href);
  assert.equal(served.length, before + 1, `${name}: the example serves one app`);
  return served[before]!;
}

/** Two visits by one browser: the pages it gets. */
async function twoVisits(app: { fetch(request: Request): Response | Promise<Response> }): Promise<string[]> {
  const first = await app.fetch(new Request('http://localhost/'));
  const cookie = first.headers.getSetCookie()[0]?.split(';', 1)[0];
  assert.ok(cookie, 'the first visit sets a session cookie');
  const second = await app.fetch(new Request('http://localhost/', { headers: { cookie } }));
  return [await first.text(), await second.text()];
}

describe('tessera/hono examples', () => {
  const cwd = process.cwd();
  let work = '';
  before(() => {
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, 'node-server.ts'), SERVER_STUB);
    process.env.SESSION_SECRET ??= 'hono-examples-secret-0123456789abcdefghij';
    work = mkdtempSync(join(tmpdir(), 'tessera-hono-examples-'));
    process.chdir(work);
  });
  after(() => {
    process.chdir(cwd);
    rmSync(work, { recursive: true, force: true });
  });

  const source = readFileSync(join(ROOT, 'src/adapters/hono.ts'), 'utf8');

  it("runs the @example of sessions(): a page counting the browser's views", async () => {
    const [example] = codeBlocks(docBefore(source, 'export function sessions('));
    assert.ok(example, 'sessions() has an @example');
    assert.deepEqual(await twoVisits(await run('sessions-example', example)), ['views: 1', 'views: 2']);
  });

  it("runs the module's @example", async () => {
    const [example] = codeBlocks(source.slice(source.indexOf('/**'), source.indexOf('@module')));
    assert.ok(example, 'the module has an @example');
    assert.deepEqual(await twoVisits(await run('module-example', example)), ['views: 1', 'views: 2']);
  });

  it("runs the README's Hono snippet", async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n## Hono\n'));
    assert.ok(section.length < readme.length, 'the README has a Hono section');
    const [snippet] = codeBlocks(section);
    assert.deepEqual(await twoVisits(await run('readme', snippet!)), ['views: 1', 'views: 2']);
  });
});
