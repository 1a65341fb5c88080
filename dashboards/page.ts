// The dashboard's one page: plain HTML and CSS; client/main.ts fills it in.
const STYLE = `
:root { --bg:#0f1419; --panel:#171d24; --line:#2a323c; --text:#d8dee6; --dim:#8a96a3; --healthy:#3fb950; --degraded:#d29922; --critical:#f0883e; --failed:#f85149; --unknown:#6e7681; --accent:#58a6ff; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--text); font:13px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display:flex; align-items:baseline; gap:16px; padding:10px 18px; border-bottom:1px solid var(--line); }
header h1 { font-size:16px; margin:0; }
header a { color:var(--accent); text-decoration:none; }
#status { margin-left:auto; color:var(--dim); }
#status[data-live="true"]::before { content:"● "; color:var(--healthy); }
main { display:grid; grid-template-columns: minmax(0,3fr) minmax(0,2fr); gap:14px; padding:14px 18px; }
section { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:10px 12px; min-width:0; }
section h2 { font-size:13px; margin:0 0 8px; color:var(--dim); text-transform:uppercase; letter-spacing:.06em; }
section h2 .sub { text-transform:none; letter-spacing:0; font-weight:normal; margin-left:8px; }
.wide { grid-column: 1 / -1; }
#tree { overflow-x:auto; }
svg.tree .edge { fill:none; stroke:var(--line); stroke-width:1.5; }
svg.tree .frame { fill:#1d252e; stroke:#3a4552; }
svg.tree .root .frame, svg.tree .group .frame { fill:#1a2330; }
svg.tree text { fill:var(--text); font-size:11px; }
svg.tree .name { font-weight:600; }
svg.tree .counts { fill:var(--dim); font-size:10px; }
svg.tree .bar-bg { fill:#26303b; }
svg.tree .bar { fill:var(--healthy); }
svg.tree .busy .bar { fill:var(--degraded); }
svg.tree .overloaded .bar { fill:var(--failed); }
svg.tree .overloaded .frame { stroke:var(--failed); }
svg.tree .no-capacity .frame { stroke-dasharray:4 3; }
table.agents { width:100%; border-collapse:collapse; }
table.agents th, table.agents td { text-align:left; padding:3px 6px; border-bottom:1px solid var(--line); white-space:nowrap; }
table.agents th { color:var(--dim); font-weight:normal; }
.num { text-align:right !important; }
tr.departed td { opacity:.6; }
#agents { max-height:330px; overflow:auto; }
#running, #keys { max-height:300px; overflow:auto; } .full { color:#b45309; font-weight:600; } .warn { color:#b45309; } .spent { color:#b91c1c; font-weight:600; } .held { color:#b91c1c; font-size:.85em; } td.progress { white-space:normal; word-break:break-all; }
.filters { display:flex; flex-wrap:wrap; gap:6px; align-items:center; margin:0 0 6px; }
.filters input, .filters select, .filters button { background:#0f1419; color:var(--text); border:1px solid var(--line); border-radius:4px; padding:2px 6px; font:inherit; }
.filters input { flex:1 1 140px; min-width:100px; }
.filters button:disabled { opacity:.4; }
#agent-pager { color:var(--dim); min-width:10em; text-align:center; }
svg.tree g.group { cursor:pointer; }
.tiles { display:grid; grid-template-columns:repeat(auto-fill, minmax(118px, 1fr)); gap:6px; max-height:236px; overflow:auto; }
.tile { display:block; text-align:left; background:#1a2330; color:var(--text); border:1px solid #3a4552; border-radius:6px; padding:4px 6px; font:inherit; font-size:11px; cursor:pointer; }
.tile .load { float:right; }
.tile .counts { display:block; color:var(--dim); font-size:10px; }
.tile .bar { display:block; height:4px; background:#26303b; border-radius:2px; margin-top:3px; }
.tile .bar span { display:block; height:100%; background:var(--healthy); border-radius:2px; }
.tile.busy .bar span { background:var(--degraded); } .tile.overloaded .bar span { background:var(--failed); } .tile.overloaded { border-color:var(--failed); }
.tile[data-open="true"] { border-color:var(--accent); background:#1d2a3a; }
.opened { margin-top:8px; overflow-x:auto; }
svg.tree g.closed .frame { stroke:var(--accent); }
.badge, .pill { display:inline-block; padding:0 7px; border-radius:9px; font-size:11px; color:#0d1117; font-weight:600; }
.healthy { background:var(--healthy); } .degraded { background:var(--degraded); } .critical { background:var(--critical); } .failed { background:var(--failed); } .unknown { background:var(--unknown); }
.note, .empty, time { color:var(--dim); }
.empty { margin:4px 0; }
ul.feed { list-style:none; margin:0; padding:0; max-height:190px; overflow:auto; }
ul.feed li { padding:3px 0; border-bottom:1px solid var(--line); }
ul.feed li.sev-warning { color:var(--degraded); } ul.feed li.sev-critical { color:var(--failed); }
.votes { display:inline-block; width:60px; height:6px; background:#26303b; border-radius:3px; vertical-align:middle; }
.votes span { display:block; height:100%; background:var(--accent); border-radius:3px; }
.plots { display:flex; flex-wrap:wrap; gap:18px; }
.plot h3 { font-size:12px; margin:0 0 4px; font-weight:600; }
.plot .now { font-weight:normal; color:var(--dim); margin-left:6px; }
svg.sparkline { background:#131920; border-radius:4px; width:360px; }
svg.sparkline .baseline { stroke:var(--line); }
svg.sparkline .spark { fill:none; stroke-width:1.6; stroke-linecap:round; }
svg.sparkline .axis { fill:var(--dim); font-size:10px; }
.spark.completed, .legend i.completed { stroke:var(--healthy); background:var(--healthy); }
.spark.failed, .legend i.failed { stroke:var(--failed); background:var(--failed); }
.spark.p50, .legend i.p50 { stroke:var(--accent); background:var(--accent); }
.spark.p95, .legend i.p95 { stroke:#a371f7; background:#a371f7; }
.spark.run, .legend i.run { stroke:var(--degraded); background:var(--degraded); }
.legend { color:var(--dim); margin:2px 0 0; font-size:11px; }
.legend i { display:inline-block; width:10px; height:3px; margin:0 4px 2px 8px; vertical-align:middle; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size:11px; }
ul.approvals { list-style:none; margin:0; padding:0; max-height:420px; overflow:auto; }
ul.approvals li { padding:6px 0; border-bottom:1px solid var(--line); }
pre.output { margin:4px 0; padding:6px 8px; background:#0f1419; border:1px solid var(--line); border-radius:4px; max-height:140px; overflow:auto; white-space:pre-wrap; word-break:break-word; font:11px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
.decide { display:flex; flex-wrap:wrap; gap:6px; align-items:center; }
.decide input[type=text] { flex:1 1 200px; background:#0f1419; color:var(--text); border:1px solid var(--line); border-radius:4px; padding:2px 6px; font:inherit; }
.decide button { background:#1a2330; color:var(--text); border:1px solid #3a4552; border-radius:4px; padding:2px 10px; font:inherit; cursor:pointer; }
.decide button[data-action=approve] { border-color:var(--healthy); } .decide button[data-action=reject] { border-color:var(--failed); }
.decide button:disabled { opacity:.4; cursor:default; }
#approval-status[data-ok="false"] { color:var(--failed); }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
`;

/** The page, with the client module and Bull Board linked relative to where the dashboard is mounted. */
export function dashboardPage(mountPath: string, boardPath: string): string {
  const attr = (s: string) => s.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>swarmq · swarm dashboard</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>swarmq swarm</h1><span id="tree-summary" class="note"></span><a href="${attr(boardPath)}">Bull Board →</a><span id="status">connecting…</span></header>
<main>
<section class="wide"><h2>Hierarchy <span class="sub">root → groups → nodes, load = (waiting + active) / live slots; click a group to open or close it</span></h2><div id="tree"><p class="empty">Loading…</p></div></section>
<section><h2>Agents <span class="sub" id="agent-states"></span></h2>
<div class="filters" id="agent-filters">
<input id="agent-search" type="search" placeholder="search agent ids" autocomplete="off" maxlength="256" aria-label="search agent ids">
<select id="agent-host" aria-label="host"><option value="">all hosts</option></select>
<select id="agent-state" aria-label="state"><option value="">any state</option><option>live</option><option>down</option><option>healthy</option><option>degraded</option><option>critical</option><option>failed</option><option>unknown</option></select>
<button type="button" id="agent-prev" aria-label="previous page" disabled>‹</button><span id="agent-pager"></span><button type="button" id="agent-next" aria-label="next page" disabled>›</button>
</div>
<div id="agents"></div></section>
<section><h2>Hosts and nodes</h2><div id="hosts"></div></section>
<section class="wide"><h2>Awaiting approval <span class="sub">outputs that count only once someone approves them; a rejection fails the task, or runs it again with the reason</span></h2><p id="approval-status" class="note" role="status"></p><div id="approvals"></div></section>
<section class="wide"><h2>Running tasks <span class="sub">latest progress each processor reported (ctx.progress)</span></h2><div id="running"></div></section>
<section class="wide"><h2>Keys <span class="sub">tenants, teams, API keys: running against maxActive, rate, weight, waiting, held for a slot, starts refused by their limits</span></h2><div id="keys"></div></section>
<section><h2>Throughput and latency</h2><div id="rates" class="plots"></div></section>
<section><h2>Health alerts</h2><div id="alerts"></div></section>
<section><h2>Recoveries</h2><div id="recoveries"></div></section>
<section><h2>Rebalances</h2><div id="rebalances"></div></section>
<section><h2>Consensus rounds</h2><div id="consensus"></div></section>
</main>
<script type="module" src="${attr(mountPath)}/client/main.ts"></script>
</body>
</html>
`;
}
