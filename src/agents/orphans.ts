// Work left in a node that no agent serves any more (its last agents retired or
// their host shut down) moves to live nodes of the same kind, so nothing waits
// for agents that are not coming back. Only within the node's slot group, whose
// queues share a Redis Cluster slot.
import type { RedisClient } from '../../queues/redisTarget.ts';
import { slotGroupOf } from '../../queues/keys.ts';
import { moveWaitingJobs } from '../../queues/moveJobs.ts';
import { LoadsReader } from '../coordinator/loadsReader.ts';
import type { Logger } from '../log.ts';

const CHUNK = 100;

/** Returns how many of the nodes were left empty and how many jobs moved out of them. */
export async function rehomeOrphans(
  redis: RedisClient,
  prefix: string,
  nodeIds: readonly string[],
  failedAfterMs: number,
  logger: Logger,
): Promise<{ orphans: number; moved: number }> {
  const reader = new LoadsReader(redis, prefix, failedAfterMs);
  const { nodes, roster } = await reader.read(Date.now(), true);
  let total = 0;
  let orphans = 0;
  for (const id of nodeIds) {
    const node = roster.nodes.get(id);
    if (!node || node.members > 0) continue;
    orphans++;
    const targets = nodes.filter((n) => n.id !== id && slotGroupOf(n.id) === slotGroupOf(id) && roster.nodes.get(n.id)?.profile === node.profile && n.agents.some((a) => a.live));
    if (!targets.length) {
      logger.warn({ node: id }, 'node left without agents and none of its kind runs in its slot group: its tasks wait there until one joins');
      continue;
    }
    // Spread over the least-loaded targets, a chunk at a time.
    targets.sort((a, b) => a.waiting + a.active - (b.waiting + b.active));
    for (let i = 0; ; i++) {
      const moved = await moveWaitingJobs(redis, { prefix, from: id, to: targets[i % targets.length]!.id, max: CHUNK });
      total += moved;
      if (moved < CHUNK) break;
    }
  }
  if (total) logger.info({ moved: total, from: nodeIds }, 'moved waiting tasks out of nodes left without agents');
  return { orphans, moved: total };
}
