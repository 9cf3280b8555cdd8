#!/usr/bin/env node
/**
 * The `tessera` executable (the package's `bin`): runs {@link runCli} on the process's arguments
 * and exits with its code. See docs/cli.md, or `tessera --help`.
 *
 * @example
 * ```ts
 * // npx tessera sessions list --store sqlite:./data/sessions.db --user u1
 * ```
 * @module
 */
import { runCli } from './run.js';

// `tessera sessions list | head` closes the pipe early: that is not a failure worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

runCli(process.argv.slice(2), { out: process.stdout, err: process.stderr }).then((code) => {
  process.exitCode = code;
});
