// The swarm dashboard in headless Chromium against 2,000 real agents on two
// hosts (two `swarmq agents --count 1000` processes, 200 nodes): it loads and
// says so (data-ready, data-ready-ms), the agent table holds one page of rows
// whatever the roster, the search and the host filter ask the server, pages
// turn, and a group of the hierarchy opens on a click and closes again.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, longTasks, watchLongTasks, type Browser } from '../support/chromium.ts';
import { CliFleet } from '../support/cli.ts';
import { redisForFile } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

const AGENTS = 2000;
const fleet = new CliFleet();
const redis = redisForFile();
let stack: Stack;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  browser = await launchChromium();
  const config = testConfig(redis, { agents: { heartbeatIntervalMs: 500 } });
  stack = await startStack(config);
  const hosts = ['big1', 'big2'].map((id) =>
    fleet.spawn(['agents', '--count', String(AGENTS / 2), '--host-id', id, '--mode', 'waves', '--wave-size', '250', '--redis-url', redis.url, '--prefix', config.prefix], {
      env: { SWARMQ_HEARTBEAT_INTERVAL_MS: '500' },
    }),
  );
  await Promise.all(hosts.map((h) => h.waitFor(/^spawned \d+ agents/, 60_000)));
  await until(async () => (await stack.request('GET', '/api/agents?state=live&limit=1')).body.matched === AGENTS, 20_000, 'every agent live');
  page = await browser.context.newPage();
  // Long tasks (main-thread work over 50 ms) from the first byte on.
  await watchLongTasks(page);
}, 90_000);

afterAll(async () => {
  fleet.killAll();
  await browser?.close();
  await stack?.stop();
});

const rows = () => page.locator('#agents tr[data-agent]');
const pager = () => page.locator('#agent-pager').textContent();

describe(`the dashboard at ${AGENTS.toLocaleString('en')} agents`, () => {
  it('loads, says when, and holds one page of agent rows', async () => {
    const t0 = Date.now();
    await page.goto(`${stack.base}/dashboard`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10_000 });
    const wall = Date.now() - t0;
    const readyMs = Number(await page.evaluate(() => document.body.dataset.readyMs));
    const tasks = await longTasks(page);
    console.log(`dashboard ready at ${readyMs} ms after navigation (${wall} ms from goto); long tasks: ${JSON.stringify(tasks.map(Math.round))}`);
    expect(readyMs).toBeGreaterThan(0);
    expect(readyMs).toBeLessThan(5000);
    // Some room for a shared machine; the budget (no frame over 100 ms at 10,000 agents) is the benchmark's to measure.
    expect(Math.max(0, ...tasks)).toBeLessThan(150);
    expect(await rows().count()).toBe(50);
    expect(await pager()).toBe(`1–50 of ${AGENTS.toLocaleString('en')}`);
    expect(await page.locator('[data-count="healthy"], [data-count="unknown"]').first().textContent()).toMatch(/\d/);
    await page.waitForSelector('#hosts tr[data-host-row="big2"]');
    expect(await page.locator('#hosts').textContent()).toContain('1,000');
    // The whole page, whatever the roster: a bounded number of elements.
    expect(await page.evaluate(() => document.getElementsByTagName('*').length)).toBeLessThan(3000);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'live', undefined, { timeout: 10_000 });
  }, 30_000);

  it('pages forward and back through the server', async () => {
    const first = await rows().first().getAttribute('data-agent');
    await page.click('#agent-next');
    await page.waitForFunction(() => document.getElementById('agent-pager')?.textContent?.startsWith('51–100'), undefined, { timeout: 5000 });
    expect(await rows().first().getAttribute('data-agent')).not.toBe(first);
    expect(await rows().count()).toBe(50);
    await page.click('#agent-prev');
    await page.waitForFunction(() => document.getElementById('agent-pager')?.textContent?.startsWith('1–50'), undefined, { timeout: 5000 });
    expect(await rows().first().getAttribute('data-agent')).toBe(first);
  }, 20_000);

  it('searches agent ids and filters by host on the server', async () => {
    await page.fill('#agent-search', 'big2-a77');
    // big2-a77 and big2-a770..a779
    await page.waitForFunction(() => document.getElementById('agent-pager')?.textContent === '1–11 of 11 matching (2,000 agents)', undefined, { timeout: 5000 });
    expect(await rows().evaluateAll((trs) => trs.map((t) => t.getAttribute('data-agent')))).toEqual(['big2-a77', ...Array.from({ length: 10 }, (_, i) => `big2-a77${i}`)]);
    await page.fill('#agent-search', '');
    await page.selectOption('#agent-host', 'big1');
    await page.waitForFunction(() => document.getElementById('agent-pager')?.textContent === '1–50 of 1,000 matching (2,000 agents)', undefined, { timeout: 5000 });
    expect(await page.locator('#agents tr[data-agent][data-host="big1"]').count()).toBe(50);
    await page.selectOption('#agent-host', '');
    await page.waitForFunction(() => document.getElementById('agent-pager')?.textContent === '1–50 of 2,000', undefined, { timeout: 5000 });
  }, 20_000);

  it('shows the hierarchy as closed groups and opens one on a click', async () => {
    // 200 nodes: the root's 20 groups as tiles, none open.
    expect(await page.locator('#tree .tiles [data-kind="group"][data-open="false"]').count()).toBe(20);
    expect(await page.locator('#tree [data-kind="node"]').count()).toBe(0);
    await page.click('#tree [data-kind="group"][data-id="g7"]');
    await page.waitForSelector('#tree [data-id="g7"][data-open="true"]', { timeout: 5000 });
    const shownNodes = () => page.locator('#tree .opened svg.tree g[data-kind="node"]').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-id')));
    await until(async () => (await shownNodes()).length > 0, 5000, 'the nodes of g7');
    expect(await shownNodes()).toEqual(Array.from({ length: 10 }, (_, i) => `n${61 + i}`));
    // Still open after the next refresh (its slice is read again, not dropped).
    await new Promise((r) => setTimeout(r, 2500));
    expect(await shownNodes()).toHaveLength(10);
    await page.click('#tree .tiles [data-id="g7"]');
    await page.waitForSelector('#tree [data-id="g7"][data-open="false"]', { timeout: 5000 });
    expect(await page.locator('#tree [data-kind="node"]').count()).toBe(0);
  }, 20_000);
});
