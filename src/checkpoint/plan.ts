// Pure: a checkpoint and the time of the restore → every write the restore makes,
// in order. restore.ts only carries it out.
import type { JobsOptions } from 'bullmq';
import { DEAD_LETTER_QUEUE, groupKeys, nodeQueueName, PARKED_NODE, swarmKeys } from '../../queues/keys.ts';
import type { Checkpoint, FinishedTask, UnfinishedState } from './format.ts';
import { bullmqAcceptsId } from './names.ts';

/** Where a restored task lands in its queue. */
export type LandsAs = 'waiting' | 'prioritized' | 'delayed';

export interface PlannedJob {
  queue: string;
  /** The id it had; kept (`jobId`) unless BullMQ would refuse it as a custom id (see `renamed`). */
  id: string;
  /** BullMQ refuses integer custom ids (its own counter makes those): such a job (a plain intake job) gets a new id. */
  renamed: boolean;
  name: string;
  data: unknown;
  opts: JobsOptions;
  /** Written on the job hash right after the add, before its queue resumes: attempt counters, last failure, … */
  fields: Record<string, string>;
  from: UnfinishedState;
  landsAs: LandsAs;
  /** Intake jobs: the task id their routing chose already, written under the job's (new) id. */
  intakeTask?: { taskId: string; ttlMs: number | null };
}

export interface PlannedQueue {
  name: string;
  /** Leave it paused after the restore (it was paused in the checkpoint). */
  paused: boolean;
  /** In order: the first is handed out first. */
  jobs: PlannedJob[];
  finished: FinishedTask[];
  /** The queue's job id counter must reach this before anything is added (finished jobs keep integer ids). */
  idFloor: number;
}

export interface RestoreCounts {
  agents: number;
  nodes: number;
  /** Queues that get tasks. */
  queues: number;
  /** Unfinished tasks to add, by where they were in the checkpoint (dead-letter records apart). */
  tasks: Partial<Record<UnfinishedState, number>>;
  /** Dead-letter records to add. */
  deadLetters: number;
  /** … and where they land. */
  landsAs: Partial<Record<LandsAs, number>>;
  /** Tasks given a new id (integer ids of intake jobs). */
  renamed: number;
  /** Parked tasks caught half-way to a node: finished here (added to their node), or already there. */
  unparkingDelivered: number;
  finished: number;
  idempotencyKeys: number;
  moved: number;
  cancelled: number;
}

export interface RestorePlan {
  prefix: string;
  roster: { agentsKey: string; agents: [string, string][]; nodesKey: string; nodes: [string, string][]; nodeSeqKey: string; nodeSeq: number; rosterVersionKey: string };
  groups: { movedKey: string; moved: [string, string][]; cancelledKey: string; cancelled: [string, string][] }[];
  idempotency: { key: string; taskId: string; ttlMs: number | null }[];
  queues: PlannedQueue[];
  counts: RestoreCounts;
}

export { bullmqAcceptsId };

/** Options a restored job must not carry over: the add sets them anew, or they tie it to things not restored. */
export const DROPPED_OPTIONS = ['jobId', 'timestamp', 'delay', 'priority', 'repeat', 'repeatJobKey', 'parent', 'deduplication', 'debounce', 'prevMillis'];

export function planRestore(cp: Checkpoint, prefix: string, now: number): RestorePlan {
  const sk = swarmKeys(prefix);
  const movedOf = new Map<string, string>();
  for (const g of cp.groups) for (const [id, node] of Object.entries(g.moved)) movedOf.set(id, node);

  const queues = new Map<string, PlannedQueue>();
  const queueFor = (name: string): PlannedQueue => {
    let q = queues.get(name);
    if (!q) {
      q = { name, paused: false, jobs: [], finished: [], idFloor: 0 };
      queues.set(name, q);
    }
    return q;
  };
  for (const q of cp.queues) queueFor(q.name).paused = q.paused;

  const present = new Set(cp.tasks.filter((t) => t.state !== 'unparking').map((t) => `${t.queue}\u0000${t.id}`));
  const counts: RestoreCounts = {
    agents: cp.roster.agents.length,
    nodes: cp.roster.nodes.length,
    queues: 0,
    tasks: {},
    deadLetters: 0,
    landsAs: {},
    renamed: 0,
    unparkingDelivered: 0,
    finished: cp.finished.length,
    idempotencyKeys: cp.idempotency.length,
    moved: movedOf.size,
    cancelled: cp.groups.reduce((s, g) => s + g.cancelled.length, 0),
  };

  for (const t of cp.tasks) {
    let queue = t.queue;
    if (t.state === 'unparking') {
      // Claimed from the parked queue for a node (`moved` names it) but not yet
      // dropped from there: finish the move here. When the node's queue already
      // had it, nothing is left to do; without a target it goes back to parked.
      const target = movedOf.get(t.id);
      counts.unparkingDelivered++;
      if (target && present.has(`${nodeQueueName(target)}\u0000${t.id}`)) continue;
      queue = target ? nodeQueueName(target) : nodeQueueName(PARKED_NODE);
    }
    // Delayed: due at the same moment as in the checkpoint. The add keeps the
    // original timestamp, and BullMQ makes a delayed job due at timestamp + delay.
    const due = t.state === 'delayed' && t.dueAt !== undefined && t.dueAt > now ? t.dueAt : undefined;
    const landsAs: LandsAs = due !== undefined ? 'delayed' : t.priority > 0 ? 'prioritized' : 'waiting';
    const opts: Record<string, unknown> = { ...t.opts };
    for (const k of DROPPED_OPTIONS) delete opts[k];
    const renamed = !bullmqAcceptsId(t.id);
    const jobOpts: JobsOptions = {
      ...(opts as JobsOptions),
      ...(renamed ? {} : { jobId: t.id }),
      timestamp: t.timestamp,
      ...(t.priority > 0 ? { priority: t.priority } : {}),
      ...(due !== undefined ? { delay: Math.max(1, due - t.timestamp) } : {}),
    };
    const fields: Record<string, string> = { ...t.fields };
    // Attempts made are what decides whether the next failure is the last one; an
    // active attempt was cut short by the move, not by the task: not counted (as
    // when a draining host hands a task back).
    if (t.attemptsMade > 0) fields.atm = String(t.attemptsMade);
    if (t.attemptsStarted > 0) fields.ats = String(t.attemptsStarted);
    if (t.stalledCounter > 0) fields.stc = String(t.stalledCounter);
    queueFor(queue).jobs.push({
      queue,
      id: t.id,
      renamed,
      name: t.name,
      data: t.data,
      opts: jobOpts,
      fields,
      from: t.state,
      landsAs,
      ...(t.intakeTask ? { intakeTask: t.intakeTask } : {}),
    });
    if (queue === DEAD_LETTER_QUEUE) {
      counts.deadLetters++;
    } else {
      counts.tasks[t.state] = (counts.tasks[t.state] ?? 0) + 1;
      counts.landsAs[landsAs] = (counts.landsAs[landsAs] ?? 0) + 1;
    }
    if (renamed) counts.renamed++;
  }
  for (const f of cp.finished) {
    const q = queueFor(f.queue);
    q.finished.push(f);
    // An auto id (intake) must never land on a finished job kept under its integer id.
    if (/^[0-9]+$/.test(f.id)) q.idFloor = Math.max(q.idFloor, Number(f.id));
  }

  const planned = [...queues.values()];
  counts.queues = planned.filter((q) => q.jobs.length || q.finished.length).length;
  return {
    prefix,
    roster: {
      agentsKey: sk.agents,
      agents: cp.roster.agents.map((a) => [a.id, JSON.stringify(a)]),
      nodesKey: sk.nodes,
      nodes: cp.roster.nodes.map((n) => [n.id, JSON.stringify(n)]),
      nodeSeqKey: sk.nodeSeq,
      nodeSeq: Math.max(cp.roster.nodeSeq, ...cp.roster.nodes.map((n) => n.seq)),
      rosterVersionKey: sk.rosterVersion,
    },
    groups: cp.groups.map((g) => {
      // groupKeys takes a node id; a group name that is not one names itself (g3, parked).
      const keys = groupKeys(prefix, g.group);
      return {
        movedKey: keys.moved,
        moved: Object.entries(g.moved),
        cancelledKey: keys.cancelled,
        cancelled: g.cancelled.map((c) => [c.id, JSON.stringify(c)] as [string, string]),
      };
    }),
    idempotency: cp.idempotency.map((i) => ({ key: sk.idempotency(i.key), taskId: i.taskId, ttlMs: i.ttlMs })),
    queues: planned,
    counts,
  };
}
