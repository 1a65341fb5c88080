// Runs proposals: a BullMQ Worker on the consensus queue whose processor is
// the vote processor, and the inbox where hosts send it decision notices.
// Coordinators run one each; any of them may take any proposal.
import { randomBytes } from 'node:crypto';
import { Worker } from 'bullmq';
import { connectRedis, type RedisClient, type RedisTarget } from '../../../queues/redisTarget.ts';
import { voteProcessor } from './vote.ts';
import type { Logger } from '../../log.ts';
import { InboxReader } from './inbox.ts';
import { CONSENSUS_QUEUE } from '../../../queues/keys.ts';
import { consensusKeys } from './keys.ts';
import type { DurabilityPolicy } from '../../../queues/durability.ts';
import { durableFinishes } from '../../durability.ts';
import type { ProcessTrust } from '../../trust/processTrust.ts';

export interface RoundDriverOptions {
  target: RedisTarget;
  prefix: string;
  logger: Logger;
  /** Proposals driven at once (each mostly waits). */
  concurrency?: number;
  /** With `replicated`, a proposal's outcome is recorded once a replica has it (src/durability.ts). */
  durability?: DurabilityPolicy;
  /** With a trust anchor: outcomes are counted from certified decisions only; replicated-task votes are signed with its proposer identity. */
  trust?: ProcessTrust;
}

export class RoundDriver {
  readonly id = `driver-${randomBytes(6).toString('hex')}`;
  private readonly commands: RedisClient;
  /** The vote processor's own connection: BullMQ's scripts are defined on the Worker's, and ioredis copies them into every MULTI built there. */
  private readonly rounds: RedisClient;
  private readonly reader: InboxReader;
  private worker: Worker | undefined;
  private readonly waiting = new Map<string, Set<() => void>>();

  constructor(private readonly o: RoundDriverOptions) {
    this.commands = connectRedis(o.target, { maxRetriesPerRequest: null, connectionName: `swarmq:${this.id}` });
    this.commands.on('error', () => {});
    this.rounds = connectRedis(o.target, { maxRetriesPerRequest: null, connectionName: `swarmq:${this.id}:rounds` });
    this.rounds.on('error', () => {});
    this.reader = new InboxReader({
      target: o.target,
      key: consensusKeys(o.prefix).inbox(this.id),
      name: `swarmq:${this.id}:inbox`,
      logger: o.logger,
      onItems: (items) => {
        for (const item of items) if (item.k === 'decided') for (const wake of this.waiting.get(item.round) ?? []) wake();
      },
    });
  }

  private nudged(round: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiting.get(round) ?? new Set();
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (!set.size) this.waiting.delete(round);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
      this.waiting.set(round, set);
    });
  }

  async start(): Promise<void> {
    await this.reader.start();
    this.worker = new Worker(
      CONSENSUS_QUEUE,
      voteProcessor({ redis: this.rounds, prefix: this.o.prefix, driverId: this.id, nudged: (r, ms) => this.nudged(r, ms), logger: this.o.logger, ...(this.o.trust ? { trust: this.o.trust } : {}), ...(this.o.durability ? { durability: this.o.durability } : {}) }),
      {
        connection: this.commands,
        prefix: this.o.prefix,
        concurrency: this.o.concurrency ?? 256,
        // A driver that dies is noticed in seconds, not BullMQ's default 30: its proposals go to another driver.
        lockDuration: 5000,
        stalledInterval: 5000,
        maxStalledCount: 5,
        name: this.id,
      },
    );
    if (this.o.durability && !durableFinishes(this.worker, this.commands, this.o.durability, (round, why) => this.o.logger.warn({ round, why }, 'an outcome is not confirmed by a replica yet: recording it again')))
      throw new Error("the consensus driver needs BullMQ's Redis backend");
    this.worker.on('error', (err) => this.o.logger.error({ err: err.message }, 'consensus driver error'));
    await this.worker.waitUntilReady();
  }

  async stop(): Promise<void> {
    await this.worker?.close();
    await this.reader.stop();
    this.commands.disconnect();
    this.rounds.disconnect();
  }
}
