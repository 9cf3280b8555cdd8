/**
 * Baseline: a bare node:http server answering "hello". Every tessera-on-node:http scenario is
 * measured against this one, in the same run.
 *
 * Its clients send a `Cookie` header shaped like a session cookie (`tessera=<id>.<signature>`,
 * random), which it ignores: the requests match the scenarios' byte for byte in size, so the
 * difference is what the session layer does with the cookie, not node parsing a longer request.
 *
 * `--async` answers after one `await` instead of synchronously (what any handler that awaits
 * something does), to separate the cost of answering asynchronously from the session layer's.
 * `--spin=N` spends N µs of CPU per request before answering: a known cost, to see how much more
 * than N the bench reports on this machine.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { serveBench } from '../lib/serve.js';

const headerSets = [{ cookie: `tessera=${randomBytes(32).toString('base64url')}.${randomBytes(32).toString('base64url')}` }];

/** Busy-wait `us` microseconds of wall-clock time (CPU time, on an otherwise idle event loop). */
function spin(us: number): void {
  const until = process.hrtime.bigint() + BigInt(Math.round(us * 1000));
  while (process.hrtime.bigint() < until);
}

serveBench(({ args }) =>
  args.spin !== undefined
    ? {
        description: `node:http, ${args.spin} µs of CPU spent, then res.end("hello"), same Cookie header as the sessions`,
        headerSets,
        handler: (_req, res) => {
          spin(Number(args.spin));
          res.end('hello');
        },
      }
    : args.async === 'true'
    ? {
        description: 'node:http, await null; res.end("hello"), same Cookie header as the sessions',
        headerSets,
        handler: async (_req, res) => {
          await null;
          res.end('hello');
        },
      }
    : {
        description: 'node:http, res.end("hello"), same Cookie header as the sessions',
        headerSets,
        handler: (_req, res) => {
          res.end('hello');
        },
      },
);
