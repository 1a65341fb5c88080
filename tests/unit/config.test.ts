// Unit and property tests for the swarm configuration schema (src/config/schema.ts).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { swarmConfigSchema } from '../../src/config/schema.ts';
import { describeIssues, issuesOf } from '../../src/validation.ts';

const NUM_RUNS = 200;

describe('swarmConfigSchema: defaults', () => {
  it('fills every default from an empty object', () => {
    const c = swarmConfigSchema.parse({});
    expect(c.redisUrl).toBeUndefined();
    expect(c.redis).toEqual({ kind: 'single', url: 'redis://127.0.0.1:6379' });
    expect(c.prefix).toBe('swarmq');
    expect(c.http.port).toBe(3000);
    expect(c.http.bodyLimitBytes).toBe(1024 * 1024);
    expect(c.http.maxBatch).toBe(1000);
    expect(c.coordinator.maxAgentsPerNode).toBe(10);
    expect(c.coordinator.loadBalancing.type).toBe('least-loaded');
    expect(c.coordinator.snapshotIntervalMs).toBe(100);
    expect(c.agents).toEqual({
      idleWaitSeconds: 30,
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      maxStalledCount: 1,
      heartbeatIntervalMs: 1000,
      degradedAfterMs: 2000,
      criticalAfterMs: 5000,
      failedAfterMs: 10_000,
      hibernateAfterMs: 0,
      maxSpawn: 10_000,
      breakerFailures: 5,
      breakerCooldownMs: 10_000,
      progressIntervalMs: 50,
      progressMaxBytes: 16 * 1024,
      cancelGraceMs: 5000,
    });
    expect(c.tasks).toEqual({ defaultAttempts: 3, backoffMs: 1000, keepCompletedSeconds: 24 * 3600, keepFailedSeconds: 7 * 24 * 3600 });
  });

  it('fills the defaults of a section given in part', () => {
    const c = swarmConfigSchema.parse({ http: { port: 8080 }, coordinator: { loadBalancing: {} } });
    expect(c.http).toEqual({ port: 8080, bodyLimitBytes: 1024 * 1024, maxJsonDepth: 64, maxBatch: 1000, host: '127.0.0.1', allowedHosts: [], trustProxy: false });
    expect(c.coordinator.maxAgentsPerNode).toBe(10);
    expect(c.coordinator.hierarchyDepth).toBe(3);
    expect(c.coordinator.loadBalancing).toEqual({ type: 'least-loaded', rebalanceInterval: 5000, rebalanceTolerance: 0.3 });
    expect(c.coordinator.workStealing).toEqual({ enabled: true, thresholdRatio: 2, intervalMs: 250 });
  });

  it('keeps explicit values', () => {
    const c = swarmConfigSchema.parse({ prefix: 'team-a_1', redisUrl: 'redis://redis:6380/2', coordinator: { maxAgentsPerNode: 25 } });
    expect(c.prefix).toBe('team-a_1');
    expect(c.redisUrl).toBe('redis://redis:6380/2');
    expect(c.coordinator.maxAgentsPerNode).toBe(25);
  });
});

describe('swarmConfigSchema: coercion', () => {
  it('coerces numeric strings (as from flags and the environment)', () => {
    const c = swarmConfigSchema.parse({
      http: { port: '8080', bodyLimitBytes: '2048', maxJsonDepth: '32', maxBatch: '50' },
      coordinator: { maxAgentsPerNode: '7', snapshotIntervalMs: '250' },
      agents: { heartbeatIntervalMs: '500', failedAfterMs: '3000', maxStalledCount: '0' },
      tasks: { defaultAttempts: '3' },
    });
    expect(c.http).toEqual({ port: 8080, bodyLimitBytes: 2048, maxJsonDepth: 32, maxBatch: 50, host: '127.0.0.1', allowedHosts: [], trustProxy: false });
    expect(c.coordinator.maxAgentsPerNode).toBe(7);
    expect(c.coordinator.snapshotIntervalMs).toBe(250);
    expect(c.agents.heartbeatIntervalMs).toBe(500);
    expect(c.agents.failedAfterMs).toBe(3000);
    // Health thresholds left unset follow a shorter failedAfterMs down.
    expect([c.agents.degradedAfterMs, c.agents.criticalAfterMs]).toEqual([600, 1500]);
    expect(c.agents.maxStalledCount).toBe(0);
    expect(c.tasks.defaultAttempts).toBe(3);
  });

  it('coerces any in-range port written as a string (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), (p) => {
        expect(swarmConfigSchema.parse({ http: { port: String(p) } }).http.port).toBe(p);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('coerces maxAgentsPerNode strings and enforces 1..1000 (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 1010 }), (n) => {
        const r = swarmConfigSchema.safeParse({ coordinator: { maxAgentsPerNode: String(n) } });
        expect(r.success).toBe(n >= 1 && n <= 1000);
        if (r.success) expect(r.data.coordinator.maxAgentsPerNode).toBe(n);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('rejects strings that are not numbers, naming the field', () => {
    const r = swarmConfigSchema.safeParse({ http: { port: 'eighty' } });
    expect(r.success).toBe(false);
    if (!r.success) expect(issuesOf(r.error).map((i) => i.path)).toEqual(['http.port']);
  });

  it('rejects out-of-range and fractional numbers', () => {
    expect(swarmConfigSchema.safeParse({ http: { port: 65536 } }).success).toBe(false);
    expect(swarmConfigSchema.safeParse({ http: { port: '-1' } }).success).toBe(false);
    expect(swarmConfigSchema.safeParse({ http: { port: '80.5' } }).success).toBe(false);
    expect(swarmConfigSchema.safeParse({ http: { bodyLimitBytes: 0 } }).success).toBe(false);
    // A bound past what the walks after it survive would be no bound.
    expect(swarmConfigSchema.safeParse({ http: { maxJsonDepth: 0 } }).success).toBe(false);
    expect(swarmConfigSchema.safeParse({ http: { maxJsonDepth: 513 } }).success).toBe(false);
    expect(swarmConfigSchema.safeParse({ http: { maxBatch: 10_001 } }).success).toBe(false);
    expect(swarmConfigSchema.safeParse({ coordinator: { maxAgentsPerNode: 0 } }).success).toBe(false);
    expect(swarmConfigSchema.safeParse({ tasks: { defaultAttempts: 101 } }).success).toBe(false);
    expect(swarmConfigSchema.safeParse({ coordinator: { loadBalancing: { type: 'round-robin' } } }).success).toBe(true);
    expect(swarmConfigSchema.safeParse({ coordinator: { loadBalancing: { type: 'fastest' } } }).success).toBe(false);
  });

  it('rejects a redis URL that is not a URL', () => {
    const r = swarmConfigSchema.safeParse({ redisUrl: 'not a url' });
    expect(r.success).toBe(false);
    if (!r.success) expect(issuesOf(r.error)[0]!.path).toBe('redisUrl');
  });
});

describe('swarmConfigSchema: prefix', () => {
  it('rejects a prefix with ":", with a message naming the field', () => {
    const r = swarmConfigSchema.safeParse({ prefix: 'my:swarm' });
    expect(r.success).toBe(false);
    if (!r.success) {
      expect(r.error.issues).toHaveLength(1);
      expect(r.error.issues[0]!.path).toEqual(['prefix']);
      const msg = describeIssues(r.error);
      expect(msg).toMatch(/^prefix: /);
      expect(msg).toContain('letters, digits');
      // zod's own message names the path too.
      expect(r.error.message).toContain('prefix');
    }
  });

  it('rejects an empty prefix', () => {
    expect(swarmConfigSchema.safeParse({ prefix: '' }).success).toBe(false);
  });

  it('accepts exactly the prefixes of letters, digits, "_" and "-" (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 12 }), (prefix) => {
        expect(swarmConfigSchema.safeParse({ prefix }).success).toBe(/^[A-Za-z0-9_-]+$/.test(prefix));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('rejects any prefix containing ":" (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{0,8}$/), fc.stringMatching(/^[A-Za-z0-9_-]{0,8}$/), (a, b) => {
        const r = swarmConfigSchema.safeParse({ prefix: `${a}:${b}` });
        expect(r.success).toBe(false);
        if (!r.success) expect(issuesOf(r.error).map((i) => i.path)).toEqual(['prefix']);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('swarmConfigSchema: flags from the environment', () => {
  it('reads "false" and "0" as false, "true" and "1" as true', () => {
    for (const [raw, want] of [['false', false], ['0', false], ['true', true], ['1', true]] as const) {
      expect(swarmConfigSchema.parse({ coordinator: { workStealing: { enabled: raw } } }).coordinator.workStealing.enabled).toBe(want);
    }
    expect(swarmConfigSchema.safeParse({ coordinator: { workStealing: { enabled: 'maybe' } } }).success).toBe(false);
  });
});

describe('swarmConfigSchema: health thresholds', () => {
  it('refuses thresholds out of order, naming the setting to change', () => {
    const r = swarmConfigSchema.safeParse({ agents: { degradedAfterMs: 6000, criticalAfterMs: 5000 } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/SWARMQ_DEGRADED_AFTER_MS.*must be less than.*SWARMQ_CRITICAL_AFTER_MS/);
    expect(swarmConfigSchema.safeParse({ agents: { criticalAfterMs: 10_000 } }).success).toBe(false);
  });
});
