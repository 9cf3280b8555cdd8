/**
 * `npm start`: the tessera demo on http://localhost:3000.
 *
 *   PORT=8080 npm start                 # another port
 *   STORE=memory npm start              # sessions in memory instead of ./data/sessions.db
 *   STORE=redis://127.0.0.1:6379 npm start   # or postgres://…, file:./dir, cookie (see README.md)
 *   SESSION_SECRET=… npm start          # your own secret (>= 32 bytes)
 *   HOST=127.0.0.1 npm start            # listen on one address only
 *
 * Ctrl-C (SIGINT) or SIGTERM stops it cleanly: in-flight requests finish, then the store closes.
 *
 * @module
 */
import { startDemo } from './app.js';

const port = process.env.PORT === undefined ? 3000 : Number(process.env.PORT);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be a port number, not ${JSON.stringify(process.env.PORT)}`);
  process.exit(1);
}

const demo = await startDemo({ port, host: process.env.HOST || undefined, dataDir: './data' }).catch((error: unknown) => {
  console.error(`tessera demo: could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

const secretNote = {
  SESSION_SECRET: 'from SESSION_SECRET',
  file: 'kept in data/demo-secret',
  generated: 'generated into data/demo-secret (demo only: use SESSION_SECRET in production)',
}[demo.secretSource];
console.log(`tessera demo: ${demo.store.label} store, sessions ${demo.store.where}; secret ${secretNote}`);
console.log(`tessera demo listening on ${demo.url}  (Ctrl-C to stop)`);

let stopping = false;
function stop(signal: NodeJS.Signals): void {
  if (stopping) {
    console.log(`${signal} again: exiting now`);
    process.exit(1);
  }
  stopping = true;
  console.log(`${signal}: shutting down…`);
  demo.close().then(
    () => console.log('tessera demo stopped'),
    (error: unknown) => {
      console.error('tessera demo: error while stopping', error);
      process.exitCode = 1;
    },
  );
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
