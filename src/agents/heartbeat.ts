// A host's standing with the health monitor: one beat per interval for all its
// agents, its connection id announced (so a dead process is noticed when Redis
// drops the connection), its HTTP agents' silent endpoints (with a beat, when
// they change), and a call to rejoin when the monitor has failed it meanwhile,
// or when its record is gone with no failure mark (Redis lost its data: a
// server that keeps nothing on disk restarted, a failover to an empty replica).
// Leaving takes the host out of all of them.
import type { Redis } from 'ioredis';
import { isCluster, type RedisClient } from '../../queues/redisTarget.ts';
import { swarmKeys } from '../../queues/keys.ts';
import type { AgentInfo, AgentSpec } from './spec.ts';
import { slotPipeline } from '../../queues/slotPipeline.ts';
import { connectionMark, serverOf } from '../../queues/serverOf.ts';

export class Heartbeat {
  private readonly keys;
  private timer: NodeJS.Timeout | undefined;
  private rejoining: Promise<void> | undefined;
  /** A beat has written its record: from then on a beat that adds it anew finds it was lost. */
  private recorded = false;
  /** The connection last announced; on a Cluster a failover or a reshard of the swarm's slot replaces it. */
  private announced: { redis: Redis; address: string } | undefined;
  private reannouncing: Promise<void> | undefined;
  /**
   * The endpoint silence last written; undefined until the first beat, which
   * writes it whatever it is (clearing what a previous life of this host id left).
   */
  private publishedSilence: string | null | undefined;

  constructor(
    private readonly o: {
      redis: RedisClient;
      prefix: string;
      hostId: string;
      intervalMs: number;
      /** A stopping host does not rejoin. */
      isStopping: () => boolean;
      /** The monitor failed this host at `failedAt`, or (null) its record was lost with Redis's data; called once until it settles. */
      rejoin: (failedAt: number | null) => Promise<void>;
      /** A rejoin that failed; the failure mark stays, so the next beat tries again. */
      onRejoinError: (err: Error) => void;
      /** Its HTTP agents' silent endpoints as published (EndpointSilence.published): null when all answer. */
      silence?: () => string | null;
    },
  ) {
    this.keys = swarmKeys(o.prefix);
  }

  /** Beats once (its failure is start's), then every interval. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      this.beat().catch(() => {});
    }, this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * One write per host per interval, for all its agents; the same round trip
   * asks whether the health monitor has failed this host meanwhile (it was
   * stopped, or cut off, past failedAfterMs), and carries its endpoints'
   * silence when that changed since the last beat that wrote it.
   */
  private async beat(): Promise<void> {
    const { redis, hostId } = this.o;
    const p = slotPipeline(redis).zadd(this.keys.hosts, Date.now(), hostId).hget(this.keys.failedHosts, hostId);
    const silence = this.o.silence?.() ?? null;
    const writeSilence = silence !== this.publishedSilence;
    if (writeSilence) {
      if (silence === null) p.hdel(this.keys.endpointSilence, hostId);
      else p.hset(this.keys.endpointSilence, hostId, silence);
    }
    const res = await p.exec();
    // Written only once Redis took it; otherwise the next beat writes it again.
    if (writeSilence && res?.[2] && res[2][0] === null) this.publishedSilence = silence;
    const failedAt = (res?.[1]?.[1] ?? null) as string | null;
    // The monitor takes a host out and marks it failed in one step (isolateHost-6.lua): a record added anew with no
    // mark beside it, after this host had one, went with the rest of Redis's data.
    const added = res?.[0]?.[0] === null ? res[0][1] : undefined;
    const lost = this.recorded && added === 1 && failedAt === null;
    if (added !== undefined) this.recorded = true;
    this.announceIfMoved();
    if ((failedAt === null && !lost) || this.o.isStopping() || this.rejoining) return;
    // Nobody awaits a rejoin: its failure is reported here, or it would end the process as an unhandled rejection.
    this.rejoining = this.o
      .rejoin(failedAt === null ? null : Number(failedAt))
      .catch((err: unknown) => this.o.onRejoinError(err instanceof Error ? err : new Error(String(err))))
      .finally(() => (this.rejoining = undefined));
  }

  /** The health monitor watches this connection: when the process dies, Redis drops it at once. */
  async announceConnection(): Promise<void> {
    // On a Cluster: the connection to the master the monitor asks, the one serving the swarm's slot.
    const server = await serverOf(this.o.redis, this.keys.hostConnections);
    if (!server) throw new Error('no master serves the swarm slot yet; the connection is announced at the next ready');
    const id = await server.redis.client('ID');
    await this.o.redis.hset(this.keys.hostConnections, this.o.hostId, connectionMark(id, server.address));
    this.announced = server;
  }

  /**
   * A Cluster stays ready through a failover, so no 'ready' says the swarm's
   * slot has a new master (its promoted replica, or where a reshard moved it):
   * each beat compares the master and the connection to it with the ones
   * announced (no command: ioredis's slot map) and announces again when they differ.
   */
  private announceIfMoved(): void {
    const was = this.announced;
    if (!was || this.reannouncing || !isCluster(this.o.redis) || this.o.isStopping()) return;
    this.reannouncing = serverOf(this.o.redis, this.keys.hostConnections)
      .then(async (now) => {
        if (now && (now.address !== was.address || now.redis !== was.redis)) await this.announceConnection();
      })
      .catch(() => {}) // the next beat tries again
      .finally(() => (this.reannouncing = undefined));
  }

  /**
   * Its agents are spawned and working: from now on late beats say something
   * about the host. Spawning blocks a host's event loop for seconds, so the
   * health monitor builds no heartbeat baseline from the beats before this.
   */
  async markReady(): Promise<void> {
    await this.o.redis.hset(this.keys.hostsReady, this.o.hostId, String(Date.now()));
  }

  /**
   * Rejoining: the monitor's failure mark goes, and the connection is announced
   * again; it is starting again until markReady. The recovery deleted its
   * endpoint silence: the next beat writes it again.
   */
  async readmit(): Promise<void> {
    await this.o.redis.multi().hdel(this.keys.failedHosts, this.o.hostId).hdel(this.keys.hostsReady, this.o.hostId).exec();
    this.publishedSilence = undefined;
    await this.announceConnection();
  }

  /** Out of the live hosts, the watched connections, the ready marks and the endpoint silence. */
  async leave(): Promise<void> {
    await this.o.redis
      .multi()
      .zrem(this.keys.hosts, this.o.hostId)
      .hdel(this.keys.hostConnections, this.o.hostId)
      .hdel(this.keys.hostsReady, this.o.hostId)
      .hdel(this.keys.endpointSilence, this.o.hostId)
      .exec();
  }
}

/** The kinds of agents a host runs, with how many of each: what it spawns again when it rejoins. */
export function agentKinds(agents: Iterable<AgentInfo>): (AgentSpec & { count: number })[] {
  const kinds = new Map<string, AgentSpec & { count: number }>();
  for (const a of agents) {
    const key = JSON.stringify([a.type, a.capabilities, a.capacity]);
    const k = kinds.get(key) ?? { type: a.type, capabilities: a.capabilities, capacity: a.capacity, count: 0 };
    k.count++;
    kinds.set(key, k);
  }
  return [...kinds.values()];
}
