// The dashboards as the HTTP API serves them: pages the composition root
// (src/cli/webPages.ts) builds here and hands to createApp, which mounts them
// after its own routes and behind the same API token. Signing in lands on the
// swarm dashboard.
import type { WebPages } from '../src/api/app.ts';
import type { Coordinator } from '../src/coordinator/coordinator.ts';
import { BULL_BOARD_PATH, bullBoardRouter } from './bullBoard.ts';
import { DASHBOARD_PATH, dashboardRouter } from './dashboard.ts';
import type { OpenTail } from './taskRates.ts';

export interface DashboardInputs {
  /** How the throughput and latency plots read finished tasks. */
  openTail: OpenTail;
}

export function dashboardPages(coordinator: Coordinator, o: DashboardInputs): WebPages {
  return {
    landing: DASHBOARD_PATH,
    pages: [
      { path: BULL_BOARD_PATH, handler: bullBoardRouter(coordinator) },
      { path: DASHBOARD_PATH, handler: dashboardRouter(coordinator, o.openTail) },
    ],
  };
}
