// The configuration of a swarm, in the shape of the design report's recommended
// configuration, validated with zod at the boundary (flags, environment, code).
import { isIP } from 'node:net';
import { z } from 'zod';
import { redisTargetSettingsSchema, REDIS_MODES, type RedisTarget } from '../../queues/redisTarget.ts';
import { parseAuthority } from '../api/authority.ts';
import { validateThresholds } from '../health/classify.ts';
import { PROGRESS_DEFAULTS } from '../tasks/progress.ts';
import { configuredKeysSchema } from '../keys/limits.ts';

// "false" and "0" from the environment mean false (z.coerce.boolean would say true).
const flag = z.preprocess((v) => (v === 'false' || v === '0' ? false : v === 'true' || v === '1' ? true : v), z.boolean());

// JSON from the environment is parsed; what does not parse is left for the schema to refuse, naming the setting.
const jsonText = (v: unknown) => {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
};

// "a, b" from the environment is a list.
const commaList = (v: unknown) => (typeof v === 'string' ? v.split(',').map((e) => e.trim()).filter((e) => e !== '') : v);

/** What express's `trust proxy` takes as a list: loopback, linklocal, uniquelocal, an address, address/bits or address/netmask. */
function isProxyAddress(entry: string): boolean {
  if (entry === 'loopback' || entry === 'linklocal' || entry === 'uniquelocal') return true;
  const [address = '', range, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (range === undefined) return true;
  return /^[0-9]{1,3}$/.test(range) ? Number(range) <= (family === 4 ? 32 : 128) : isIP(range) === family;
}

const trustProxy = z.preprocess(
  (v) => (v === 'false' || v === '0' ? false : v === 'true' ? true : typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : v),
  z.union([
    z.boolean(),
    z.number().int().min(1).max(32),
    z.string().refine((v) => v.split(',').every((e) => isProxyAddress(e.trim())), {
      message: 'true, false, a number of proxy hops, or comma-separated addresses/subnets (e.g. loopback, 10.0.0.0/8)',
    }),
  ]),
);

const name = z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "_" and "-" only');

export const swarmConfigSchema = z.object({
  /** One Redis URL, or a Cluster's seed URLs separated by commas; with redisMode, redisSentinels and sentinelMaster it makes `redis`, the target every connection opens. */
  redisUrl: z.string().optional(),
  redisMode: z.enum(REDIS_MODES).optional(),
  redisSentinels: z.string().optional(),
  sentinelMaster: z.string().optional(),
  /** The password of the Redis user the URL names, kept out of the URL (SWARMQ_REDIS_PASSWORD_FILE). */
  redisPassword: z.string().min(1).optional(),
  /** BullMQ's key prefix: producers use `new Queue('{intake}', { prefix })`. */
  prefix: name.default('swarmq'),
  http: z
    .object({
      port: z.coerce.number().int().min(0).max(65535).default(3000),
      bodyLimitBytes: z.coerce.number().int().positive().default(1024 * 1024),
      /** Deepest nesting of a task's or a proposal's fields, at every way in; deeper ones would overflow the stack of what walks them later. */
      maxJsonDepth: z.coerce.number().int().min(1).max(512).default(64),
      maxBatch: z.coerce.number().int().positive().max(10_000).default(1000),
      /** Where the API listens; beyond loopback, set apiToken (a warning says so at start). */
      host: z.string().min(1).default('127.0.0.1'),
      /** When set, the API (but /healthz, /readyz, /metrics), Bull Board and the dashboard require it. */
      apiToken: z.string().min(1).optional(),
      /** Names (host or host:port) browsers may use besides IP addresses, localhost and `host`; others are refused (DNS rebinding). */
      allowedHosts: z
        .preprocess(commaList, z.array(z.string().refine((e) => parseAuthority(e) !== undefined, 'each entry is host or host:port (an IPv6 address in brackets)')))
        .default([]),
      /** express's `trust proxy`: which proxies' X-Forwarded-Proto/-For count (a Secure cookie behind TLS). Off: none. */
      trustProxy: trustProxy.default(false),
    })
    .prefault({}),
  coordinator: z
    .object({
      maxAgentsPerNode: z.coerce.number().int().min(1).max(1000).default(10),
      /** Levels of root → groups → nodes (2: no groups); groups hold up to maxAgentsPerNode children. */
      hierarchyDepth: z.coerce.number().int().min(2).max(8).default(3),
      /** The routing strategy (each task may name its own); rebalancing moves waiting work every rebalanceInterval. */
      loadBalancing: z
        .object({
          type: z.enum(['least-loaded', 'round-robin', 'weighted', 'random']).default('least-loaded'),
          /** The weighted strategy's weights (defaults 0.6 load, 0.3 latency, 0.1 affinity). */
          weights: z.object({ load: z.number().min(0), latency: z.number().min(0), affinity: z.number().min(0) }).partial().strict().optional(),
          rebalanceInterval: z.coerce.number().int().min(100).default(5000),
          rebalanceTolerance: z.coerce.number().min(0).max(10).default(0.3),
        })
        .prefault({}),
      workStealing: z
        .object({
          enabled: flag.default(true),
          thresholdRatio: z.coerce.number().min(1).default(2),
          /** How often the leading coordinator looks for idle nodes that can steal. */
          intervalMs: z.coerce.number().int().min(20).default(250),
        })
        .prefault({}),
      /** Seeds the random strategy, so a run can be replayed; a fresh seed per router when unset. */
      routingSeed: z.coerce.number().int().optional(),
      /** The leader's lease; a coordinator silent this long loses it. */
      leaseMs: z.coerce.number().int().min(100).default(3000),
      /** How often the leading coordinator publishes node loads and routers fetch them; between fetches they count their own routings. */
      snapshotIntervalMs: z.coerce.number().int().min(5).default(100),
      /** The leader re-counts every node's queue at least this often, events or not (a rolling pass). */
      loadsResyncMs: z.coerce.number().int().min(1000).default(60_000),
      /** How often the leading coordinator checks host connections and heartbeats. */
      livenessIntervalMs: z.coerce.number().int().min(20).default(200),
      /** How often the leading coordinator publishes a metrics:updated summary (and agent:joined / agent:left). */
      metricsIntervalMs: z.coerce.number().int().min(50).default(1000),
    })
    .prefault({}),
  agents: z
    .object({
      /**
       * How long an idle node's BullMQ Worker blocks waiting for a job before it asks again
       * (BullMQ's drainDelay). A new job wakes it at once whatever this is; only an idle
       * swarm's cost depends on it: each wait ends in a few commands, per node.
       */
      idleWaitSeconds: z.coerce.number().int().min(1).max(3600).default(30),
      /** BullMQ's lock and stalled-check settings; its defaults (30 s) unless set. */
      lockDurationMs: z.coerce.number().int().min(100).default(30_000),
      stalledIntervalMs: z.coerce.number().int().min(100).default(30_000),
      maxStalledCount: z.coerce.number().int().min(0).default(1),
      heartbeatIntervalMs: z.coerce.number().int().min(50).default(1000),
      /**
       * Heartbeat age at which an agent counts as degraded, then critical (alerts,
       * no recovery yet). Unset, 2 s and 5 s, scaled down to a fifth and a half of
       * failedAfterMs when that is set shorter, so a short failedAfterMs alone is valid.
       */
      degradedAfterMs: z.coerce.number().int().min(1).optional(),
      criticalAfterMs: z.coerce.number().int().min(1).optional(),
      /** An agent whose host has not beaten for this long is failed: not routed to, and its tasks recovered. */
      failedAfterMs: z.coerce.number().int().min(100).default(10_000),
      /** A node whose agents on a host are all idle this long closes its Worker there (0: never). */
      hibernateAfterMs: z.coerce.number().int().min(0).default(0),
      /** Most agents one spawn request may ask for. */
      maxSpawn: z.coerce.number().int().min(1).default(10_000),
      /** Circuit breaker: failed tasks in a row that isolate an agent (0: never), and its cool-down. */
      breakerFailures: z.coerce.number().int().min(0).default(5),
      breakerCooldownMs: z.coerce.number().int().min(1).default(10_000),
      /** ctx.progress: at most one write of a task's progress per this many ms (the latest value always delivered). */
      progressIntervalMs: z.coerce.number().int().min(1).max(60_000).default(PROGRESS_DEFAULTS.intervalMs),
      /** ctx.progress: the largest value, in bytes of JSON; a bigger one throws in the processor. */
      progressMaxBytes: z.coerce.number().int().min(16).max(1024 * 1024).default(PROGRESS_DEFAULTS.maxBytes),
      /** A cancelled task's processor has this long to end after its signal is aborted; past it, its slot is freed and an alert raised. */
      cancelGraceMs: z.coerce.number().int().min(0).default(5_000),
      /** The secret HTTP agents sign their requests with, shared with their services (docs/http-agents.md). */
      endpointSecret: z.string().min(16, 'at least 16 characters (e.g. `openssl rand -hex 32`)').optional(),
    })
    .transform((a) => ({
      ...a,
      degradedAfterMs: a.degradedAfterMs ?? Math.min(2000, Math.floor(a.failedAfterMs / 5)),
      criticalAfterMs: a.criticalAfterMs ?? Math.min(5000, Math.floor(a.failedAfterMs / 2)),
    }))
    .prefault({}),
  /**
   * When an acknowledgement (a submit's 202, an intake job routed, a finish
   * recorded, a consensus decision) is given: `fast` once the Redis master has
   * the write; `replicated` once `replicas` replicas have it too (Redis WAIT),
   * failing the request (503 not_replicated) after `timeoutMs` rather than
   * acknowledging a write a failover could lose.
   */
  durability: z
    .object({
      mode: z.enum(['fast', 'replicated']).default('fast'),
      replicas: z.coerce.number().int().min(1).max(16).default(1),
      timeoutMs: z.coerce.number().int().min(10).max(60_000).default(2000),
    })
    .prefault({}),
  /**
   * Certified consensus (docs/security.md): the swarm authority's Ed25519
   * public key, and this process's enrolled identities. With an anchor, keys,
   * specs and decisions count only through it.
   */
  trust: z
    .object({
      anchor: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'the authority public key `swarmq trust init` printed (base64 of 32 bytes)').optional(),
      hostIdentityFile: z.string().min(1).optional(),
      proposerIdentityFile: z.string().min(1).optional(),
      /** Enrolled keys no longer trusted (a host or proposer lost or compromised): configuration, so no Redis writer can lift it. */
      revoked: z.preprocess(commaList, z.array(z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'each entry is an enrolled public key (base64 of 32 bytes), as `swarmq trust enroll` printed it'))).default([]),
    })
    .prefault({}),
  /**
   * Keys' limits (docs/keys.md): key → { maxActive?, rate?, weight? }, applied
   * by each coordinator as it starts (over what PUT /api/keys/:key/limits set
   * since); keys not named here keep theirs.
   */
  keys: z.preprocess(jsonText, configuredKeysSchema).default({}),
  tasks: z
    .object({
      /** Attempts of a task that names none; retries back off exponentially from backoffMs. */
      defaultAttempts: z.coerce.number().int().min(1).max(100).default(3),
      backoffMs: z.coerce.number().int().min(0).default(1000),
      keepCompletedSeconds: z.coerce.number().int().min(1).default(24 * 3600),
      keepFailedSeconds: z.coerce.number().int().min(1).default(7 * 24 * 3600),
    })
    .prefault({}),
})
  .superRefine((c, ctx) => {
    const problem = validateThresholds(c.agents);
    if (problem) ctx.addIssue({ code: 'custom', path: ['agents'], message: problem });
  })
  .transform((c, ctx) => {
    // Where Redis is, parsed once here: each issue lands on the setting that carried it.
    const fields = { url: 'redisUrl', mode: 'redisMode', sentinels: 'redisSentinels', sentinelMaster: 'sentinelMaster' } as const;
    const target = redisTargetSettingsSchema.safeParse({ url: c.redisUrl, mode: c.redisMode, sentinels: c.redisSentinels, sentinelMaster: c.sentinelMaster });
    if (!target.success) {
      for (const i of target.error.issues) ctx.addIssue({ code: 'custom', path: [fields[i.path[0] as keyof typeof fields] ?? 'redisUrl'], message: i.message });
      return z.NEVER;
    }
    if (c.redisPassword === undefined) return { ...c, redis: target.data };
    const redis = withPassword(target.data, c.redisPassword);
    if (typeof redis === 'string') {
      ctx.addIssue({ code: 'custom', path: ['redisPassword'], message: redis });
      return z.NEVER;
    }
    return { ...c, redis };
  });

/** The target with `password` for its user, or why it cannot take one (it carries a password already). */
function withPassword(t: RedisTarget, password: string): RedisTarget | string {
  const twice = 'the Redis URL carries a password and a Redis password is set too (SWARMQ_REDIS_PASSWORD or its _FILE): keep one';
  if (t.kind !== 'single') return t.password !== undefined ? twice : { ...t, password };
  const url = new URL(t.url);
  if (url.password !== '') return twice;
  url.password = encodeURIComponent(password);
  return { kind: 'single', url: url.toString() };
}

export type SwarmConfig = z.infer<typeof swarmConfigSchema>;
export type SwarmConfigInput = z.input<typeof swarmConfigSchema>;
