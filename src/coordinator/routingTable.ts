// The router's view between snapshot reads: the hierarchy built from the last
// snapshot, the strategies' state, and the routings made since, counted in, so a
// burst spreads over nodes instead of piling on the one that looked emptiest.
import { buildHierarchy, type HierarchyTree, type HierarchyTreeNode } from '../routing/hierarchy.ts';
import type { NodeView, RouteDecision, TaskRequirement } from '../routing/loads.ts';
import { initialRouterState, route, type RouteOptions, type RouterState, type StrategyName } from '../routing/strategy.ts';

export class RoutingTable {
  private tree: HierarchyTree;
  private paths = new Map<string, HierarchyTreeNode[]>();
  private state: RouterState;

  constructor(
    private readonly shape: { fanout: number; depth: number },
    seed: number,
    private readonly options: RouteOptions = {},
  ) {
    this.state = initialRouterState(seed);
    this.tree = buildHierarchy([], shape);
  }

  /** A new snapshot: rebuild the tree (the strategies' state carries over). */
  load(nodes: readonly NodeView[]): void {
    this.tree = buildHierarchy(nodes, this.shape);
    const paths = new Map<string, HierarchyTreeNode[]>();
    const walk = (n: HierarchyTreeNode, above: HierarchyTreeNode[]) => {
      const path = [...above, n];
      if (n.kind === 'node') paths.set(n.id, path);
      else for (const c of n.children) walk(c, path);
    };
    walk(this.tree.root, []);
    this.paths = paths;
  }

  /**
   * The same nodes, agents and liveness with new loads: the tree keeps its shape
   * (and what strategies remember of it), only its figures are set afresh. At
   * 10,000 agents a refresh then walks the nodes, not every agent.
   */
  reload(loads: (nodeId: string) => { waiting: number; active: number } | undefined): void {
    const sum = (n: HierarchyTreeNode): void => {
      if (n.kind === 'node') {
        const c = loads(n.id);
        n.view.waiting = n.waiting = c?.waiting ?? 0;
        n.view.active = n.active = c?.active ?? 0;
      } else {
        let waiting = 0;
        let active = 0;
        for (const child of n.children) {
          sum(child);
          waiting += child.waiting;
          active += child.active;
        }
        n.waiting = waiting;
        n.active = active;
      }
      n.load = (n.waiting + n.active) / Math.max(1, n.capacity);
    };
    sum(this.tree.root);
  }

  get hierarchy(): HierarchyTree {
    return this.tree;
  }

  decide(task: TaskRequirement, strategy: StrategyName): RouteDecision {
    const { decision, state } = route(strategy, task, this.tree, this.state, this.options);
    this.state = state;
    if (decision.ok) this.count(decision.node);
    return decision;
  }

  /** One more task waiting at this node, up the tree. */
  private count(nodeId: string): void {
    for (const n of this.paths.get(nodeId) ?? []) {
      n.waiting += 1;
      n.load = (n.waiting + n.active) / Math.max(1, n.capacity);
      if (n.kind === 'node') n.view.waiting += 1;
    }
  }
}
