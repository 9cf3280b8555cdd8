/**
 * Prelude of README.md's "Session API" cheat-sheet (`<!-- snippet: prelude test/docs/session-prelude.ts -->`):
 * what a node:http handler has in scope there, with their real types. `sessions` is tessera's
 * node:http adapter (on a MemoryStore), `req` and `res` a request and its response (no socket:
 * the cheat-sheet runs outside a server), `items` and `user` stand for the app's own data.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { nodeSessions } from '../../src/adapters/node.js';
import { createTessera } from '../../src/index.js';
import { MemoryStore } from '../../src/stores/memory.js';

export const sessions = nodeSessions(createTessera({ secrets: [process.env.SESSION_SECRET!], store: new MemoryStore() }));
export const req = new IncomingMessage(new Socket());
export const res = new ServerResponse(req);
export const items = [{ sku: 'tea-green-100g', quantity: 2 }];
export const user = { id: 'user-42' };
