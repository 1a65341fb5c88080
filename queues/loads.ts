// The published node loads (see readLoads-2.lua, keepLoads-1.lua): the leading
// coordinator writes the body and its expiring version; routers read them in one command.
import type { Cluster, Redis } from 'ioredis';
import { swarmKeys } from './keys.ts';
import { scripts } from './scripts.ts';

export type LoadsRead =
  /** No version published: nobody leads, or the leader stopped. */
  | { published: false }
  /** `body` is absent when the caller already holds `version`. */
  | { published: true; version: string; body?: string };

export async function readLoads(redis: Redis | Cluster, prefix: string, heldVersion: string | undefined): Promise<LoadsRead> {
  const k = swarmKeys(prefix);
  const reply = (await scripts.readLoads.run(redis, [k.loadsVersion, k.loads], [heldVersion ?? ''])) as [string, string?] | null;
  if (!reply) return { published: false };
  const [version, body] = reply;
  return body === undefined ? { published: true, version } : { published: true, version, body };
}

/** A new body and its version, in one MULTI so no reader sees the version before its body. */
export async function publishLoads(redis: Redis | Cluster, prefix: string, version: string, body: string, ttlMs: number): Promise<void> {
  const k = swarmKeys(prefix);
  const replies = await redis.multi().set(k.loads, body).set(k.loadsVersion, version, 'PX', ttlMs).exec();
  const failed = replies?.find(([err]) => err);
  if (!replies || failed) throw failed?.[0] ?? new Error('publishing the loads: the MULTI was discarded');
}

/** Nothing changed: the version stays, and stays fresh, if it is still `version`. False: it expired or is another's (publish again). */
export async function keepLoadsFresh(redis: Redis | Cluster, prefix: string, version: string, ttlMs: number): Promise<boolean> {
  return (await scripts.keepLoads.run(redis, [swarmKeys(prefix).loadsVersion], [version, ttlMs])) === 1;
}
