// A coordinator and its HTTP API with no background loop (no balancer, health
// monitor, summary or intake worker), so Redis changes only when a request
// changes it: what the auth and fuzz tests compare before and after.
import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import { connectTo } from './redis.ts';
import { createApp } from '../../src/api/app.ts';
import { swarmPages } from '../../src/cli/webPages.ts';
import type { SwarmConfig } from '../../src/config/schema.ts';
import { Coordinator } from '../../src/coordinator/coordinator.ts';
import { silentLogger } from '../../src/log.ts';

export interface QuietStack {
  base: string;
  coordinator: Coordinator;
  stop(): Promise<void>;
}

export async function startQuietStack(config: SwarmConfig): Promise<QuietStack> {
  const coordinator = new Coordinator({ config, logger: silentLogger, intake: false, balance: false, health: false });
  await coordinator.start();
  const app = createApp({ coordinator, bodyLimitBytes: config.http.bodyLimitBytes, logger: silentLogger, ...swarmPages(coordinator) });
  const server = await new Promise<Server>((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  await settled(config.redisUrl!);
  const addr = server.address();
  return {
    base: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
    coordinator,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await coordinator.stop();
    },
  };
}

/** Waits until start-up writes (queue metadata BullMQ creates lazily) are over: the key count holds still for a while. */
async function settled(url: string): Promise<void> {
  const redis = connectTo(url, { maxRetriesPerRequest: 1 });
  try {
    let last = -1;
    let still = 0;
    for (const deadline = Date.now() + 10_000; still < 5 && Date.now() < deadline; ) {
      const n = await redis.dbsize();
      still = n === last ? still + 1 : 0;
      last = n;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    redis.disconnect();
  }
}
