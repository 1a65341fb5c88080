// `swarmq status`: the swarm at a glance.
import { swarmView } from '../api/swarmView.ts';
import { describeRedisTarget } from '../../queues/redisTarget.ts';
import type { SwarmConfig } from '../config/schema.ts';
import { Coordinator } from '../coordinator/coordinator.ts';
import { silentLogger } from '../log.ts';

export async function statusReport(config: SwarmConfig, json: boolean): Promise<string> {
  // A reader: it neither balances nor monitors, so it takes no share of the swarm's upkeep while it looks.
  const coordinator = new Coordinator({ config, logger: silentLogger, intake: false, balance: false, health: false });
  try {
    await coordinator.start();
    const view = await swarmView(coordinator);
    if (json) return JSON.stringify(view, null, 2);
    const live = view.agents.filter((a) => a.live).length;
    const lines = [`swarm "${config.prefix}" on ${describeRedisTarget(config.redis)}: ${view.agents.length} agents (${live} live) in ${view.nodes.length} nodes`];
    lines.push('node      agents  live  capacity  waiting  active');
    for (const n of view.nodes) {
      lines.push(`${n.id.padEnd(9)} ${String(n.members).padStart(6)} ${String(n.liveAgents).padStart(5)} ${String(n.capacity).padStart(9)} ${String(n.waiting).padStart(8)} ${String(n.active).padStart(7)}`);
    }
    return lines.join('\n');
  } finally {
    await coordinator.stop();
  }
}
