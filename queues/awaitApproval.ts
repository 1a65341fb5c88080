// A finished task's output parked to await approval, by the holder of the
// job's lock (see awaitApproval-9.lua).
import type { Cluster, Redis } from 'ioredis';
import { awaitingApprovalKey, awaitingMember, bullKey } from './keys.ts';
import { scripts } from './scripts.ts';

export interface AwaitApprovalRequest {
  prefix: string;
  /** The BullMQ queue the job is in: a node's queue, or the consensus queue (a replicated task). */
  queue: string;
  id: string;
  /** The job's lock token, as the Worker handed it to the processor. */
  token: string;
  now: number;
  deadline: number;
  /** The awaiting record, already JSON (src/tasks/approval.ts), and its round. */
  awaiting: string;
  round: number;
  /** The node the task is on (the consensus queue for a replicated task): the index names it. */
  node: string;
}

/** awaiting; gone: no such job (cancelled meanwhile); not-holder: the lock is another's or gone; not-active: not running. */
export type AwaitApprovalResult = 'awaiting' | 'gone' | 'not-holder' | 'not-active';

export async function awaitApproval(redis: Redis | Cluster, r: AwaitApprovalRequest): Promise<AwaitApprovalResult> {
  const k = (s: string) => bullKey(r.prefix, r.queue, s);
  const res = Number(
    await scripts.awaitApproval.run(
      redis,
      [k(r.id), k(`${r.id}:lock`), k('active'), k('delayed'), k('stalled'), k('events'), k('meta'), k('marker'), awaitingApprovalKey(r.prefix, r.queue)],
      [r.id, r.token, r.now, r.deadline, r.awaiting, r.round, awaitingMember(r.node, r.id)],
    ),
  );
  if (res === 0) return 'awaiting';
  if (res === -1) return 'gone';
  if (res === -3) return 'not-active';
  return 'not-holder';
}
