/**
 * One fuzzing run: random requests (test/fuzz/generators.ts) against one world
 * (test/fuzz/world.ts), each reply judged by the oracle (test/fuzz/oracle.ts). A request that
 * throws, a 500, a logged error or a reply the oracle refuses fails the run, and fast-check
 * shrinks it to a small counterexample.
 */
import fc from 'fast-check';
import { resolveRequest, requestArb } from './generators.js';
import { verdict, type Outcome } from './oracle.js';
import type { FuzzWorld } from './world.js';

/** How many requests ended each way. */
export type Tally = Record<Outcome, number>;

export const emptyTally = (): Tally => ({ loaded: 0, fresh: 0, 'csrf-passed': 0, 'csrf-refused': 0, 'tenant-refused': 0, token: 0, 'signed-in': 0, anonymous: 0 });

/**
 * Send `numRuns` random requests to `world`; rejects with fast-check's report (seed, path,
 * shrunk counterexample) on the first failure.
 *
 * @example
 * ```ts
 * const tally = await fuzz(await makeWorld(TARGETS[0]!, 'server'), { numRuns: 200 });
 * ```
 */
export async function fuzz(world: FuzzWorld, options: { numRuns: number; seed?: number; onCase?: () => void }): Promise<Tally> {
  const tally = emptyTally();
  const property = fc.asyncProperty(requestArb, async (spec) => {
    const request = resolveRequest(spec, world);
    const reply = await world.app.send(request);
    const legitimate = spec.shape === 'mutated' && spec.change.what === 'none' ? world.identities[spec.as % world.identities.length] : undefined;
    const { violation, outcome } = verdict(world, request, reply, legitimate);
    options.onCase?.();
    if (violation !== null) {
      throw new Error(`${violation}\nrequest: ${JSON.stringify(request)}\nreply: ${reply.status} ${JSON.stringify(reply.setCookies)} ${reply.body.slice(0, 300)}`);
    }
    tally[outcome]++;
  });
  await fc.assert(property, { numRuns: options.numRuns, ...(options.seed === undefined ? {} : { seed: options.seed }), endOnFailure: false, includeErrorInReport: true });
  return tally;
}
