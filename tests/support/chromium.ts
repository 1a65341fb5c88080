// Headless Chromium for the browser tests, driven by playwright-core. Which
// binary: CHROMIUM_PATH, else Debian's /usr/bin/chromium, else the one that
// comes with `npm ci` inside @sparticuz/chromium (unpacked into the temp dir on
// first use, nothing downloaded). No Chromium is a failure that says how to get
// one, never a skip.
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

const SYSTEM_CHROMIUM = '/usr/bin/chromium';

export interface ChromiumBinary {
  path: string;
  /** Where it came from, for failure messages. */
  source: 'CHROMIUM_PATH' | 'system' | '@sparticuz/chromium';
  /** Extra environment the binary needs (the packaged one brings its own fonts). */
  env: Record<string, string>;
}

const HOW_TO_GET_CHROMIUM =
  'No Chromium for the browser tests: `npm ci` installs one (@sparticuz/chromium, Linux x64 only); ' +
  "elsewhere install Chromium or Chrome and point CHROMIUM_PATH at its binary (Debian: apt-get install chromium).";

export async function findChromium(): Promise<ChromiumBinary> {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} does not exist. ${HOW_TO_GET_CHROMIUM}`);
    return { path: fromEnv, source: 'CHROMIUM_PATH', env: {} };
  }
  if (existsSync(SYSTEM_CHROMIUM)) return { path: SYSTEM_CHROMIUM, source: 'system', env: {} };
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(HOW_TO_GET_CHROMIUM);
  try {
    const packaged = (await import('@sparticuz/chromium')).default;
    const path = await oneAtATime(() => packaged.executablePath());
    // The package unpacks its fonts beside the binary; fontconfig finds them
    // only through FONTCONFIG_PATH, which the package sets on AWS Lambda alone.
    return { path, source: '@sparticuz/chromium', env: { FONTCONFIG_PATH: process.env.FONTCONFIG_PATH ?? join(tmpdir(), 'fonts') } };
  } catch (err) {
    throw new Error(`Could not unpack @sparticuz/chromium (${(err as Error).message}). ${HOW_TO_GET_CHROMIUM}`);
  }
}

const UNPACK_LOCK = join(tmpdir(), 'swarmq-chromium-unpack.lock');

/**
 * Runs the unpack in one test process at a time (a lock directory: mkdir is
 * atomic): the package writes the binary in place, and a second process that
 * finds it half-written and starts it fails with ETXTBSY (browser files run two
 * at a time; the first run on a fresh machine unpacks).
 */
async function oneAtATime<T>(unpack: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(UNPACK_LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A holder that died leaves its lock: taken over once it is a minute old.
      try {
        if (Date.now() - statSync(UNPACK_LOCK).mtimeMs > 60_000) rmSync(UNPACK_LOCK, { recursive: true, force: true });
      } catch {
        // gone meanwhile: the next mkdir takes it
      }
      if (Date.now() > deadline) throw new Error(`${UNPACK_LOCK} was held for 2 minutes: remove it if no test run is unpacking Chromium`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await unpack();
  } finally {
    rmSync(UNPACK_LOCK, { recursive: true, force: true });
  }
}

export interface Browser {
  context: BrowserContext;
  binary: ChromiumBinary;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  const binary = await findChromium();
  // A fresh profile each run: no first-run fetches, no state between runs.
  const profile = mkdtempSync(join(tmpdir(), 'swarmq-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: binary.path,
    env: { ...process.env, ...binary.env },
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    binary,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Records the page's long tasks (main-thread work over 50 ms, the Long Tasks API) from its first byte on; call before goto. */
export async function watchLongTasks(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as { longTasks: number[] };
    w.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.longTasks.push(e.duration);
    }).observe({ type: 'longtask', buffered: true });
  });
}

/** The durations (ms) of the long tasks recorded so far. */
export async function longTasks(page: Page): Promise<number[]> {
  return await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);
}
