// The swarm dashboard and Bull Board in headless Chromium, against a real
// swarm: a coordinator with the HTTP API, an agent host in this process and one
// as a child process. The page shows the tree and the agents, follows tasks as
// they run, and shows the child's agents failed after it is SIGKILLed, all
// without a reload. Screenshots go to tests/artifacts/ and must not be blank.
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeQueueName } from '../../queues/keys.ts';
import { Consensus } from '../../src/consensus/runtime/consensus.ts';
import { silentLogger } from '../../src/log.ts';
import { launchChromium, type Browser } from '../support/chromium.ts';
import { CliFleet, type CliChild } from '../support/cli.ts';
import { decodePng, pictureStats } from '../support/png.ts';
import { redisForFile } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

const ARTIFACTS = new URL('../artifacts/', import.meta.url);
const fleet = new CliFleet();
const redis = redisForFile();
let stack: Stack;
let browser: Browser;
let page: Page;
let child: CliChild;
let consensus: Consensus;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // Chromium before the rest of the stack: without it the file fails at once, saying how to get it.
  browser = await launchChromium();
  const config = testConfig(redis, { coordinator: { maxAgentsPerNode: 3 }, agents: { heartbeatIntervalMs: 500 } });
  stack = await startStack(config, { hostId: 'hA', agents: [{ type: 'worker', count: 4 }, { type: 'gpu', count: 2 }] });
  child = fleet.spawn(['agents', '--count', '3', '--type', 'worker', '--host-id', 'hB', '--redis-url', redis.url, '--prefix', config.prefix], {
    env: { SWARMQ_MAX_AGENTS_PER_NODE: '3', SWARMQ_HEARTBEAT_INTERVAL_MS: '500' },
  });
  await child.waitFor(/agent host ready/, 30_000);
  // Some process drives the proposals (the CLI's coordinators do): this one, here.
  consensus = new Consensus({ redis: redis.url, prefix: config.prefix, config: { agents: { failedAfterMs: config.agents.failedAfterMs } }, logger: silentLogger });
  await consensus.drive();
  page = await browser.context.newPage();
}, 60_000);

afterAll(async () => {
  fleet.killAll();
  await consensus?.close();
  await browser?.close();
  await stack?.stop();
});

/** Screenshot to tests/artifacts/<name>.png, checked to hold a picture, not a blank page. */
async function screenshot(name: string): Promise<void> {
  const png = await page.screenshot({ fullPage: true });
  writeFileSync(new URL(`${name}.png`, ARTIFACTS), png);
  const stats = pictureStats(decodePng(png));
  expect(stats.colours, `${name}.png has too few colours to be a rendered page`).toBeGreaterThan(30);
  expect(stats.nonBackground, `${name}.png is mostly one colour`).toBeGreaterThan(0.02);
}

/** Set once after the first load: still there later means the page was never reloaded. */
async function markLoaded(): Promise<void> {
  await page.evaluate(() => Object.assign(window, { swarmqLoadMark: 'first-load' }));
}
async function expectNoReload(): Promise<void> {
  expect(await page.evaluate(() => (window as unknown as { swarmqLoadMark?: string }).swarmqLoadMark)).toBe('first-load');
}

describe('swarm dashboard at /dashboard', () => {
  it('shows the hierarchy with every node and each agent healthy', async () => {
    await page.goto(`${stack.base}/dashboard`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
    await markLoaded();
    const nodes = (await stack.request('GET', '/api/nodes')).body.nodes as { id: string }[];
    expect(nodes.length).toBeGreaterThanOrEqual(3);
    for (const n of nodes) await page.waitForSelector(`svg.tree g[data-kind="node"][data-id="${n.id}"]`, { timeout: 10_000 });
    await page.waitForSelector('svg.tree g[data-kind="root"]');
    // 9 agents on two hosts, each healthy once the monitor has classified both hosts.
    await page.waitForFunction(() => document.querySelectorAll('tr[data-agent][data-state="healthy"]').length === 9, undefined, { timeout: 15_000 });
    expect(await page.locator('tr[data-host="hB"]').count()).toBe(3);
    await expect(page.locator('#status').textContent()).resolves.toBe('live');
  }, 60_000);

  it('follows tasks as they run: loads in the tree, then throughput', async () => {
    const tasks = Array.from({ length: 40 }, (_, i) => ({ type: 'sleep', payload: { ms: 700 }, ...(i % 4 === 0 ? { key: 'browser-key' } : {}) }));
    expect((await stack.request('PUT', '/api/keys/browser-key/limits', { maxActive: 2 })).status).toBe(200);
    expect((await stack.request('POST', '/api/tasks/batch', { tasks })).status).toBe(202);
    await page.waitForFunction(() => /\b[1-9]\d* active\b/.test(document.getElementById('tree-summary')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await page.waitForFunction(() => [...document.querySelectorAll('svg.tree g[data-kind="node"]')].some((g) => Number(g.getAttribute('data-load')) > 0), undefined, {
      timeout: 15_000,
    });
    // The running tasks are listed (with their progress, none for sleep).
    await page.waitForSelector('#running tr[data-task]', { timeout: 15_000 });
    // The key's tasks, two at most running, in the Keys panel.
    await page.waitForSelector('#keys tr[data-key="browser-key"]', { timeout: 15_000 });
    expect(await page.locator('#keys tr[data-key="browser-key"]').textContent()).toMatch(/[0-2] \/ 2/);
    await page.waitForFunction(() => !/^0 tasks\/s$/.test(document.querySelector('[data-now="throughput"]')?.textContent ?? '0 tasks/s'), undefined, { timeout: 20_000 });
    // A consensus round among three agents shows with its votes once decided.
    const { id } = await consensus.submit({ protocol: 'quorum', value: { leader: 'hA-a1' }, participants: { count: 3, type: 'worker' } });
    const round = page.locator(`#consensus li[data-round="${id}"]`);
    await round.waitFor({ timeout: 15_000 });
    expect(await round.textContent()).toMatch(/quorum decided .*\b[1-3]\/3 votes/);
    await expectNoReload();
  }, 60_000);

  it('shows a killed host going failed, with its recovery, without a reload', async () => {
    // Killed mid-work: its tasks are requeued while the page watches.
    const tasks = Array.from({ length: 36 }, () => ({ type: 'sleep', payload: { ms: 1500 } }));
    expect((await stack.request('POST', '/api/tasks/batch', { tasks })).status).toBe(202);
    await page.waitForFunction(() => /\b([6-9]|\d\d+) active\b/.test(document.getElementById('tree-summary')?.textContent ?? ''), undefined, { timeout: 15_000 });
    child.child.kill('SIGKILL');
    await page.waitForSelector('tr[data-host="hB"][data-state="failed"]', { timeout: 20_000 });
    await page.waitForSelector('#alerts li[data-alert-host="hB"]', { timeout: 10_000 });
    await page.waitForSelector('#recoveries li[data-recovery]', { timeout: 10_000 });
    await expectNoReload();
    // Its three agents are replaced on the live host; the page shows them joining.
    await until(async () => (await page.locator('tr[data-host="hA"]').count()) === 9, 20_000, 'the replacements on hA');
    await screenshot('dashboard');
  }, 90_000);
});

describe('Bull Board at /admin/queues', () => {
  it('lists the node queues', async () => {
    const nodes = (await stack.request('GET', '/api/nodes')).body.nodes as { id: string }[];
    await page.goto(`${stack.base}/admin/queues`);
    for (const n of nodes) await page.getByText(nodeQueueName(n.id), { exact: true }).first().waitFor({ timeout: 15_000 });
    await screenshot('bull-board');
  }, 60_000);
});

describe('with SWARMQ_API_TOKEN set', () => {
  it('the dashboard asks for the token, then shows the swarm live', async () => {
    // A second coordinator of the same swarm (a standby), with the token.
    const guarded = await startStack(testConfig(redis, { prefix: stack.config.prefix, http: { apiToken: 'browser-test-token' } }));
    const tab = await browser.context.newPage();
    try {
      await tab.goto(`${guarded.base}/dashboard`);
      await tab.fill('#token', 'browser-test-token');
      await Promise.all([tab.waitForURL(/\/dashboard$/, { timeout: 15_000 }), tab.press('#token', 'Enter')]);
      await tab.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
      await tab.waitForSelector('svg.tree g[data-kind="node"]', { timeout: 10_000 });
      await tab.waitForFunction(() => document.getElementById('status')?.textContent === 'live', undefined, { timeout: 10_000 });
    } finally {
      await tab.close();
      await guarded.stop();
    }
  }, 60_000);
});
