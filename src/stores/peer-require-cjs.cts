/**
 * The CommonJS form of `peer-require.ts` (tshy builds it in that module's place): a CommonJS
 * module has a `require` resolving from its own folder already.
 *
 * @module
 * @internal
 */

/** `require`, resolving from this module's folder. */
export const requireFromTessera: NodeJS.Require = require;
