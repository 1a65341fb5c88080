// The hierarchy as plain JSON, the shape GET /api/hierarchy serves and the
// dashboard draws: agents summarised as counts.
import type { HierarchyStats, HierarchyTree, HierarchyTreeNode } from './hierarchy.ts';

export interface HierarchyNodeJSON extends HierarchyStats {
  id: string;
  kind: 'root' | 'group' | 'node';
  level: number;
  nodeIds: string[];
  children: HierarchyNodeJSON[];
  /** Nodes only. */
  seq?: number;
  agents?: number;
  liveAgents?: number;
  latencyMs?: number;
}

export interface HierarchyJSON {
  fanout: number;
  depth: number;
  nodes: number;
  root: HierarchyNodeJSON;
}

/** A plain, JSON-serialisable copy of the tree (agents summarised as counts). */
export function hierarchyToJSON(tree: HierarchyTree): HierarchyJSON {
  const conv = (n: HierarchyTreeNode): HierarchyNodeJSON => {
    const base: HierarchyNodeJSON = {
      id: n.id,
      kind: n.kind,
      level: n.level,
      capacity: n.capacity,
      waiting: n.waiting,
      active: n.active,
      load: n.load,
      nodeIds: [...n.nodeIds],
      children: n.children.map(conv),
    };
    if (n.kind === 'node') {
      base.seq = n.seq;
      base.agents = n.view.agents.length;
      base.liveAgents = n.view.agents.filter((a) => a.live).length;
      if (n.view.latencyMs !== undefined) base.latencyMs = n.view.latencyMs;
    }
    return base;
  };
  return { fanout: tree.fanout, depth: tree.depth, nodes: tree.leaves.length, root: conv(tree.root) };
}
