/**
 * A tab reconnects by itself when its server restarts: the test app runs as a child process with
 * a SQLite store in a temporary folder (the session outlives the process), is killed, and starts
 * again on the same port; the tab's stream opens again and gets what the new process pushes.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { chromiumSkip, launchChromium, openLive, seen } from '../helpers/chromium.js';

declare const document: any;

const APP = fileURLToPath(new URL('../helpers/live-app.ts', import.meta.url));
const skip = chromiumSkip();

/** A port free right now on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** The app as a child process on `port`, storing sessions in `db`; resolves once it listens. */
function startApp(port: number, db: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', APP, String(port), db], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      if (chunk.includes('listening')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`the app exited (${code}) before it listened`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('a tab across a server restart', { skip }, () => {
  let browser: Browser;
  let folder: string;
  let child: ChildProcess | undefined;

  before(async () => {
    folder = mkdtempSync(join(tmpdir(), 'tessera-restart-'));
    browser = await launchChromium();
  });
  after(async () => {
    if (child) await stop(child);
    await browser?.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('reconnects by itself once the server is back, in the same session, and gets its pushes', async () => {
    const port = await freePort();
    const db = join(folder, 'sessions.db');
    child = await startApp(port, db);
    const page = await (await browser.newContext()).newPage();
    const tab = await openLive(page, `http://127.0.0.1:${port}/?retry=100`);
    const handle = await page.getAttribute('body', 'data-handle');

    await stop(child);
    child = await startApp(port, db);
    await page.waitForFunction(() => (globalThis as any).seen.filter((e: { name: string }) => e.name === 'tessera:open').length === 2, undefined, { timeout: 10_000 });
    assert.deepEqual(await seen(page, 'tessera:open'), [
      { name: 'tessera:open', detail: { tab } },
      { name: 'tessera:open', detail: { tab } },
    ]);
    // A request of the tab makes the new process push to it: same session, same tab, a live stream.
    assert.equal(await page.evaluate(async () => (await fetch('/push', { method: 'POST' })).status), 200);
    await page.waitForFunction(() => document.querySelector('#status').textContent === 'pushed');
    await page.reload();
    assert.equal(await page.getAttribute('body', 'data-handle'), handle, 'the session survived the restart');
  });
});
