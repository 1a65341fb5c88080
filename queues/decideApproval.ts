// A decision on an output awaiting approval, recorded only while it still
// awaits, and the task sent back to its queue (see decideApproval-8.lua).
import type { Cluster, Redis } from 'ioredis';
import { awaitingApprovalKey, awaitingMember, bullKey } from './keys.ts';
import { scripts } from './scripts.ts';

export interface DecideApprovalRequest {
  prefix: string;
  /** The BullMQ queue holding the task: its node's queue, or the consensus queue (a replicated task). */
  queue: string;
  id: string;
  now: number;
  /** The decision record, already JSON (src/tasks/approval.ts). */
  decision: string;
  /** The round of the output it decides on: refused if another awaits now. */
  round: number;
  /** The node the task is on (the consensus queue for a replicated task). */
  node: string;
}

export type DecideApprovalResult =
  | { outcome: 'decided' }
  | { outcome: 'not-found' }
  | { outcome: 'not-awaiting' }
  /** Decided before: the decision that won, as JSON. */
  | { outcome: 'already-decided'; decision: string }
  | { outcome: 'expired'; deadline: number }
  /** Another output awaits now (its round): a decision names the one it was made on. */
  | { outcome: 'changed'; round: number };

export async function decideApproval(redis: Redis | Cluster, r: DecideApprovalRequest): Promise<DecideApprovalResult> {
  const k = (s: string) => bullKey(r.prefix, r.queue, s);
  const reply = (await scripts.decideApproval.run(
    redis,
    [k(r.id), k('delayed'), k('wait'), k('meta'), k('active'), k('marker'), k('events'), awaitingApprovalKey(r.prefix, r.queue)],
    [r.id, r.now, r.decision, r.round, awaitingMember(r.node, r.id)],
  )) as unknown[];
  const [code, what, detail] = reply.map((v) => (v === null || v === undefined ? '' : String(v)));
  if (code === '1') return { outcome: 'decided' };
  if (code === '-1') return { outcome: 'not-found' };
  if (what === 'decided') return { outcome: 'already-decided', decision: detail ?? '' };
  if (what === 'expired') return { outcome: 'expired', deadline: Number(detail) };
  if (what === 'changed') return { outcome: 'changed', round: Number(detail) };
  return { outcome: 'not-awaiting' };
}
