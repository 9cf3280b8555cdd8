/**
 * The Fastify examples are run: the `@example` of `sessions` in src/adapters/fastify.ts and the
 * README's Fastify snippet, each taken as written, with three changes to run it here: `tessera`
 * imports point at src/, `listen({ port: 3000 })` takes a free port, and the module exports its
 * `app` so the test can send it requests and close it. Each runs in its own folder under .tmp/
 * (the default SQLite store writes ./data/sessions.db).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import type { FastifyInstance } from 'fastify';

const ROOT = resolve(import.meta.dirname, '../..');
const SOURCE = join(ROOT, 'src/adapters/fastify.ts');

/** The fenced ```ts block of the `@example` on the export `name` of a source file. */
function exampleOf(file: string, name: string): string {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  for (const stmt of source.statements) {
    if (!ts.isVariableStatement(stmt) || !stmt.declarationList.declarations.some((d) => d.name.getText(source) === name)) continue;
    const doc = ts.getJSDocCommentsAndTags(stmt).map((d) => d.getText(source)).join('\n');
    const lines = doc.split('\n').map((line) => line.replace(/^\s*\*( |$)/, ''));
    const example = lines.slice(lines.findIndex((line) => line.startsWith('@example')));
    return fenced(example.join('\n'), `the @example of ${name}`);
  }
  throw new Error(`no export ${name} in ${file}`);
}

/** The first ```ts block of the README section headed `heading`. */
function readmeExample(heading: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${heading}\n`);
  assert.notEqual(start, -1, `README has a "${heading}" section`);
  return fenced(readme.slice(start), `the README's ${heading} section`);
}

function fenced(text: string, where: string): string {
  const match = /```ts\n([\s\S]*?)```/.exec(text);
  assert.ok(match, `a \`\`\`ts block in ${where}`);
  return match[1]!;
}

/** `tessera` and `tessera/…` imports, to the src/ modules they name (adapters by their short name). */
function toSource(specifier: string): string {
  const sub = specifier === 'tessera' ? 'index' : specifier.slice('tessera/'.length);
  const adapter = join(ROOT, 'src/adapters', `${sub}.ts`);
  return pathToFileURL(existsSync(adapter) ? adapter : join(ROOT, 'src', `${sub}.ts`)).href;
}

function runnable(code: string): string {
  const imports = code.replace(/from '(tessera(?:\/[\w/-]+)?)'/g, (_, specifier: string) => `from '${toSource(specifier)}'`);
  assert.match(imports, /\.listen\(\{ port: 3000 \}\)/, 'the example listens on port 3000');
  return `${imports.replace('.listen({ port: 3000 })', ".listen({ port: 0, host: '127.0.0.1' })")}\nexport { app };\n`;
}

let folder: string;
const home = process.cwd();
before(() => {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  folder = mkdtempSync(join(ROOT, '.tmp', 'fastify-examples-'));
  process.chdir(folder);
  process.env.SESSION_SECRET = 'fastify-examples-secret-0123456789abcdefgh';
});
after(() => {
  process.chdir(home);
  rmSync(folder, { recursive: true, force: true });
});

describe('tessera/fastify examples run', () => {
  const examples: Array<[string, () => string]> = [
    ['the @example of sessions (src/adapters/fastify.ts)', () => exampleOf(SOURCE, 'sessions')],
    ["the README's Fastify snippet", () => readmeExample('Fastify')],
  ];
  for (const [index, [what, extract]] of examples.entries()) {
    it(`${what} serves a session that counts views`, async () => {
      const file = join(folder, `example-${index}.ts`);
      writeFileSync(file, runnable(extract()));
      const { app } = (await import(pathToFileURL(file).href)) as { app: FastifyInstance };
      try {
        assert.ok(app.server.listening, 'it listens');
        const first = await app.inject('/');
        assert.deepEqual(first.json(), { views: 1 });
        const line = ([first.headers['set-cookie']].flat()[0] ?? '') as string;
        assert.ok(line.startsWith(`${app.tessera.cookieName}=`), `a session cookie: ${line}`);
        const second = await app.inject({ url: '/', headers: { cookie: line.split(';', 1)[0]! } });
        assert.deepEqual(second.json(), { views: 2 });
      } finally {
        await app.close();
      }
    });
  }
});
