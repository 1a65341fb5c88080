// The hierarchy as plain JSON, the shape GET /api/hierarchy serves and the
// dashboard draws: agents summarised as counts.
import type { HierarchyStats, HierarchyTree, HierarchyTreeNode } from './hierarchy.ts';

/** What every JSON box of the tree carries, whole tree or slice: where it sits and its figures. */
export interface BoxFigures extends HierarchyStats {
  id: string;
  kind: 'root' | 'group' | 'node';
  level: number;
  /** Nodes only. */
  seq?: number;
  latencyMs?: number;
}

export function boxFigures(n: HierarchyTreeNode): BoxFigures {
  const out: BoxFigures = { id: n.id, kind: n.kind, level: n.level, capacity: n.capacity, waiting: n.waiting, active: n.active, load: n.load };
  if (n.kind === 'node') {
    out.seq = n.seq;
    if (n.view.latencyMs !== undefined) out.latencyMs = n.view.latencyMs;
  }
  return out;
}

export interface HierarchyNodeJSON extends BoxFigures {
  nodeIds: string[];
  children: HierarchyNodeJSON[];
  /** Nodes only. */
  agents?: number;
  liveAgents?: number;
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
    const base: HierarchyNodeJSON = { ...boxFigures(n), nodeIds: [...n.nodeIds], children: n.children.map(conv) };
    if (n.kind === 'node') {
      base.agents = n.view.agents.length;
      base.liveAgents = n.view.agents.filter((a) => a.live).length;
    }
    return base;
  };
  return { fanout: tree.fanout, depth: tree.depth, nodes: tree.leaves.length, root: conv(tree.root) };
}
