// Where a newcomer points the browser once the API is up: printed to stdout as
// plain lines (the JSON logs on stderr carry the same URLs for machines).
import type { Server } from 'node:http';
import { BULL_BOARD_PATH } from '../../dashboards/bullBoard.ts';
import { DASHBOARD_PATH } from '../../dashboards/dashboard.ts';

export interface ServiceUrls {
  url: string;
  dashboard: string;
  board: string;
}

export function serviceUrls(server: Server, fallbackPort: number): ServiceUrls {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : fallbackPort;
  const url = `http://127.0.0.1:${port}`;
  return { url, dashboard: `${url}${DASHBOARD_PATH}`, board: `${url}${BULL_BOARD_PATH}` };
}

export function printUrls(u: ServiceUrls, out: NodeJS.WritableStream = process.stdout): void {
  out.write(`\n  swarm dashboard  ${u.dashboard}\n  Bull Board       ${u.board}\n  HTTP API         ${u.url}/api\n\n`);
}
