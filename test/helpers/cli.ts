/**
 * Running the `tessera` CLI as operators do: a child process (`node --import tsx src/cli/main.ts`),
 * its exit code and both outputs. Its environment is this process's without the CLI's own
 * variables, plus what the test gives: a test never inherits a store or secrets by accident.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** What a run of the CLI gave. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `tessera ...args` with `env` added to the environment; resolves however it exits. */
export function tessera(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<CliRun> {
  const base = { ...process.env };
  delete base.TESSERA_STORE;
  delete base.TESSERA_SECRETS;
  delete base.NODE_OPTIONS;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: { ...base, ...env }, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `tessera ...args`, which must exit with 0; its standard output parsed as JSON. */
export async function tesseraJson<T>(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<T> {
  const run = await tessera(args, env);
  if (run.code !== 0) throw new Error(`tessera ${args.join(' ')} exited with ${run.code}:\n${run.stdout}${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}
