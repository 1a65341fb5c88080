// Which coordinator leads: a lease in Redis with a fencing token. Only the
// leader balances, and every move it makes carries its token, so a leader that
// lost its lease to a newer one (paused, partitioned) moves nothing: each slot
// group keeps the highest token it has seen and refuses older ones.
import type { RedisClient } from '../../queues/redisTarget.ts';
import { acquireLease } from '../../queues/acquireLease.ts';

export class Lease {
  private token = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    readonly id: string,
    private readonly ttlMs: number,
  ) {}

  /** Acquire or renew; the current token when this coordinator leads, else 0. */
  async renew(): Promise<number> {
    this.token = await acquireLease(this.redis, { prefix: this.prefix, candidate: this.id, ttlMs: this.ttlMs });
    return this.token;
  }

  /** The fence a move must carry; undefined when not leading. */
  fence(): { token: string } | undefined {
    return this.token ? { token: String(this.token) } : undefined;
  }
}
