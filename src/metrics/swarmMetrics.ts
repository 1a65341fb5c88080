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

    const finished = await this.tasks.details(await this.tasks.read(s.nodes.map((n) => n.queue), TASK_ENTRIES_PER_SCRAPE));
    for (const f of finished) {
      this.finished.inc({ type: f.type, outcome: f.outcome });
      this.wait.observe({ type: f.type }, Math.max(0, f.startedAt - f.createdAt) / 1000);
      this.run.observe({ type: f.type }, Math.max(0, f.finishedAt - f.startedAt) / 1000);
    }
    await this.readEvents();
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
