// Swarm events go on one Redis stream, so any process (dashboards, clients,
// another coordinator) can read what happened, in order, after the fact.
import type { Redis } from 'ioredis';
import { swarmKeys } from '../../queues/keys.ts';

/** How many events the stream keeps (approximately: MAXLEN ~). */
export const EVENTS_KEPT = 10_000;

export async function publishEvent(redis: Redis, prefix: string, type: string, data: unknown): Promise<void> {
  await redis.xadd(swarmKeys(prefix).events, 'MAXLEN', '~', String(EVENTS_KEPT), '*', 'type', type, 'data', JSON.stringify(data));
}
