// The coordinator process: the task router, the intake drain, the queues
// operators watch, and its share of the swarm's upkeep. Several may run; each
// routes on its own snapshot. Slot groups and agent hosts are partitioned among
// the live ones (partitions.ts): each balances, unparks, monitors and recovers
// only in its partitions. One leads the swarm (the swarm lease) for what is
// swarm-wide and cheap: publishing the loads routers read, and the summary.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Queue, type Worker } from 'bullmq';
import { connectRedis, isCluster, type RedisClient, type RedisTarget } from '../../queues/redisTarget.ts';
import { ensureConnected } from '../../queues/connection.ts';
import { DEAD_LETTER_QUEUE, INTAKE_QUEUE, slotGroupOf } from '../../queues/keys.ts';
import { Balancer } from '../balancer/balancer.ts';
import { HealthMonitor } from '../health/monitor.ts';
import type { SwarmConfig } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { SummaryPublisher } from '../metrics/summaryPublisher.ts';
import { BudgetRelay } from './budgetRelay.ts';
import { groupOfNode } from '../routing/hierarchy.ts';
import { BatchSweeper } from './batchSweeper.ts';
import { HostControl } from './hostControl.ts';
import { Lease } from './lease.ts';
import { LoadsPublisher } from './loadsPublisher.ts';
import { Partitions } from './partitions.ts';
import { IntakeDrain } from './intakeDrain.ts';
import { TaskRouter } from './router.ts';
import { setKeyLimits } from '../keys/keyAdmin.ts';

export interface CoordinatorOptions {
  config: SwarmConfig;
  logger: Logger;
  /** Route the intake queue (default true). */
  intake?: boolean;
  /** Compete for the lease and balance while leading (default true). */
  balance?: boolean;
  /** Watch hosts and recover failed ones in this coordinator's partitions (default true). */
  health?: boolean;
  /** This coordinator's id among the others (default: host name, pid and a random suffix). */
  id?: string;
}

export function commandsConnection(target: RedisTarget, name: string): RedisClient {
  // Fail fast while Redis is away, so the API answers 503 instead of hanging.
  return connectRedis(target, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectionName: name, lazyConnect: true });
}

export class Coordinator {
  readonly router: TaskRouter;
  readonly commands: RedisClient;
  readonly intakeQueue: Queue;
  readonly deadLetterQueue: Queue;
  readonly hosts: HostControl;
  readonly lease: Lease;
  /** The slot groups and hosts this coordinator looks after, shared with the other live coordinators. */
  readonly partitions: Partitions;
  readonly balancer: Balancer;
  /** Node loads read while leading and published for every router. */
  readonly loads: LoadsPublisher;
  readonly health: HealthMonitor;
  /** metrics:updated, agent:joined and agent:left while leading. */
  readonly summary: SummaryPublisher;
  private readonly budgetRelay: BudgetRelay;
  /** Finishes batch submits left staged, while leading. */
  readonly batches: BatchSweeper;
  private readonly workerConnection: RedisClient;
  private intakeDrain: IntakeDrain | undefined;

  get config(): SwarmConfig {
    return this.o.config;
  }

  constructor(private readonly o: CoordinatorOptions) {
    this.commands = commandsConnection(o.config.redis, 'swarmq:coordinator');
    this.commands.on('error', () => {
      // Reported per request (503) and by /readyz; ioredis reconnects by itself.
    });
    this.workerConnection = connectRedis(o.config.redis, { maxRetriesPerRequest: null, connectionName: 'swarmq:coordinator:intake', lazyConnect: true });
    this.workerConnection.on('error', () => {});
    const onBadRecord = (what: string, key: string, err: string) => o.logger.warn({ what, key, err }, 'ignoring a malformed record in Redis');
    this.router = new TaskRouter({
      redis: this.commands,
      config: o.config,
      onBadRecord,
      onRedisError: (err) => o.logger.debug({ err: err.message }, 'queue connection error'),
      onBatchLate: (err) => o.logger.warn({ err: err.message }, 'a batch was acknowledged but not fanned out; the leader or a reader will finish it'),
      onCancelNoticeError: (host, err) => o.logger.warn({ host, err: err.message }, 'a running task was cancelled but its host could not be told; it finds the cancel at its next lock renewal'),
      onDecisionEventError: (task, err) => o.logger.warn({ task, err: err.message }, 'an approval decision is recorded on its task, but its approval:decided event could not be published'),
    });
    this.intakeQueue = new Queue(INTAKE_QUEUE, { connection: this.commands, prefix: o.config.prefix });
    this.deadLetterQueue = new Queue(DEAD_LETTER_QUEUE, { connection: this.commands, prefix: o.config.prefix });
    this.deadLetterQueue.on('error', () => {});
    this.hosts = new HostControl(this.commands, o.config.prefix);
    const id = o.id ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.lease = new Lease(this.commands, o.config.prefix, id, o.config.coordinator.leaseMs);
    this.loads = new LoadsPublisher({ redis: this.commands, config: o.config, lease: this.lease, logger: o.logger, onBadRecord });
    this.partitions = new Partitions({
      redis: this.commands,
      prefix: o.config.prefix,
      id,
      leaseMs: o.config.coordinator.leaseMs,
      roles: { balance: o.balance !== false, health: o.health !== false },
      logger: o.logger,
      universe: async () => {
        const { roster } = await this.loads.tracker.read(Date.now(), o.config.coordinator.snapshotIntervalMs);
        return {
          groups: this.o.balance === false ? [] : [...new Set([...roster.nodes.keys()].map(slotGroupOf))],
          hosts: this.o.health === false ? [] : this.health.knownHosts(),
        };
      },
    });
    const fanout = o.config.coordinator.maxAgentsPerNode;
    this.balancer = new Balancer({
      redis: this.commands,
      config: o.config,
      partitions: this.partitions,
      logger: o.logger,
      groupOf: (seq) => groupOfNode(seq, fanout),
      queueFor: (nodeId) => this.router.queueFor(nodeId),
      loads: (now) => this.loads.tracker.read(now, o.config.coordinator.snapshotIntervalMs),
      views: (t) => this.loads.tracker.views(t),
    });
    this.health = new HealthMonitor({ redis: this.commands, config: o.config, partitions: this.partitions, hosts: this.hosts, logger: o.logger });
    this.summary = new SummaryPublisher({ redis: this.commands, config: o.config, lease: this.lease, logger: o.logger, loads: (now) => this.loads.tracker.read(now, o.config.coordinator.snapshotIntervalMs) });
    this.budgetRelay = new BudgetRelay({ redis: this.commands, prefix: o.config.prefix, lease: this.lease, logger: o.logger });
    this.batches = new BatchSweeper({ lease: this.lease, logger: o.logger, resumeDue: () => this.router.resumeDueBatches() });
    this.intakeQueue.on('error', (err) => o.logger.debug({ err: err.message }, 'intake queue connection error'));
  }

  async start(): Promise<void> {
    await ensureConnected(this.commands);
    await this.router.start();
    // By a coordinator that takes part in the upkeep: a reader (swarmq status) changes nothing.
    if (this.o.balance !== false || this.o.health !== false) await this.applyConfiguredKeys();
    if (this.o.intake !== false) {
      await ensureConnected(this.workerConnection);
      this.intakeDrain = new IntakeDrain({
        router: this.router,
        connection: this.workerConnection,
        prefix: this.o.config.prefix,
        keepSeconds: this.o.config.tasks.keepCompletedSeconds,
        maxBytes: this.o.config.http.bodyLimitBytes,
        lockMs: this.o.config.agents.lockDurationMs,
        stalledIntervalMs: this.o.config.agents.stalledIntervalMs,
        landInOneStep: !isCluster(this.workerConnection) && this.o.config.durability.mode === 'fast',
        logger: this.o.logger,
      });
      this.intakeDrain.start();
    }
    if (this.o.balance !== false || this.o.health !== false) {
      // A first health check, so the first partition round knows the hosts to share.
      if (this.o.health !== false) await this.health.tick().catch((err: Error) => this.o.logger.warn({ err: err.message }, 'first health check failed'));
      await this.partitions.start();
      if (this.o.balance !== false) this.balancer.start();
      if (this.o.health !== false) this.health.start();
      // The loads publisher renews the swarm lease; the summary rides on it.
      this.summary.start();
      this.loads.start();
      this.batches.start();
      this.budgetRelay.start();
    }
    this.o.logger.info({ prefix: this.o.config.prefix, nodes: this.router.nodeIds().length }, 'coordinator ready');
  }

  /** The keys' limits the configuration names (keys: SWARMQ_KEYS), written as this coordinator starts. */
  private async applyConfiguredKeys(): Promise<void> {
    const keys = Object.entries(this.o.config.keys);
    for (const [key, limits] of keys) await setKeyLimits(this.commands, this.o.config.prefix, key, limits, (node) => this.router.queueFor(node));
    if (keys.length) this.o.logger.info({ keys: keys.map(([k]) => k) }, 'key limits applied from the configuration');
  }

  async stop(): Promise<void> {
    await this.balancer.stop();
    await this.health.stop();
    await this.summary.stop();
    await this.loads.stop();
    await this.batches.stop();
    await this.budgetRelay.stop();
    // After the duties stopped: hand the partitions back, so the others take them at their next round.
    await this.partitions.stop();
    await this.intakeDrain?.stop();
    await this.intakeQueue.close();
    await this.deadLetterQueue.close();
    await this.hosts.close();
    await this.router.close();
    this.workerConnection.disconnect();
    this.commands.disconnect();
  }
}
