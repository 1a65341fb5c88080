// The dashboard's "Awaiting approval" panel in headless Chromium, behind the
// API token: a person signs in, sees each task's output that awaits approval,
// approves one, rejects one (a reason is asked for first), rejects one with
// "run again" and approves its second output. Each decision is recorded as the
// browser session's, and the tasks end as decided.
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinProcessors } from '../../processors/builtins.ts';
import type { TaskView } from '../../src/tasks/schema.ts';
import { launchChromium, type Browser } from '../support/chromium.ts';
import { decodePng, pictureStats } from '../support/png.ts';
import { redisForFile } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

const ARTIFACTS = new URL('../artifacts/', import.meta.url);
const TOKEN = 'browser-approval-token-0123456789';
const redis = redisForFile();
let stack: Stack;
let browser: Browser;
let page: Page;

const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
  stack = await startStack(testConfig(redis, { http: { apiToken: TOKEN } }), {
    hostId: 'hA',
    agents: [{ type: 'worker', count: 2, capacity: 4 }],
    processors: {
      ...builtinProcessors,
      headline: (payload, ctx) => ({ headline: `${(payload as { story: string }).story}${ctx.feedback ? ` — ${ctx.feedback}` : ''}` }),
    },
  });
  page = await browser.context.newPage();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function submit(story: string): Promise<string> {
  const r = await stack.request('POST', '/api/tasks', { type: 'headline', payload: { story }, approval: { required: true } }, auth);
  expect(r.status).toBe(202);
  return r.body.id as string;
}

async function task(id: string): Promise<TaskView> {
  return (await stack.request('GET', `/api/tasks/${id}`, undefined, auth)).body as TaskView;
}

async function finished(id: string): Promise<TaskView> {
  return await until(async () => {
    const t = await task(id);
    return t.state === 'completed' || t.state === 'failed' ? t : undefined;
  }, 10_000, `task ${id} to finish`);
}

const row = (id: string) => page.locator(`#approvals li[data-approval="${id}"]`);

describe('the dashboard approval panel', () => {
  it('lists outputs awaiting approval behind the token and decides them as the signed-in session', async () => {
    const [a, b, c] = [await submit('Tide tables misprinted'), await submit('Moths return'), await submit('Bridge reopens')];
    for (const id of [a, b, c]) await until(async () => (await task(id)).state === 'awaiting-approval', 10_000, `${id} to await approval`);

    // The page and the API are behind the token: a browser signs in first.
    await page.goto(`${stack.base}/dashboard`);
    await page.fill('#token', TOKEN);
    await Promise.all([page.waitForURL(/\/dashboard$/), page.click('button[type=submit], form button')]);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
    for (const id of [a, b, c]) await row(id).waitFor({ timeout: 10_000 });
    expect(await row(a).locator('pre.output').textContent()).toContain('Tide tables misprinted');

    await row(a).locator('button[data-action=approve]').click();
    await row(a).waitFor({ state: 'detached', timeout: 10_000 });
    const approved = await finished(a);
    expect(approved).toMatchObject({ state: 'completed', result: { headline: 'Tide tables misprinted' } });
    expect(approved.approval?.decisions[0]?.by).toMatchObject({ via: 'session', session: expect.stringMatching(/^[0-9a-f]{12}$/) });

    // A rejection asks for a reason first and sends nothing without one.
    await row(b).locator('button[data-action=reject]').click();
    await page.waitForFunction(() => /say why/.test(document.getElementById('approval-status')?.textContent ?? ''));
    expect((await task(b)).state).toBe('awaiting-approval');
    await row(b).locator('input[name=reason]').fill('not news');
    await row(b).locator('button[data-action=reject]').click();
    await row(b).waitFor({ state: 'detached', timeout: 10_000 });
    const rejected = await finished(b);
    expect(rejected.state).toBe('failed');
    expect(rejected.error).toContain('not news');

    // Rejected with "run again": its second output comes back to the panel, round 2, and is approved.
    await row(c).locator('input[name=reason]').fill('name the bridge');
    await row(c).locator('input[name=retry]').check();
    await row(c).locator('button[data-action=reject]').click();
    await page.locator(`#approvals li[data-approval="${c}"][data-round="2"]`).waitFor({ timeout: 10_000 });
    expect(await row(c).locator('pre.output').textContent()).toContain('Bridge reopens — name the bridge');
    await page.screenshot({ fullPage: true }).then((png) => {
      writeFileSync(new URL('approvals.png', ARTIFACTS), png);
      const stats = pictureStats(decodePng(png));
      expect(stats.colours).toBeGreaterThan(30);
    });
    await row(c).locator('button[data-action=approve]').click();
    const rerun = await finished(c);
    expect(rerun).toMatchObject({ state: 'completed', result: { headline: 'Bridge reopens — name the bridge' } });
    expect(rerun.approval?.decisions.map((d) => [d.decision, d.round, d.by.via])).toEqual([
      ['rejected', 1, 'session'],
      ['approved', 2, 'session'],
    ]);
    await page.waitForFunction(() => /No output awaits approval/.test(document.getElementById('approvals')?.textContent ?? ''), undefined, { timeout: 10_000 });
  }, 60_000);

  it('a page of another origin cannot approve through the signed-in browser', async () => {
    const id = await submit('Cross-site');
    await until(async () => (await task(id)).state === 'awaiting-approval', 10_000, 'the output to await approval');
    // A page on another origin (localhost, where the dashboard is 127.0.0.1) sends the simplest cross-site
    // request, one no preflight stops and that approve accepts as it is (a POST with no body), to the
    // dashboard's origin, where the browser holds a session. SameSite=strict keeps the cookie home, and the
    // API refuses a change from another origin (webGuard): the output still awaits.
    const evil = await browser.context.newPage();
    try {
      await evil.goto(`http://localhost:${new URL(stack.base).port}/healthz`);
      await evil.evaluate(async (url) => {
        await fetch(url, { method: 'POST', mode: 'no-cors', credentials: 'include' }).catch(() => undefined);
      }, `${stack.base}/api/tasks/${id}/approve`);
    } finally {
      await evil.close();
    }
    expect((await task(id)).state).toBe('awaiting-approval');
    // The same request from the dashboard's own page approves: the test above is not vacuous.
    await page.evaluate(async (url) => {
      await fetch(url, { method: 'POST', credentials: 'same-origin' });
    }, `${stack.base}/api/tasks/${id}/approve`);
    expect((await finished(id)).state).toBe('completed');
  });
});
