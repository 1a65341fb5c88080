// A part of the hierarchy as JSON: one subtree (the whole tree from the root,
// or a group a dashboard opened), to a given number of levels, each box carrying
// the counts of everything under it. At 1,001 nodes the whole tree is hundreds
// of kilobytes; a slice of the top level is a hundred summaries, and a group is
// opened when someone looks at it. Pure: a function of the tree.
import type { HierarchyTree, HierarchyTreeNode } from './hierarchy.ts';
import { boxFigures, type BoxFigures } from './hierarchyJson.ts';
import { emptyBandCounts, loadBand, type LoadBandCounts } from './loadBand.ts';

export interface HierarchySummaryNode extends BoxFigures {
  /** Coordination nodes under it (1 for a node). */
  nodeCount: number;
  /** Agents in its nodes (warm-pool seats not counted), and how many of them are live. */
  agents: number;
  liveAgents: number;
  /** Its nodes per load band (src/routing/loadBand.ts): a closed group still shows an overloaded node inside. */
  bands: LoadBandCounts;
  /** Its children in the whole tree. */
  childCount: number;
  /** Its children down to the depth asked for; null when they were left out. */
  children: HierarchySummaryNode[] | null;
}

export interface HierarchySliceJSON {
  fanout: number;
  /** Levels of the whole tree (root and nodes included). */
  depth: number;
  /** Coordination nodes in the whole tree. */
  nodes: number;
  /** Ids from the tree's root down to the slice's root (both included). */
  path: string[];
  root: HierarchySummaryNode;
}

interface Totals {
  agents: number;
  liveAgents: number;
  bands: LoadBandCounts;
}

/** Counts of every subtree, in one pass over the tree. */
function totalsOf(tree: HierarchyTree): Map<string, Totals> {
  const out = new Map<string, Totals>();
  const walk = (n: HierarchyTreeNode): Totals => {
    const t: Totals = { agents: 0, liveAgents: 0, bands: emptyBandCounts() };
    if (n.kind === 'node') {
      t.agents = n.view.agents.length;
      for (const a of n.view.agents) if (a.live) t.liveAgents++;
      t.bands[loadBand(n.load, n.capacity)]++;
    } else {
      for (const c of n.children) {
        const ct = walk(c);
        t.agents += ct.agents;
        t.liveAgents += ct.liveAgents;
        for (const [band, count] of Object.entries(ct.bands) as [keyof LoadBandCounts, number][]) t.bands[band] += count;
      }
    }
    out.set(n.id, t);
    return t;
  };
  walk(tree.root);
  return out;
}

/** The path of ids from the root to the box `id`, or undefined when the tree has none. */
function pathTo(root: HierarchyTreeNode, id: string): HierarchyTreeNode[] | undefined {
  if (root.id === id) return [root];
  for (const c of root.children) {
    const p = pathTo(c, id);
    if (p) return [root, ...p];
  }
  return undefined;
}

/**
 * The subtree under `under` (a box's id: `root`, a group `g<i>`/`gg<i>`/…, or
 * a node) down `levels` levels below it (0: the box alone), or undefined when
 * the tree has no such box.
 */
export function hierarchySlice(tree: HierarchyTree, under: string, levels: number): HierarchySliceJSON | undefined {
  const path = pathTo(tree.root, under);
  if (!path) return undefined;
  const totals = totalsOf(tree);
  const conv = (n: HierarchyTreeNode, left: number): HierarchySummaryNode => {
    const t = totals.get(n.id)!;
    return {
      ...boxFigures(n),
      nodeCount: n.nodeIds.length,
      agents: t.agents,
      liveAgents: t.liveAgents,
      bands: t.bands,
      childCount: n.children.length,
      children: left > 0 || n.children.length === 0 ? n.children.map((c) => conv(c, left - 1)) : null,
    };
  };
  return { fanout: tree.fanout, depth: tree.depth, nodes: tree.leaves.length, path: path.map((p) => p.id), root: conv(path[path.length - 1]!, levels) };
}
