/**
 * The live bench's pusher: another process, with its own tessera (the server's secret, a RedisBus
 * on the run's channel), pushing stamped events by handle to single tabs the server holds — what a
 * background job or another app instance does. See bench/lib/live.ts.
 *
 * Arguments: `--channel=NAME` the RedisBus channel of the run.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import { createTessera } from '../../src/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { redisBus } from '../lib/live-bus.js';
import { LIVE_BENCH_SECRET, PUSH_EVENT, type PusherMessage, type ToPusher } from '../lib/live-protocol.js';

function send(message: PusherMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('bench/servers/live-push.ts is started by the live bench (npm run bench -- --live)');
  const channel = /^--channel=(.+)$/.exec(process.argv[2] ?? '')?.[1];
  if (channel === undefined) throw new Error('--channel=NAME is required');
  const made = await redisBus(channel);
  if (!('bus' in made)) throw new Error(made.reason);
  const tessera = createTessera({ secrets: [LIVE_BENCH_SECRET], store: new MemoryStore(), cookie: { secure: false }, live: { bus: made.bus } });
  await tessera.live.start();
  process.on('message', (message: ToPusher) => {
    if (message.type !== 'push') return;
    void (async () => {
      const errors: string[] = [];
      let sent = 0;
      const started = performance.now();
      for (let i = 0; i < message.count; i++) {
        const target = message.targets[i % message.targets.length]!;
        // Paced from the start, so a slow push does not shift the ones after it.
        const wait = started + i * message.intervalMs - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        try {
          const t = process.hrtime.bigint().toString();
          await tessera.live.push(target.handle, target.tab, { type: 'event', name: PUSH_EVENT, detail: { t, i } });
          sent++;
        } catch (error) {
          if (errors.length < 5) errors.push(String(error));
        }
      }
      send({ type: 'pushed', sent, errors, ms: performance.now() - started });
    })();
  });
  process.on('SIGINT', () => {});
  process.on('disconnect', () => void tessera.close().finally(() => process.exit(0)));
  send({ type: 'ready' });
}

main().catch((error: unknown) => {
  send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
});
