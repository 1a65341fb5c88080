// GET /metrics with the agents in another process: the text passes promtool
// (or, where promtool is missing, this file's parser of the format, and the
// output says so); the swarm-wide counters and histograms move when that
// process runs tasks; events from anywhere feed moves, recoveries and consensus
// latency; and every metric the Grafana dashboard queries is exposed.
import { readFileSync } from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import { publishEvent } from '../../src/swarm/events.ts';
import { CliFleet } from '../support/cli.ts';
import { parseProm, promtoolCheck, sum, value } from '../support/promText.ts';
import { redisForFile } from '../support/redis.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { testConfig, until } from '../support/swarm.ts';

const dashboard = JSON.parse(readFileSync(new URL('../../dashboards/grafana-swarmq.json', import.meta.url), 'utf8')) as {
  panels: { title: string; targets: { expr: string }[] }[];
};

const redis = redisForFile();
let conn: Redis;
let stack: Stack;
let client: SwarmClient;
const fleet = new CliFleet();

async function scrape() {
  const res = await fetch(`${stack.base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  const text = await res.text();
  return { text, ...parseProm(text) };
}

beforeAll(async () => {
  conn = redis.connect({ maxRetriesPerRequest: null });
  const config = testConfig(redis);
  stack = await startStack(config);
  client = new SwarmClient({ redis: redis.url, prefix: config.prefix });
  fleet.spawn(['agents', '--count', '4', '--host-id', 'metrics-host'], {
    env: { REDIS_URL: redis.url, SWARMQ_PREFIX: config.prefix, SWARMQ_HEARTBEAT_INTERVAL_MS: '200', SWARMQ_LOG_LEVEL: 'warn' },
  });
});

afterAll(async () => {
  fleet.killAll();
  await client?.close();
  await stack?.stop();
});

describe('GET /metrics', () => {
  it('is valid Prometheus text whose gauges, counters and histograms follow work done in another process', async () => {
    const before = await scrape();
    const verdict = promtoolCheck(before.text);
    if (verdict) expect(verdict.output, 'promtool check metrics').toBe('');
    else console.log('promtool is not installed: checked the exposition format with tests/support/promText.ts instead');
    expect(before.problems).toEqual([]);
    expect(verdict?.ok ?? true).toBe(true);

    await until(async () => sum((await scrape()).samples, 'swarmq_agents') === 4, 40_000, 'the four agents of the child host');
    const ids = await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => client.submit({ type: 'echo', payload: i })),
      ...Array.from({ length: 3 }, () => client.submit({ type: 'fail', payload: { message: 'on purpose' }, attempts: 1 })),
    ]);
    const done = await Promise.all(ids.map((s) => client.waitFor(s.id, { timeoutMs: 20_000 })));
    expect(done.filter((t) => t.type === 'echo' && t.state === 'completed')).toHaveLength(20);

    // The dead-letter record follows the failure by a moment, and the queue counts are those the leading
    // coordinator publishes (a round or two behind: docs/operations.md#metrics).
    const after = await until(async () => {
      const a = await scrape();
      return value(a.samples, 'swarmq_tasks', { state: 'dead_letter' }) === 3 && value(a.samples, 'swarmq_tasks', { state: 'completed' }) === 20 ? a : undefined;
    }, 10_000, 'the three dead letters and the twenty completed tasks');
    expect(after.problems).toEqual([]);
    if (verdict) expect(promtoolCheck(after.text)!.output).toBe('');
    const s = after.samples;
    expect(value(s, 'swarmq_tasks_finished_total', { type: 'echo', outcome: 'completed' })).toBe(20);
    expect(value(s, 'swarmq_tasks_finished_total', { type: 'fail', outcome: 'failed' })).toBe(3);
    expect(value(s, 'swarmq_task_wait_seconds_count', { type: 'echo' })).toBe(20);
    expect(value(s, 'swarmq_task_run_seconds_count', { type: 'echo' })).toBe(20);
    expect(value(s, 'swarmq_task_run_seconds_bucket', { type: 'echo', le: '+Inf' })).toBe(20);
    expect(value(s, 'swarmq_tasks', { state: 'completed' })).toBe(20);
    // By state, whatever a loaded box does to heartbeats meanwhile.
    expect(sum(s, 'swarmq_hosts')).toBe(1);
    expect(sum(s, 'swarmq_agents')).toBe(4);
    expect(sum(s, 'swarmq_node_capacity')).toBe(4);
    expect(value(s, 'swarmq_redis_connections')).toBeGreaterThan(2);
    // Counted once: a later scrape reads on from where this one stopped.
    expect(value((await scrape()).samples, 'swarmq_tasks_finished_total', { type: 'echo', outcome: 'completed' })).toBe(20);
  }, 90_000);

  it('counts moves, recoveries, alerts and consensus latency from the swarm event stream', async () => {
    const { prefix } = stack.config;
    await publishEvent(conn, prefix, 'load:rebalanced', { at: Date.now(), token: 3, moves: [{ from: 'n1', to: 'n2', count: 5, moved: 4, reason: 'steal' }] });
    await publishEvent(conn, prefix, 'recovery:step', { id: 'r1', host: 'hx', state: 'done', step: 'verify', at: Date.now(), detail: {} });
    await publishEvent(conn, prefix, 'consensus:reached', { id: 'p1', protocol: 'raft', decided: true, value: 1, votes: 3, participants: 3, rounds: 1, latencyMs: 12 });
    await publishEvent(conn, prefix, 'consensus:reached', { id: 'p2', protocol: 'pbft', decided: true, value: 1, votes: 4, participants: 4, rounds: 1, latencyMs: 180 });
    const s = (await scrape()).samples;
    expect(value(s, 'swarmq_moves_total', { reason: 'steal' })).toBe(4);
    expect(value(s, 'swarmq_recoveries_total', { outcome: 'done' })).toBe(1);
    expect(value(s, 'swarmq_consensus_round_seconds_count', { protocol: 'raft' })).toBe(1);
    expect(value(s, 'swarmq_consensus_round_seconds_sum', { protocol: 'pbft' })).toBeCloseTo(0.18, 5);
    expect(value(s, 'swarmq_consensus_round_seconds_bucket', { protocol: 'raft', le: '0.01' })).toBe(0);
    expect(value(s, 'swarmq_consensus_round_seconds_bucket', { protocol: 'raft', le: '0.02' })).toBe(1);
    expect(value(s, 'swarmq_events_total', { type: 'consensus:reached' })).toBe(2);
  });

  it('exposes every metric the Grafana dashboard queries, in expressions promtool accepts', async () => {
    const { types } = await scrape();
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(10);
    for (const expr of exprs) {
      const names = [...expr.matchAll(/\bswarmq_[a-z_]+/g)].map((m) => m[0]);
      expect(names.length, expr).toBeGreaterThan(0);
      for (const name of names) {
        const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
        expect(types.has(family), `${name} in ${expr}`).toBe(true);
        if (family !== name) expect(types.get(family)).toBe('histogram');
      }
    }
    const dir = mkdtempSync(join(tmpdir(), 'swarmq-rules-'));
    const rules = join(dir, 'rules.yml');
    writeFileSync(rules, `groups:\n  - name: dashboard\n    rules:\n${exprs.map((e, i) => `      - record: swarmq:dashboard_${i}\n        expr: ${JSON.stringify(e)}\n`).join('')}`);
    const r = spawnSync('promtool', ['check', 'rules', rules], { encoding: 'utf8' });
    if (r.error) console.log('promtool is not installed: the dashboard expressions were checked for metric names only');
    else expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });
});
