// A whole swarm in the test process: coordinator + HTTP API (ephemeral port) +
// optionally an agent host, on the test's Redis under its own prefix.
import type { Server } from 'node:http';
import { AgentHost, type AgentSpec } from '../../src/agents/host.ts';
import { createApp } from '../../src/api/app.ts';
import { swarmPages } from '../../src/cli/webPages.ts';
import type { SwarmConfig } from '../../src/config/schema.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';

export interface Stack {
  config: SwarmConfig;
  coordinator: Coordinator;
  host: AgentHost | undefined;
  server: Server;
  base: string;
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export async function startStack(
  config: SwarmConfig,
  opts: { agents?: AgentSpec[]; processors?: ProcessorMap; hostId?: string } = {},
): Promise<Stack> {
  const coordinator = new Coordinator({ config, logger: silentLogger });
  await coordinator.start();
  let host: AgentHost | undefined;
  if (opts.agents) {
    host = new AgentHost({ config, hostId: opts.hostId ?? 'h1', agents: opts.agents, processors: opts.processors ?? builtinProcessors, logger: silentLogger });
    await host.start();
  }
  const app = createApp({ coordinator, bodyLimitBytes: config.http.bodyLimitBytes, logger: silentLogger, ...swarmPages(coordinator, config.http.bodyLimitBytes) });
  const server = await new Promise<Server>((res) => {
    const s = app.listen(0, () => res(s));
  });
  const addr = server.address();
  const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return {
    config,
    coordinator,
    host,
    server,
    base,
    async request(method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers } };
      if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
      const res = await fetch(base + path, init);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON (Bull Board's HTML)
      }
      return { status: res.status, body: parsed };
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      // The coordinator first: a health monitor still running would take the
      // stopping host for a failed one and start a recovery that waits on it.
      await coordinator.stop();
      await host?.stop(1000);
    },
  };
}
