// Which part of the hierarchy the page shows: the top slice the API serves
// (GET /api/hierarchy?depth=…), with the groups someone opened filled in from
// their own slices (?under=<id>). A small swarm arrives whole and opens at once;
// at 1,001 nodes the top level is a hundred closed groups and each opens on a
// click. Pure, so what a click shows is unit-tested.
import type { HierarchySliceJSON, HierarchySummaryNode } from '../../src/routing/hierarchySlice.ts';
import type { DrawnBox } from './treeSvg.ts';

/** Up to this many nodes the whole tree is fetched and shown open. */
export const SMALL_TREE_NODES = 30;
/** Groups open at once (their slices are re-read on every refresh). */
export const MAX_OPEN = 12;

/** Levels below the root to ask for: the whole tree when it is small, else the top level alone. */
export function topLevels(nodes: number, treeDepth: number): number {
  return nodes <= SMALL_TREE_NODES ? Math.max(1, treeDepth - 1) : 1;
}

/**
 * The boxes to draw. `toggled` holds the groups a person clicked: a group whose
 * children came with the top slice is closed by a click, one whose children did
 * not is opened (and shown once its own slice has arrived).
 */
export function shownTree(top: HierarchySliceJSON, slices: ReadonlyMap<string, HierarchySliceJSON>, toggled: ReadonlySet<string>): { root: DrawnBox } {
  const conv = (n: HierarchySummaryNode, fromTop: boolean): DrawnBox => {
    let kids: HierarchySummaryNode[] | null = n.children;
    let kidsFromTop = fromTop;
    if (n.kind === 'group') {
      if (kids !== null && fromTop && toggled.has(n.id)) kids = null;
      else if (kids === null && toggled.has(n.id)) {
        kids = slices.get(n.id)?.root.children ?? null;
        kidsFromTop = false;
      }
    }
    const children = kids ? kids.map((c) => conv(c, kidsFromTop)) : [];
    return {
      id: n.id,
      kind: n.kind,
      capacity: n.capacity,
      waiting: n.waiting,
      active: n.active,
      load: n.load,
      nodeCount: n.nodeCount,
      agents: n.agents,
      liveAgents: n.liveAgents,
      overloaded: n.bands.overloaded,
      closed: n.childCount > 0 && children.length === 0,
      children,
    };
  };
  return { root: conv(top.root, true) };
}

/** The opened groups whose slices must be fetched: those the top slice did not bring the children of. */
export function slicesToFetch(top: HierarchySliceJSON | undefined, toggled: ReadonlySet<string>): string[] {
  const withKids = new Set<string>();
  const walk = (n: HierarchySummaryNode) => {
    if (n.children === null) return;
    withKids.add(n.id);
    n.children.forEach(walk);
  };
  if (top) walk(top.root);
  return [...toggled].filter((id) => !withKids.has(id));
}

/** A click on a group: toggled in or out; the oldest opening goes when more than MAX_OPEN are open. */
export function toggle(toggled: readonly string[], id: string): string[] {
  if (toggled.includes(id)) return toggled.filter((x) => x !== id);
  return [...toggled, id].slice(-MAX_OPEN);
}
