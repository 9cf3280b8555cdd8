/**
 * Chromium for the browser tests (Debian's `chromium`, driven by playwright-core): launched once
 * per test file. When it is not installed, the file's tests are skipped with a clear reason,
 * unless TESSERA_REQUIRE_SERVICES=1 (set by .ci/run, which installs it), which turns the skip into
 * a failure.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REQUIRE_SERVICES } from './services.js';

export const CHROMIUM_PATH = process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium';

/** `false` when Chromium is installed; otherwise the skip reason, or a thrown error when it is required. */
export function chromiumSkip(): string | false {
  if (existsSync(CHROMIUM_PATH)) return false;
  const reason = `Chromium not found at ${CHROMIUM_PATH} (apt-get install chromium, or set TESSERA_CHROMIUM); the browser tests are skipped`;
  if (REQUIRE_SERVICES) throw new Error(`Chromium is required (TESSERA_REQUIRE_SERVICES=1) but ${reason}`);
  process.stdout.write(`# SKIPPED: ${reason}\n`);
  return reason;
}

/** Launch headless Chromium (call in `before`; close it in `after`). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, timeout: 20_000 });
}

/** Wait until `check` holds, polling every 20 ms; fails with `what` after `ms`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** What the test page's client told `document` (`window.seen`): the names of the events, in order. */
export async function seen(page: Page, name?: string): Promise<{ name: string; detail: unknown }[]> {
  const all = await page.evaluate(() => (globalThis as unknown as { seen: { name: string; detail: unknown }[] }).seen);
  return name === undefined ? all : all.filter((e) => e.name === name);
}

/** Open `url` in `page` and wait until the client's stream is open (`tessera:open`); its tab ID. */
export async function openLive(page: Page, url: string): Promise<string> {
  await page.goto(url);
  await page.waitForFunction(() => (globalThis as unknown as { seen?: { name: string }[] }).seen?.some((e) => e.name === 'tessera:open'));
  return page.evaluate(() => (globalThis as unknown as { live: { tab: string } }).live.tab);
}
