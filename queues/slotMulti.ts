// Writes grouped into one MULTI per hash slot: on one server, one MULTI for
// them all (atomic together); on a Cluster, where a MULTI may only touch keys
// of one slot, one MULTI per slot, sent in the order their first write was
// given (each atomic alone, not together: the caller says what that means).
import type { ChainableCommander } from 'ioredis';
import { isCluster, type RedisClient } from './redisTarget.ts';
import { keySlot } from './slotPipeline.ts';

export interface SlotMulti {
  /** Queues writes whose keys share `key`'s slot. */
  add(key: string, write: (m: ChainableCommander) => void): SlotMulti;
  /** How many writes are queued. */
  readonly size: number;
  /** Runs the MULTIs; the first error (a command's or an aborted transaction) is thrown, naming `what`. */
  exec(what: string): Promise<void>;
}

export function slotMulti(redis: RedisClient): SlotMulti {
  const bySlot = new Map<number, ((m: ChainableCommander) => void)[]>();
  let size = 0;
  const one = !isCluster(redis);
  const multi: SlotMulti = {
    add(key, write) {
      const slot = one ? 0 : keySlot(key);
      const list = bySlot.get(slot) ?? [];
      list.push(write);
      bySlot.set(slot, list);
      size++;
      return multi;
    },
    get size() {
      return size;
    },
    async exec(what) {
      for (const writes of bySlot.values()) {
        const m = redis.multi();
        for (const w of writes) w(m);
        const res = await m.exec();
        if (!res) throw new Error(`${what}: the transaction was aborted`);
        const err = res.find(([e]) => e)?.[0];
        if (err) throw new Error(`${what}: ${err.message}`);
      }
    },
  };
  return multi;
}
