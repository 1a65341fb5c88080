// The swarm's read routes, built to stay small at 10,000 agents: agents and
// nodes in pages with filters, hosts and a summary in counts, the hierarchy in
// slices a dashboard opens on demand. All read through one SwarmCache, so the
// roster is parsed and indexed once per roster version.
import express, { type Router } from 'express';
import type { Coordinator } from '../coordinator/coordinator.ts';
import { SwarmError } from '../errors.ts';
import { buildHierarchy, ROOT_ID, type HierarchyTree } from '../routing/hierarchy.ts';
import { hierarchyToJSON } from '../routing/hierarchyJson.ts';
import { hierarchySlice } from '../routing/hierarchySlice.ts';
import type { NodeView } from '../routing/loads.ts';
import { agentPage } from './agentPage.ts';
import { agentQuerySchema, emptyQuerySchema, hierarchyQuerySchema, nodeQuerySchema, parseQuery } from './listQuery.ts';
import { nodePage, nodeStatuses } from './nodePage.ts';
import { SwarmCache } from './swarmCache.ts';
import { loadsReaderSource, type SwarmSource } from './swarmSource.ts';
import { swarmSummary } from './swarmSummary.ts';
import { readRunning, runningQuerySchema } from './runningTasks.ts';

export interface SwarmRoutesOptions {
  coordinator: Coordinator;
  /** Where the roster and loads come from; default a LoadsReader on the coordinator's connection. */
  source?: SwarmSource;
}

/** Mounted at /api by createApp: GET /agents, /nodes, /hosts, /summary, /running, /hierarchy. */
export function swarmRoutes({ coordinator: c, source }: SwarmRoutesOptions): Router {
  const failedAfterMs = c.config.agents.failedAfterMs;
  const cache = new SwarmCache(source ?? loadsReaderSource(c.commands, c.config.prefix, failedAfterMs), { failedAfterMs, health: () => c.health.hosts() });
  const { maxAgentsPerNode: fanout, hierarchyDepth: depth } = c.config.coordinator;
  // One tree per read of the loads (requests that share a read share the tree).
  const trees = new WeakMap<NodeView[], HierarchyTree>();
  const treeOf = (nodes: NodeView[]): HierarchyTree => {
    let t = trees.get(nodes);
    if (!t) trees.set(nodes, (t = buildHierarchy(nodes, { fanout, depth })));
    return t;
  };

  const r = express.Router();
  r.get('/agents', async (req, res) => {
    const q = parseQuery(agentQuerySchema, req.query, 'GET /api/agents');
    const { index, liveness } = await cache.roster();
    res.json(agentPage(index, q, liveness));
  });
  r.get('/nodes', async (req, res) => {
    const q = parseQuery(nodeQuerySchema, req.query, 'GET /api/nodes');
    const { nodes, nodeRecords } = await cache.loads();
    res.json(nodePage(nodeStatuses(nodes, nodeRecords), q));
  });
  r.get('/hosts', async (req, res) => {
    parseQuery(emptyQuerySchema, req.query, 'GET /api/hosts');
    const { index, liveness } = await cache.roster();
    res.json({ hosts: swarmSummary(index, liveness, []).byHost });
  });
  r.get('/summary', async (req, res) => {
    parseQuery(emptyQuerySchema, req.query, 'GET /api/summary');
    const { index, liveness, nodes } = await cache.loads();
    res.json(swarmSummary(index, liveness, nodes));
  });
  r.get('/running', async (req, res) => {
    const q = parseQuery(runningQuerySchema, req.query, 'GET /api/running');
    const { nodes } = await cache.loads();
    res.json(await readRunning(c.commands, c.config.prefix, nodes, q.limit));
  });
  r.get('/hierarchy', async (req, res) => {
    const q = parseQuery(hierarchyQuerySchema, req.query, 'GET /api/hierarchy');
    const { nodes } = await cache.loads();
    const tree = treeOf(nodes);
    // No parameters: the whole tree, as before (small swarms, scripts).
    if (q.under === undefined && q.depth === undefined) {
      res.json(hierarchyToJSON(tree));
      return;
    }
    const under = q.under ?? ROOT_ID;
    const slice = hierarchySlice(tree, under, q.depth ?? 1);
    if (!slice) throw new SwarmError('not_found', `the hierarchy has no group or node "${under}" (ids: root, g<i>, gg<i>…, n<seq>)`, [{ path: 'under', message: 'no such group or node' }]);
    res.json(slice);
  });
  return r;
}
