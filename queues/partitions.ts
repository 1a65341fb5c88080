// Coordinators sharing the work (see joinCoordinators-2.lua, acquirePartition-2.lua,
// isolateHost-6.lua): membership, one lease per partition, and the fenced first
// step of a host's recovery. A partition is named `g<k>` (a slot group),
// `parked`, or `host:<id>`; its lease lives in its own slot (the group's tag, or
// the swarm's for a host, beside the roster its recovery edits).
import type { Cluster, Redis } from 'ioredis';
import { groupKeys, swarmKeys } from './keys.ts';
import { scripts } from './scripts.ts';

export interface Member {
  id: string;
  /** When its membership lapses unless refreshed (ms, Redis's clock). */
  expiresAt: number;
  /** The duties it runs: 'b' balances slot groups, 'h' monitors hosts. */
  roles: string;
}

/** Refreshes (ttlMs > 0) or drops (0) this coordinator's membership; the live members and Redis's clock. */
export async function joinCoordinators(redis: Redis | Cluster, prefix: string, id: string, ttlMs: number, details: string, roles = 'bh'): Promise<{ now: number; members: Member[] }> {
  const k = swarmKeys(prefix);
  const reply = (await scripts.joinCoordinators.run(redis, [k.coordinators, k.coordinatorDetails], [id, ttlMs, details, roles])) as (string | number)[];
  const members: Member[] = [];
  for (let i = 1; i + 2 < reply.length; i += 3) members.push({ id: String(reply[i]), expiresAt: Number(reply[i + 1]), roles: String(reply[i + 2]) });
  return { now: Number(reply[0]), members };
}

/** The lease and token-floor keys of a partition. */
export function partitionKeys(prefix: string, partition: string): [lease: string, floor: string] {
  if (partition.startsWith('host:')) {
    const k = swarmKeys(prefix);
    return [k.hostPartition(partition.slice(5)), k.partitionToken];
  }
  // A group's lease sits beside its fence, which is the floor (groupKeys takes a group's name as it takes a node's).
  const g = groupKeys(prefix, partition);
  return [g.partition, g.fence];
}

export interface PartitionLease {
  /** The caller's token when it holds the lease after the call, else 0. */
  token: number;
  /** Who holds it now ('' when nobody). */
  holder: string;
  /** How long the lease has left (ms). */
  ttlMs: number;
}

/** Claims (or renews) a partition's lease, or releases it when held; see acquirePartition-2.lua. */
export async function acquirePartition(redis: Redis | Cluster, prefix: string, partition: string, candidate: string, ttlMs: number, mode: 'claim' | 'release'): Promise<PartitionLease> {
  const [token, holder, ttl] = (await scripts.acquirePartition.run(redis, partitionKeys(prefix, partition), [candidate, ttlMs, mode])) as [number, string, number];
  return { token: Number(token), holder: String(holder), ttlMs: Math.max(0, Number(ttl)) };
}

/** The first step of a host's recovery, only for the holder of its partition with this token: true when done. */
export async function isolateHost(redis: Redis | Cluster, prefix: string, hostId: string, holder: { id: string; token: number }, detectedAt: number): Promise<boolean> {
  const k = swarmKeys(prefix);
  const done = await scripts.isolateHost.run(redis, [k.hostPartition(hostId), k.hosts, k.hostConnections, k.hostsReady, k.failedHosts, k.endpointSilence], [hostId, holder.id, holder.token, detectedAt]);
  return Number(done) === 1;
}

/** The membership as stored: Redis's clock, each member's expiry, what each wrote about itself, and the swarm lease's holder. */
export async function readCoordinators(redis: Redis | Cluster, prefix: string): Promise<{ now: number; expiries: Record<string, string>; details: Record<string, string>; leader: string | null }> {
  const k = swarmKeys(prefix);
  // All four in the swarm's slot: one pipeline, on a Cluster too.
  const replies = await redis.pipeline().time().hgetall(k.coordinators).hgetall(k.coordinatorDetails).get(k.leaseOwner).exec();
  const failed = replies?.find(([err]) => err);
  if (!replies || failed) throw failed?.[0] ?? new Error('reading the coordinators: the pipeline was discarded');
  const [sec, micro] = replies[0]![1] as [string, string];
  return {
    now: Number(sec) * 1000 + Math.floor(Number(micro) / 1000),
    expiries: replies[1]![1] as Record<string, string>,
    details: replies[2]![1] as Record<string, string>,
    leader: replies[3]![1] as string | null,
  };
}
