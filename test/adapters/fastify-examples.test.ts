/**
 * The Fastify example is run: the `@example` of `sessions` in src/adapters/fastify.ts, as written,
 * through the snippet runner (test/helpers/snippets.ts): `tessera` imports point at src/,
 * `listen({ port: 3000 })` takes a free port, and two requests by one browser must count its
 * views. The default store (SQLite at `./data/sessions.db`) writes in a folder of the example's
 * own. The README's Fastify snippet runs with every markdown block, in test/docs.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseRequests, ROOT, runnable, runSnippet, snippetFolder, tsdocExamples } from '../helpers/snippets.js';

describe('tessera/fastify examples run', () => {
  const folder = snippetFolder('fastify-examples');
  after(() => folder.remove());

  it('the @example of sessions (src/adapters/fastify.ts) serves a session that counts views', async () => {
    const [example] = tsdocExamples(join(ROOT, 'src/adapters/fastify.ts'), 'sessions');
    assert.ok(example, 'sessions has an @example');
    await runSnippet({
      file: folder.write('sessions-example.ts', runnable(example)),
      cwd: join(folder.path, 'sessions-example'),
      requests: parseRequests('GET / → {"views":1}; GET / → {"views":2}'),
    });
  });
});
