/**
 * The `require` that stores load their drivers with, resolving from tessera's own folder (where a
 * package manager puts tessera's dependencies and peers). This is the ES module form; the
 * CommonJS build uses `peer-require-cjs.cts` in its place, since `import.meta` does not exist there.
 *
 * @module
 * @internal
 */
import { createRequire } from 'node:module';

/** `require`, resolving from this module's folder. */
// @ts-ignore -- the CommonJS build compiles this module too (then puts the .cts form in its place), and there import.meta is an error
export const requireFromTessera: NodeJS.Require = createRequire(import.meta.url);
