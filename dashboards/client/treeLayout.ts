// Where each box of the hierarchy goes: a pure function of the tree, so the
// picture is the same for the same swarm and the layout is unit-tested.
// Leaves sit side by side in tree order; each parent is centred over its
// children, one row per level.

/** What can be laid out: a box with an id, its kind and the children shown under it. */
export interface LayoutNode<N> {
  id: string;
  kind: 'root' | 'group' | 'node';
  children: readonly N[];
}

export interface LayoutOptions {
  boxWidth: number;
  boxHeight: number;
  /** Horizontal space between neighbouring leaves. */
  gap: number;
  /** Vertical distance from one level's boxes to the next. */
  levelHeight: number;
  margin: number;
}

export const DEFAULT_LAYOUT: Readonly<LayoutOptions> = Object.freeze({ boxWidth: 112, boxHeight: 46, gap: 12, levelHeight: 78, margin: 8 });

export interface PlacedBox<N extends LayoutNode<N>> {
  id: string;
  kind: N['kind'];
  /** Top-left corner. */
  x: number;
  y: number;
  depth: number;
  node: N;
}

export interface Edge {
  from: string;
  to: string;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface TreeLayout<N extends LayoutNode<N>> {
  width: number;
  height: number;
  boxes: PlacedBox<N>[];
  edges: Edge[];
}

export function layoutTree<N extends LayoutNode<N>>(tree: { root: N }, o: LayoutOptions = DEFAULT_LAYOUT): TreeLayout<N> {
  const boxes: PlacedBox<N>[] = [];
  const edges: Edge[] = [];
  let nextLeafX = o.margin;
  let maxDepth = 0;
  // Returns the box's x (left edge); children first, so a parent can centre over them.
  const place = (node: N, depth: number): PlacedBox<N> => {
    maxDepth = Math.max(maxDepth, depth);
    const y = o.margin + depth * o.levelHeight;
    let x: number;
    const kids = node.children.map((c) => place(c, depth + 1));
    if (kids.length === 0) {
      x = nextLeafX;
      nextLeafX += o.boxWidth + o.gap;
    } else {
      x = (kids[0]!.x + kids[kids.length - 1]!.x) / 2;
    }
    const box: PlacedBox<N> = { id: node.id, kind: node.kind, x, y, depth, node };
    for (const k of kids) {
      edges.push({ from: node.id, to: k.id, x1: x + o.boxWidth / 2, y1: y + o.boxHeight, x2: k.x + o.boxWidth / 2, y2: k.y });
    }
    boxes.push(box);
    return box;
  };
  place(tree.root, 0);
  const width = Math.max(nextLeafX - o.gap + o.margin, o.boxWidth + 2 * o.margin);
  const height = o.margin * 2 + maxDepth * o.levelHeight + o.boxHeight;
  // Parents were pushed after their children; draw top-down.
  boxes.sort((a, b) => a.depth - b.depth || a.x - b.x);
  return { width, height, boxes, edges };
}
