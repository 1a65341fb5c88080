// /dashboard in headless Chromium: load time (navigation start → the page marks
// itself ready: its first summary, agent page and hierarchy drawn) and the
// worst frame (the longest gap between animation frames, from navigation until
// `watchMs` after ready, while the page stays live).
import { launchChromium } from '../../tests/support/chromium.ts';

export interface DashboardFigures {
  loadMs: number;
  worstFrameMs: number;
  /** Rows of the agent table in the DOM (bounded when paged or virtualized). */
  agentRows: number;
}

/** The page sets this once its first data has rendered (dashboards/client/main.ts). */
export const READY_SELECTOR = 'body[data-ready="true"]';

export async function measureDashboard(baseUrl: string, watchMs = 5_000): Promise<DashboardFigures> {
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    await page.addInitScript(() => {
      const w = window as unknown as { __worstFrame: number };
      w.__worstFrame = 0;
      let last = performance.now();
      const frame = (t: number) => {
        w.__worstFrame = Math.max(w.__worstFrame, t - last);
        last = t;
        requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
    });
    await page.goto(`${baseUrl}/dashboard`, { waitUntil: 'commit' });
    await page.waitForSelector(READY_SELECTOR, { timeout: 120_000 });
    const loadMs = await page.evaluate(() => performance.now());
    await page.waitForTimeout(watchMs);
    const worstFrameMs = await page.evaluate(() => (window as unknown as { __worstFrame: number }).__worstFrame);
    const agentRows = await page.evaluate(() => document.querySelectorAll('tr').length);
    return { loadMs, worstFrameMs, agentRows };
  } finally {
    await browser.close();
  }
}
