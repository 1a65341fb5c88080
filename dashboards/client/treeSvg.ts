// The hierarchy as inline SVG markup: a pure function of the layout.
import { esc } from './html.ts';
import { DEFAULT_LAYOUT, type LayoutNode, type LayoutOptions, type TreeLayout } from './treeLayout.ts';

/** A box as drawn: the whole tree's JSON (nodeIds) or a slice's (nodeCount, closed groups). */
export interface DrawnBox extends LayoutNode<DrawnBox> {
  capacity: number;
  waiting: number;
  active: number;
  load: number;
  nodeIds?: readonly string[];
  nodeCount?: number;
  agents?: number;
  liveAgents?: number;
  /** A group whose children are not shown: a click opens it. */
  closed?: boolean;
  /** Nodes under it that are overloaded (said on a closed group). */
  overloaded?: number;
}

/** Load bands: under one task per slot is fine, over two is a backlog the balancer should act on (src/routing/loadBand.ts's rule, kept here for the browser). */
export function loadBand(load: number, capacity: number): 'idle' | 'ok' | 'busy' | 'overloaded' | 'no-capacity' {
  if (capacity <= 0) return 'no-capacity';
  if (load === 0) return 'idle';
  if (load <= 1) return 'ok';
  if (load <= 2) return 'busy';
  return 'overloaded';
}

export function treeSvg(layout: TreeLayout<DrawnBox>, o: LayoutOptions = DEFAULT_LAYOUT): string {
  const edges = layout.edges
    .map((e) => {
      const mid = (e.y1 + e.y2) / 2;
      return `<path class="edge" d="M${e.x1},${e.y1} C${e.x1},${mid} ${e.x2},${mid} ${e.x2},${e.y2}"/>`;
    })
    .join('');
  const boxes = layout.boxes
    .map((b) => {
      const n = b.node;
      const band = loadBand(n.load, n.capacity);
      const fill = Math.min(1, n.load / 2) * (o.boxWidth - 12);
      const title = n.kind === 'node' ? esc(n.id) : n.kind === 'root' ? 'swarm' : esc(n.id);
      const count = n.nodeCount ?? n.nodeIds?.length ?? 0;
      const agents = n.kind === 'node' ? `${n.liveAgents ?? 0}/${n.agents ?? 0} agents` : `${count} node${count === 1 ? '' : 's'}${n.overloaded ? ` · ${n.overloaded} hot` : ''}`;
      const marker = n.kind === 'group' ? (n.closed ? '+ ' : '- ') : '';
      return (
        `<g class="box ${n.kind} ${band}${n.closed ? ' closed' : ''}" data-id="${esc(n.id)}" data-kind="${n.kind}"${n.kind === 'group' ? ` data-open="${!n.closed}"` : ''} data-load="${n.load.toFixed(2)}" transform="translate(${b.x},${b.y})">` +
        `<title>${esc(n.id)}: waiting ${n.waiting}, active ${n.active}, capacity ${n.capacity}, load ${n.load.toFixed(2)}</title>` +
        `<rect class="frame" width="${o.boxWidth}" height="${o.boxHeight}" rx="6"/>` +
        `<text class="name" x="6" y="15">${marker}${title}</text>` +
        `<text class="load" x="${o.boxWidth - 6}" y="15" text-anchor="end">${n.load.toFixed(2)}</text>` +
        `<text class="counts" x="6" y="29">${n.waiting}w ${n.active}a · ${esc(agents)}</text>` +
        `<rect class="bar-bg" x="6" y="35" width="${o.boxWidth - 12}" height="5" rx="2"/>` +
        `<rect class="bar" x="6" y="35" width="${fill.toFixed(1)}" height="5" rx="2"/>` +
        `</g>`
      );
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" class="tree" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}" role="img" aria-label="swarm hierarchy">${edges}${boxes}</svg>`;
}
