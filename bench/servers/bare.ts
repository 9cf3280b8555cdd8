/**
 * Baseline: a bare node:http server answering "hello". Every tessera-on-node:http scenario is
 * measured against this one, in the same run.
 *
 * `--async` answers after one `await` instead of synchronously (what any handler that awaits
 * something does), to separate the cost of answering asynchronously from the session layer's.
 *
 * @module
 */
import { serveBench } from '../lib/serve.js';

serveBench(({ args }) =>
  args.async === 'true'
    ? {
        description: 'node:http, await null; res.end("hello")',
        handler: async (_req, res) => {
          await null;
          res.end('hello');
        },
      }
    : {
        description: 'node:http, res.end("hello")',
        handler: (_req, res) => {
          res.end('hello');
        },
      },
);
