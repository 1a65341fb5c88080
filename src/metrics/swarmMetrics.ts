// GET /metrics: the swarm in Prometheus terms, right whichever process ran the
// work. Gauges are read from Redis at scrape time (cost grows with nodes and
// hosts, not tasks); counters and histograms come from streams every process
// shares: BullMQ's per-queue event streams for finished tasks (with each job's
// timestamps) and the swarm's event stream for moves, recoveries, alerts and
// consensus rounds. Each scrape reads on from where the last one stopped.
// prom-client's default Node.js metrics are left out: promtool's lint refuses
// their gauges named *_total.
import { isCluster, type RedisClient } from '../../queues/redisTarget.ts';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { swarmKeys } from '../../queues/keys.ts';
import type { SwarmConfig } from '../config/schema.ts';
import { parseEventEntry, type StreamEntry } from '../swarm/events.ts';
import type { AnySwarmEvent } from '../swarm/eventSchemas.ts';
import { FinishedTail } from './finishedTail.ts';
import { agentsByHealth, HEALTH_STATES, hostStates, nodeLoads, totals } from './swarmFigures.ts';
import { SwarmStateReader } from './swarmState.ts';
import { readKeys } from '../keys/keyAdmin.ts';
import { readUnkeyedUsage } from '../../queues/budgetState.ts';
import { usageByType, type BudgetView } from '../budgets/budgetView.ts';

/** Stream entries one scrape reads from the task streams, and from the swarm stream; the rest wait for the next scrape. */
export const TASK_ENTRIES_PER_SCRAPE = 50_000;
export const EVENTS_PER_SCRAPE = 10_000;

const TASK_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const ROUND_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class SwarmMetrics {
  readonly registry = new Registry();
  private readonly state: SwarmStateReader;
  private readonly tasks: FinishedTail;
  private eventsCursor: string;
  private refreshing: Promise<void> = Promise.resolve();

  private readonly tasksByState = new Gauge({ name: 'swarmq_tasks', help: 'Tasks by state across node queues (completed and failed: still retained); parked and dead_letter from their queues', labelNames: ['state'], registers: [this.registry] });
  private readonly finished = new Counter({ name: 'swarmq_tasks_finished_total', help: 'Tasks finished since this process started watching, by type and outcome', labelNames: ['type', 'outcome'], registers: [this.registry] });
  private readonly wait = new Histogram({ name: 'swarmq_task_wait_seconds', help: 'Submit to start of the last attempt, by task type', labelNames: ['type'], buckets: TASK_BUCKETS, registers: [this.registry] });
  private readonly run = new Histogram({ name: 'swarmq_task_run_seconds', help: 'Start to finish of the last attempt, by task type', labelNames: ['type'], buckets: TASK_BUCKETS, registers: [this.registry] });
  private readonly nodeWaiting = new Gauge({ name: 'swarmq_node_waiting', help: 'Waiting tasks per coordination node', labelNames: ['node'], registers: [this.registry] });
  private readonly nodeActive = new Gauge({ name: 'swarmq_node_active', help: 'Running tasks per coordination node', labelNames: ['node'], registers: [this.registry] });
  private readonly nodeCapacity = new Gauge({ name: 'swarmq_node_capacity', help: 'Task slots of agents not failed, per node', labelNames: ['node'], registers: [this.registry] });
  private readonly nodeLoad = new Gauge({ name: 'swarmq_node_load', help: '(waiting + active) per slot, per node', labelNames: ['node'], registers: [this.registry] });
  private readonly agents = new Gauge({ name: 'swarmq_agents', help: 'Working agents by the health state of their host (heartbeat age, failed-host marks)', labelNames: ['state'], registers: [this.registry] });
  private readonly hosts = new Gauge({ name: 'swarmq_hosts', help: 'Agent hosts by health state', labelNames: ['state'], registers: [this.registry] });
  private readonly moves = new Counter({ name: 'swarmq_moves_total', help: 'Waiting tasks moved between nodes by the balancer, by reason (steal, rebalance)', labelNames: ['reason'], registers: [this.registry] });
  private readonly recoveries = new Counter({ name: 'swarmq_recoveries_total', help: 'Host recoveries finished, by outcome (done, escalated)', labelNames: ['outcome'], registers: [this.registry] });
  private readonly alerts = new Counter({ name: 'swarmq_health_alerts_total', help: 'health:alert events by severity', labelNames: ['severity'], registers: [this.registry] });
  private readonly rounds = new Histogram({ name: 'swarmq_consensus_round_seconds', help: 'Proposal to final decision, per protocol (from consensus:reached events)', labelNames: ['protocol'], buckets: ROUND_BUCKETS, registers: [this.registry] });
  private readonly events = new Counter({ name: 'swarmq_events_total', help: 'Swarm events by type', labelNames: ['type'], registers: [this.registry] });
  private readonly keyActive = new Gauge({ name: 'swarmq_key_active', help: "Tasks of a key running now, swarm-wide (its active slots)", labelNames: ['key'], registers: [this.registry] });
  private readonly keyWaiting = new Gauge({ name: 'swarmq_key_waiting', help: 'Tasks of a key submitted and not started yet (held and delayed by its limits too)', labelNames: ['key'], registers: [this.registry] });
  private readonly keyHeld = new Gauge({ name: 'swarmq_key_held', help: 'Tasks of a key handed back at its maxActive, until a slot frees', labelNames: ['key'], registers: [this.registry] });
  private readonly keyThrottled = new Counter({ name: 'swarmq_key_throttled_total', help: "Starts of a key's tasks refused by its limits, by reason (active: at maxActive, rate: over its rate, hold: rate-limited by its provider)", labelNames: ['key', 'reason'], registers: [this.registry] });
  private readonly usageTokens = new Counter({ name: 'swarmq_usage_tokens_total', help: 'Tokens processors reported spending (ctx.usage), by key ("" for none) and task type', labelNames: ['key', 'type'], registers: [this.registry] });
  private readonly usageCost = new Counter({ name: 'swarmq_usage_cost_usd_total', help: 'US dollars processors reported spending (ctx.usage), by key ("" for none) and task type', labelNames: ['key', 'type'], registers: [this.registry] });
  private readonly budgetRatio = new Gauge({ name: 'swarmq_budget_spent_ratio', help: "A key's spend this period over its budget (the larger of tokens' and cost's; 1 or more: spent)", labelNames: ['key'], registers: [this.registry] });
  private readonly budgetSpent = new Gauge({ name: 'swarmq_budget_spent', help: "A key's spend this period, by unit (tokens, cost_usd), for keys with a budget", labelNames: ['key', 'unit'], registers: [this.registry] });
  private readonly budgetLimit = new Gauge({ name: 'swarmq_budget_limit', help: "A key's budget per period, by unit (tokens, cost_usd)", labelNames: ['key', 'unit'], registers: [this.registry] });
  private readonly budgetAlerts = new Counter({ name: 'swarmq_budget_alerts_total', help: 'budget:alert events, by scope (key, task) and threshold (80, 100)', labelNames: ['scope', 'threshold'], registers: [this.registry] });
  /** The usage totals (kept in Redis, all time) already added to the counters. */
  private readonly usageSeen = new Map<string, number>();
  /** The throttled counts (kept in Redis since the key's first refusal) already added to the counter. */
  private readonly throttledSeen = new Map<string, number>();
  private readonly redisClients = new Gauge({ name: 'swarmq_redis_connections', help: 'Clients connected to the swarm Redis (INFO clients)', registers: [this.registry] });

  constructor(
    private readonly redis: RedisClient,
    private readonly config: SwarmConfig,
    /** Finishes and events from this time on are counted (default: now). */
    sinceMs = Date.now(),
  ) {
    this.state = new SwarmStateReader(redis, config.prefix);
    this.tasks = new FinishedTail(redis, config.prefix, sinceMs);
    this.eventsCursor = `${sinceMs}-0`;
  }

  /** The exposition text, after bringing every figure up to date (concurrent scrapes take turns). */
  async render(): Promise<string> {
    const run = this.refreshing.then(() => this.refresh());
    this.refreshing = run.catch(() => {});
    await run;
    return await this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private async refresh(): Promise<void> {
    const s = await this.state.read();
    const t = this.config.agents;
    const sum = totals(s);
    this.tasksByState.reset();
    for (const state of ['waiting', 'active', 'delayed', 'completed', 'failed'] as const) this.tasksByState.set({ state }, sum[state]);
    this.tasksByState.set({ state: 'parked' }, sum.parked);
    this.tasksByState.set({ state: 'dead_letter' }, sum.deadLetters);
    for (const g of [this.nodeWaiting, this.nodeActive, this.nodeCapacity, this.nodeLoad]) g.reset();
    for (const n of nodeLoads(s, t)) {
      this.nodeWaiting.set({ node: n.id }, n.waiting);
      this.nodeActive.set({ node: n.id }, n.active);
      this.nodeCapacity.set({ node: n.id }, n.capacity);
      this.nodeLoad.set({ node: n.id }, n.load);
    }
    const byHealth = agentsByHealth(s, t);
    const hostCount = Object.fromEntries(HEALTH_STATES.map((h) => [h, 0])) as Record<string, number>;
    for (const state of hostStates(s, t).values()) hostCount[state]!++;
    for (const state of HEALTH_STATES) {
      this.agents.set({ state }, byHealth[state]);
      this.hosts.set({ state }, hostCount[state]!);
    }
    this.redisClients.set(await connectedClientsOf(this.redis));
    await this.readKeys();

    const finished = await this.tasks.details(await this.tasks.read(s.nodes.map((n) => n.queue), TASK_ENTRIES_PER_SCRAPE));
    for (const f of finished) {
      this.finished.inc({ type: f.type, outcome: f.outcome });
      this.wait.observe({ type: f.type }, Math.max(0, f.startedAt - f.createdAt) / 1000);
      this.run.observe({ type: f.type }, Math.max(0, f.finishedAt - f.startedAt) / 1000);
    }
    await this.readEvents();
  }

  /** Keys' gauges as they are now; the throttled counter moves by what Redis counted since the last scrape. */
  private async readKeys(): Promise<void> {
    const keys = await readKeys(this.redis, this.config.prefix);
    for (const g of [this.keyActive, this.keyWaiting, this.keyHeld, this.budgetRatio, this.budgetSpent, this.budgetLimit]) g.reset();
    for (const k of keys) {
      this.keyActive.set({ key: k.key }, k.active);
      this.keyWaiting.set({ key: k.key }, k.waiting);
      this.keyHeld.set({ key: k.key }, k.held);
      for (const reason of ['active', 'rate', 'hold', 'budget'] as const) {
        const id = `${k.key}\n${reason}`;
        const total = k.throttled[reason];
        const seen = this.throttledSeen.get(id) ?? 0;
        // A count that went down was reset in Redis: all of it is new.
        const added = total >= seen ? total - seen : total;
        this.throttledSeen.set(id, total);
        this.keyThrottled.inc({ key: k.key, reason }, added);
      }
      this.countUsage(k.key, k.spend.usage);
      const b = k.spend.budget;
      if (b) {
        this.budgetRatio.set({ key: k.key }, k.spend.ratio);
        if (b.tokens !== undefined) {
          this.budgetSpent.set({ key: k.key, unit: 'tokens' }, k.spend.spent.tokens);
          this.budgetLimit.set({ key: k.key, unit: 'tokens' }, b.tokens);
        }
        if (b.costUsd !== undefined) {
          this.budgetSpent.set({ key: k.key, unit: 'cost_usd' }, k.spend.spent.costUsd);
          this.budgetLimit.set({ key: k.key, unit: 'cost_usd' }, b.costUsd);
        }
      }
    }
    this.countUsage('', usageByType(await readUnkeyedUsage(this.redis, this.config.prefix)));
  }

  /** The usage counters move by what Redis added since the last scrape (all-time totals by type). */
  private countUsage(key: string, byType: BudgetView['usage']): void {
    for (const [type, u] of Object.entries(byType)) {
      for (const [unit, total, counter] of [['tokens', u.tokens, this.usageTokens], ['cost', u.costUsd, this.usageCost]] as const) {
        const id = `${key}\n${type}\n${unit}`;
        const seen = this.usageSeen.get(id) ?? 0;
        const added = total >= seen ? total - seen : total;
        this.usageSeen.set(id, total);
        if (added > 0) counter.inc({ key, type }, added);
      }
    }
  }

  private async readEvents(): Promise<void> {
    const key = swarmKeys(this.config.prefix).events;
    let left = EVENTS_PER_SCRAPE;
    while (left > 0) {
      const count = Math.min(1000, left);
      const res = (await this.redis.xread('COUNT', count, 'STREAMS', key, this.eventsCursor)) as [string, StreamEntry[]][] | null;
      const entries = res?.[0]?.[1] ?? [];
      for (const entry of entries) {
        this.eventsCursor = entry[0];
        const p = parseEventEntry(entry);
        if (p.ok) this.count(p.event);
      }
      left -= entries.length;
      if (entries.length < count) return;
    }
  }

  private count(e: AnySwarmEvent): void {
    this.events.inc({ type: e.type });
    switch (e.type) {
      case 'load:rebalanced':
        for (const m of e.data.moves) this.moves.inc({ reason: m.reason }, m.moved);
        break;
      case 'recovery:step':
        if (e.data.state !== 'running') this.recoveries.inc({ outcome: e.data.state });
        break;
      case 'health:alert':
        this.alerts.inc({ severity: e.data.severity });
        break;
      case 'budget:alert':
        this.budgetAlerts.inc({ scope: e.data.scope, threshold: String(e.data.threshold) });
        break;
      case 'consensus:reached':
        if (e.data.decided) this.rounds.observe({ protocol: e.data.protocol }, e.data.latencyMs / 1000);
        break;
      default:
        break;
    }
  }
}

function connectedClients(info: string): number {
  const m = /^connected_clients:(\d+)/m.exec(info);
  return m ? Number(m[1]) : 0;
}

/** Clients connected to the swarm's Redis: on a Cluster, the sum over its masters (INFO names no key, so each is asked). */
async function connectedClientsOf(redis: RedisClient): Promise<number> {
  const servers = isCluster(redis) ? redis.nodes('master') : [redis];
  const infos = await Promise.all(servers.map((r) => r.info('clients') as Promise<string>));
  return infos.reduce((sum, info) => sum + connectedClients(info), 0);
}
