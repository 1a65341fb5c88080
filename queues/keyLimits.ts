// Where a key's limits are written and listed: the copy its scripts enforce, in
// the key's slot (keys.ts keyStateKeys), and the swarm's list of keys and their
// limits (`{swarm}:key-limits`, `{swarm}:key-names`), which routers read
// weights from and GET /api/keys lists. The key's slot is written first: it is
// what counts.
import type { Cluster, Redis } from 'ioredis';
import { keyStateKeys, swarmKeys } from './keys.ts';

/** Replaces the key's limits: `fields` as its limits hash holds them (none: no limit), `json` as the swarm lists them (null: none). */
export async function writeKeyLimits(redis: Redis | Cluster, r: { prefix: string; key: string; fields: Record<string, string>; json: string | null }): Promise<void> {
  const k = keyStateKeys(r.prefix, r.key);
  const own = redis.multi().del(k.limits);
  if (Object.keys(r.fields).length) own.hset(k.limits, r.fields);
  await checked(own.exec());
  const s = swarmKeys(r.prefix);
  const listed = redis.multi().sadd(s.keyNames, r.key);
  if (r.json === null) listed.hdel(s.keyLimits, r.key);
  else listed.hset(s.keyLimits, r.key, r.json);
  await checked(listed.exec());
}

async function checked(exec: Promise<[Error | null, unknown][] | null>): Promise<void> {
  const replies = (await exec) ?? [];
  const failed = replies.find(([err]) => err);
  if (failed) throw failed[0];
}

/** Every key's limits as the swarm lists them (key → JSON), and every key a task has carried. */
export async function readKeyList(redis: Redis | Cluster, prefix: string): Promise<{ limits: Record<string, string>; names: string[] }> {
  const s = swarmKeys(prefix);
  const [limits, names] = await Promise.all([redis.hgetall(s.keyLimits), redis.smembers(s.keyNames)]);
  return { limits, names };
}

/** Records that a task carried `key` (a submitting process does it once per key). */
export async function noteKeyName(redis: Redis | Cluster, prefix: string, key: string): Promise<void> {
  await redis.sadd(swarmKeys(prefix).keyNames, key);
}

/** Weights only: what a router needs to place keyed tasks (key → limits JSON). */
export async function readKeyLimitsJson(redis: Redis | Cluster, prefix: string): Promise<Record<string, string>> {
  return await redis.hgetall(swarmKeys(prefix).keyLimits);
}
