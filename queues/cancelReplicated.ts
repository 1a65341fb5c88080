// Cancelling a replicated task's parent job in the consensus queue (see cancelReplicated-16.lua).
import type { Cluster, Redis } from 'ioredis';
import { bullKey, CONSENSUS_QUEUE, swarmKeys } from './keys.ts';
import { scripts } from './scripts.ts';

export interface CancelReplicatedRequest {
  prefix: string;
  id: string;
  now: number;
}

export type CancelReplicatedResult =
  /** `replicas`: the replica ids the task's data named as it was cancelled (null: it named none that read). */
  | { outcome: 'cancelled'; tombstone: string; replicas: string[] | null }
  | { outcome: 'already-cancelled'; tombstone: string }
  | { outcome: 'finished'; state: 'completed' | 'failed' }
  /** Its vote runs (or, flowless, its driver is looking at its replicas): try again in a moment. */
  | { outcome: 'voting' }
  | { outcome: 'not-found' };

export async function cancelReplicated(redis: Redis | Cluster, r: CancelReplicatedRequest): Promise<CancelReplicatedResult> {
  const k = (s: string) => bullKey(r.prefix, CONSENSUS_QUEUE, s);
  const reply = (await scripts.cancelReplicated.run(
    redis,
    [
      k(r.id), k('waiting-children'), k('delayed'), k('prioritized'), k('completed'), k('failed'), k('wait'), k('paused'), k('active'), k('events'),
      swarmKeys(r.prefix).cancelledReplicated, k(`${r.id}:lock`), k(`${r.id}:dependencies`), k(`${r.id}:processed`), k(`${r.id}:failed`), k(`${r.id}:logs`),
    ],
    [r.id, r.now, CONSENSUS_QUEUE],
  )) as unknown[];
  const [code, a, b] = reply.map((v) => (v === null || v === undefined ? '' : String(v)));
  if (code === '1') return { outcome: 'cancelled', tombstone: a ?? '', replicas: replicaIds(b) };
  if (code === '2') return { outcome: 'already-cancelled', tombstone: a ?? '' };
  if (code === '-1') return { outcome: 'not-found' };
  if (a === 'completed' || a === 'failed') return { outcome: 'finished', state: a };
  return { outcome: 'voting' };
}

function replicaIds(json: string | undefined): string[] | null {
  try {
    const ids: unknown = JSON.parse(json ?? '');
    return Array.isArray(ids) && ids.length > 0 && ids.every((x) => typeof x === 'string') ? ids : null;
  } catch {
    return null;
  }
}
