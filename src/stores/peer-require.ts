/**
 * The `require` that stores load their drivers with, resolving from tessera's own folder (where a
 * package manager puts tessera's dependencies and peers).
 *
 * @module
 * @internal
 */
import { createRequire } from 'node:module';

/** `require`, resolving from this module's folder. */
export const requireFromTessera: NodeJS.Require = createRequire(import.meta.url);
