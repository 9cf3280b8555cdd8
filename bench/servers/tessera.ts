/**
 * tessera on node:http (`nodeSessions(tessera).wrap`). Arguments:
 *
 * - `--path=read`  the client's session exists; the handler reads a value.
 * - `--path=write` the client's session exists; the handler changes a value on every request.
 * - `--store=memory` (default) the store; add a case to `makeStore` for another one.
 *
 * Every request answers "hello", exactly like the bare baseline, so the difference between the two
 * is the session layer. A request whose session is not found counts as an anomaly: the bench then
 * refuses the figures (it would be measuring "new session" instead of "existing session").
 *
 * @module
 */
import { createTessera } from '../../src/index.js';
import { nodeSessions } from '../../src/adapters/node.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { SessionStore } from '../../src/stores/store.js';
import { serveBench } from '../lib/serve.js';

/** A fixed bench secret (>= 32 bytes). Never reuse a published secret in an app. */
const SECRET = 'tessera-bench-secret-not-for-production-0123456789';

function makeStore(name: string): { store: SessionStore; description: string } {
  switch (name) {
    case 'memory':
      return { store: new MemoryStore(), description: 'MemoryStore' };
    default:
      throw new Error(`bench/servers/tessera.ts: unknown --store=${name}`);
  }
}

serveBench(async ({ args, anomaly }) => {
  const path = args.path ?? 'read';
  const { store, description } = makeStore(args.store ?? 'memory');
  const tessera = createTessera({ secrets: [SECRET], store });
  const sessions = nodeSessions(tessera);

  // An existing session, as a returning browser would hold it.
  const { id } = await tessera.create({ data: { n: 1 } });
  const cookie = `${tessera.cookieName}=${tessera.signCookie(id)}`;

  let handler: Parameters<typeof sessions.wrap>[0];
  if (path === 'read') {
    handler = async (req, res) => {
      const session = await sessions.load(req, res);
      if (session.get<number>('n') === undefined) anomaly();
      res.end('hello');
    };
  } else if (path === 'write') {
    handler = async (req, res) => {
      const session = await sessions.load(req, res);
      const n = session.get<number>('n');
      if (n === undefined) anomaly();
      session.set('n', (n ?? 0) + 1);
      res.end('hello');
    };
  } else {
    throw new Error(`bench/servers/tessera.ts: unknown --path=${path}`);
  }

  return {
    description: `nodeSessions(createTessera({ store: ${description} })), ${path} path`,
    handler: sessions.wrap(handler),
    headerSets: [{ cookie }],
    close: () => tessera.close(),
  };
});
