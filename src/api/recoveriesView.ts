// GET /api/recoveries: every recovery the health monitor recorded, newest first.
import { swarmKeys } from '../../queues/keys.ts';
import type { Coordinator } from '../coordinator/coordinator.ts';
import type { RecoveryRecord } from '../health/recovery.ts';

const SHOWN = 200;

export async function readRecoveries(coordinator: Coordinator): Promise<RecoveryRecord[]> {
  const all = await coordinator.commands.hvals(swarmKeys(coordinator.config.prefix).recoveries);
  return all
    .map((raw) => JSON.parse(raw) as RecoveryRecord)
    .sort((a, b) => b.detectedAt - a.detectedAt)
    .slice(0, SHOWN);
}
