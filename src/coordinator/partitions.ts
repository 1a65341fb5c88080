// The partitions this coordinator owns: slot groups (balancing), the parked
// queue (unparking) and agent hosts (health checks and recovery), shared among
// the live coordinators. Every round it refreshes its membership, computes from
// the members it reads who owns what (the pure rendezvous assignment,
// src/partitions/assign.ts), claims or renews the leases of the partitions it is
// named for and releases those it is no longer named for. Each lease carries a
// fencing token: a group's is its fence, so a coordinator that lost a partition
// (paused past its lease, cut off) moves nothing there; a host's is checked
// when its recovery starts (isolateHost-6.lua).
import { acquirePartition, joinCoordinators, type Member } from '../../queues/partitions.ts';
import type { RedisClient } from '../../queues/redisTarget.ts';
import { swarmKeys } from '../../queues/keys.ts';
import type { Logger } from '../log.ts';
import { assignPartitions, hostOfPartition, type PartitionName } from '../partitions/assign.ts';
import { LeaderLoop } from './leaderLoop.ts';

/** What exists to be shared: slot groups with nodes, and agent hosts the health monitor knows. */
export interface PartitionUniverse {
  groups: readonly string[];
  hosts: readonly string[];
}

export interface PartitionsOptions {
  redis: RedisClient;
  prefix: string;
  /** This coordinator's id (its membership and lease owner name). */
  id: string;
  /** How long a lease and a membership last unless renewed; rounds run every third of it. */
  leaseMs: number;
  universe: () => Promise<PartitionUniverse>;
  /** Which duties this coordinator runs: only balancing ones are given slot groups, only monitoring ones hosts. */
  roles: { balance: boolean; health: boolean };
  logger: Logger;
}

export interface HeldPartition {
  name: PartitionName;
  token: number;
  /** Until when (this process's clock) the lease surely holds: renewed at the round's start, plus the lease time. */
  until: number;
}

/**
 * What a coordinator writes about itself for GET /api/coordinators, only when
 * it changes (a lapsed lease is claimed again with a new token, so a
 * coordinator whose membership lapsed, and whose record was dropped with it,
 * always writes again). Its leases are renewed in the same rounds as its
 * membership, so they expire with it.
 */
export interface CoordinatorDetails {
  partitions: { name: PartitionName; token: number }[];
}

export class Partitions {
  private readonly loop: LeaderLoop;
  private held = new Map<PartitionName, HeldPartition>();
  private members: Member[] = [];
  private stopped = false;
  private written: string | undefined;

  constructor(private readonly o: PartitionsOptions) {
    this.loop = new LeaderLoop({
      intervalMs: Math.max(20, Math.floor(o.leaseMs / 3)),
      onError: (err) => o.logger.warn({ err: err.message }, 'partition round failed; the next one retries'),
    });
  }

  get id(): string {
    return this.o.id;
  }

  /** Runs the first round now (so duties started next find their partitions), then one every third of the lease. */
  async start(): Promise<void> {
    await this.round().catch((err: Error) => this.o.logger.warn({ err: err.message }, 'first partition round failed; the next one retries'));
    this.loop.start(() => this.round());
  }

  /** Stops renewing, hands every partition back and leaves the membership, so the others take over at their next round. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop.stop();
    const held = [...this.held.keys()];
    this.held.clear();
    await Promise.allSettled(held.map((p) => acquirePartition(this.o.redis, this.o.prefix, p, this.o.id, this.o.leaseMs, 'release')));
    await joinCoordinators(this.o.redis, this.o.prefix, this.o.id, 0, '').catch(() => undefined);
  }

  /**
   * A round now (a host or a slot group appeared): its partition gets an owner
   * at once, not up to a third of the lease later, so a host that dies soon
   * after joining is recovered as fast as any.
   */
  nudge(): void {
    this.loop.runNow();
  }

  /** The partition's token while this coordinator holds its lease, else undefined. */
  token(name: PartitionName, now = Date.now()): number | undefined {
    const h = this.held.get(name);
    return h && now < h.until ? h.token : undefined;
  }

  /** The held partitions, live ones only. */
  owned(now = Date.now()): HeldPartition[] {
    return [...this.held.values()].filter((h) => now < h.until).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Slot groups (and `parked`) held, with their tokens. */
  groups(now = Date.now()): Map<string, number> {
    return new Map(this.owned(now).filter((h) => hostOfPartition(h.name) === undefined).map((h) => [h.name, h.token]));
  }

  /** Hosts whose partition is held, with their tokens. */
  hosts(now = Date.now()): Map<string, number> {
    const out = new Map<string, number>();
    for (const h of this.owned(now)) {
      const host = hostOfPartition(h.name);
      if (host !== undefined) out.set(host, h.token);
    }
    return out;
  }

  /** The live members as last read. */
  liveMembers(): readonly Member[] {
    return this.members;
  }

  /** One round: membership, assignment, claims and releases. */
  async round(): Promise<void> {
    if (this.stopped) return;
    const startedAt = Date.now();
    const roles = `${this.o.roles.balance ? 'b' : ''}${this.o.roles.health ? 'h' : ''}`;
    const { now, members } = await joinCoordinators(this.o.redis, this.o.prefix, this.o.id, this.o.leaseMs, '', roles);
    this.members = members;
    const u = await this.o.universe();
    // Groups go only to coordinators that balance, hosts only to those that monitor: a member that does not run a duty is never named for it.
    const assigned = new Map([
      ...assignPartitions(members.filter((m) => m.roles.includes('b')).map((m) => m.id), [...u.groups, 'parked']),
      ...assignPartitions(members.filter((m) => m.roles.includes('h')).map((m) => m.id), u.hosts.map((h) => `host:${h}`)),
    ]);
    const claims = [...assigned].filter(([, owner]) => owner === this.o.id).map(([p]) => p);
    const releases = [...this.held.keys()].filter((p) => assigned.get(p) !== this.o.id);
    const results = await Promise.all([
      ...claims.map(async (p) => [p, await acquirePartition(this.o.redis, this.o.prefix, p, this.o.id, this.o.leaseMs, 'claim')] as const),
      ...releases.map(async (p) => [p, await acquirePartition(this.o.redis, this.o.prefix, p, this.o.id, this.o.leaseMs, 'release')] as const),
    ]);
    if (this.stopped) return;
    const next = new Map<PartitionName, HeldPartition>();
    for (const [p, lease] of results) {
      if (lease.token > 0) next.set(p, { name: p, token: lease.token, until: startedAt + this.o.leaseMs });
    }
    const gained = [...next.keys()].filter((p) => this.held.get(p)?.token !== next.get(p)!.token);
    const lost = [...this.held.keys()].filter((p) => !next.has(p));
    if (gained.length || lost.length) this.o.logger.info({ coordinator: this.o.id, gained, lost }, 'partitions changed hands');
    this.held = next;
    const details: CoordinatorDetails = { partitions: [...next.values()].map((h) => ({ name: h.name, token: h.token })).sort((a, b) => (a.name < b.name ? -1 : 1)) };
    const json = JSON.stringify(details);
    if (json !== this.written || !members.some((m) => m.id === this.o.id)) {
      await this.o.redis.hset(swarmKeys(this.o.prefix).coordinatorDetails, this.o.id, json);
      this.written = json;
    }
  }
}
