// What happens to a host the health monitor has failed, step by step, each step
// recorded (GET /api/recoveries) and published as an event:
//   isolate   not routed to any more, and marked failed so a host that was only
//             cut off learns it was written off;
//   requeue   its active tasks back to their node queues at once (recoverJobs-6);
//   remove    its agents leave the roster, freeing their seats;
//   transfer  waiting work of nodes left without agents moves to live nodes of
//             the same kind in the slot group;
//   replace   as many agents of the same kinds spawned on a live host, which
//             seats them in the freed places first;
//   verify    a probe task put ahead of everything in each node a replacement
//             joined must complete (the replacement's host beats and works);
//   escalate  a critical health:alert for whatever could not be done.
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { deregisterAgents } from '../../queues/deregisterAgents.ts';
import { recoverJobs } from '../../queues/recoverJobs.ts';
import { rehomeOrphans } from '../agents/orphans.ts';
import type { HostControl } from '../coordinator/hostControl.ts';
import type { Roster } from '../coordinator/loadsReader.ts';
import type { Logger } from '../log.ts';
import type { AgentRecord } from '../swarm/records.ts';
import { probeNode, type ProbeResult } from './probe.ts';

export type FailureReason = 'connection-closed' | 'heartbeat-timeout';

export interface RecoveryStep {
  step: 'isolate' | 'requeue' | 'remove' | 'transfer' | 'replace' | 'verify' | 'escalate';
  at: number;
  detail: Record<string, unknown>;
}

export interface RecoveryRecord {
  id: string;
  host: string;
  reason: FailureReason;
  detectedAt: number;
  agents: string[];
  steps: RecoveryStep[];
  state: 'running' | 'done' | 'escalated';
  finishedAt?: number;
  /** Tasks handed back to their queues. */
  requeued: number;
}

export interface RecoveryContext {
  redis: RedisClient;
  /**
   * The first step, fenced: takes the host out of the live roster only while
   * the caller still holds the host's partition (false: it does not, and
   * nothing is done or recorded).
   */
  isolate: () => Promise<boolean>;
  prefix: string;
  maxStalledCount: number;
  failedAfterMs: number;
  hosts: HostControl;
  /** How long a replacement's probe task may take. */
  probeTimeoutMs: number;
  logger: Logger;
  /** Called after every step with the record as it stands. */
  onStep: (record: RecoveryRecord, step: RecoveryStep) => Promise<void>;
}

/** Live hosts, best first, that could take replacements; excludes the failed one. */
export type LiveHosts = (excluding: string) => string[];

/** The record of the recovery, or undefined when the caller no longer holds the host's partition. */
export async function recoverHost(c: RecoveryContext, host: string, reason: FailureReason, detectedAt: number, roster: Roster, liveHosts: LiveHosts): Promise<RecoveryRecord | undefined> {
  const agents = [...roster.agents.values()].filter((a) => a.hostId === host);
  const record: RecoveryRecord = {
    id: `r-${detectedAt}-${randomBytes(3).toString('hex')}`,
    host,
    reason,
    detectedAt,
    agents: agents.map((a) => a.id),
    steps: [],
    state: 'running',
    requeued: 0,
  };
  const step = async (name: RecoveryStep['step'], detail: Record<string, unknown>) => {
    const s = { step: name, at: Date.now(), detail };
    record.steps.push(s);
    await c.onStep(record, s);
  };

  if (!(await c.isolate())) return undefined;
  await step('isolate', { reason });

  const nodes = [...new Set(agents.map((a) => a.node))].sort();
  for (const node of nodes) {
    const queue = roster.nodes.get(node)?.queue;
    if (!queue) continue;
    const ids = await recoverJobs(c.redis, { prefix: c.prefix, queue, hostId: host, maxStalledCount: c.maxStalledCount });
    record.requeued += ids.length;
    await step('requeue', { node, tasks: ids });
  }

  if (agents.length) await deregisterAgents(c.redis, { prefix: c.prefix, agentIds: agents.map((a) => a.id) });
  await step('remove', { agents: agents.length });

  const { moved, orphans } = await rehomeOrphans(c.redis, c.prefix, nodes, c.failedAfterMs, c.logger);
  await step('transfer', { orphanNodes: orphans, moved });

  const { unreplaced, placed } = await replace(c, agents, liveHosts(host), step);
  const unverified: ProbeResult[] = [];
  const byNode = new Map(placed.map((a) => [a.node, a.id]));
  for (const [node, agent] of [...byNode].sort()) {
    const probe = await probeNode(c.redis, c.prefix, node, agent, `probe-${record.id}-${node}`, c.probeTimeoutMs);
    await step('verify', { ...probe });
    if (!probe.ok) unverified.push(probe);
  }
  if (unreplaced.length || unverified.length) {
    await step('escalate', { unreplaced, unverified });
    record.state = 'escalated';
  } else record.state = 'done';
  record.finishedAt = Date.now();
  await c.onStep(record, record.steps.at(-1)!);
  return record;
}

/** Spawns agents like the lost ones on live hosts; returns where they went and the kinds it could not place. */
async function replace(
  c: RecoveryContext,
  lost: AgentRecord[],
  candidates: string[],
  step: (name: RecoveryStep['step'], detail: Record<string, unknown>) => Promise<void>,
): Promise<{ unreplaced: { type: string; count: number; why: string }[]; placed: { id: string; node: string }[] }> {
  const kinds = new Map<string, { type: string; capabilities: string[]; capacity: number; count: number }>();
  for (const a of lost) {
    const key = JSON.stringify([a.type, a.capabilities, a.capacity]);
    const k = kinds.get(key) ?? { type: a.type, capabilities: [...a.capabilities], capacity: a.capacity, count: 0 };
    k.count++;
    kinds.set(key, k);
  }
  const unreplaced: { type: string; count: number; why: string }[] = [];
  const placed: { id: string; node: string }[] = [];
  for (const k of kinds.values()) {
    let done = false;
    const errors: string[] = [];
    for (const host of candidates) {
      try {
        const reply = await c.hosts.call<{ agents: { id: string; node: string }[] }>(host, 'spawn', { type: k.type, count: k.count, capacity: k.capacity, capabilities: k.capabilities }, 5000);
        const agents = reply.agents.map((a) => ({ id: a.id, node: a.node }));
        placed.push(...agents);
        await step('replace', { type: k.type, host, agents });
        done = true;
        break;
      } catch (err) {
        errors.push(`${host}: ${(err as Error).message}`);
      }
    }
    if (!done) unreplaced.push({ type: k.type, count: k.count, why: candidates.length ? errors.join('; ') : 'no live host to spawn on' });
  }
  return { unreplaced, placed };
}
