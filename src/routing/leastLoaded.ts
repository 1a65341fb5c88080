// Least-loaded routing: a pure function of a snapshot of node loads.
import { liveCapacity } from './capacity.ts';
import { canRun, type NodeView, type RouteDecision, type TaskRequirement } from './loads.ts';

/**
 * Picks the node, among those with an agent able to run the task, with the least
 * (waiting + active) per unit of live capacity. Nodes with a live capable agent
 * win over nodes whose capable agents are all down (their queue still holds the
 * task durably until a host takes those seats back). Ties go to the lower id, so
 * the choice is deterministic for a given snapshot.
 */
export function routeLeastLoaded(task: TaskRequirement, nodes: readonly NodeView[]): RouteDecision {
  let typeKnown = false;
  let best: { id: string; live: boolean; load: number } | undefined;
  for (const node of nodes) {
    let capable = false;
    let liveCapable = false;
    for (const a of node.agents) {
      if (a.taskTypes.includes(task.type)) typeKnown = true;
      if (canRun(a, task)) {
        capable = true;
        if (a.live) liveCapable = true;
      }
    }
    if (!capable) continue;
    const cap = liveCapacity(node);
    const load = (node.waiting + node.active) / (cap > 0 ? cap : 1);
    const better =
      !best ||
      (liveCapable && !best.live) ||
      (liveCapable === best.live && (load < best.load || (load === best.load && node.id < best.id)));
    if (better) best = { id: node.id, live: liveCapable, load };
  }
  if (best) return { ok: true, node: best.id };
  if (!typeKnown) {
    return { ok: false, code: 'unknown_task_type', message: `no agent in this swarm runs tasks of type "${task.type}"; start agents with a processor for it` };
  }
  return {
    ok: false,
    code: 'no_capable_agent',
    message: `no agent runs "${task.type}" with affinity ${JSON.stringify(task.affinity ?? {})}; start one with that agent type and those capabilities`,
  };
}
