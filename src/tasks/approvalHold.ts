// The host's side of approval (src/tasks/approval.ts): what the holder of a
// job's lock does with a task that needs approval. When its processor returns,
// the output is parked with the task (queues/awaitApproval.ts) and the agent
// is free. When the task comes back (decided, or its deadline reached), the
// host that picks it up reads the job's approval fields and does what
// `pickupOf` says, without running the processor unless a rejection asked
// for a retry. Used by the node runner (src/agents/nodeRunner.ts) and by the
// round driver for replicated tasks (src/consensus/runtime/vote.ts).
import type { RedisClient } from '../../queues/redisTarget.ts';
import { awaitApproval, type AwaitApprovalResult } from '../../queues/awaitApproval.ts';
import { awaitReplicas, NotReplicatedError, type DurabilityPolicy } from '../../queues/durability.ts';
import { bullKey } from '../../queues/keys.ts';
import { publishEvent } from '../swarm/events.ts';
import { AWAITING_FIELD, DECISION_FIELD, pickupOf, type ApprovalTerms, type Awaiting, type Pickup } from './approval.ts';

export interface ApprovalQueue {
  redis: RedisClient;
  prefix: string;
  /** The BullMQ queue of the jobs: a node's queue, or the consensus queue. */
  queue: string;
  /** Where the task is, for events: the node, or the consensus queue. */
  node: string;
  /** With replicated durability, a parked output counts once a replica has it. */
  durability?: DurabilityPolicy;
}

/** What to do with an approval task just picked up (one HMGET; only approval tasks pay it). */
export async function approvalPickup(q: ApprovalQueue, id: string, now = Date.now()): Promise<Pickup> {
  const [awaiting, decision] = await q.redis.hmget(bullKey(q.prefix, q.queue, id), AWAITING_FIELD, DECISION_FIELD);
  return pickupOf(id, { awaiting: awaiting ?? null, decision: decision ?? null }, now);
}

/** The record of an output about to wait: its deadline is the terms' time limit from now. */
export function awaitingRecord(terms: ApprovalTerms, output: unknown, agent: string | null, round: number, now = Date.now()): Awaiting {
  return { output: output === undefined ? null : output, agent, since: now, deadline: now + terms.timeoutMs, round };
}

/**
 * Parks the task with its output until its deadline, as the lock holder.
 * Anything but `awaiting` means the job is not this holder's any more
 * (cancelled, or its lock lost): the caller counts the output, never records it.
 */
export async function holdForApproval(q: ApprovalQueue, id: string, token: string, awaiting: Awaiting, onUnconfirmed?: (err: Error) => void): Promise<AwaitApprovalResult> {
  const res = await awaitApproval(q.redis, { prefix: q.prefix, queue: q.queue, node: q.node, id, token, now: Date.now(), deadline: awaiting.deadline, awaiting: JSON.stringify(awaiting), round: awaiting.round });
  if (res === 'awaiting' && q.durability?.mode === 'replicated') {
    // Not confirmed: a failover may undo the park, the job then stalls and runs again (at least once, as for any pickup).
    await awaitReplicas(q.redis, [bullKey(q.prefix, q.queue, id)], q.durability).catch((err: Error) => {
      if (err instanceof NotReplicatedError) onUnconfirmed?.(err);
      else throw err;
    });
  }
  return res;
}

/** The approval:decided event of a deadline reached with no decision (the host failing the task publishes it). */
export async function publishTimedOut(q: ApprovalQueue, task: { id: string; type: string }, round: number): Promise<void> {
  await publishEvent(q.redis, q.prefix, 'approval:decided', { task: task.id, type: task.type, node: q.node, decision: 'timed-out', at: Date.now(), round });
}
