/**
 * Compile the library and the bench servers to plain JavaScript before measuring, so the servers
 * run what a user runs (tsc's output, as in dist/) and not code transformed on the fly by the tsx
 * loader: tsx wraps every function expression in a `__name()` call (esbuild's keepNames) and runs
 * a loader thread, which would be charged to tessera on the hot path.
 *
 * This is transpilation only (`ts.transpileModule`, no type check: `npm run typecheck` does that),
 * about a second for the whole tree. The output goes to node_modules/.cache/tessera-bench/, so
 * imports of dependencies resolve from the project's node_modules and `"type": "module"` applies.
 *
 * @module
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = join(ROOT, 'node_modules', '.cache', 'tessera-bench');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * Transpile src/ and bench/ into the cache folder (or `out`, a folder of the caller's under the
 * project's node_modules, so that dependencies resolve); returns the folder (it mirrors the
 * project: `<out>/bench/servers/bare.js`).
 *
 * @example
 * ```ts
 * const out = buildForBench();
 * fork(join(out, 'bench/servers/bare.js'));
 * ```
 */
export function buildForBench(out = OUT): string {
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const compilerOptions: ts.CompilerOptions = {
    ...options,
    // The package is ESM ("type": "module"); a per-file transpile cannot look that up, so say it.
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    sourceMap: false,
    inlineSourceMap: false,
    declaration: false,
  };
  rmSync(out, { recursive: true, force: true });
  for (const file of [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'bench'))]) {
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions, fileName: file });
    const target = join(out, relative(ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
  }
  return out;
}

/**
 * A build folder of this process's own, beside the shared one: for a bench that may run while
 * another (of another checkout sharing node_modules) rebuilds the shared folder. Remove it after.
 *
 * @example
 * ```ts
 * const out = buildForBench(privateBuildFolder('faults'));
 * ```
 */
export function privateBuildFolder(label: string): string {
  return `${OUT}-${label}-${process.pid}`;
}
