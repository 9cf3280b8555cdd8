/**
 * The demo's pages, as a route table: path → handler by method. The pages are in routes/: the
 * counter (the first version of the demo) and the account (sign-in, your devices). To add a page,
 * add an entry to one of their tables (and, for the navigation bar, a link in page.ts).
 *
 * @module
 */
import { accountRoutes } from './routes/account.js';
import type { Methods } from './routes/context.js';
import { counterRoutes } from './routes/counter.js';
import { liveRoutes } from './routes/live.js';

export type { DemoContext, Methods, Route } from './routes/context.js';

/**
 * The routes, by path. GET handlers serve HEAD too; a POST passes tessera's CSRF check first.
 *
 * @example
 * ```ts
 * routes.get('/account')?.GET; // the account page's handler
 * ```
 */
export const routes: ReadonlyMap<string, Methods> = new Map<string, Methods>([...counterRoutes, ...accountRoutes, ...liveRoutes]);

/**
 * The `Allow` header of a path's routes, e.g. `GET, HEAD` or `GET, HEAD, POST`.
 *
 * @example
 * ```ts
 * allowed({ POST: signOut }); // 'POST'
 * ```
 */
export function allowed(methods: Methods): string {
  return [...(methods.GET ? ['GET', 'HEAD'] : []), ...(methods.POST ? ['POST'] : [])].join(', ');
}
