// `swarmq agents` told to stop while its Redis is gone for good: stopping
// needs Redis (tasks handed back, the roster), so it cannot finish; the
// process still exits, with status 1 and a line saying why, once the drain
// and a fixed slack have passed, instead of hanging on SIGTERM forever.
import { describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.ts';
import { startRedis, uniquePrefix } from '../support/redis.ts';

describe('SIGTERM with Redis gone', () => {
  it('exits 1 after the drain and the slack, saying shutdown could not finish', async () => {
    const redis = await startRedis({ own: true });
    const host = spawnCli(['agents', '--count', '2', '--drain-ms', '500', '--host-id', 'gone', '--redis-url', redis.url, '--prefix', uniquePrefix('gone')]);
    try {
      await host.waitFor(/agents ready|ready/i, 30_000);
      await redis.kill();
      const t0 = Date.now();
      host.child.kill('SIGTERM');
      const { code } = await host.exited;
      // 500 ms of drain + 10 s of slack; generous above, a liveness bound, not a speed claim.
      expect(Date.now() - t0).toBeLessThan(25_000);
      expect(code).toBe(1);
      expect(host.output()).toMatch(/shutdown did not finish in time \(is Redis reachable\?\)/);
    } finally {
      if (host.child.exitCode === null) host.child.kill('SIGKILL');
    }
  }, 60_000);
});
