// The one server that answers for a key. Commands about connections (CLIENT
// ID, CLIENT LIST, INFO) name no key, so on a Cluster ioredis sends them to any
// master, and a client id means nothing on another master (each counts its
// own from 1). A host and the health monitor therefore both ask the master
// that serves the swarm's slot, and the host says which master that was.
import type { Redis } from 'ioredis';
import { isCluster, type RedisClient } from './redisTarget.ts';
import { keySlot } from './slotPipeline.ts';
import { ensureConnected } from './connection.ts';

export interface ServerOf {
  /** The connection to that server (the client itself on one server). */
  redis: Redis;
  /** `host:port` of the master on a Cluster; '' on one server. */
  address: string;
}

/** The server serving `key`'s slot, or undefined while the Cluster knows no master for it (a failover under way). */
export async function serverOf(client: RedisClient, key: string): Promise<ServerOf | undefined> {
  if (!isCluster(client)) return { redis: client, address: '' };
  await ensureConnected(client);
  const address = client.slots[keySlot(key)]?.[0];
  const redis = address === undefined ? undefined : client.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === address);
  return redis && address !== undefined ? { redis, address } : undefined;
}

/** What a host announces for its connection: the client id, and on a Cluster the master it is connected to (`<id>@<host:port>`). */
export function connectionMark(id: number | string, address: string): string {
  return address ? `${id}@${address}` : String(id);
}

/** The id in a mark made on `address`, or undefined: made on another master (the slot moved since), or not a mark. */
export function idOnServer(mark: string, address: string): string | undefined {
  const m = /^([0-9]+)(?:@(.+))?$/.exec(mark);
  return m && (m[2] ?? '') === address ? m[1] : undefined;
}

/** Redis's TIME reply as milliseconds. */
export function timeMs(time: readonly unknown[]): number {
  return Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
}

/**
 * Each server's clock (ms) by address: one entry, '', on one server; every
 * master's on a Cluster, where a stream id is only comparable with the clock of
 * the master that wrote it (their clocks may differ by the skew between machines).
 */
export async function clocksOf(client: RedisClient): Promise<Map<string, number>> {
  if (!isCluster(client)) return new Map([['', timeMs(await client.time())]]);
  await ensureConnected(client);
  const masters = client.nodes('master');
  const times = await Promise.all(masters.map((m) => m.time()));
  return new Map(masters.map((m, i) => [`${m.options.host}:${m.options.port}`, timeMs(times[i]!)]));
}

/** The address clocksOf names the server of `key` by: '' on one server, its master's `host:port` on a Cluster (undefined while no master serves it). */
export function addressOf(client: RedisClient, key: string): string | undefined {
  return isCluster(client) ? client.slots[keySlot(key)]?.[0] : '';
}
