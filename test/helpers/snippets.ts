/**
 * Running code that documentation shows — markdown snippets (test/docs.test.ts) and TSDoc
 * `@example`s (test/adapters/*-examples.test.ts) — against the library's sources:
 *
 * - {@link publicModules}: the package's public specifiers (`tessera`, `tessera/node`, ...), each
 *   with its source file, read from package.json.
 * - {@link typecheck}: one TypeScript program over snippet files, with those specifiers mapped to
 *   `src/` and the repo's compiler options.
 * - {@link runnable}: a snippet's text made runnable here: `tessera` imports pointed at `src/`, a
 *   prelude's names imported, the top-level bindings exported for the harness to check.
 * - {@link runSnippet}: runs it with tsx in a process of its own (test/helpers/snippet-harness.ts),
 *   servers on free ports, and checks what it serves.
 * - {@link snippetFolder}: a folder under the repo's gitignored `.tmp/` for the files.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

export const ROOT = resolve(import.meta.dirname, '../..');
const HARNESS = join(import.meta.dirname, 'snippet-harness.ts');

/** A secret for `process.env.SESSION_SECRET` in snippets: 32 random bytes, new for each test process. */
export const SNIPPET_SECRET = randomBytes(32).toString('base64url');

// ------------------------------------------------------------------ the package's modules

let modules: Map<string, string> | undefined;

/**
 * The public specifiers of the package and the source file of each: from `tshy.exports` in
 * package.json when the build is tshy's (it maps subpaths to `src/` itself), otherwise from
 * `exports`, whose `dist/…/x.js` is `src/…/x.ts`.
 */
export function publicModules(): ReadonlyMap<string, string> {
  if (modules) return modules;
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, unknown>;
    tshy?: { exports?: Record<string, unknown> };
  };
  const found = new Map<string, string>();
  const specifier = (subpath: string) => (subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`);
  const leaves = (entry: unknown): string[] =>
    typeof entry === 'string' ? [entry] : typeof entry === 'object' && entry !== null ? Object.values(entry).flatMap(leaves) : [];
  const toSource = (target: string): string | undefined => {
    if (/^\.\/src\/.+\.ts$/.test(target)) return target;
    const built = /^\.\/dist\/(?:esm\/|commonjs\/)?(.+?)(?:\.d\.ts|\.js)$/.exec(target);
    return built ? `./src/${built[1]}.ts` : undefined;
  };
  for (const [subpath, entry] of Object.entries(pkg.tshy?.exports ?? pkg.exports)) {
    const source = leaves(entry).map(toSource).find((target) => target !== undefined);
    if (source) found.set(specifier(subpath), join(ROOT, source));
  }
  // Until package.json exports them on every branch (the build work adds them).
  for (const adapter of ['fastify', 'hono']) {
    if (!found.has(`${pkg.name}/${adapter}`)) found.set(`${pkg.name}/${adapter}`, join(ROOT, 'src/adapters', `${adapter}.ts`));
  }
  for (const [name, file] of found) assert.ok(existsSync(file), `package.json maps ${name} to ${relative(ROOT, file)}, which is missing`);
  modules = found;
  return found;
}

/**
 * The source file a `tessera…` specifier names, `undefined` for other packages; throws for a
 * subpath the package does not export. For `require`, the module's CommonJS form when it has one
 * (tshy's `x-cjs.cts` beside `x.ts`, which the CommonJS build uses in its place).
 */
function sourceOf(specifier: string, commonjs = false): string | undefined {
  if (specifier !== 'tessera' && !specifier.startsWith('tessera/')) return undefined;
  const file = publicModules().get(specifier);
  assert.ok(file, `"${specifier}" is not a module of the package (package.json "exports")`);
  const cjs = file.replace(/\.ts$/, '-cjs.cts');
  return commonjs && existsSync(cjs) ? cjs : file;
}

// ------------------------------------------------------------------ files

/** A fresh folder under `.tmp/` (gitignored): `write` puts files in it, `remove` deletes it. */
export function snippetFolder(name: string): { path: string; write(file: string, text: string): string; remove(): void } {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const path = mkdtempSync(join(ROOT, '.tmp', `${name}-`));
  return {
    path,
    write(file, text) {
      const full = join(path, file);
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, text);
      return full;
    },
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

// ------------------------------------------------------------------ TSDoc examples

/**
 * The fenced ```ts blocks of a TSDoc comment in a source file: the comment of the export `name`
 * (a function, class or variable), or the module's own (the comment with `@module`) when `name`
 * is left out.
 */
export function tsdocExamples(file: string, name?: string): string[] {
  const text = readFileSync(file, 'utf8');
  let doc: string | undefined;
  if (name === undefined) {
    doc = text.match(/\/\*\*[\s\S]*?\*\//g)?.find((comment) => comment.includes('@module'));
  } else {
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const declares = (statement: ts.Statement): boolean =>
      ts.isVariableStatement(statement)
        ? statement.declarationList.declarations.some((d) => d.name.getText(source) === name)
        : (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)) && statement.name?.text === name;
    doc = source.statements
      .filter(declares)
      .map((statement) => ts.getJSDocCommentsAndTags(statement).map((d) => d.getText(source)).join('\n'))
      .join('\n');
  }
  assert.ok(doc, `${relative(ROOT, file)} has a TSDoc comment on ${name ?? 'the module'}`);
  const lines = doc.split('\n').map((line) => line.replace(/^\s*(?:\/\*\*|\*\/|\*(?!\/))\s?/, ''));
  return lines
    .join('\n')
    .split(/^```ts\n/m)
    .slice(1)
    .map((block) => block.slice(0, block.indexOf('```')));
}

// ------------------------------------------------------------------ typechecking

const compilerOptions = new Map<boolean, ts.CompilerOptions>();

/**
 * The repo's compiler options (tsconfig.json: strict, NodeNext, ...), not emitting, with the
 * package's specifiers mapped to `src/` — to the CommonJS forms for `commonjs` files.
 */
function snippetCompilerOptions(commonjs: boolean): ts.CompilerOptions {
  const cached = compilerOptions.get(commonjs);
  if (cached) return cached;
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile);
  assert.ok(!config.error, 'tsconfig.json reads');
  const { options, errors } = ts.convertCompilerOptionsFromJson(config.config.compilerOptions, ROOT);
  assert.deepEqual(errors, [], 'tsconfig.json compilerOptions convert');
  const result: ts.CompilerOptions = {
    ...options,
    noEmit: true,
    declaration: false,
    sourceMap: false,
    rootDir: undefined,
    outDir: undefined,
    allowJs: true,
    checkJs: true,
    paths: Object.fromEntries([...publicModules().keys()].map((name) => [name, [sourceOf(name, commonjs)!]])),
  };
  compilerOptions.set(commonjs, result);
  return result;
}

/**
 * Typecheck `files` together (one program; pass the previous one as `old` to reuse what did not
 * change; `commonjs` for CommonJS files, whose `require`s get the CommonJS forms). Returns each
 * file's diagnostics, and the program.
 */
export function typecheck(
  files: readonly string[],
  options: { old?: ts.Program; commonjs?: boolean } = {},
): { program: ts.Program; errors: Map<string, readonly ts.Diagnostic[]> } {
  const program = ts.createProgram(files, snippetCompilerOptions(options.commonjs ?? false), undefined, options.old);
  const global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
  const errors = new Map<string, readonly ts.Diagnostic[]>();
  for (const file of files) {
    const source = program.getSourceFile(file);
    assert.ok(source, `${file} is in the program`);
    errors.set(file, [...global, ...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]);
  }
  return { program, errors };
}

/** A diagnostic as one line; `where(line)` names the place of a line (0-based) of its file. */
export function describeDiagnostic(diagnostic: ts.Diagnostic, where: (line: number) => string): string {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n  ');
  if (!diagnostic.file || diagnostic.start === undefined) return `TS${diagnostic.code}: ${message}`;
  const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  return `${where(line)}: TS${diagnostic.code}: ${message}`;
}

// ------------------------------------------------------------------ making a snippet runnable

/** The names a module declares at top level and does not export itself. */
function topLevelNames(source: ts.SourceFile): string[] {
  const names: string[] = [];
  const bind = (name: ts.BindingName): void => {
    if (ts.isIdentifier(name)) names.push(name.text);
    else for (const element of name.elements) if (!ts.isOmittedExpression(element)) bind(element.name);
  };
  for (const statement of source.statements) {
    const modifiers = ts.canHaveModifiers(statement) ? ts.getModifiers(statement) : undefined;
    if (modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword || m.kind === ts.SyntaxKind.DeclareKeyword)) continue;
    if (ts.isVariableStatement(statement)) statement.declarationList.declarations.forEach((d) => bind(d.name));
    else if ((ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)) && statement.name) names.push(statement.name.text);
  }
  return names;
}

/**
 * `code` made runnable here: its `tessera` / `tessera/…` specifiers (imports, re-exports,
 * `import()`, `require()`) point at the source files; `prelude`'s exports that the code does not
 * declare itself are imported from it (the import goes last, so lines keep their numbers); and
 * its top-level bindings are exported, for the harness to check. `fileName` says what the code is:
 * a `.cjs` / `.cts` name makes it a CommonJS module.
 */
export function runnable(code: string, options: { prelude?: string; fileName?: string } = {}): string {
  const fileName = options.fileName ?? 'snippet.ts';
  const commonjs = /\.c[jt]s$/.test(fileName);
  const source = ts.createSourceFile(fileName, code, ts.ScriptTarget.ES2022, true);
  const replacements: Array<[start: number, end: number, text: string]> = [];
  const visit = (node: ts.Node): void => {
    let specifier: ts.Expression | undefined;
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) specifier = node.moduleSpecifier;
    else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) specifier = node.arguments[0];
    if (specifier && ts.isStringLiteral(specifier)) {
      const required = commonjs || (ts.isCallExpression(node) && node.expression.kind !== ts.SyntaxKind.ImportKeyword);
      const file = sourceOf(specifier.text, required);
      if (file) replacements.push([specifier.getStart(source), specifier.end, `'${pathToFileURL(file).href}'`]);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  let text = code;
  for (const [start, end, replacement] of replacements.sort((a, b) => b[0] - a[0])) text = text.slice(0, start) + replacement + text.slice(end);

  if (options.prelude) text = withPrelude(text, options.prelude, pathToFileURL(options.prelude).href);
  const declared = topLevelNames(source);
  if (declared.length > 0 && commonjs) text += `\nObject.assign(module.exports, { ${declared.join(', ')} });\n`;
  else if (declared.length > 0) text += `\nexport { ${declared.join(', ')} };\n`;
  return text;
}

/**
 * `code` with the exports of the module `prelude` (a file) that it does not declare itself imported
 * from `specifier`, after its last line (imports are hoisted: lines keep their numbers).
 */
export function withPrelude(code: string, prelude: string, specifier: string): string {
  const declared = topLevelNames(ts.createSourceFile('snippet.ts', code, ts.ScriptTarget.ES2022, true));
  const names = preludeExports(prelude).filter((name) => !declared.includes(name));
  return `${code}\nimport { ${names.join(', ')} } from '${specifier}';\n`;
}

/** The names a prelude module exports (its `export const` / `function` / `class` and `export { }` lists). */
export function preludeExports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const names: string[] = [];
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement) && !statement.isTypeOnly && statement.exportClause && ts.isNamedExports(statement.exportClause)) {
      for (const element of statement.exportClause.elements) if (!element.isTypeOnly) names.push(element.name.text);
      continue;
    }
    const modifiers = ts.canHaveModifiers(statement) ? ts.getModifiers(statement) : undefined;
    if (!modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue;
    if (ts.isVariableStatement(statement)) {
      for (const d of statement.declarationList.declarations) if (ts.isIdentifier(d.name)) names.push(d.name.text);
    } else if ((ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)) && statement.name) {
      names.push(statement.name.text);
    }
  }
  assert.ok(names.length > 0, `the prelude ${relative(ROOT, file)} exports values`);
  return names;
}

// ------------------------------------------------------------------ running

/** One request a snippet's server must answer: a status (any 2xx when not given), and an exact body or a JSON value. */
export interface RequestStep {
  method: string;
  path: string;
  status?: number;
  body?: string;
  json?: unknown;
}

/**
 * Requests written as `GET / → "views: 1"; GET / → "views: 2"`: steps separated by `;`, each a
 * method, a path, `→` (or `->`), then a status (`302`), what the body must be, or both
 * (`200 "ok"`). A body in double quotes (a JSON string) is the exact text; a JSON object or array
 * (`{"views":1}`) is compared with the body parsed as JSON.
 */
export function parseRequests(text: string): RequestStep[] {
  return text.split(/;\s*(?=(?:GET|HEAD|POST|PUT|PATCH|DELETE)\s)/).map((part) => {
    const match = /^\s*(GET|HEAD|POST|PUT|PATCH|DELETE)\s+(\/\S*)\s+(?:→|->)\s*(\d{3})?\s*(.*?)\s*$/.exec(part);
    const expected = match?.[4] ?? '';
    assert.ok(match && (match[3] || expected), `a request to check, as 'GET / → "body"', 'GET / → {"json":1}' or 'POST /login → 302': ${JSON.stringify(part.trim())}`);
    const step: RequestStep = { method: match[1]!, path: match[2]! };
    if (match[3]) step.status = Number(match[3]);
    let value: unknown;
    try {
      value = expected ? JSON.parse(expected) : undefined;
    } catch {
      assert.fail(`the body to expect is a JSON string ("views: 1") or a JSON value ({"views":1}): ${expected}`);
    }
    if (typeof value === 'string') step.body = value;
    else if (value !== undefined) step.json = value;
    return step;
  });
}

/** How to run a snippet module. */
export interface SnippetRun {
  /** The module (from {@link runnable}, written by a {@link snippetFolder}). */
  file: string;
  /** Its working directory (the default SQLite store writes `./data/sessions.db` there). */
  cwd: string;
  /** Requests its first server must answer, in order, as one browser. */
  requests?: readonly RequestStep[];
  /** It registers node:test tests (the conformance kit): they must run, and pass. */
  tests?: boolean;
  /** More environment (`SESSION_SECRET` is {@link SNIPPET_SECRET} unless given here). */
  env?: Record<string, string>;
  /** Milliseconds before the process is killed. Default 30 s (a run takes about 1 s; the machine may be busy). */
  timeout?: number;
}

/** Run a snippet module in its own process (tsx) and check it; rejects with its output when a check fails. */
export async function runSnippet(run: SnippetRun): Promise<{ stdout: string; stderr: string }> {
  mkdirSync(run.cwd, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, SESSION_SECRET: SNIPPET_SECRET, ...run.env };
  delete env.NODE_TEST_CONTEXT; // set by node --test for its own children: the snippet's tests report to us, as TAP
  const args = ['--import', 'tsx', HARNESS, run.file, JSON.stringify(run.requests ?? [])];
  if (run.tests) args.push('tests');
  const child = spawn(process.execPath, args, { cwd: run.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), run.timeout ?? 30_000);
  const [code, signal] = (await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (...result) => resolve(result));
  }).finally(() => clearTimeout(timer))) as [number | null, NodeJS.Signals | null];
  const fail = (what: string): never => {
    throw new Error(`${what}\n--- stderr\n${stderr.trim()}\n--- stdout\n${stdout.trim().slice(-4000)}`);
  };
  if (signal !== null) fail(`killed (${signal}) after ${(run.timeout ?? 30_000) / 1000} s`);
  if (code !== 0) fail(`exit code ${code}`);
  if (run.tests && !(Number(/^# pass (\d+)$/m.exec(stdout)?.[1] ?? 0) > 0 && /^# fail 0$/m.test(stdout))) fail('its tests did not all run and pass');
  return { stdout, stderr };
}
