/** Ports for tests: free ones to start servers on, and closed ones that nothing listens on. */
import { createServer } from 'node:net';

/** A TCP port of 127.0.0.1 that was free a moment ago (the OS picked it); nothing listens on it now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
