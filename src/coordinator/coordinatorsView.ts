// GET /api/coordinators: each live coordinator, the partitions it holds (slot
// groups it balances, `parked` if it unparks, `host:<id>` for hosts it
// monitors and recovers) with their tokens and lease expiries, and which one
// leads the swarm (publishes the loads and the summary). What each holds is what
// it wrote when its holdings last changed; its leases are renewed in the rounds
// that renew its membership, so they expire with it.
import { z } from 'zod';
import { readCoordinators } from '../../queues/partitions.ts';
import type { RedisClient } from '../../queues/redisTarget.ts';

const detailsSchema = z.object({
  partitions: z.array(z.object({ name: z.string(), token: z.int().positive() })),
});

export interface CoordinatorView {
  id: string;
  /** When its membership lapses unless it renews it (ms since the epoch, Redis's clock). */
  expiresAt: number;
  /** Whether it holds the swarm lease. */
  leader: boolean;
  /** Slot groups (and `parked`) it balances. */
  groups: string[];
  /** Agent hosts it monitors and recovers. */
  hosts: string[];
  partitions: { name: string; token: number; expiresAt: number }[];
}

export interface CoordinatorsView {
  /** Redis's clock at the read. */
  at: number;
  leader: string | null;
  coordinators: CoordinatorView[];
}

export async function coordinatorsView(redis: RedisClient, prefix: string, onBadRecord?: (id: string, err: string) => void): Promise<CoordinatorsView> {
  const { now, expiries, details, leader } = await readCoordinators(redis, prefix);
  const coordinators: CoordinatorView[] = [];
  for (const [id, expiry] of Object.entries(expiries)) {
    const expiresAt = Number(/^\d+/.exec(expiry)?.[0]); // '<expiry>:<roles>'
    if (!(expiresAt > now)) continue; // lapsed: dropped at the next membership round
    const raw = details[id];
    let partitions: CoordinatorView['partitions'] = [];
    if (raw) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = undefined;
      }
      const d = detailsSchema.safeParse(parsed);
      if (d.success) partitions = d.data.partitions.map((p) => ({ ...p, expiresAt })).sort((a, b) => (a.name < b.name ? -1 : 1));
      else onBadRecord?.(id, d.error.issues[0]?.message ?? 'not JSON');
    }
    coordinators.push({
      id,
      expiresAt,
      leader: id === leader,
      groups: partitions.filter((p) => !p.name.startsWith('host:')).map((p) => p.name),
      hosts: partitions.filter((p) => p.name.startsWith('host:')).map((p) => p.name.slice(5)),
      partitions,
    });
  }
  coordinators.sort((a, b) => (a.id < b.id ? -1 : 1));
  return { at: now, leader: coordinators.some((c) => c.id === leader) ? leader : null, coordinators };
}
