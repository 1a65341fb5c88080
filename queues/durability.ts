// Replicated durability: an acknowledgement waits until a replica holds the
// write. Redis replicates asynchronously, so a master that dies right after a
// write may take it along (its replica, promoted, never saw it). WAIT blocks
// the connection that wrote until `replicas` replicas have acknowledged every
// write sent on it before, or the timeout passes. On a Cluster each master
// replicates its own slots, so WAIT goes to the master serving the slot that
// was written, on ioredis's connection to that master: the one the write took.
import type { Redis } from 'ioredis';
import { isCluster, type RedisClient } from './redisTarget.ts';
import { serverOf } from './serverOf.ts';

export interface DurabilityPolicy {
  /** `fast`: acknowledge once the master has the write (no extra command). `replicated`: once a replica has it too. */
  mode: 'fast' | 'replicated';
  /** Replicas that must hold the write (WAIT's numreplicas). */
  replicas: number;
  /** How long to wait for them before the acknowledgement fails. */
  timeoutMs: number;
}

/** The replicas did not confirm in time, or the master went away first: the write may be lost. */
export class NotReplicatedError extends Error {
  constructor(
    message: string,
    readonly server: string,
  ) {
    super(message);
    this.name = 'NotReplicatedError';
  }
}

/** When each connection a WAIT went on (or that is watched) was last made ready: ms since the epoch; 0 if it was ready when first seen. */
const readyAt = new WeakMap<Redis, number>();

/**
 * Notes from now on when `conn` is made again. A WAIT covers the writes of
 * the socket it is sent on only, so a write made before the connection's last
 * reconnect (on a socket to a master since lost) cannot be confirmed by one.
 */
export function watchConnection(conn: Redis): void {
  if (readyAt.has(conn)) return;
  readyAt.set(conn, conn.status === 'ready' ? 0 : Date.now());
  // ioredis emits 'ready' a tick after it flushes its queued commands, before any of their replies is read.
  conn.on('ready', () => readyAt.set(conn, Date.now()));
}

/** When `conn` was last made ready (undefined: not watched). */
export function connectionMadeAt(conn: Redis): number | undefined {
  return readyAt.get(conn);
}

async function waitOn(redis: Redis, address: string, policy: DurabilityPolicy): Promise<void> {
  const where = address || 'the Redis server';
  // ioredis sends a command again on its next socket when the first one closed
  // before the reply (autoResendUnfulfilledCommands): a WAIT sent again covers
  // only that socket's writes (none), so it would confirm a write the new
  // master never had. A WAIT answered on another socket than it left on counts
  // for nothing.
  const socket = redis.stream;
  let acked: number;
  try {
    acked = Number(await redis.call('WAIT', String(policy.replicas), String(policy.timeoutMs)));
  } catch (err) {
    throw new NotReplicatedError(`${where} went away before its replicas confirmed the write (${(err as Error).message})`, address);
  }
  if (redis.stream !== socket) throw new NotReplicatedError(`the connection to ${where} was made again before its replicas confirmed the write`, address);
  if (acked < policy.replicas)
    throw new NotReplicatedError(`${acked} of ${policy.replicas} replica(s) of ${where} confirmed the write within ${policy.timeoutMs} ms`, address);
}

/** The WAIT a connection has out, and the one its next callers share. */
interface Turns {
  sent?: Promise<void>;
  queued?: Promise<void>;
}
const turnsOf = new WeakMap<Redis, Map<string, Turns>>();

/** The next shared WAIT on `redis` (nextWait), counted for a caller only if the connection was not made again after its write. */
async function sharedWait(redis: Redis, address: string, policy: DurabilityPolicy, writtenAt: number): Promise<void> {
  watchConnection(redis);
  await nextWait(redis, address, policy);
  // The WAIT answered may have gone on a socket made after this caller's write (queued behind one that was resent).
  // Strictly after: a write answered on the old socket was answered before it closed, and making a socket takes longer than a ms.
  const made = readyAt.get(redis) ?? 0;
  if (made > writtenAt)
    throw new NotReplicatedError(`the connection to ${address || 'the Redis server'} was made again after the write, so no WAIT on it can confirm the write`, address);
}

/**
 * One WAIT out per connection at a time (for one policy), shared: WAIT blocks
 * the connection it is sent on, so while a master has no replica, a WAIT per
 * caller would queue each for the whole timeout, and everything else sent on
 * that connection (a Worker's lock renewals, its pickups and finishes) behind
 * them, long enough for locks to lapse. A WAIT covers every write sent on the
 * connection before it, so callers that come while one is out share the next
 * one (the one out may have left before their write), sent once it answers.
 */
function nextWait(redis: Redis, address: string, policy: DurabilityPolicy): Promise<void> {
  const byPolicy = turnsOf.get(redis) ?? new Map<string, Turns>();
  turnsOf.set(redis, byPolicy);
  const key = `${policy.replicas}/${policy.timeoutMs}`;
  const turns = byPolicy.get(key) ?? {};
  byPolicy.set(key, turns);
  const send = (): Promise<void> => {
    const sent: Promise<void> = waitOn(redis, address, policy).finally(() => {
      if (turns.sent === sent) turns.sent = undefined;
    });
    turns.sent = sent;
    return sent;
  };
  if (!turns.sent) return send();
  turns.queued ??= turns.sent.then(
    () => undefined,
    () => undefined,
  ).then(() => {
    turns.queued = undefined;
    return send();
  });
  return turns.queued;
}

/**
 * Resolves once `policy.replicas` replicas hold every write `client` has sent
 * so far to the slots of `keys` (one WAIT per master on a Cluster, at once);
 * throws NotReplicatedError otherwise. `writtenAt` (Date.now() before the
 * writes were sent; by default, now) dates them: a connection made again since
 * cannot confirm them. With `fast`, sends nothing.
 */
export async function awaitReplicas(client: RedisClient, keys: readonly string[], policy: DurabilityPolicy, writtenAt = Date.now()): Promise<void> {
  if (policy.mode === 'fast' || keys.length === 0) return;
  if (!isCluster(client)) {
    await sharedWait(client, '', policy, writtenAt);
    return;
  }
  const servers = new Map<string, Redis>();
  for (const key of keys) {
    const s = await serverOf(client, key);
    if (!s) throw new NotReplicatedError(`no master serves the slot of ${key} (a failover under way): the write is not confirmed`, '');
    servers.set(s.address, s.redis);
  }
  await Promise.all([...servers].map(([address, redis]) => sharedWait(redis, address, policy, writtenAt)));
}
