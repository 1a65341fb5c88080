// Headless Chromium for the browser tests (Debian's `chromium`, driven by
// playwright-core). No Chromium is a failure that says how to get one, never a skip.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const HOW_TO_GET_CHROMIUM =
  `No Chromium at ${CHROMIUM_PATH} for the browser tests: install Debian's chromium ` +
  '(apt-get install chromium; .ci/run does this when it runs as root), or point CHROMIUM_PATH at a Chromium or Chrome binary. ' +
  '`npx playwright install` is not needed.';

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(HOW_TO_GET_CHROMIUM);
  // A fresh profile each run: no first-run fetches, no state between runs.
  const profile = mkdtempSync(join(tmpdir(), 'swarmq-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
