// One in-process agent host per test file, with a client on the same swarm:
// started in a beforeAll, stopped in an afterAll, in the style of redisForFile.
import { afterAll, beforeAll } from 'vitest';
import { AgentHost, type AgentHostOptions } from '../../src/agents/host.ts';
import type { ProcessorMap } from '../../src/agents/processor.ts';
import { SwarmClient } from '../../src/client/swarmClient.ts';
import type { SwarmConfig, SwarmConfigInput } from '../../src/config/schema.ts';
import { silentLogger } from '../../src/log.ts';
import { builtinProcessors } from '../../processors/builtins.ts';
import type { RedisForFile } from './redis.ts';
import { readThrough } from './forFile.ts';
import { testConfig } from './swarm.ts';

export interface HostForFileOptions extends Omit<AgentHostOptions, 'config' | 'logger' | 'processors'> {
  /** The built-in processors unless given. */
  processors?: ProcessorMap;
  /** Overrides for testConfig. */
  config?: Partial<SwarmConfigInput>;
  /** Called before the host starts, so a listener misses none of its events. */
  beforeStart?: (host: AgentHost) => void;
  /** How long the host may drain at the end of the file. */
  stopDeadlineMs?: number;
}

/** Valid inside the file's hooks and tests, from the beforeAll this registers on. */
export interface HostForFile {
  readonly config: SwarmConfig;
  readonly host: AgentHost;
  readonly client: SwarmClient;
}

/**
 * Call at top level, after `redisForFile` and before the file's own hooks:
 * the host starts once the server is up, and stops before it goes.
 */
export function hostForFile(redis: RedisForFile, options: HostForFileOptions): HostForFile {
  const { processors = builtinProcessors, config: overrides, beforeStart, stopDeadlineMs = 500, ...hostOptions } = options;
  let host: AgentHost | undefined;
  let running: HostForFile | undefined;
  beforeAll(async () => {
    const config = testConfig(redis, overrides);
    host = new AgentHost({ ...hostOptions, config, processors, logger: silentLogger });
    beforeStart?.(host);
    await host.start();
    running = { config, host, client: new SwarmClient({ redis: redis.url, prefix: config.prefix }) };
  });
  afterAll(async () => {
    await running?.client.close();
    // Stopped even when its start failed, so no agent outlives the file.
    await host?.stop(stopDeadlineMs);
    host = running = undefined;
  });
  return readThrough('hostForFile: the host', () => running, ['config', 'host', 'client']);
}
