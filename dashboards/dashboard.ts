// The swarm dashboard at /dashboard: the page, its browser modules, and the
// throughput and latency samples. Its live events come from GET /api/events.
import express, { type Router } from 'express';
import type { Coordinator } from '../src/coordinator/coordinator.ts';
import { BULL_BOARD_PATH } from './bullBoard.ts';
import { ClientModules } from './clientModules.ts';
import { dashboardPage } from './page.ts';
import { RATE_INTERVAL_MS, TaskRates, type OpenTail } from './taskRates.ts';

export const DASHBOARD_PATH = '/dashboard';

/** `openTail` reads the tasks finished since a time (the composition root builds it on src/metrics/finishedTail.ts). */
export function dashboardRouter(coordinator: Coordinator, openTail: OpenTail): Router {
  const router = express.Router();
  const modules = new ClientModules();
  const rates = new TaskRates(coordinator.commands, openTail, () => coordinator.router.freshNodeIds());

  router.get('/', (req, res) => {
    rates.history(); // the plots start filling while the page loads
    res.type('html').set('cache-control', 'no-store').send(dashboardPage(req.baseUrl, BULL_BOARD_PATH));
  });
  router.get('/client/:file', async (req, res) => {
    const m = await modules.get(req.params.file);
    if (!m) {
      res.status(404).type('text').send('no such dashboard module');
      return;
    }
    res.type('text/javascript').set('cache-control', 'no-cache').send(m.code);
  });
  router.get('/rates', (_req, res) => {
    res.json({ intervalMs: RATE_INTERVAL_MS, points: rates.history() });
  });
  return router;
}
