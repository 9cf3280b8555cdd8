/**
 * The Hono examples are run, not just read: the `@example` of `sessions` and of the module in
 * src/adapters/hono.ts, each as written, through the snippet runner (test/helpers/snippets.ts):
 * `tessera` imports point at src/, `serve(app)` listens on a free port, and two requests by one
 * browser must count its views. The default store (SQLite at `./data/sessions.db`) writes in a
 * folder of the example's own. The README's Hono snippet runs with every markdown block, in
 * test/docs.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseRequests, ROOT, runnable, runSnippet, snippetFolder, tsdocExamples } from '../helpers/snippets.js';

const SOURCE = join(ROOT, 'src/adapters/hono.ts');
const TWO_VISITS = parseRequests('GET / → "views: 1"; GET / → "views: 2"');

describe('tessera/hono examples', () => {
  const folder = snippetFolder('hono-examples');
  after(() => folder.remove());

  const examples: Array<[string, string, () => string[]]> = [
    ['sessions-example', "the @example of sessions(): a page counting the browser's views", () => tsdocExamples(SOURCE, 'sessions')],
    ['module-example', "the module's @example", () => tsdocExamples(SOURCE)],
  ];
  for (const [name, what, examplesOf] of examples) {
    it(`runs ${what}`, async () => {
      const [example] = examplesOf();
      assert.ok(example, `${what} exists`);
      await runSnippet({ file: folder.write(`${name}.ts`, runnable(example)), cwd: join(folder.path, name), requests: TWO_VISITS });
    });
  }
});
