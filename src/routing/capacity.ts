// A node's live capacity: the seats of agents whose host is running. Every load
// figure (waiting + active per unit of capacity) divides by it.
import type { NodeView } from './loads.ts';

export function liveCapacity(node: NodeView): number {
  let c = 0;
  for (const a of node.agents) if (a.live) c += a.capacity;
  return c;
}
