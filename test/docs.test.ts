/**
 * Every code block in README.md and docs/ (every `.md` below it) is typechecked and run, so a
 * snippet cannot go stale.
 *
 * Which blocks: fenced blocks labelled `ts`, `typescript`, `mts`, `js`, `javascript`, `mjs` or
 * `cjs`, and `diff` blocks, whose new side (context and `+` lines) is taken as TypeScript. Blocks
 * with another label or none (`sh`, `sql`, `text`, diagrams) are not code and are left alone. A
 * `js` block that calls `require` and neither imports nor exports is CommonJS (`.cjs`).
 *
 * Typechecking: each block is written as a module under `.tmp/` and all of them are checked in one
 * TypeScript program with the repo's compiler options (strict, NodeNext), `tessera` and
 * `tessera/…` resolving to the sources their package.json export names — so a snippet importing a
 * module the package does not export fails. JavaScript blocks are checked too (`checkJs`). A block
 * that augments a module (`declare module`, `declare global`) gets a program of its own, so its
 * types cannot make another block compile; CommonJS blocks get one where `require('tessera/…')`
 * is the module's CommonJS form (tshy's `x-cjs.cts` beside `x.ts`, when there is one), as in the
 * published package.
 *
 * Running (test/helpers/snippet-harness.ts): each block runs with tsx in a process of its own, its
 * `tessera` imports pointed at `src/`, in an empty working directory (the default SQLite store
 * writes `./data/sessions.db` there), with `SESSION_SECRET` (32 random bytes), `REDIS_URL` and
 * `DATABASE_URL` set. Every server it starts listens on a free port of 127.0.0.1 whatever port it
 * names. It passes when it runs to the end, its server (if any) answers the requests its marker
 * lists, and every `Tessera` or store it holds at top level stores, reads back and destroys a
 * session. A block that imports `node:test`, `tessera/stores/conformance` or
 * `tessera/live/bus-conformance` is a test file: its
 * tests must run and pass.
 *
 * Services: a block that makes a `PostgresStore`, `PostgresBus`, `RedisStore`, `RedisBus`, `pg.Pool` or ioredis client runs
 * against the local servers (test/helpers/services.ts) and is skipped, saying why, when its server
 * is down — a failure with TESSERA_REQUIRE_SERVICES=1. Its `DATABASE_URL` sets a `search_path` to a
 * schema of this run and its `REDIS_URL` an ioredis `keyPrefix` of this run; both are dropped at
 * the end.
 *
 * Markers: HTML comments on the lines right above a block (nothing in between), invisible in the
 * rendered page. A marker anywhere else, or one this test does not know, fails.
 *
 * - `<!-- snippet: serves GET / → "views: 1"; GET / → "views: 2" -->` — the requests the block's
 *   server must answer, in order, as one browser (cookies kept): each a method, a path, `→`, then a
 *   status (`302`; else any 2xx) and/or the body — a JSON string is the exact text, a JSON value
 *   (`{"views":1}`) is compared with the body parsed as JSON. Required on a block that starts a
 *   server.
 * - `<!-- snippet: prelude test/docs/session-prelude.ts -->` — for a fragment kept short for
 *   reading (README's Session API cheat-sheet): the names it uses but does not declare are imported
 *   from that module, which gives them their real types and values. Use sparingly.
 * - `<!-- snippet: typecheck-only — why -->` — a block that cannot run here; it is still
 *   typechecked, and its run is reported as skipped with the reason. Keep these rare.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import type ts from 'typescript';
import { PG_URL, REDIS_URL, serviceSkip } from './helpers/services.js';
import {
  describeDiagnostic,
  parseRequests,
  ROOT,
  runnable,
  runSnippet,
  snippetFolder,
  typecheck,
  withPrelude,
  type RequestStep,
} from './helpers/snippets.js';

// ------------------------------------------------------------------ finding the blocks

interface Snippet {
  /** Markdown file, relative to the repo. */
  file: string;
  /** Line of the opening fence (1-based). */
  line: number;
  heading: string;
  /** The extension its module gets. */
  extension: '.ts' | '.mts' | '.js' | '.mjs' | '.cjs';
  code: string;
  /** The markdown line (1-based) of each line of `code`. */
  lines: number[];
  requests?: RequestStep[];
  prelude?: string;
  typecheckOnly?: string;
}

const LANGUAGES: Record<string, Snippet['extension'] | 'diff'> = {
  ts: '.ts', typescript: '.ts', mts: '.mts', js: '.js', javascript: '.js', mjs: '.mjs', cjs: '.cjs', diff: 'diff',
};
const MARKER = /^\s*<!--\s*snippet:\s*(.*?)\s*-->\s*$/;

function markdownFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? markdownFiles(path) : entry.name.endsWith('.md') ? [path] : [];
  });
}

/** Marker text → what it says about the block (throws on a marker this test does not know). */
function applyMarker(snippet: Snippet, text: string): void {
  const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(text) ?? [];
  if (keyword === 'serves') snippet.requests = parseRequests(rest);
  else if (keyword === 'prelude') {
    const path = rest.split(/\s/, 1)[0] ?? '';
    assert.ok(existsSync(join(ROOT, path)), `the prelude ${path} exists`);
    snippet.prelude = join(ROOT, path);
  } else if (keyword === 'typecheck-only') {
    const reason = rest.replace(/^[—–:-]\s*/, '');
    assert.ok(reason, 'typecheck-only says why');
    snippet.typecheckOnly = reason;
  } else assert.fail(`unknown snippet marker "${text}" (serves, prelude, typecheck-only)`);
}

/** The code blocks of a markdown file; `problems` gets misplaced or unknown markers. */
function snippetsOf(file: string, problems: string[]): Snippet[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const snippets: Snippet[] = [];
  let heading = '(top)';
  let markers: Array<[line: number, text: string]> = [];
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    const marker = MARKER.exec(text);
    if (marker) {
      markers.push([i + 1, marker[1]!]);
      continue;
    }
    const fence = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(text);
    if (!fence) {
      for (const [line] of markers) problems.push(`${file}:${line}: a snippet marker must be right above a code block`);
      markers = [];
      heading = /^#{1,6}\s+(.*)$/.exec(text)?.[1] ?? heading;
      continue;
    }
    const [, indent = '', ticks = '', label = ''] = fence;
    const open = i + 1;
    const close = new RegExp(`^\\s*${ticks[0]}{${ticks.length},}\\s*$`);
    const body: Array<[line: number, text: string]> = [];
    for (i++; i < lines.length && !close.test(lines[i]!); i++) body.push([i + 1, lines[i]!.replace(new RegExp(`^ {0,${indent.length}}`), '')]);
    const language = LANGUAGES[label.toLowerCase()];
    if (!language) {
      for (const [line] of markers) problems.push(`${file}:${line}: a snippet marker on a \`${label || 'plain'}\` block, which is not code`);
      markers = [];
      continue;
    }
    // A diff shows code as it becomes: its context and added lines.
    const kept = language === 'diff' ? body.filter(([, t]) => !t.startsWith('-')).map(([n, t]): [number, string] => [n, t.slice(1)]) : body;
    const snippet: Snippet = {
      file,
      line: open,
      heading,
      extension: language === 'diff' ? '.ts' : language,
      code: `${kept.map(([, t]) => t).join('\n')}\n`,
      lines: kept.map(([n]) => n),
    };
    if (snippet.extension === '.js' && /\brequire\(/.test(snippet.code) && !/^\s*(?:import|export)\s/m.test(snippet.code)) snippet.extension = '.cjs';
    for (const [line, marker] of markers) {
      try {
        applyMarker(snippet, marker);
      } catch (error) {
        problems.push(`${file}:${line}: ${(error as Error).message}`);
      }
    }
    markers = [];
    snippets.push(snippet);
  }
  for (const [line] of markers) problems.push(`${file}:${line}: a snippet marker must be right above a code block`);
  return snippets;
}

const markerProblems: string[] = [];
const snippets = ['README.md', ...markdownFiles('docs')].flatMap((file) => snippetsOf(file, markerProblems));

const name = (s: Snippet) => `${s.file}:${s.line} (${s.heading})`;
const slug = (s: Snippet) => `${s.file.replace(/\.md$/, '').replace(/[^\w]+/g, '-').toLowerCase()}-${s.line}`;
const augments = (s: Snippet) => /^\s*declare\s+(?:module\s+['"]|global\b)/m.test(s.code);
const tests = (s: Snippet) => /from\s+['"](?:node:test|tessera\/stores\/conformance|tessera\/live\/bus-conformance)['"]/.test(s.code);
const needs = (s: Snippet): Array<'PostgreSQL' | 'Redis'> => [
  ...(/\bnew\s+(?:PostgresStore|PostgresBus|pg\.Pool|pg\.Client|Pool)\b/.test(s.code) ? ['PostgreSQL' as const] : []),
  ...(/\bnew\s+(?:RedisStore|RedisBus|Redis|Cluster)\b/.test(s.code) ? ['Redis' as const] : []),
];

// ------------------------------------------------------------------ services of this run

const RUN = `tessera_docs_${process.pid}`;
const services = new Set(snippets.filter((s) => !s.typecheckOnly).flatMap(needs));
const skips = {
  PostgreSQL: services.has('PostgreSQL') ? await serviceSkip('PostgreSQL', PG_URL) : false,
  Redis: services.has('Redis') ? await serviceSkip('Redis', REDIS_URL) : false,
};
const databaseUrl = new URL(PG_URL);
databaseUrl.searchParams.set('options', `-c search_path=${RUN}`);
const redisUrl = new URL(REDIS_URL);
redisUrl.searchParams.set('keyPrefix', `${RUN}:`);

async function onPostgres(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function deleteRedisKeys(): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    for await (const keys of redis.scanStream({ match: `${RUN}:*`, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) await redis.del(...keys);
    }
  } finally {
    redis.disconnect();
  }
}

// ------------------------------------------------------------------ the tests

describe('the code blocks of README.md and docs/', { concurrency: 2 }, () => {
  const folder = snippetFolder('docs');
  const errors = new Map<Snippet, string[]>();
  const usesPostgres = services.has('PostgreSQL') && !skips.PostgreSQL;
  const usesRedis = services.has('Redis') && !skips.Redis;

  before(async () => {
    if (usesPostgres) await onPostgres(`CREATE SCHEMA IF NOT EXISTS ${RUN}`);
    // One program for the blocks that augment nothing, one each for those that do, one for CommonJS.
    const typed = new Map(snippets.map((s) => {
      const file = `${slug(s)}${s.extension}`;
      const code = s.prelude ? withPrelude(s.code, s.prelude, relative(folder.path, s.prelude).replace(/\.ts$/, '.js')) : s.code;
      return [s, folder.write(file, code)] as const;
    }));
    const commonjs = (s: Snippet) => s.extension === '.cjs';
    const groups = [
      snippets.filter((s) => !augments(s) && !commonjs(s)),
      ...snippets.filter((s) => augments(s) && !commonjs(s)).map((s) => [s]),
      snippets.filter(commonjs),
    ].filter((group) => group.length > 0);
    let program: ts.Program | undefined;
    for (const group of groups) {
      const result = typecheck(group.map((s) => typed.get(s)!), { old: program, commonjs: commonjs(group[0]!) });
      program = result.program;
      for (const s of group) {
        const where = (line: number) => `${s.file}:${s.lines[line] ?? `${s.line} (prelude import)`}`;
        errors.set(s, result.errors.get(typed.get(s)!)!.map((d) => describeDiagnostic(d, where)));
      }
    }
  });

  after(async () => {
    folder.remove();
    if (usesPostgres) await onPostgres(`DROP SCHEMA IF EXISTS ${RUN} CASCADE`);
    if (usesRedis) await deleteRedisKeys();
  });

  it('finds the code blocks, and every snippet marker sits on one and is understood', () => {
    assert.ok(snippets.length > 0, 'code blocks found');
    assert.deepEqual(markerProblems, []);
  });

  for (const snippet of snippets) {
    describe(name(snippet), () => {
      it('typechecks', () => {
        const found = errors.get(snippet);
        assert.ok(found, 'typechecked');
        assert.ok(found.length === 0, `TypeScript errors in ${name(snippet)}:\n${found.join('\n')}`);
      });

      const down = needs(snippet).map((service) => skips[service]).find(Boolean);
      const skip = snippet.typecheckOnly ? `typecheck-only: ${snippet.typecheckOnly}` : down || false;
      it('runs', { skip }, async () => {
        const file = folder.write(`${slug(snippet)}.run${snippet.extension}`, runnable(snippet.code, { prelude: snippet.prelude, fileName: `snippet${snippet.extension}` }));
        const started = Date.now();
        await runSnippet({
          file,
          cwd: join(folder.path, slug(snippet)),
          requests: snippet.requests,
          tests: tests(snippet),
          env: { DATABASE_URL: databaseUrl.href, REDIS_URL: redisUrl.href },
        }).catch((error: Error) => assert.fail(`${name(snippet)} (ran ${Date.now() - started} ms): ${error.message}`));
      });
    });
  }
});
