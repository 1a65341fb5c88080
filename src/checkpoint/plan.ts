// Pure: a checkpoint and the time of the restore → every write the restore makes,
// in order. restore.ts only carries it out.
import type { JobsOptions } from 'bullmq';
import type { FairTagRequest } from '../../queues/fairTag.ts';
import { awaitingApprovalKey, awaitingMember, DEAD_LETTER_QUEUE, groupKeys, keyStateKeys, nodeOfQueueName, nodeQueueName, PARKED_NODE, swarmKeys } from '../../queues/keys.ts';
import { bandOf, tagStep } from '../keys/fairOrder.ts';
import { hasLimits, limitsFields } from '../keys/limits.ts';
import { AWAITING_FIELD, DECISION_FIELD, pickupOf } from '../tasks/approval.ts';
import { KEY_FIELD } from '../tasks/view.ts';
import { envelopeKey } from '../tasks/nodeJob.ts';
import type { Checkpoint, FinishedTask, UnfinishedState, UnfinishedTask } from './format.ts';
import { bullmqAcceptsId } from './names.ts';
import { budgetToWrite, spendToWrite } from './budgetFormat.ts';

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
  /**
   * A task of a node (or the parked) queue that carries a key: its place in the
   * node's fair order, given again after the add (fairTag-5.lua, which also
   * writes the job's key field: `fields` leaves it out), and whether it counts
   * as waiting for its key (recorded in `waitingKey` by its submit time).
   */
  keyed?: { fair: FairTagRequest; waitingKey: string; waiting: boolean };
  /** An output awaiting approval: its entry in its slot group's awaiting-approval index, by deadline (GET /api/approvals lists it). */
  awaitingApproval?: { indexKey: string; member: string; deadline: number };
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
  /** Keys whose limits are written (the file's `keys` with limits). */
  keyLimits: number;
  /** Keys whose budget is written, and keys whose spend is carried (written back only if its period is still current). */
  keyBudgets: number;
  keySpend: number;
  /** Tasks that carry a key, placed again in their node's fair order. */
  keyed: number;
  /** Tasks whose output awaits approval, indexed again by their deadline. */
  awaitingApproval: number;
}

/** A key's budget and spend as the restore hands them to queues/budgetState.ts restoreKeyBudget (null: not carried). */
export interface PlannedKeyBudget {
  key: string;
  budget: { fields: Record<string, string>; json: string } | null;
  spent: { start: string; period: string; fields: Record<string, string> } | null;
}

/** A key's limits as the restore writes them (queues/keyLimits.ts writeKeyLimits). */
export interface PlannedKeyLimits {
  key: string;
  fields: Record<string, string>;
  json: string;
}

export interface RestorePlan {
  prefix: string;
  roster: { agentsKey: string; agents: [string, string][]; nodesKey: string; nodes: [string, string][]; nodeSeqKey: string; nodeSeq: number; rosterVersionKey: string };
  groups: { movedKey: string; moved: [string, string][]; cancelledKey: string; cancelled: [string, string][] }[];
  idempotency: { key: string; taskId: string; ttlMs: number | null }[];
  /** Keys with limits, written before any task (a task may start the moment its queue resumes); and every key the swarm lists, with its tasks' keys. */
  keys: { limits: PlannedKeyLimits[]; budgets: PlannedKeyBudget[]; names: string[]; namesKey: string };
  queues: PlannedQueue[];
  counts: RestoreCounts;
}

export { bullmqAcceptsId };

/** Options a restored job must not carry over: the add sets them anew, or they tie it to things not restored. */
export const DROPPED_OPTIONS = ['jobId', 'timestamp', 'delay', 'priority', 'repeat', 'repeatJobKey', 'parent', 'deduplication', 'debounce', 'prevMillis'];

/** The key a task carries: its envelope's (what the host admits it by), when it is a key name. */
export function keyOfTask(t: Pick<UnfinishedTask, 'data'>): string | undefined {
  return envelopeKey(t.data);
}

/**
 * What a task's approval fields say a host would do with it now
 * (src/tasks/approval.ts pickupOf): `run` for a task with no output waiting
 * (or rejected with retry), `hold` while an output awaits a decision before
 * its deadline, else it completes or fails without running.
 */
function approvalStep(t: UnfinishedTask, now: number): ReturnType<typeof pickupOf> {
  return pickupOf(t.id, { awaiting: t.fields[AWAITING_FIELD] ?? null, decision: t.fields[DECISION_FIELD] ?? null }, now);
}

export function planRestore(cp: Checkpoint, prefix: string, now: number): RestorePlan {
  const sk = swarmKeys(prefix);
  const weightOf = new Map(cp.keys.map((k) => [k.key, k.limits.weight]));
  const taskKeys = new Set<string>();
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
    keyLimits: 0,
    keyBudgets: 0,
    keySpend: 0,
    keyed: 0,
    awaitingApproval: 0,
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
    // Keys and approval live in node queues (and the parked one, for keys); intake jobs and dead letters are not run by a host.
    const node = nodeOfQueueName(queue);
    const key = node === undefined ? undefined : keyOfTask(t);
    const step = node === undefined ? undefined : approvalStep(t, now);
    let keyed: PlannedJob['keyed'];
    if (node !== undefined && key !== undefined) {
      // fairTag-5.lua writes the key field itself, and takes a job that has one for placed already.
      delete fields[KEY_FIELD];
      // Waiting for its key unless a host ends it without admitting it (an output awaiting, approved or rejected for good).
      keyed = { fair: { prefix, node, id: t.id, key, inc: tagStep(weightOf.get(key)), band: bandOf(t.priority) }, waitingKey: keyStateKeys(prefix, key).waiting, waiting: step?.kind === 'run' };
      taskKeys.add(key);
      counts.keyed++;
    }
    let awaitingApproval: PlannedJob['awaitingApproval'];
    if (node !== undefined && node !== PARKED_NODE && landsAs === 'delayed' && step?.kind === 'hold') {
      // The deadline is the delayed job's due time (awaitApproval-9.lua scores it so); the record says the same.
      awaitingApproval = { indexKey: awaitingApprovalKey(prefix, queue), member: awaitingMember(node, t.id), deadline: step.awaiting.deadline };
      counts.awaitingApproval++;
    }
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
      ...(keyed ? { keyed } : {}),
      ...(awaitingApproval ? { awaitingApproval } : {}),
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
  const limits = cp.keys.filter((k) => hasLimits(k.limits)).map((k) => ({ key: k.key, fields: limitsFields(k.limits), json: JSON.stringify(k.limits) }));
  counts.keyLimits = limits.length;
  const budgets: PlannedKeyBudget[] = cp.keys
    .filter((k) => k.budget !== undefined || k.spent !== undefined)
    .map((k) => ({ key: k.key, budget: k.budget ? budgetToWrite(k.budget) : null, spent: k.spent ? spendToWrite(k.spent) : null }));
  counts.keyBudgets = budgets.filter((b) => b.budget).length;
  counts.keySpend = budgets.filter((b) => b.spent).length;
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
    keys: { limits, budgets, names: [...new Set([...cp.keys.map((k) => k.key), ...taskKeys])].sort(), namesKey: sk.keyNames },
    queues: planned,
    counts,
  };
}
