// Nodes idle past hibernateAfterMs close their Worker (and its connection); the
// waker watches their queues and starts them again as soon as work arrives.
import type { RedisClient, RedisTarget } from '../../queues/redisTarget.ts';
import type { Logger } from '../log.ts';
import type { NodeRunner } from './nodeRunner.ts';
import { Waker } from './waker.ts';

export class Hibernation {
  private readonly waker: Waker;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: {
      /** The host's node runners, by node; read live, never changed here. */
      runners: ReadonlyMap<string, NodeRunner>;
      /** Idle this long, a node hibernates; 0 turns hibernation off. */
      afterMs: number;
      target: RedisTarget;
      /** The host's command connection (the waker interrupts its blocking wait through it). */
      control: RedisClient;
      prefix: string;
      hostId: string;
      logger: Logger;
      onHibernated: (nodeId: string) => void;
      onWoke: (nodeId: string) => void;
    },
  ) {
    this.waker = new Waker({
      target: o.target,
      control: o.control,
      prefix: o.prefix,
      hostId: o.hostId,
      onWake: async (nodeId) => {
        const t0 = performance.now();
        await this.o.runners.get(nodeId)?.wake();
        this.o.logger.debug({ node: nodeId, ms: performance.now() - t0 }, 'node woke');
        this.o.onWoke(nodeId);
      },
      logger: o.logger,
    });
  }

  /** Connections the waker holds now (none unless some node hibernates; on a Cluster one per slot group with one). */
  get wakerConnections(): number {
    return this.waker.connections;
  }

  /** Nodes whose Worker on this host is closed until work arrives. */
  hibernatingNodes(): string[] {
    return [...this.o.runners.entries()].filter(([, r]) => r.hibernating).map(([id]) => id);
  }

  /** Checks for idle nodes a few times per hibernateAfterMs; nothing when hibernation is off. */
  start(): void {
    const after = this.o.afterMs;
    if (after > 0) {
      this.timer = setInterval(() => {
        this.hibernateIdle().catch((err: Error) => this.o.logger.error({ err: err.message }, 'hibernation check failed'));
      }, Math.max(20, Math.floor(after / 4)));
      this.timer.unref();
    }
  }

  private async hibernateIdle(): Promise<void> {
    const after = this.o.afterMs;
    const now = Date.now();
    for (const [nodeId, runner] of this.o.runners) {
      if (runner.hibernating || runner.idleFor(now) < after) continue;
      await runner.hibernate();
      if (runner.hibernating) {
        this.waker.watch(nodeId);
        this.o.onHibernated(nodeId);
      }
    }
  }

  /** The node left this host: stop watching its queue. */
  forget(nodeId: string): void {
    this.waker.unwatch(nodeId);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.waker.stop();
  }
}
