// The per-slot reads of a checkpoint on a Redis Cluster, where no one script may
// touch keys of several slots: the swarm's slot (readSwarmState-1.lua), one slot
// of queues with its group state (readSlot-1.lua), and the intake jobs' task ids.
// Each read is atomic in its slot; the order of the reads, and what it
// guarantees, is the checkpoint's (src/checkpoint/readCluster.ts).
import type { RedisClient } from './redisTarget.ts';
import { bullKey, swarmKeys } from './keys.ts';
import { flatHash, parseConsensus, parseQueue, stagedOf, strings, type RawConsensus, type RawGroup, type RawQueue, type RawStaged } from './readSwarm.ts';
import { scripts } from './scripts.ts';

const ms = (time: unknown): number => {
  const [sec, usec] = strings(time);
  return Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
};

export interface SwarmSlotRead {
  time: number;
  nodeSeq: number;
  agents: Record<string, string>;
  nodes: Record<string, string>;
  staged: RawStaged[];
  consensus: RawConsensus;
}

export interface SwarmSlotRequest {
  prefix: string;
  includeFinished: boolean;
  consensus: { queue: string; proposalJobName: string; roundKeyHead: string };
}

/** The roster, the staged tasks and the consensus queue with its rounds: the swarm's slot, in one step. */
export async function readSwarmSlot(redis: RedisClient, r: SwarmSlotRequest): Promise<SwarmSlotRead> {
  const k = swarmKeys(r.prefix);
  const args = [r.prefix, r.includeFinished ? '1' : '0', r.consensus.queue, r.consensus.proposalJobName, r.consensus.roundKeyHead, k.staged];
  const [time, nodeSeq, agents, nodes, staged, consensus] = (await scripts.readSwarmState.run(redis, [k.nodeSeq], args)) as unknown[];
  return { time: ms(time), nodeSeq: Number(nodeSeq) || 0, agents: flatHash(agents), nodes: flatHash(nodes), staged: stagedOf(staged), consensus: parseConsensus(consensus) };
}

export interface SlotRequest {
  prefix: string;
  includeFinished: boolean;
  /** Queues that share one hash tag. */
  queues: readonly string[];
  /** That tag's group state (moved, cancelled) to read with them, if any. */
  group?: string;
  /** The group's `unparking` set belongs to the first queue (the parked queue). */
  unparking?: boolean;
}

export interface SlotRead {
  time: number;
  group: RawGroup | undefined;
  queues: RawQueue[];
}

/** Queues of one slot, with their group's records, in one step. */
export async function readSlot(redis: RedisClient, r: SlotRequest): Promise<SlotRead> {
  const first = r.queues[0];
  if (first === undefined) throw new Error('readSlot: no queue to read');
  // The slot's key that routes the script: every key it reads shares its hash tag.
  const route = bullKey(r.prefix, first, 'meta');
  const args = [r.prefix, r.includeFinished ? '1' : '0', r.group ?? '', r.unparking ? '1' : '0', ...r.queues];
  const [time, group, queues] = (await scripts.readSlot.run(redis, [route], args)) as [unknown, unknown[], unknown[]];
  const g = Array.isArray(group) && group.length ? { group: String(group[0]), moved: flatHash(group[1]), cancelled: flatHash(group[2]), moving: flatHash(group[3]) } : undefined;
  return { time: ms(time), group: g, queues: (queues ?? []).map(parseQueue) };
}

/** The task id each intake job's routing chose, with its PTTL (jobs with none are left out): one pipeline on the swarm's slot. */
export async function readIntakeTasks(redis: RedisClient, prefix: string, jobIds: readonly string[]): Promise<Map<string, { taskId: string; pttl: number }>> {
  const out = new Map<string, { taskId: string; pttl: number }>();
  if (!jobIds.length) return out;
  const k = swarmKeys(prefix);
  const p = redis.pipeline(); // every key is `<prefix>:{swarm}:intake:*`: one slot
  for (const id of jobIds) p.get(k.intakeTask(id)).pttl(k.intakeTask(id));
  const res = (await p.exec()) ?? [];
  jobIds.forEach((id, i) => {
    const [gErr, taskId] = res[2 * i] ?? [null, null];
    const [tErr, pttl] = res[2 * i + 1] ?? [null, -2];
    if (gErr || tErr) throw gErr ?? tErr;
    if (typeof taskId === 'string') out.set(id, { taskId, pttl: Number(pttl) });
  });
  return out;
}
