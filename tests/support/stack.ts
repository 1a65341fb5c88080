// A whole swarm in the test process: coordinator + HTTP API (ephemeral port) +
// optionally an agent host, on the test's Redis under its own prefix.
import type { Server } from 'node:http';
import { afterAll, beforeAll } from 'vitest';
import { AgentHost, type AgentSpec } from '../../src/agents/host.ts';
import { createApp } from '../../src/api/app.ts';
import { swarmPages } from '../../src/cli/webPages.ts';
import type { SwarmConfig, SwarmConfigInput } from '../../src/config/schema.ts';
import { Consensus } from '../../src/consensus/runtime/consensus.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import type { HttpEndpoints } from '../../src/agents/httpEndpoints.ts';
import type { RedisForFile } from './redis.ts';
import { readThrough } from './forFile.ts';
import { testConfig } from './swarm.ts';

export interface Stack {
  config: SwarmConfig;
  coordinator: Coordinator;
  host: AgentHost | undefined;
  server: Server;
  base: string;
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export interface StackOptions {
  agents?: AgentSpec[];
  processors?: ProcessorMap;
  /** HTTP agents of the host (its config must carry agents.endpointSecret). */
  endpoints?: HttpEndpoints;
  hostId?: string;
}

export async function startStack(config: SwarmConfig, opts: StackOptions = {}): Promise<Stack> {
  const coordinator = new Coordinator({ config, logger: silentLogger });
  await coordinator.start();
  let host: AgentHost | undefined;
  if (opts.agents) {
    host = new AgentHost({ config, hostId: opts.hostId ?? 'h1', agents: opts.agents, processors: opts.processors ?? builtinProcessors, ...(opts.endpoints ? { endpoints: opts.endpoints } : {}), logger: silentLogger });
    await host.start();
  }
  const app = createApp({ coordinator, bodyLimitBytes: config.http.bodyLimitBytes, logger: silentLogger, ...swarmPages(coordinator) });
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

export interface StackForFileOptions extends StackOptions {
  /** Overrides for testConfig. */
  config?: Partial<SwarmConfigInput>;
  /** Also run consensus rounds, as the `swarmq coordinator` process does (the in-process Coordinator does not). */
  driveConsensus?: boolean;
}

/** The file's stack; `consensus` is the driver `driveConsensus` asks for, to propose from TypeScript. */
export type StackForFile = Omit<Stack, 'stop'> & { readonly consensus: Consensus };

/**
 * One stack for the test file that calls it (at top level, after `redisForFile`
 * and before the file's own hooks): started in a beforeAll, stopped in an
 * afterAll. Its fields are valid inside the file's hooks and tests.
 */
export function stackForFile(redis: RedisForFile, options: StackForFileOptions = {}): StackForFile {
  const { config: overrides, driveConsensus = false, ...stackOptions } = options;
  let stack: Stack | undefined;
  let driver: Consensus | undefined;
  beforeAll(async () => {
    stack = await startStack(testConfig(redis, overrides), stackOptions);
    if (driveConsensus) {
      driver = new Consensus({ redis: redis.url, prefix: stack.config.prefix });
      await driver.drive();
    }
  });
  afterAll(async () => {
    await driver?.close();
    await stack?.stop();
    stack = driver = undefined;
  });
  return readThrough('stackForFile: the stack', () => stack, ['config', 'coordinator', 'host', 'server', 'base', 'request'], {
    get consensus(): Consensus {
      if (!driver) throw new Error('stackForFile: no consensus driver here; ask for one with driveConsensus: true, and use it inside hooks and tests');
      return driver;
    },
  });
}
