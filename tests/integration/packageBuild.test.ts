// What `npm publish` ships: the build compiles, and the compiled package, loaded by
// plain Node (no tsx), exports a client that submits and reads a task on real Redis.
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../support/redis.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
// Inside the repository, so the compiled files resolve bullmq & co. from its node_modules.
const out = `${root}.build-test-${process.pid}`;
let redis: TestRedis | undefined;

afterAll(async () => {
  rmSync(out, { recursive: true, force: true });
  await redis?.stop();
});

describe('the built package', () => {
  it('compiles and works from plain Node', async () => {
    execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`, '--outDir', out], { cwd: root, stdio: 'pipe' });
    cpSync(`${root}queues/commands`, `${out}/queues/commands`, { recursive: true });
    redis = await startRedis();
    const script = `
      const { SwarmClient, AgentHost, swarmConfigSchema } = await import(${JSON.stringify(pathToFileURL(`${out}/src/index.js`).href)});
      const { builtinProcessors } = await import(${JSON.stringify(pathToFileURL(`${out}/processors/builtins.js`).href)});
      const { pino } = await import('pino');
      const config = swarmConfigSchema.parse({ redisUrl: ${JSON.stringify(redis.url)}, prefix: 'built' });
      const host = new AgentHost({ config, hostId: 'b', agents: [{ type: 'w', count: 1 }], processors: builtinProcessors, logger: pino({ level: 'silent' }) });
      await host.start();
      const client = new SwarmClient({ redis: ${JSON.stringify(redis.url)}, prefix: 'built' });
      const { id } = await client.submit({ type: 'echo', payload: 'from dist' });
      const t = await client.waitFor(id, { timeoutMs: 10000 });
      await client.close();
      await host.stop(1000);
      console.log(JSON.stringify(t));
    `;
    const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toMatchObject({ state: 'completed', result: 'from dist', agentId: 'b-a1' });
  }, 60_000);
});
