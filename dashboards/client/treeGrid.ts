// The hierarchy as the page draws it. A tree whose root has a few children is
// one SVG picture (treeSvg.ts). A wide one (at 1,001 nodes the root holds a
// hundred groups, a picture 12,000 px wide) is a grid of group tiles, wrapped
// to the page's width, each with its load and counts; every opened group is
// drawn below the grid as its own picture. Pure: HTML from the shown tree.
import { esc } from './html.ts';
import { layoutTree } from './treeLayout.ts';
import { loadBand, treeSvg, type DrawnBox } from './treeSvg.ts';

/** Above this many children of the root, they are tiles. */
export const WIDE_TREE = 12;

function tile(g: DrawnBox): string {
  const band = loadBand(g.load, g.capacity);
  const count = g.nodeCount ?? g.nodeIds?.length ?? 0;
  const fill = Math.min(1, g.load / 2) * 100;
  const counts = g.kind === 'node' ? `${g.liveAgents ?? 0}/${g.agents ?? 0} agents` : `${count} node${count === 1 ? '' : 's'}${g.overloaded ? ` · ${g.overloaded} hot` : ''}`;
  return (
    `<button type="button" class="tile ${g.kind} ${band}" data-id="${esc(g.id)}" data-kind="${g.kind}"${g.kind === 'group' ? ` data-open="${!g.closed}"` : ''} data-load="${g.load.toFixed(2)}" ` +
    `title="${esc(g.id)}: waiting ${g.waiting}, active ${g.active}, capacity ${g.capacity}, load ${g.load.toFixed(2)}">` +
    `<b>${g.kind === 'group' ? (g.closed ? '+ ' : '- ') : ''}${esc(g.id)}</b> <span class="load">${g.load.toFixed(2)}</span>` +
    `<span class="counts">${g.waiting}w ${g.active}a · ${esc(counts)}</span><span class="bar"><span style="width:${fill.toFixed(0)}%"></span></span></button>`
  );
}

export function treeView(shown: { root: DrawnBox }): string {
  const kids = shown.root.children;
  if (kids.length <= WIDE_TREE) return treeSvg(layoutTree(shown));
  const opened = kids.filter((k) => k.kind === 'group' && !k.closed);
  return (
    `<div class="tiles" data-tiles="${kids.length}">${kids.map(tile).join('')}</div>` +
    opened.map((g) => `<div class="opened" data-opened="${esc(g.id)}">${treeSvg(layoutTree({ root: g }))}</div>`).join('')
  );
}
