// Deciding on outputs that await approval (src/tasks/approval.ts), and listing
// them. A decision is one step in Redis (queues/decideApproval.ts) that takes
// only while the output still awaits: so whatever else happens at the same
// moment (another decision, the deadline, a cancel), the task ends one way.
// Every refusal is a SwarmError that writes nothing: no such task 404, a
// task not awaiting 409 with its state, a bad request 400.
import { awaitingApprovalKey, CONSENSUS_QUEUE, nodeQueueName } from '../../queues/keys.ts';
import { decideApproval } from '../../queues/decideApproval.ts';
import { parseTaskJob, queueGetTask } from '../../queues/getTask.ts';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { slotPipeline } from '../../queues/slotPipeline.ts';
import { loadScripts } from '../../queues/scripts.ts';
import { SwarmError } from '../errors.ts';
import { publishEvent } from '../swarm/events.ts';
import { describeApprover, decisionSchema, type Approver, type Decision } from '../tasks/approval.ts';
import type { TaskView } from '../tasks/schema.ts';
import { taskViewFromJob } from '../tasks/view.ts';

export interface Deciding {
  redis: RedisClient;
  prefix: string;
  /** Reads the task as the router does (wherever it moved). */
  get: (id: string) => Promise<TaskView | null>;
  /** The decision is recorded, its event not: told here, never thrown (the caller would take a recorded decision for a failed one). */
  onEventError?: (task: string, err: Error) => void;
  /** With replicated durability: waits until a replica holds what was written to `queue`'s slot (a 503 not_replicated otherwise). */
  confirm?: (queue: string, what: string) => Promise<void>;
}

export type DecisionRequest =
  | { decision: 'approved'; by: Approver; round?: number }
  | { decision: 'rejected'; by: Approver; reason: string; retry?: boolean; round?: number };

const FINISHED = new Set(['completed', 'failed', 'cancelled']);

function conflict(id: string, view: TaskView, message: string): SwarmError {
  return new SwarmError('conflict', `task ${id} ${message}`, { state: view.state, ...(view.approval ? { approval: view.approval.state } : {}) });
}

function decidedText(d: Decision): string {
  return `${d.decision} by ${describeApprover(d.by)} at ${new Date(d.at).toISOString()}`;
}

/** Why a task read as `view` takes no decision now; undefined when its output awaits one. */
function refusal(id: string, view: TaskView): SwarmError | undefined {
  const a = view.approval;
  const last = a?.decisions.at(-1);
  if (view.state === 'cancelled') return conflict(id, view, 'was cancelled; there is nothing to decide');
  if (!a) return conflict(id, view, `does not require approval (it is ${view.state}); only tasks submitted with approval: { required: true } wait for a decision`);
  if (view.state === 'awaiting-approval') return undefined;
  if (a.state === 'approved' || a.state === 'rejected') return conflict(id, view, `was already ${last ? decidedText(last) : a.state}`);
  if (a.state === 'timed-out') return conflict(id, view, `is past its approval deadline (${a.deadline === null ? 'unknown' : new Date(a.deadline).toISOString()}): it ${view.state === 'failed' ? 'has failed' : 'fails'} as timed out`);
  if (FINISHED.has(view.state)) return conflict(id, view, `has already ${view.state}`);
  return conflict(id, view, `has no output awaiting approval yet (it is ${view.state}): decide once its agent has finished and it is awaiting-approval`);
}

/** The task once decided, as read after the decision (the host completes, fails or reruns it a moment later). */
export async function decide(d: Deciding, id: string, req: DecisionRequest, now = Date.now()): Promise<TaskView> {
  const view = await d.get(id);
  if (!view) throw new SwarmError('not_found', `no task ${id}`);
  const refused = refusal(id, view);
  if (refused) throw refused;
  const approval = view.approval!;
  if (req.round !== undefined && req.round !== approval.round) {
    throw conflict(id, view, `awaits a decision on output ${approval.round}, not ${req.round}: another output came since (a rejection with retry); read it first`);
  }
  const record: Decision = decisionSchema.parse({
    decision: req.decision,
    by: req.by,
    at: now,
    round: approval.round,
    ...(req.decision === 'rejected' ? { reason: req.reason, retry: req.retry === true } : {}),
  });
  const queue = view.consensus ? CONSENSUS_QUEUE : nodeQueueName(view.node);
  const res = await decideApproval(d.redis, { prefix: d.prefix, queue, node: view.node, id, now, decision: JSON.stringify(record), round: approval.round });
  if (res.outcome !== 'decided') {
    const fresh = (await d.get(id)) ?? view;
    switch (res.outcome) {
      case 'not-found':
        if (fresh.state === 'cancelled') throw conflict(id, fresh, 'was cancelled; there is nothing to decide');
        throw new SwarmError('not_found', `no task ${id}`);
      case 'expired':
        throw conflict(id, fresh, `is past its approval deadline (${new Date(res.deadline).toISOString()}): it fails as timed out when a host picks it up`);
      case 'changed':
        throw conflict(id, fresh, `awaits a decision on output ${res.round} now (a rejection with retry made another): read it first`);
      default:
        // Decided, promoted at its deadline, or cancelled between the read and the step: say what it is now.
        throw refusal(id, fresh) ?? conflict(id, fresh, 'changed while the decision was being recorded; read it and decide again');
    }
  }
  await d.confirm?.(queue, `the decision on task ${id}`);
  // After the step: an event lost here (a crash, Redis gone a moment, a producer's ACL user that may not add
  // events) loses only the event; the decision is on the task and in its queue's stream (a watch's approval-decided).
  await publishEvent(d.redis, d.prefix, 'approval:decided', {
    task: id,
    type: view.type,
    node: view.node,
    decision: record.decision,
    by: record.by,
    at: record.at,
    round: record.round,
    ...(record.reason !== undefined ? { reason: record.reason, retry: record.retry === true } : {}),
  }).catch((err: Error) => d.onEventError?.(id, err));
  // Read back; should that read fail, the decision stands and the task is, as the step left it, waiting to be finished.
  const after = await d.get(id).catch(() => null);
  return after ?? { ...view, state: 'waiting', approval: { ...approval, state: record.decision === 'approved' ? 'approved' : record.retry ? 'pending' : 'rejected', decisions: [...approval.decisions, record] } };
}

export const APPROVALS_LIMIT = { default: 20, max: 200 } as const;

export interface AwaitingPage {
  /** Tasks awaiting approval, soonest deadline first. */
  tasks: TaskView[];
  /** How many the indexes hold with a deadline still ahead (an upper bound: a cancelled task's entry stays until a day past its deadline). */
  total: number;
}

/**
 * Tasks whose output awaits approval now, soonest deadline first: the
 * awaiting-approval index of every slot group holding `nodes` and of the
 * consensus queue (one read each), then each candidate's job (one read each),
 * kept only if it still awaits.
 */
export async function listAwaiting(d: Deciding, nodes: readonly string[], limit: number, now = Date.now()): Promise<AwaitingPage> {
  const keys = [...new Set([...nodes.map((n) => awaitingApprovalKey(d.prefix, nodeQueueName(n))), awaitingApprovalKey(d.prefix, CONSENSUS_QUEUE)])];
  const p = slotPipeline(d.redis);
  for (const k of keys) {
    p.zrangebyscore(k, now, '+inf', 'WITHSCORES', 'LIMIT', 0, limit);
    p.zcount(k, now, '+inf');
  }
  const replies = ((await p.exec()) ?? []).map(([err, v]) => {
    if (err) throw err;
    return v;
  });
  const entries: { node: string; id: string; deadline: number }[] = [];
  let total = 0;
  for (let i = 0; i < replies.length; i += 2) {
    const flat = replies[i] as string[];
    total += Number(replies[i + 1]);
    for (let j = 0; j + 1 < flat.length; j += 2) {
      const [node, id] = flat[j]!.split(' ');
      if (node && id) entries.push({ node, id, deadline: Number(flat[j + 1]) });
    }
  }
  entries.sort((a, b) => a.deadline - b.deadline || a.id.localeCompare(b.id));
  const chosen = entries.slice(0, limit);
  const plain = chosen.filter((e) => e.node !== CONSENSUS_QUEUE);
  const read = await readJobs(d.redis, d.prefix, plain);
  const views = new Map<string, TaskView>();
  plain.forEach((e, i) => {
    const job = read[i];
    if (job) views.set(e.id, taskViewFromJob(e.id, e.node, job));
  });
  // Replicated tasks are read as the router reads them (their view is built from the consensus queue's job).
  for (const e of chosen) if (e.node === CONSENSUS_QUEUE) {
    const v = await d.get(e.id);
    if (v) views.set(e.id, v);
  }
  const tasks = chosen.flatMap((e) => {
    const v = views.get(e.id);
    return v?.state === 'awaiting-approval' ? [v] : [];
  });
  return { tasks, total };
}

/** The jobs, one getTask each; a Redis that restarted has lost the script: loaded, and read once more. */
async function readJobs(redis: RedisClient, prefix: string, entries: readonly { node: string; id: string }[]) {
  for (let attempt = 0; ; attempt++) {
    const jobs = slotPipeline(redis);
    for (const e of entries) queueGetTask(jobs, { prefix, node: e.node, id: e.id });
    const results = (await jobs.exec()) ?? [];
    const err = results.find(([e]) => e)?.[0];
    if (!err) return results.map(([, v]) => parseTaskJob(v));
    if (attempt > 0 || !err.message.includes('NOSCRIPT')) throw err;
    await loadScripts(redis);
  }
}
