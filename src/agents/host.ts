// An agent host: one process running many agents. It registers itself and its
// agents, seats them in nodes, serves each node with one shared Worker (so its
// connections grow with nodes, never with agents), beats once per interval for
// all its agents, spawns and retires agents while running, keeps a warm pool,
// and drains cleanly on shutdown. This file composes the parts; each job with
// state of its own has its file: warmPool.ts, hibernation.ts, heartbeat.ts
// (and rejoin's bookkeeping), durationTrends.ts, breakerAlerts.ts, control.ts.
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Worker } from 'bullmq';
import { connectRedis, describeRedisTarget, type RedisClient } from '../../queues/redisTarget.ts';
import { nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import { deregisterAgents } from '../../queues/deregisterAgents.ts';
import { registerAgents } from '../../queues/registerAgents.ts';
import { loadScripts } from '../../queues/scripts.ts';
import type { ProcessorMap } from './processor.ts';
import { endpointProcessors, type EndpointProcessors, type HttpEndpoints } from './httpEndpoints.ts';
import type { SwarmConfig } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { agentProfile } from '../swarm/records.ts';
import { startControl } from './control.ts';
import { rehomeOrphans } from './orphans.ts';
import { DeadLetterQueue } from '../tasks/deadLetter.ts';
import { generateAgentKeys } from '../consensus/auth.ts';
import { certifyAgentKey } from '../trust/certificates.ts';
import { signReplicaOutput } from '../consensus/runtime/replicaProof.ts';
import { processTrust, type ProcessTrust } from '../trust/processTrust.ts';
import { ConsensusHost } from '../consensus/runtime/hostRuntime.ts';
import type { KeyObject } from 'node:crypto';
import { DEFAULT_BREAKER } from '../health/breaker.ts';
import { DurationTrends, type TrendAlert } from './durationTrends.ts';
import { BreakerAlerts, type BreakerAlert } from './breakerAlerts.ts';
import { KeyGate } from './keyGate.ts';
import { BudgetGate } from './budgetGate.ts';
import { BudgetExceededError } from './budgetStop.ts';
import { CancelReports, type CancelCounts } from './cancelReports.ts';
import type { CancelAlert } from './agentAlerts.ts';
import type { CancelEvent } from './cancelling.ts';
import { Sandbox, type SandboxOptions } from './sandbox.ts';
import { Hibernation } from './hibernation.ts';
import { WarmPool } from './warmPool.ts';
import { agentKinds, Heartbeat } from './heartbeat.ts';
import { EndpointSilence } from './endpointSilence.ts';
import { NodeRunner, type SeatedAgent } from './nodeRunner.ts';
import { HOST_ID, newAgentId, parseSpecs, type AgentInfo, type AgentRecordIn, type AgentSpec, type AgentSpecParsed } from './spec.ts';

export type { AgentInfo, AgentSpec } from './spec.ts';
export type { TrendAlert } from './durationTrends.ts';
export type { BreakerAlert } from './breakerAlerts.ts';

export interface AgentHostOptions {
  config: SwarmConfig;
  /** Stable across restarts: a host restarted with the same id takes its agents' seats back. */
  hostId?: string;
  /** Agents to spawn at start, as one batch or in waves ('wave' events). */
  agents?: AgentSpec[];
  spawn?: { mode: 'batch' | 'waves'; waveSize?: number };
  processors: ProcessorMap;
  /**
   * HTTP agents: task types whose work a service's endpoint does
   * (`{ writer: 'http://127.0.0.1:8000/run' }`, or `{ url, timeoutMs, maxSockets }`),
   * each request signed with config.agents.endpointSecret (docs/http-agents.md).
   * They take the place of `processors` of the same type.
   */
  endpoints?: HttpEndpoints;
  logger: Logger;
  /** Listen for spawn and retire requests from coordinators (default true). */
  control?: boolean;
  /** Pre-warmed agents to keep, per spec: `count` of that kind, registered and idle, outside any node. */
  pool?: AgentSpec[];
  /** Run these task types' processors in BullMQ sandbox child processes. */
  sandbox?: SandboxOptions;
  /** The swarm's trust for this host, given in memory; by default from config.trust (its files), none without an anchor. */
  trust?: ProcessTrust;
}

export interface WaveEvent {
  wave: number;
  waves: number;
  agents: number;
  ready: number;
  total: number;
  ms: number;
}

export interface AgentHost {
  on(event: 'wave', listener: (e: WaveEvent) => void): this;
  on(event: 'spawned', listener: (agents: AgentInfo[]) => void): this;
  on(event: 'hibernated' | 'woke', listener: (nodeId: string) => void): this;
  on(event: 'breaker', listener: (e: BreakerAlert) => void): this;
  on(event: 'trend', listener: (e: TrendAlert) => void): this;
  /** It rejoined: failed by the health monitor at `failedAt`, or (null) its record lost with Redis's data. */
  on(event: 'rejoined', listener: (e: { failedAt: number | null; agents: number }) => void): this;
  on(event: 'cancel', listener: (e: CancelEvent) => void): this;
  on(event: 'cancel-alert', listener: (e: CancelAlert) => void): this;
}

export class AgentHost extends EventEmitter {
  readonly hostId: string;
  readonly redis: RedisClient;
  private readonly keys;
  private readonly runners = new Map<string, NodeRunner>();
  /** Node Workers of a life before Redis lost its data, finishing what they took since; a stop waits for them. */
  private readonly retiring = new Set<Promise<void>>();
  private readonly infos = new Map<string, AgentInfo>();
  private readonly taskTypes: string[];
  /** The given processors with the HTTP agents' on top. */
  private readonly processors: ProcessorMap;
  private readonly endpoints: EndpointProcessors;
  /** Which of the HTTP agents' endpoints have stopped answering, published with the heartbeat. */
  private readonly silence: EndpointSilence;
  private seq = 0;
  private readonly heartbeat: Heartbeat;
  private stopping: Promise<void> | undefined;
  private readonly trends: DurationTrends;
  private readonly breakerAlerts: BreakerAlerts;
  private readonly cancels: CancelReports;
  /** Keyed tasks' limits, for every node this host serves. */
  private readonly keyGate: KeyGate;
  private readonly budgetGate: BudgetGate;
  private started = false;
  private control: Worker | undefined;
  private readonly pool: WarmPool;
  /** Each agent's private consensus key, made at spawn; only its public half is registered. */
  private readonly consensusKeys = new Map<string, KeyObject>();
  private readonly deadLetter: DeadLetterQueue;
  private readonly sandbox: Sandbox | undefined;
  private readonly hibernation: Hibernation;
  /** This host's agents' part in consensus rounds: one inbox stream for all of them. */
  private consensus: ConsensusHost | undefined;
  /** With a trust anchor: the checker, and this host's identity that certifies its agents' keys and signs their decisions. */
  private readonly trust: ProcessTrust | undefined;

  constructor(private readonly o: AgentHostOptions) {
    super();
    this.hostId = o.hostId ?? `${hostname()}-${process.pid}`;
    if (!HOST_ID.test(this.hostId)) {
      throw new Error(`host id "${this.hostId}" may hold only letters, digits, "_", "." and "-" (it names a queue); pass --host-id`);
    }
    this.trust = o.trust !== undefined ? o.trust : processTrust(o.config, { hostId: this.hostId });
    if (this.trust && !this.trust.host) o.logger.warn({ host: this.hostId }, 'SWARMQ_TRUST_ANCHOR is set but this host has no identity (SWARMQ_HOST_IDENTITY_FILE): its agents cannot take part in consensus');
    this.keys = swarmKeys(o.config.prefix);
    this.endpoints = endpointProcessors(o.endpoints ?? {}, {
      secret: o.config.agents.endpointSecret,
      onProgress: (ctx, value) => ctx.progress(value),
      onExchange: (e) => this.silence.observe(e),
    });
    this.silence = new EndpointSilence(this.endpoints.served);
    this.processors = { ...o.processors, ...this.endpoints.processors };
    this.taskTypes = Object.keys(this.processors).sort();
    // Checked before anything connects, so a refused combination leaves nothing open.
    const sandboxed = o.sandbox && this.sandboxable(o.sandbox);
    let failures = 0;
    this.redis = connectRedis(o.config.redis, {
      // Workers need commands to wait out a reconnect instead of failing.
      maxRetriesPerRequest: null,
      connectionName: `swarmq:host:${this.hostId}`,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 3000),
    });
    this.heartbeat = new Heartbeat({
      redis: this.redis,
      prefix: o.config.prefix,
      hostId: this.hostId,
      intervalMs: o.config.agents.heartbeatIntervalMs,
      isStopping: () => this.stopping !== undefined,
      rejoin: (failedAt) => this.rejoin(failedAt),
      onRejoinError: (err) => o.logger.error({ err: err.message, hostId: this.hostId }, 'rejoining after a failed mark did not work; the next heartbeat tries again'),
      silence: () => this.silence.published(),
    });
    this.redis.on('error', (err: Error) => {
      // Say so, with backoff in the retry strategy; one line per 10 failures, not a flood.
      if (failures++ % 10 === 0) o.logger.warn({ err: err.message, redis: describeRedisTarget(o.config.redis) }, 'agent host cannot reach Redis; retrying with backoff');
    });
    this.redis.on('ready', () => {
      failures = 0;
      // The health monitor watches this connection: when the process dies, Redis
      // drops it at once, long before a heartbeat is missed. A reconnect gets a new id.
      this.heartbeat.announceConnection().catch((err: Error) => o.logger.warn({ err: err.message }, 'could not announce the host connection to the health monitor'));
    });
    this.sandbox = sandboxed ? new Sandbox(sandboxed) : undefined;
    this.deadLetter = new DeadLetterQueue(this.redis, o.config.prefix);
    this.breakerAlerts = new BreakerAlerts({ hostId: this.hostId, redis: this.redis, prefix: o.config.prefix, logger: o.logger, onAlert: (alert) => this.emit('breaker', alert) });
    this.cancels = new CancelReports({ hostId: this.hostId, redis: this.redis, prefix: o.config.prefix, logger: o.logger, onAlert: (alert) => this.emit('cancel-alert', alert) }, this.keys.stats, o.config.agents.cancelGraceMs);
    this.keyGate = new KeyGate({ redis: this.redis, prefix: o.config.prefix, leaseMs: o.config.agents.lockDurationMs, hostId: this.hostId, onError: (err) => o.logger.warn({ err: err.message }, 'key limits') });
    this.budgetGate = new BudgetGate({
      redis: this.redis,
      prefix: o.config.prefix,
      stopKey: (key, except, reason) => this.stopKey(key, except, reason),
      onError: (err) => o.logger.warn({ err: err.message }, 'budgets'),
    });
    this.trends = new DurationTrends({ hostId: this.hostId, redis: this.redis, prefix: o.config.prefix, logger: o.logger, onAlert: (alert) => this.emit('trend', alert) });
    this.pool = new WarmPool({ records: (specs) => this.records(specs), register: (records) => this.register(records), logger: o.logger });
    this.hibernation = new Hibernation({
      runners: this.runners,
      afterMs: o.config.agents.hibernateAfterMs,
      target: o.config.redis,
      control: this.redis,
      prefix: o.config.prefix,
      hostId: this.hostId,
      logger: o.logger,
      onHibernated: (nodeId) => this.emit('hibernated', nodeId),
      onWoke: (nodeId) => this.emit('woke', nodeId),
    });
  }

  /** An HTTP agent's work runs in its service: no sandbox child could run it, so `all` means every other type, and naming one is an error. */
  private sandboxable(o: SandboxOptions): SandboxOptions {
    const remote = Object.keys(this.endpoints.processors);
    if (!remote.length) return o;
    if (o.types === 'all') return { ...o, types: this.taskTypes.filter((t) => !remote.includes(t)) };
    const both = o.types.filter((t) => remote.includes(t));
    if (both.length) throw new Error(`--sandbox names ${both.join(', ')}, which an HTTP endpoint serves: its work runs in that service, so there is nothing to sandbox; drop ${both.length > 1 ? 'them' : 'it'} from --sandbox`);
    return o;
  }

  /** Nodes whose Worker on this host is closed until work arrives. */
  hibernatingNodes(): string[] {
    return this.hibernation.hibernatingNodes();
  }

  /** The private key an agent of this host authenticates its consensus messages with. */
  consensusKey(agentId: string): KeyObject | undefined {
    return this.consensusKeys.get(agentId);
  }

  /** Every agent of this host, with its node. */
  agents(): AgentInfo[] {
    return [...this.infos.values()];
  }

  nodeCount(): number {
    return this.runners.size;
  }

  /** Redis connections this host holds: one shared, the control Worker's, each awake node Worker's, the waker's, and consensus's two (its inbox reader's and its commands'). */
  connectionCount(): number {
    return 1 + (this.control ? 1 : 0) + (this.runners.size - this.hibernatingNodes().length) + this.hibernation.wakerConnections + (this.consensus ? 2 : 0);
  }

  async start(): Promise<void> {
    await loadScripts(this.redis);
    // Before any agent is registered: a round may name an agent as soon as it is in the roster.
    this.consensus = new ConsensusHost({
      target: this.o.config.redis,
      prefix: this.o.config.prefix,
      hostId: this.hostId,
      keyOf: (id) => this.consensusKeys.get(id),
      ...(this.trust ? { trust: this.trust } : {}),
      logger: this.o.logger,
    });
    await this.consensus.start();
    await this.heartbeat.start();
    this.started = true;
    const specs = this.o.agents ?? [];
    const initial = !specs.length
      ? []
      : this.o.spawn?.mode === 'waves'
        ? await this.spawnAgentWaves(specs, { waveSize: this.o.spawn.waveSize ?? 20 })
        : await this.spawnAgentBatch(specs);
    await this.forgetPreviousLife(new Set(initial.map((a) => a.id)));
    if (this.o.pool?.length) await this.pool.start(parseSpecs(this.o.pool, this.o.config.agents.maxSpawn));
    this.hibernation.start();
    if (this.o.control !== false) {
      this.control = startControl(this, this.o.config.prefix, this.o.logger);
      await this.control.waitUntilReady();
    }
    await this.heartbeat.markReady();
    this.o.logger.info({ host: this.hostId, agents: initial.length, nodes: this.runners.size, pool: this.poolLevels() }, 'agent host ready');
  }

  /** Agents a previous process with this host id registered and this one did not take back. */
  private async forgetPreviousLife(kept: Set<string>): Promise<void> {
    const all = await this.redis.hgetall(this.keys.agents);
    const stale = Object.entries(all)
      .filter(([id, raw]) => !kept.has(id) && id.startsWith(`${this.hostId}-`) && (JSON.parse(raw) as { hostId?: string }).hostId === this.hostId)
      .map(([id]) => id);
    if (stale.length) await this.deregister(stale);
  }

  private records(specs: AgentSpecParsed[]): AgentRecordIn[] {
    return specs.flatMap((spec) =>
      Array.from({ length: spec.count }, () => {
        const id = newAgentId(this.hostId, ++this.seq);
        const keys = generateAgentKeys();
        this.consensusKeys.set(id, keys.privateKey);
        const r = {
          id,
          type: spec.type,
          capabilities: [...new Set(spec.capabilities)].sort(),
          capacity: spec.capacity,
          taskTypes: this.taskTypes,
          hostId: this.hostId,
        };
        const h = this.trust?.host;
        const consensusCert = h && certifyAgentKey(h.privateKey, h.enrollment, id, this.hostId, keys.publicKey);
        return { ...r, profile: agentProfile(r), consensusKey: keys.publicKey, ...(consensusCert ? { consensusCert } : {}) };
      }),
    );
  }

  /** All at once: resolves when every agent is registered, seated and its node's Worker is ready. */
  async spawnAgentBatch(specs: AgentSpec[]): Promise<AgentInfo[]> {
    if (!this.started) throw new Error('start the agent host before spawning agents');
    const records = this.records(parseSpecs(specs, this.o.config.agents.maxSpawn));
    const agents = await this.seatAndRun(records);
    this.emit('spawned', agents);
    return agents;
  }

  /** Wave by wave: each wave is ready before the next starts; a 'wave' event per wave. */
  async spawnAgentWaves(specs: AgentSpec[], { waveSize = 20 }: { waveSize?: number } = {}): Promise<AgentInfo[]> {
    if (!this.started) throw new Error('start the agent host before spawning agents');
    if (!Number.isInteger(waveSize) || waveSize < 1) throw new Error(`waveSize must be a whole number ≥ 1, got ${waveSize}`);
    const records = this.records(parseSpecs(specs, this.o.config.agents.maxSpawn));
    const waves = Math.ceil(records.length / waveSize);
    const out: AgentInfo[] = [];
    for (let w = 0; w < waves; w++) {
      const t0 = performance.now();
      const agents = await this.seatAndRun(records.slice(w * waveSize, (w + 1) * waveSize));
      out.push(...agents);
      this.emit('wave', { wave: w + 1, waves, agents: agents.length, ready: out.length, total: records.length, ms: performance.now() - t0 } satisfies WaveEvent);
    }
    this.emit('spawned', out);
    return out;
  }

  /** How many warm agents of each type are ready now. */
  poolLevels(): Record<string, number> {
    return this.pool.levels();
  }

  /**
   * A warm agent of this type becomes a working member of its node at once: its
   * seat is already reserved, so it joins the node's Worker here (a Worker its
   * node lacks starts in the background) and the roster learns of it in the
   * background; the pool refills in the background. Without a warm agent of the
   * type, one is spawned the slow way.
   */
  async acquire(type: string): Promise<AgentInfo & { fromPool: boolean }> {
    const warm = this.pool.take(type);
    if (!warm) {
      const [agent] = await this.spawnAgentBatch([{ type, count: 1 }]);
      return { ...agent!, fromPool: false };
    }
    const { record: r, node } = warm;
    void this.run(node, [{ id: r.id, type: r.type, capacity: r.capacity, active: 0, completed: 0, failed: 0, retiring: false }], false);
    const info = { id: r.id, type: r.type, capacity: r.capacity, capabilities: r.capabilities, node, hostId: this.hostId };
    this.infos.set(r.id, info);
    // Registered again without the pooled mark, in the background (no round trip
    // on the caller's way): the script keeps its reserved seat and starts it now.
    this.register([r])
      .then((seats) => {
        if (seats[r.id] !== node) this.o.logger.error({ agent: r.id, node, seat: seats[r.id] }, 'an acquired agent works in its reserved node, but its record had gone and the roster seated it in another');
      })
      .catch((err: Error) => this.o.logger.error({ err: err.message, agent: r.id }, 'could not record an acquired agent'));
    this.pool.refillSoon();
    return { ...info, fromPool: true };
  }

  private async register(records: (AgentRecordIn & { pooled?: boolean })[]): Promise<Record<string, string>> {
    return await registerAgents(this.redis, { prefix: this.o.config.prefix, maxAgentsPerNode: this.o.config.coordinator.maxAgentsPerNode, now: Date.now(), agents: records });
  }

  /** Agents join their node's Worker here; a node new to this host gets a Worker. Returns its readiness. */
  private run(nodeId: string, agents: SeatedAgent[], awaitReady: boolean): Promise<void> {
    const existing = this.runners.get(nodeId);
    if (existing) {
      existing.addAgents(agents);
      return Promise.resolve();
    }
    const runner = this.newRunner(nodeId, agents);
    this.runners.set(nodeId, runner);
    const ready = runner.ready().then(() => runner.start());
    if (!awaitReady) ready.catch((err: Error) => this.o.logger.error({ err: err.message, node: nodeId }, 'node worker failed to start'));
    return ready;
  }

  /** One script call seats the whole group; new nodes get a Worker, known ones a higher concurrency. */
  private async seatAndRun(records: AgentRecordIn[]): Promise<AgentInfo[]> {
    const seats = await this.register(records);
    const byNode = new Map<string, SeatedAgent[]>();
    const infos: AgentInfo[] = [];
    for (const r of records) {
      const node = seats[r.id]!;
      const list = byNode.get(node) ?? [];
      list.push({ id: r.id, type: r.type, capacity: r.capacity, active: 0, completed: 0, failed: 0, retiring: false });
      byNode.set(node, list);
      const info = { id: r.id, type: r.type, capacity: r.capacity, capabilities: r.capabilities, node, hostId: this.hostId };
      this.infos.set(r.id, info);
      infos.push(info);
    }
    await Promise.all([...byNode].map(([nodeId, agents]) => this.run(nodeId, agents, true)));
    return infos;
  }

  private newRunner(nodeId: string, agents: SeatedAgent[]): NodeRunner {
    const { config } = this.o;
    const processors = this.processors;
    const identity = this.trust?.host;
    return new NodeRunner({
      redis: this.redis,
      prefix: config.prefix,
      ...(identity ? { signReplica: (task: string, replica: string, agent: string, output: unknown) => signReplicaOutput(identity.privateKey, task, replica, agent, output) } : {}),
      nodeId,
      queue: nodeQueueName(nodeId),
      hostId: this.hostId,
      agents,
      processors,
      ...(this.sandbox ? { sandbox: this.sandbox } : {}),
      lockDurationMs: config.agents.lockDurationMs,
      stalledIntervalMs: config.agents.stalledIntervalMs,
      maxStalledCount: config.agents.maxStalledCount,
      idleWaitSeconds: config.agents.idleWaitSeconds,
      progress: { intervalMs: config.agents.progressIntervalMs, maxBytes: config.agents.progressMaxBytes, maxDepth: config.http.maxJsonDepth },
      onLostLock: (jobId, outcome) => {
        // The task was recovered and finished elsewhere: this late finish is counted, not recorded.
        const field = outcome === 'completed' ? 'duplicateCompletions' : 'lateFinishes';
        this.redis.hincrby(this.keys.stats, field, 1).catch(() => {});
        this.o.logger.warn({ jobId, node: nodeId, outcome }, 'late finish refused: the task lost its lock and was recovered');
      },
      breaker: { ...DEFAULT_BREAKER, failures: config.agents.breakerFailures, cooldownMs: config.agents.breakerCooldownMs },
      onBreaker: (agentId, transition, breaker) => this.breakerAlerts.report(agentId, nodeId, transition, breaker),
      onTaskDone: (agentId, type, ms) => this.trends.observe(agentId, nodeId, type, ms),
      onFinalFailure: (job, err) => {
        this.deadLetter.record(job, nodeId, err).catch((e: Error) => this.o.logger.error({ err: e.message, task: job.id }, 'could not dead-letter a failed task'));
      },
      onError: (err) => this.o.logger.error({ err: err.message, node: nodeId }, 'worker error'),
      durability: config.durability,
      onFinishRetry: (jobId, why) => this.o.logger.warn({ jobId, node: nodeId, why }, 'a finish is not confirmed by a replica yet: recording it again'),
      onPickupUnconfirmed: (jobId, why) => this.o.logger.warn({ jobId, node: nodeId, why }, 'a task picked up is handed back unrun: no replica confirmed the pickup'),
      cancelGraceMs: config.agents.cancelGraceMs,
      onCancel: (e) => {
        this.cancels.report(e);
        this.emit('cancel', e);
      },
      keys: this.keyGate,
      budgets: this.budgetGate,
    });
  }

  /**
   * Retires an agent gracefully: it takes no new task, finishes its active one
   * (or returns it to the queue at the deadline), and leaves the roster. A node
   * left with no agents on this host closes its Worker and connection.
   */
  async retire(agentId: string, deadlineMs = 10_000): Promise<{ returned: number }> {
    const info = this.infos.get(agentId);
    if (!info) throw new Error(`agent ${agentId} does not run on host ${this.hostId}`);
    const runner = this.runners.get(info.node);
    const { returned, remaining } = runner ? await runner.retire(agentId, deadlineMs) : { returned: 0, remaining: 1 };
    await this.deregister([agentId]);
    this.infos.delete(agentId);
    this.consensusKeys.delete(agentId);
    if (runner && remaining === 0) {
      this.runners.delete(info.node);
      await runner.close();
      await this.rehome([info.node]);
    }
    return { returned };
  }

  /**
   * Move waiting work out of nodes this host has just left empty. Twice: a router
   * may still have routed there from a snapshot taken before we left.
   */
  private async rehome(nodeIds: string[]): Promise<void> {
    const { prefix, agents, coordinator } = this.o.config;
    const { orphans } = await rehomeOrphans(this.redis, prefix, nodeIds, agents.failedAfterMs, this.o.logger);
    if (orphans === 0) return;
    await new Promise((r) => setTimeout(r, 2 * coordinator.snapshotIntervalMs + 50));
    await rehomeOrphans(this.redis, prefix, nodeIds, agents.failedAfterMs, this.o.logger);
  }

  private async deregister(ids: string[]): Promise<void> {
    await deregisterAgents(this.redis, { prefix: this.o.config.prefix, agentIds: ids });
  }

  /**
   * Written off by the health monitor: its tasks were handed to other agents
   * (and BullMQ will refuse the finishes still under way here), its agents left
   * the roster and were replaced. Or Redis lost its data, the roster with it.
   * Either way it starts over as a fresh member: its Workers close, and agents
   * of the same kinds join under new ids.
   */
  private async rejoin(failedAt: number | null): Promise<void> {
    const kinds = agentKinds(this.infos.values());
    if (failedAt !== null) this.o.logger.warn({ host: this.hostId, failedAt, agents: this.infos.size }, 'the health monitor failed this host (it was stopped or cut off); its tasks ran elsewhere; rejoining with fresh agents');
    else {
      this.o.logger.error({ host: this.hostId, agents: this.infos.size }, "this host's record in Redis is gone with no failure mark: Redis lost its data (restarted with no persistence, or failed over to an empty replica); registering fresh agents");
      // What is left of the old agents' records goes (a recovery would have taken them out): no task is routed to them.
      await this.deregister([...this.infos.keys(), ...this.pool.agentIds()]);
    }
    const runners = [...this.runners.entries()];
    this.runners.clear();
    this.infos.clear();
    this.pool.clear();
    this.consensusKeys.clear();
    for (const [nodeId] of runners) this.hibernation.forget(nodeId);
    if (failedAt !== null) await Promise.all(runners.map(([, r]) => r.close(true)));
    else {
      // What the old Workers hold was taken since the loss (the rest is gone from Redis): they stop fetching and
      // finish it beside the fresh agents, whose nodes may have the same names (each its own Worker).
      const closing: Promise<void> = Promise.all(runners.map(([, r]) => r.close(false)))
        .then(() => undefined)
        .catch((err: Error) => this.o.logger.warn({ err: err.message }, "an old node Worker did not close cleanly after Redis lost its data"))
        .finally(() => this.retiring.delete(closing));
      this.retiring.add(closing);
    }
    await this.heartbeat.readmit();
    const agents = kinds.length ? await this.spawnAgentBatch(kinds) : [];
    await this.pool.refill();
    await this.heartbeat.markReady();
    this.emit('rejoined', { failedAt, agents: agents.length });
  }

  /** Stops this host's running tasks of a spent key (but `except`), their signals aborted with the budget's reason; how many. */
  stopKey(key: string, except: string | undefined, reason: (taskId: string) => BudgetExceededError): number {
    let n = 0;
    for (const r of this.runners.values()) n += r.stopKey(key, except, reason);
    return n;
  }

  /** Another host saw the key's budget spent (a control notice): its runs here stop once Redis confirms it; how many stopped. */
  async budgetSpent(key: string): Promise<number> {
    if (!(await this.budgetGate.confirmSpent(key))) return 0;
    return this.stopKey(key, undefined, (taskId) => new BudgetExceededError(taskId, 'key', `key ${key} has spent its budget: task ${taskId}'s run was aborted (reason budget) and it fails without a retry`));
  }

  /** Aborts those of these tasks that run here and whose cancel is recorded (a control queue notice); resolves with how many. */
  async cancelRunning(taskIds: readonly string[]): Promise<number> {
    const counts = await Promise.all([...this.runners.values()].map((r) => r.cancelRecorded(taskIds)));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** This host's cancels of running tasks since it started: aborted, results refused, signals ignored past the grace. */
  cancelCounts(): CancelCounts {
    return this.cancels.snapshot();
  }

  activeCount(): number {
    let n = 0;
    for (const r of this.runners.values()) n += r.activeCount();
    return n;
  }

  /** Stop taking tasks, finish active ones up to the deadline, return the rest, deregister. */
  stop(deadlineMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      this.heartbeat.stop();
      await this.hibernation.stop();
      await this.control?.close();
      await this.consensus?.stop();
      await this.pool.settled();
      const draining = Promise.all([...this.runners.values()].map((r) => r.drain(deadlineMs)));
      // Workers of a life before Redis lost its data get the same deadline; past it, their tasks go to BullMQ's stalled check.
      let deadline: NodeJS.Timeout | undefined;
      const retired = Promise.race([Promise.all(this.retiring), new Promise((r) => (deadline = setTimeout(r, deadlineMs)))]).finally(() => clearTimeout(deadline));
      const [results] = await Promise.all([draining, retired]);
      const returned = results.reduce((s, r) => s + r.returned, 0);
      try {
        await this.deregister([...this.infos.keys(), ...this.pool.agentIds()]);
        await this.heartbeat.leave();
        await this.rehome([...this.runners.keys()]);
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message }, 'could not deregister agents (Redis away); they will count as failed once their heartbeat ages');
      }
      await this.sandbox?.close();
      // After the drain: it waits for the slots of tasks that ended or went back to be freed.
      await this.keyGate.close();
      await this.budgetGate.close();
      this.endpoints.close();
      await this.deadLetter.close();
      this.o.logger.info({ host: this.hostId, returned }, 'agent host stopped');
      this.redis.disconnect();
    })();
    return this.stopping;
  }
}
