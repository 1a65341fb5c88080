// Tasks flowing through a swarm while a Redis master is SIGKILLed: producers
// submit with SwarmClient (and over HTTP) the whole time, agents run them,
// and the figures say what the failover cost: acknowledged tasks lost (never
// finished, or gone) and tasks whose processor completed more than once. The
// coordinator, the host and the client are the ones that were running before
// the kill: none is restarted.
import { Redis } from 'ioredis';
import type { SwarmConfig } from '../../src/config/schema.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { nodeQueueName, swarmKeys } from '../../queues/keys.ts';
import type { ClusterNode } from '../../src/cli/localCluster.ts';
import { startCluster, type TestCluster } from './cluster.ts';
import { uniquePrefix } from './redis.ts';
import { SENTINEL_MASTER, startSentinels, type TestSentinels } from './sentinel.ts';
import { startStack, type Stack } from './stack.ts';
import { testConfig, until } from './swarm.ts';

export interface FailoverFigures {
  acknowledged: number;
  refused: number;
  lost: number;
  completedTwice: number;
  /** ms from the kill to the first task acknowledged and completed after it */
  recoveredMs: number;
}

export interface FailoverRunOptions {
  config: SwarmConfig;
  /** Kills the master; resolves once it is dead. */
  kill: () => Promise<void>;
  /** How long tasks flow before the kill, and after it. */
  beforeMs?: number;
  afterMs?: number;
  producers?: number;
  /** How long acknowledged tasks may take to finish once producers stop. */
  settleMs?: number;
  log?: (line: string) => void;
}

export async function runThroughFailover(o: FailoverRunOptions): Promise<FailoverFigures & { stack: Stack; client: SwarmClient }> {
  const runs = new Map<string, number>();
  const processors: ProcessorMap = {
    work: async (payload: unknown, ctx: { taskId: string }) => {
      await new Promise((r) => setTimeout(r, (payload as { ms: number }).ms));
      runs.set(ctx.taskId, (runs.get(ctx.taskId) ?? 0) + 1);
      return { ok: true };
    },
  };
  const stack = await startStack(o.config, { agents: [{ type: 'worker', count: 12, capacity: 2 }], processors });
  const client = new SwarmClient({ redis: o.config.redis, prefix: o.config.prefix, config: { durability: o.config.durability } });
  const acknowledged: string[] = [];
  let refused = 0;
  let flowing = true;
  let killedAt = 0;
  let firstAfter = 0;
  const producer = async (n: number) => {
    for (let i = 0; flowing; i++) {
      try {
        // Every fourth over HTTP, the rest straight from the client.
        const id =
          i % 4 === 0
            ? await stack.request('POST', '/api/tasks', { type: 'work', payload: { ms: 10 } }).then((r) => {
                if (r.status !== 202) throw new Error(`${r.status} ${JSON.stringify(r.body)}`);
                return String(r.body.id);
              })
            : (await client.submit({ type: 'work', payload: { ms: 10 } })).id;
        acknowledged.push(id);
        if (killedAt && !firstAfter) firstAfter = Date.now();
      } catch (err) {
        refused++;
        if (refused % 50 === 1) o.log?.(`producer ${n}: ${(err as Error).message.slice(0, 160)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const producing = Promise.all(Array.from({ length: o.producers ?? 4 }, (_, n) => producer(n)));
  await new Promise((r) => setTimeout(r, o.beforeMs ?? 1500));
  killedAt = Date.now();
  await o.kill();
  await new Promise((r) => setTimeout(r, o.afterMs ?? 6000));
  flowing = false;
  await producing;
  // Every acknowledged task must finish; a lost one never does (or is gone).
  const finals = new Map<string, string>();
  await until(
    async () => {
      for (const id of acknowledged) {
        if (finals.has(id)) continue;
        const t = await client.get(id).catch(() => undefined);
        if (t === null) finals.set(id, 'gone');
        else if (t && (t.state === 'completed' || t.state === 'failed')) finals.set(id, t.state);
      }
      return finals.size === acknowledged.length;
    },
    o.settleMs ?? 12_000,
    'every acknowledged task to finish',
  ).catch(() => undefined);
  const lostIds = acknowledged.filter((id) => finals.get(id) !== 'completed');
  const lost = lostIds.length;
  for (const id of lostIds.slice(0, 5)) o.log?.(`lost ${id}: ${finals.get(id) ?? JSON.stringify(await client.get(id).catch((e: Error) => e.message))}`);
  for (const [id, n] of [...runs].filter(([, n]) => n > 1).slice(0, 5)) o.log?.(`completed ${n} times: ${id}`);
  const completedTwice = [...runs.values()].filter((n) => n > 1).length;
  return { acknowledged: acknowledged.length, refused, lost, completedTwice, recoveredMs: firstAfter ? firstAfter - killedAt : -1, stack, client };
}

export type Durability = 'fast' | 'replicated';

/**
 * How long the acknowledged tasks get to finish after a failover: a pickup
 * whose reply the kill cut off (the move to active done and replicated, the
 * Worker never told) stays active under its lock until BullMQ's stalled check
 * returns it to waiting, up to a lock duration and a stalled interval later;
 * it then runs once. Twice counted lost in CI at 12 s (2026-12-04).
 */
function stalledRecoveryMs(config: { agents: { lockDurationMs: number; stalledIntervalMs: number } }): number {
  return config.agents.lockDurationMs + config.agents.stalledIntervalMs + 10_000;
}

/**
 * Resolves once the server on `port` has a replica in sync (INFO replication):
 * the killed server, restarted, rejoined as the promoted one's replica. Until
 * then every `replicated` acknowledgement there waits out its timeout, so the
 * run's figures would measure how long that took on a loaded machine rather
 * than what the failover lost. Producers keep submitting meanwhile.
 */
export async function replicaOnline(port: number, timeoutMs = 60_000): Promise<void> {
  await until(async () => {
    const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {});
    try {
      await r.connect();
      return /slave0:.*state=online/.test(await r.info('replication')) ? true : undefined;
    } catch {
      return undefined;
    } finally {
      r.disconnect();
    }
  }, timeoutMs, `the restarted server to rejoin as the replica of :${port}`);
}

/** A finished failover run: its figures, and what is still running (for more checks), stopped by `stop`. */
export interface FailoverScenario extends FailoverFigures {
  stack: Stack;
  client: SwarmClient;
  stop(): Promise<void>;
}

async function stopped(parts: { client?: SwarmClient; stack?: Stack }, redis: () => Promise<void>): Promise<void> {
  await parts.client?.close().catch(() => {});
  await parts.stack?.stop().catch(() => {});
  await redis();
}

export interface ClusterFailover extends FailoverScenario {
  cluster: TestCluster;
  prefix: string;
  /** The key whose master was killed, and that master. */
  key: string;
  killed: ClusterNode;
}

/**
 * Three masters with a replica each and a short cluster-node-timeout; the
 * master serving a slot group of node queues (`group`) or the swarm's own
 * slot (`swarm`) is SIGKILLed mid-run and its replica promoted.
 */
export async function clusterFailover(durability: Durability, victim: 'group' | 'swarm', log?: (line: string) => void): Promise<ClusterFailover> {
  const cluster = await startCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 });
  const prefix = uniquePrefix(`fo${victim}`);
  // One agent a node: twelve nodes in two slot groups, on different masters.
  const config = testConfig({ url: cluster.url } as never, { prefix, durability: { mode: durability }, coordinator: { maxAgentsPerNode: 1 } });
  const key = victim === 'group' ? `${prefix}:${nodeQueueName('n1')}` : swarmKeys(prefix).stats;
  try {
    const killed = await cluster.masterOf(key);
    const f = await runThroughFailover({
      config,
      kill: async () => {
        await killed.server.kill('SIGKILL');
        // Once its replica has taken over, the old master comes back (nodes.conf) as the new one's replica,
        // as an operator's restart would: until then the promoted master has no replica to confirm writes.
        await until(async () => (await cluster.masterOf(key)).port !== killed.port, 15_000, 'the replica to take over');
        await killed.server.start();
        await replicaOnline((await cluster.masterOf(key)).port);
      },
      settleMs: stalledRecoveryMs(config),
      log,
    });
    return { ...f, cluster, prefix, key, killed, stop: () => stopped(f, () => cluster.stop()) };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

export interface SentinelFailover extends FailoverScenario {
  sentinels: TestSentinels;
}

/** One primary, one replica, three Sentinels; the primary is SIGKILLed mid-run and the Sentinels promote the replica. */
export async function sentinelFailover(durability: Durability, log?: (line: string) => void): Promise<SentinelFailover> {
  const sentinels = await startSentinels();
  const config = testConfig({ url: undefined } as never, {
    redisSentinels: sentinels.sentinels,
    sentinelMaster: SENTINEL_MASTER,
    prefix: uniquePrefix('sfo'),
    durability: { mode: durability },
    coordinator: { maxAgentsPerNode: 1 },
  });
  if (config.redis.kind !== 'sentinel') throw new Error(`expected a Sentinel target, got ${config.redis.kind}`);
  try {
    const f = await runThroughFailover({
      config,
      kill: async () => {
        await sentinels.primary.kill('SIGKILL');
        await until(async () => (await sentinels.primaryPort()) === sentinels.replica.port, 15_000, 'the Sentinels to promote the replica');
        // The old primary comes back as the new primary's replica, as an operator restarts it. Restarted as it was, it
        // would be an empty primary (no persistence) until the Sentinels turn it: in CI a promoted server once synced
        // from it instead, and every task of the run was gone.
        await sentinels.primary.start(['--replicaof', '127.0.0.1', String(sentinels.replica.port)]);
        // Under `replicated` no acknowledgement comes without a replica, so the run needs it in sync; a `fast` run goes
        // on without one.
        await replicaOnline(sentinels.replica.port, 60_000).catch((err: Error) => {
          if (durability === 'replicated') throw err;
          log?.(`${err.message}; the fast run goes on with no replica`);
        });
      },
      afterMs: 4000,
      // Until the old primary is back in sync as a replica every replicated acknowledgement waits out its timeout. On a loaded box the first acknowledgement after the kill took 18 s: a task still unfinished
      // at 20 s was counted lost once, so they get 40 s at least (the wait ends as soon as every task has finished).
      settleMs: Math.max(40_000, stalledRecoveryMs(config)),
      log,
    });
    return { ...f, sentinels, stop: () => stopped(f, () => sentinels.stop()) };
  } catch (err) {
    await sentinels.stop();
    throw err;
  }
}
