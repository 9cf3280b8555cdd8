/**
 * The fuzzer's fast subset: a few hundred random and mutated requests per adapter and store form
 * (session-ID cookies signed or provisional, sealed cookies, CSRF tokens, whole Cookie headers,
 * tenant and Fetch Metadata headers); none may be answered 500, throw, or be accepted without a
 * valid credential byte for byte. `npm run fuzz` runs the same property for a million cases.
 * `FUZZ_RUNS` sets the runs per adapter and store form (default 200).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TARGETS, type FuzzTarget } from './apps.js';
import { fuzz } from './run.js';
import { makeWorld, type StoreMode } from './world.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);

describe('fuzzing the adapters with random and mutated credentials', () => {
  for (const target of TARGETS) {
    for (const mode of ['server', 'sealed'] as const) {
      it(`${target.name}, ${mode === 'server' ? 'signed session-ID cookies' : 'sealed cookies'}: nothing accepted, no 500, no throw`, async () => {
        const world = await makeWorld(target, mode);
        try {
          const tally = await fuzz(world, { numRuns: RUNS });
          assert.ok(tally.loaded > 0 && tally['csrf-refused'] > 0 && tally['signed-in'] > 0 && tally.anonymous > 0, `the requests reached both acceptance and refusal: ${JSON.stringify(tally)}`);
        } finally {
          await world.app.close();
        }
      });
    }
  }
});

describe('the fuzzer finds what it looks for', () => {
  /** An adapter that, in front of tessera, cuts session cookie values to their first 87 characters: lenient parsing. */
  const lenient = (inner: FuzzTarget): FuzzTarget => ({
    name: `${inner.name}, lenient`,
    async start(tessera) {
      const app = await inner.start(tessera);
      const cut = (header: string | undefined) => header?.replace(new RegExp(`(${tessera.cookieName}=)([^;]{87})[^;]*`, 'g'), '$1$2');
      return { ...app, send: (request) => app.send({ ...request, headers: { ...request.headers, ...(request.headers.cookie === undefined ? {} : { cookie: cut(request.headers.cookie)! }) } }) };
    },
  });

  it('a session cookie with characters appended is caught loading the session', async () => {
    const world = await makeWorld(lenient(TARGETS[0]!), 'server');
    await assert.rejects(fuzz(world, { numRuns: 2000, seed: 1 }), /loaded the session of owner-/);
  });

  /** An adapter that answers 500 when the cookie header holds a quote. */
  it('a 500 is caught', async () => {
    const inner = TARGETS.at(-1)!;
    const broken: FuzzTarget = {
      name: 'broken',
      async start(tessera) {
        const app = await inner.start(tessera);
        return { ...app, send: async (request) => (request.headers.cookie?.includes('"') ? { status: 500, headers: {}, setCookies: [], body: 'boom' } : app.send(request)) };
      },
    };
    await assert.rejects(fuzz(await makeWorld(broken, 'server'), { numRuns: 2000, seed: 1 }), /answered 500/);
  });
});
