// The dashboards the HTTP API serves, composed: dashboards/ is handed what it
// reads (finished tasks through a FinishedTail on the coordinator's connection).
// `swarmq start` and the tests that build an app use this.
import { dashboardPages } from '../../dashboards/pages.ts';
import type { WebPages } from '../api/app.ts';
import type { Coordinator } from '../coordinator/coordinator.ts';
import { FinishedTail } from '../metrics/finishedTail.ts';

export function swarmPages(coordinator: Coordinator): WebPages {
  const { commands, config } = coordinator;
  return dashboardPages(coordinator, { openTail: (sinceMs) => new FinishedTail(commands, config.prefix, sinceMs) });
}
