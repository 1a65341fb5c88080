// Wakes hibernating nodes: a host blocks on the BullMQ markers of all its
// hibernating nodes with as few connections as Redis allows: one on a single
// server, one per slot group on a Redis Cluster (a blocking command's keys
// must share a slot there). Each wait is a WakerLoop (wakerLoop.ts).
import { groupKeys, slotGroupOf } from '../../queues/keys.ts';
import { connectRedis, type RedisClient, type RedisTarget } from '../../queues/redisTarget.ts';
import type { Logger } from '../log.ts';
import { WakerLoop } from './wakerLoop.ts';

/** The one wait of a single server; its bell sits in the swarm's own group keys. */
const ALL = '';

export class Waker {
  private readonly loops = new Map<string, WakerLoop>();

  constructor(
    private readonly o: {
      target: RedisTarget;
      /** The host's command connection, to ring a wait's bell on. */
      control: RedisClient;
      prefix: string;
      hostId: string;
      onWake: (nodeId: string) => Promise<void>;
      logger: Logger;
    },
  ) {}

  /** Connections the waits hold now. */
  get connections(): number {
    return [...this.loops.values()].filter((l) => l.active).length;
  }

  watch(nodeId: string): void {
    this.loopOf(nodeId).watch(nodeId);
  }

  unwatch(nodeId: string): void {
    this.loops.get(this.waitOf(nodeId))?.unwatch(nodeId);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.loops.values()].map((l) => l.stop()));
  }

  private waitOf(nodeId: string): string {
    return this.o.target.kind === 'cluster' ? slotGroupOf(nodeId) : ALL;
  }

  private loopOf(nodeId: string): WakerLoop {
    const wait = this.waitOf(nodeId);
    let loop = this.loops.get(wait);
    if (!loop) {
      loop = new WakerLoop({
        prefix: this.o.prefix,
        // On a single server any node's group serves for the bell; on a Cluster it must be this group's.
        bell: groupKeys(this.o.prefix, nodeId).wakerBell(this.o.hostId),
        connect: () => connectRedis(this.o.target, { maxRetriesPerRequest: null, connectionName: `swarmq:waker:${this.o.hostId}${wait ? `:${wait}` : ''}` }),
        control: this.o.control,
        onWake: this.o.onWake,
        logger: this.o.logger,
      });
      this.loops.set(wait, loop);
    }
    return loop;
  }
}
