// /dashboard in headless Chromium: load time (navigation start → the page marks
// itself ready: its first summary, agent page and hierarchy drawn; the page
// records when, as data-ready-ms) and the worst frame: the longest main-thread
// task (Long Tasks API, which reports tasks over 50 ms) from navigation until
// `watchMs` after ready, while the page stays live. No long task: under 50 ms.
import { launchChromium, longTasks, watchLongTasks } from '../../tests/support/chromium.ts';

export interface DashboardFigures {
  loadMs: number;
  /** The longest task; 0 when none reached 50 ms (the API's threshold). */
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
    await watchLongTasks(page);
    await page.goto(`${baseUrl}/dashboard`, { waitUntil: 'commit' });
    await page.waitForSelector(READY_SELECTOR, { timeout: 120_000 });
    const loadMs = Number(await page.evaluate(() => document.body.dataset.readyMs));
    await page.waitForTimeout(watchMs);
    const tasks = await longTasks(page);
    const agentRows = await page.locator('#agents tr[data-agent]').count();
    return { loadMs, worstFrameMs: Math.max(0, ...tasks), agentRows };
  } finally {
    await browser.close();
  }
}
