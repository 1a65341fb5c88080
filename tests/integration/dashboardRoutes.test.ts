// The dashboard's server side over HTTP: the page, its browser modules (types
// stripped, nothing outside the client directory), and the throughput and
// latency samples of a real swarm.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RatePoint } from '../../dashboards/ratePoint.ts';
import { redisForFile } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

const redis = redisForFile();
let stack: Stack;

beforeAll(async () => {
  stack = await startStack(testConfig(redis), { agents: [{ type: 'w', count: 4 }] });
});

afterAll(async () => {
  await stack?.stop();
});

describe('/dashboard', () => {
  it('serves the page, which loads its module from where the dashboard is mounted', async () => {
    const res = await fetch(`${stack.base}/dashboard`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/dashboard/client/main.ts"></script>');
    expect(html).toContain('href="/admin/queues"');
  });

  it('serves the browser modules as JavaScript, and nothing else', async () => {
    const res = await fetch(`${stack.base}/dashboard/client/model.ts`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    const code = await res.text();
    expect(code).toMatch(/function applyEvent\(/);
    expect(code).toMatch(/export \{[^}]*\bapplyEvent\b/);
    expect(code).not.toMatch(/\binterface\b|import type|: DashboardState/);
    for (const bad of ['nope.ts', '..%2Fdashboard.ts', '%2E%2E%2Fpage.ts', 'model.d.ts', 'model']) {
      expect((await fetch(`${stack.base}/dashboard/client/${bad}`)).status, bad).toBe(404);
    }
  });

  it('samples throughput and latency from the tasks that finish', async () => {
    const first = (await stack.request('GET', '/dashboard/rates')).body as { intervalMs: number; points: RatePoint[] };
    expect(first.intervalMs).toBe(1000);
    const tasks = Array.from({ length: 20 }, () => ({ type: 'sleep', payload: { ms: 50 } }));
    expect((await stack.request('POST', '/api/tasks/batch', { tasks })).status).toBe(202);
    const points = await until(
      async () => {
        const p = ((await stack.request('GET', '/dashboard/rates')).body as { points: RatePoint[] }).points;
        return p.reduce((s, x) => s + x.completed, 0) === 20 ? p : undefined;
      },
      20_000,
      'all 20 tasks counted',
    );
    const busy = points.filter((p) => p.completed > 0);
    expect(busy.every((p) => p.runMs !== null && p.runMs.p50 >= 40 && p.waitMs !== null)).toBe(true);
    expect(points.reduce((s, x) => s + x.failed, 0)).toBe(0);
  });
});
