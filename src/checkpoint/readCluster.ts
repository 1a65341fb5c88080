// A checkpoint on a Redis Cluster: one atomic read per hash slot, in an order
// that makes the file hold every task acknowledged before the checkpoint began
// exactly once (docs/operations.md states the promise).
//
// Why an order is enough. Inside a slot nothing is seen half-way: each read is
// one script, and the balancer's moves stay inside one slot group. Between
// slots, tasks travel one way only, and each flow adds the task where it goes
// before it drops it where it came from, under an id chosen before it leaves:
//   staged batch ({swarm} `staged`)      → node queues ({g<k>}), same task id
//   intake job ({intake})                → node queue, task id kept in {swarm} `intake:<job>`
//   parked task ({parked} wait/unparking) → node queue, same task id
//   node queue                           → dead letter (a record, not the task)
// So the reads go source before destination: {swarm} (roster, staged,
// consensus), {intake}, {parked}, every slot group, {dead-letter}, and last the
// intake jobs' task ids (set before their task is added, read after every node
// queue). A task that left its source before that source was read had reached
// its destination by then, which is read later: never missed. A task seen at
// both ends is one task (one id, or an intake job naming its task id), and the
// pure core keeps it once, under its node (snapshot.ts). A task acknowledged
// while the reads run may be in the file or not, never twice. One weaker point:
// a task that finishes between its source's read and its node's may be carried
// as still to run, and runs again after a restore (at least once, as always).
//
// Moves between slot groups are the one flow that goes both ways: while the
// groups are read, each group is held still (no claim out of it, no claim
// finished), so a claim is in its source group's `moving` until the cut is
// over, and snapshot.ts carries a claimed task no queue read holds.
//
// Node queues are read by their fixed names (ten per group, keys.ts), not from
// the roster, so a node made during the cut in a group being read is read too.
import type { RedisClient } from '../../queues/redisTarget.ts';
import { DEAD_LETTER_QUEUE, groupKeys, hashTagOf, INTAKE_QUEUE, nodeOfQueueName, nodeQueueName, nodeSeqOf, PARKED_NODE, SLOT_GROUP_SIZE } from '../../queues/keys.ts';
import type { RawGroup, RawQueue, RawSnapshot } from '../../queues/readSwarm.ts';
import { readIntakeTasks, readSlot, readSwarmSlot } from '../../queues/readSlots.ts';
import { nodeRecordSchema } from '../swarm/records.ts';

/** Longest a checkpoint holds moves between groups still: it lets go when done; this only bounds a checkpoint that died. */
const FREEZE_MS = 300_000;

/** Where the cut stands: after the read of this slot's tag (`swarm`, `intake`, `parked`, `g<k>`, `dead-letter`). */
export type AfterSlotRead = (tag: string) => Promise<void> | void;

export interface ReadClusterOptions {
  prefix: string;
  includeFinished: boolean;
  consensus: { queue: string; proposalJobName: string; roundKeyHead: string };
  /** Called after each slot's read (tests move tasks between reads with it). */
  afterSlotRead?: AfterSlotRead;
}

/** The slot groups whose node queues to read: every group up to the node sequence's, and any a node record names. */
export function groupsToRead(nodeSeq: number, nodes: Record<string, string>): string[] {
  const tags = new Set<string>();
  for (let k = 1; k <= Math.ceil(nodeSeq / SLOT_GROUP_SIZE); k++) tags.add(`g${k}`);
  for (const json of Object.values(nodes)) {
    try {
      const rec = nodeRecordSchema.loose().safeParse(JSON.parse(json));
      if (rec.success) tags.add(hashTagOf(nodeQueueName(rec.data.id)));
    } catch {
      // A node record that is not JSON is reported by the core; its group is read by number.
    }
  }
  return [...tags].filter((t) => /^g[0-9]+$/.test(t)).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
}

/** The ten node queues of slot group `g<k>`. */
function groupQueues(tag: string): string[] {
  const k = Number(tag.slice(1));
  return Array.from({ length: SLOT_GROUP_SIZE }, (_, i) => nodeQueueName(`n${(k - 1) * SLOT_GROUP_SIZE + i + 1}`));
}

export async function readClusterSnapshot(redis: RedisClient, o: ReadClusterOptions): Promise<RawSnapshot> {
  const after = async (tag: string) => {
    await o.afterSlotRead?.(tag);
  };
  const base = { prefix: o.prefix, includeFinished: o.includeFinished };
  const swarm = await readSwarmSlot(redis, { ...base, consensus: o.consensus });
  await after('swarm');
  const intake = await readSlot(redis, { ...base, queues: [INTAKE_QUEUE] });
  await after('intake');
  const parked = await readSlot(redis, { ...base, queues: [nodeQueueName(PARKED_NODE)], group: PARKED_NODE, unparking: true });
  await after('parked');
  const groups: RawGroup[] = [];
  const nodeQueues: RawQueue[] = [];
  const tags = groupsToRead(swarm.nodeSeq, swarm.nodes);
  // Work also moves between groups, in steps of one slot each (queues/crossMove.ts): held still
  // while the groups are read, each move is seen whole, its claim in its source group until it is
  // finished, so one landed in a group read before its source is not lost with its claim.
  const freezes = tags.map((tag) => groupKeys(o.prefix, tag).crossMoveFreeze);
  try {
    await Promise.all(freezes.map((key) => redis.set(key, '1', 'PX', FREEZE_MS)));
    for (const tag of tags) {
      const g = await readSlot(redis, { ...base, queues: groupQueues(tag), group: tag });
      if (g.group) groups.push(g.group);
      // A queue that never held anything is left out, as on one server (which reads nodes 1..node-seq).
      nodeQueues.push(...g.queues.filter((q) => q.paused || q.wait.length || q.active.length || q.pausedList.length || q.prioritized.length || q.delayed.length || q.completed.length || q.failed.length));
      await after(tag);
    }
  } finally {
    await Promise.all(freezes.map((key) => redis.del(key)));
  }
  const dead = await readSlot(redis, { ...base, queues: [DEAD_LETTER_QUEUE] });
  await after(hashTagOf(DEAD_LETTER_QUEUE));
  // Last: an intake job's task id is set before its task is added, so read after every node queue it names one it can be matched with.
  const intakeQueue = intake.queues[0]!;
  intakeQueue.intakeTasks = await readIntakeTasks(redis, o.prefix, [...intakeQueue.jobs.keys()]);
  if (parked.group) groups.push(parked.group);
  // A node made during the cut may hold a task (a balancer move inside its group): the sequence covers it, so its queue is one the file may name.
  const nodeSeq = Math.max(swarm.nodeSeq, ...nodeQueues.map((q) => nodeSeqOf(nodeOfQueueName(q.name) ?? '') ?? 0));
  return {
    time: swarm.time,
    cut: 'per-slot',
    staged: swarm.staged,
    nodeSeq,
    agents: swarm.agents,
    nodes: swarm.nodes,
    groups,
    queues: [...nodeQueues, parked.queues[0]!, intakeQueue, ...dead.queues],
    consensus: swarm.consensus,
  };
}

