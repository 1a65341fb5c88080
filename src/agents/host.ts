// An agent host: one process running many agents. It registers itself and its
// agents, seats them in nodes, serves each node with one shared Worker, beats
// once per interval for all its agents, and drains cleanly on shutdown.
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { scripts } from '../../queues/scripts.ts';
import type { ProcessorMap } from '../../processors/types.ts';
import type { SwarmConfig } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { agentProfile } from '../swarm/records.ts';
import { NodeRunner, type SeatedAgent } from './nodeRunner.ts';

export interface AgentSpec {
  /** The agent type, e.g. "coder"; tasks may ask for it through affinity. */
  type: string;
  count: number;
  capacity?: number;
  capabilities?: string[];
}

export interface AgentHostOptions {
  config: SwarmConfig;
  /** Stable across restarts: a host restarted with the same id takes its agents' seats back. */
  hostId?: string;
  agents: AgentSpec[];
  processors: ProcessorMap;
  logger: Logger;
}

export class AgentHost {
  readonly hostId: string;
  readonly redis: Redis;
  private readonly keys;
  private readonly runners = new Map<string, NodeRunner>();
  private readonly seated: (SeatedAgent & { node: string })[] = [];
  private beat: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly o: AgentHostOptions) {
    this.hostId = o.hostId ?? `${hostname()}-${process.pid}`;
    this.keys = swarmKeys(o.config.prefix);
    let failures = 0;
    this.redis = new Redis(o.config.redisUrl, {
      // Workers need commands to wait out a reconnect instead of failing.
      maxRetriesPerRequest: null,
      connectionName: `swarmq:host:${this.hostId}`,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 3000),
    });
    this.redis.on('error', (err: Error) => {
      // Say so, with backoff in the retry strategy; one line per 10 failures, not a flood.
      if (failures++ % 10 === 0) o.logger.warn({ err: err.message, redis: o.config.redisUrl }, 'agent host cannot reach Redis; retrying with backoff');
    });
    this.redis.on('ready', () => {
      failures = 0;
    });
  }

  agents(): readonly (SeatedAgent & { node: string })[] {
    return this.seated;
  }

  async start(): Promise<void> {
    const { config, processors } = this.o;
    const taskTypes = Object.keys(processors).sort();
    const specs = this.o.agents.flatMap((spec) =>
      Array.from({ length: spec.count }, () => ({
        type: spec.type,
        capabilities: [...(spec.capabilities ?? [])].sort(),
        capacity: spec.capacity ?? 1,
        taskTypes,
        hostId: this.hostId,
      })),
    );
    const records = specs.map((s, i) => ({ id: `${this.hostId}-a${i + 1}`, ...s, profile: agentProfile(s) }));
    await this.heartbeat();
    const seats = JSON.parse(
      (await scripts.registerAgents.run(
        this.redis,
        [this.keys.agents, this.keys.nodes, this.keys.nodeSeq, this.keys.rosterVersion],
        [config.coordinator.maxAgentsPerNode, Date.now(), JSON.stringify(records)],
      )) as string,
    ) as Record<string, string>;
    const byNode = new Map<string, SeatedAgent[]>();
    for (const r of records) {
      const node = seats[r.id]!;
      const agent = { id: r.id, capacity: r.capacity, active: 0, completed: 0, failed: 0 };
      this.seated.push({ ...agent, node });
      const list = byNode.get(node) ?? [];
      list.push(this.seated[this.seated.length - 1]!);
      byNode.set(node, list);
    }
    for (const [nodeId, agents] of byNode) {
      const runner = new NodeRunner({
        redis: this.redis,
        prefix: config.prefix,
        nodeId,
        queue: nodeQueueName(nodeId),
        hostId: this.hostId,
        agents,
        processors,
        lockDurationMs: config.agents.lockDurationMs,
        stalledIntervalMs: config.agents.stalledIntervalMs,
        maxStalledCount: config.agents.maxStalledCount,
        onLostLock: (jobId, outcome) => {
          // The task was recovered and finished elsewhere: this late finish is counted, not recorded.
          const field = outcome === 'completed' ? 'duplicateCompletions' : 'lateFinishes';
          this.redis.hincrby(this.keys.stats, field, 1).catch(() => {});
          this.o.logger.warn({ jobId, node: nodeId, outcome }, 'late finish refused: the task lost its lock and was recovered');
        },
        onError: (err) => this.o.logger.error({ err: err.message, node: nodeId }, 'worker error'),
      });
      this.runners.set(nodeId, runner);
    }
    await Promise.all([...this.runners.values()].map((r) => r.worker.waitUntilReady()));
    for (const r of this.runners.values()) r.start();
    this.beat = setInterval(() => {
      this.heartbeat().catch(() => {});
    }, config.agents.heartbeatIntervalMs);
    this.beat.unref();
    this.o.logger.info({ host: this.hostId, agents: records.length, nodes: [...byNode.keys()] }, 'agent host ready');
  }

  /** One write per host per interval, for all its agents. */
  private async heartbeat(): Promise<void> {
    await this.redis.zadd(this.keys.hosts, Date.now(), this.hostId);
  }

  activeCount(): number {
    let n = 0;
    for (const r of this.runners.values()) n += r.activeCount();
    return n;
  }

  /** Stop taking tasks, finish active ones up to the deadline, return the rest, deregister. */
  stop(deadlineMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.beat);
      const results = await Promise.all([...this.runners.values()].map((r) => r.drain(deadlineMs)));
      const returned = results.reduce((s, r) => s + r.returned, 0);
      try {
        await scripts.deregisterAgents.run(this.redis, [this.keys.agents, this.keys.nodes, this.keys.rosterVersion], this.seated.map((a) => a.id));
        await this.redis.zrem(this.keys.hosts, this.hostId);
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message }, 'could not deregister agents (Redis away); they will count as failed once their heartbeat ages');
      }
      this.o.logger.info({ host: this.hostId, returned }, 'agent host stopped');
      this.redis.disconnect();
    })();
    return this.stopping;
  }
}
