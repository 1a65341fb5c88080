// Every setting a deployment can give by environment, with its place in the
// config; the table in docs/configuration.md is this list (a test checks it).
import { z } from 'zod';
import { swarmConfigSchema, type SwarmConfig } from './schema.ts';
import { withSecretFiles } from './secretFiles.ts';

export interface Setting {
  env: string;
  path: string;
  description: string;
  /** A secret: `<env>_FILE` may name a file holding it instead (secretFiles.ts). */
  secret?: true;
}

export const settings: readonly Setting[] = [
  { env: 'REDIS_URL', path: 'redisUrl', description: 'Redis to coordinate through; unset, `redis://127.0.0.1:6379` (`swarmq start` starts its own redis-server instead); several URLs separated by commas are the seed nodes of a Redis Cluster' },
  { env: 'SWARMQ_REDIS_MODE', path: 'redisMode', description: '`single`, `cluster` or `sentinel`; unset, several URLs in `REDIS_URL` mean a Cluster and `REDIS_SENTINELS` a Sentinel-managed primary' },
  { env: 'REDIS_SENTINELS', path: 'redisSentinels', description: 'Sentinels that name the primary, `host:port[,host:port…]` (instead of `REDIS_URL`)' },
  { env: 'SWARMQ_SENTINEL_MASTER', path: 'sentinelMaster', description: 'the master name the Sentinels watch (required with `REDIS_SENTINELS`)' },
  { env: 'SWARMQ_REDIS_PASSWORD', path: 'redisPassword', secret: true, description: "the Redis user's password, when `REDIS_URL` (or the Sentinel setup) names the user but carries no password; usually given as `SWARMQ_REDIS_PASSWORD_FILE`" },
  { env: 'SWARMQ_PREFIX', path: 'prefix', description: "BullMQ key prefix of the swarm; producers use `new Queue('{intake}', { prefix })`" },
  { env: 'PORT', path: 'http.port', description: 'HTTP API and dashboards port' },
  { env: 'SWARMQ_BODY_LIMIT_BYTES', path: 'http.bodyLimitBytes', description: 'largest request body or intake job data; over it, 413 (an intake job fails)' },
  { env: 'SWARMQ_MAX_JSON_DEPTH', path: 'http.maxJsonDepth', description: 'deepest nesting of a task payload or proposal value (HTTP, client, intake; at most 512); deeper, 400 (an intake job fails)' },
  { env: 'SWARMQ_MAX_BATCH', path: 'http.maxBatch', description: 'most tasks in one batch' },
  { env: 'SWARMQ_HOST', path: 'http.host', description: 'address the HTTP API listens on (`0.0.0.0`: every interface; the Docker image sets that)' },
  { env: 'SWARMQ_ALLOWED_HOSTS', path: 'http.allowedHosts', description: 'comma-separated names (`host` or `host:port`) browsers may reach the API by, besides IP addresses, `localhost` and `SWARMQ_HOST`; other names get 403 (DNS rebinding), and cross-site changes must come from one of them (see Auth)' },
  { env: 'SWARMQ_TRUST_PROXY', path: 'http.trustProxy', description: "express's `trust proxy`: `true`, a hop count, or the proxies' addresses/subnets (`loopback`, `10.0.0.0/8`); then X-Forwarded-Proto: https makes the session cookie Secure" },
  { env: 'SWARMQ_API_TOKEN', path: 'http.apiToken', secret: true, description: 'when set, `/api/*`, Bull Board and the dashboard require it (see Auth); `/healthz`, `/readyz` and `/metrics` stay open' },
  { env: 'SWARMQ_MAX_AGENTS_PER_NODE', path: 'coordinator.maxAgentsPerNode', description: 'agents per coordination node (one BullMQ queue each)' },
  { env: 'SWARMQ_STRATEGY', path: 'coordinator.loadBalancing.type', description: 'routing strategy: least-loaded, round-robin, weighted or random' },
  { env: 'SWARMQ_ROUTING_SEED', path: 'coordinator.routingSeed', description: 'seed of the random strategy (replayable runs)' },
  { env: 'SWARMQ_HIERARCHY_DEPTH', path: 'coordinator.hierarchyDepth', description: 'levels of root → groups → nodes; stealing prefers siblings' },
  { env: 'SWARMQ_WORK_STEALING', path: 'coordinator.workStealing.enabled', description: 'idle nodes take waiting work from overloaded ones (true/false)' },
  { env: 'SWARMQ_STEAL_RATIO', path: 'coordinator.workStealing.thresholdRatio', description: "steal from a node whose waiting per slot is this many times the mean" },
  { env: 'SWARMQ_STEAL_INTERVAL_MS', path: 'coordinator.workStealing.intervalMs', description: 'how often the leading coordinator looks for steals' },
  { env: 'SWARMQ_REBALANCE_INTERVAL_MS', path: 'coordinator.loadBalancing.rebalanceInterval', description: 'how often waiting work is rebalanced' },
  { env: 'SWARMQ_REBALANCE_TOLERANCE', path: 'coordinator.loadBalancing.rebalanceTolerance', description: 'rebalance nodes further than this fraction from their fair share' },
  { env: 'SWARMQ_LEASE_MS', path: 'coordinator.leaseMs', description: "the leading coordinator's lease; its moves carry the lease's fencing token" },
  { env: 'SWARMQ_SNAPSHOT_INTERVAL_MS', path: 'coordinator.snapshotIntervalMs', description: 'how often the leading coordinator publishes node loads and routers fetch them while they route (one command each)' },
  { env: 'SWARMQ_LOADS_RESYNC_MS', path: 'coordinator.loadsResyncMs', description: "the leader re-counts every node's queue at least this often, besides the nodes whose queues had events (a rolling pass)" },
  { env: 'SWARMQ_LIVENESS_INTERVAL_MS', path: 'coordinator.livenessIntervalMs', description: "how often the leading coordinator checks hosts' connections and heartbeats" },
  { env: 'SWARMQ_METRICS_INTERVAL_MS', path: 'coordinator.metricsIntervalMs', description: 'how often the leading coordinator publishes a `metrics:updated` event (skipped while nothing changes, at least every 30 s)' },
  { env: 'SWARMQ_LOCK_DURATION_MS', path: 'agents.lockDurationMs', description: "BullMQ job lock duration (a dead agent's task is recovered after it lapses)" },
  { env: 'SWARMQ_IDLE_WAIT_SECONDS', path: 'agents.idleWaitSeconds', description: "how long an idle node's Worker blocks for a job before asking again (BullMQ's drainDelay; a new job wakes it at once)" },
  { env: 'SWARMQ_STALLED_INTERVAL_MS', path: 'agents.stalledIntervalMs', description: "BullMQ stalled-job check interval" },
  { env: 'SWARMQ_MAX_STALLED_COUNT', path: 'agents.maxStalledCount', description: 'times a task may stall before it fails' },
  { env: 'SWARMQ_HEARTBEAT_INTERVAL_MS', path: 'agents.heartbeatIntervalMs', description: 'agent host heartbeat (one write per host)' },
  { env: 'SWARMQ_DEGRADED_AFTER_MS', path: 'agents.degradedAfterMs', description: 'heartbeat age at which agents are degraded (an alert, no recovery); unset: 2 s, or a fifth of the failed age if less' },
  { env: 'SWARMQ_CRITICAL_AFTER_MS', path: 'agents.criticalAfterMs', description: 'heartbeat age at which agents are critical (an alert, no recovery); unset: 5 s, or half the failed age if less' },
  { env: 'SWARMQ_FAILED_AFTER_MS', path: 'agents.failedAfterMs', description: 'a host silent this long is failed: not routed to, its tasks recovered' },
  { env: 'SWARMQ_HIBERNATE_AFTER_MS', path: 'agents.hibernateAfterMs', description: "idle this long, a node's Worker on a host closes until work arrives (0: never)" },
  { env: 'SWARMQ_BREAKER_FAILURES', path: 'agents.breakerFailures', description: 'failed tasks in a row that isolate an agent (0: never); it returns at half capacity after the cool-down' },
  { env: 'SWARMQ_BREAKER_COOLDOWN_MS', path: 'agents.breakerCooldownMs', description: 'how long an isolated agent takes no task' },
  { env: 'SWARMQ_PROGRESS_INTERVAL_MS', path: 'agents.progressIntervalMs', description: "at most one write of a task's `ctx.progress` per this many ms (the latest value always written, the last one before the task finishes)" },
  { env: 'SWARMQ_PROGRESS_MAX_BYTES', path: 'agents.progressMaxBytes', description: "the largest `ctx.progress` value, in bytes of JSON; a bigger one throws in the processor" },
  { env: 'SWARMQ_CANCEL_GRACE_MS', path: 'agents.cancelGraceMs', description: "how long a cancelled task's processor has to end after its signal is aborted; past it, its slot is freed, it is counted (`cancelIgnoredSignals`) and a `cancel-ignored` health alert is raised" },
  { env: 'SWARMQ_AGENT_SECRET', path: 'agents.endpointSecret', secret: true, description: "the secret an agent host's HTTP agents sign each request with, shared with their service (at least 16 characters); required with `--endpoint`, usually given as `SWARMQ_AGENT_SECRET_FILE` (see [HTTP agents](http-agents.md))" },
  { env: 'SWARMQ_MAX_SPAWN', path: 'agents.maxSpawn', description: 'most agents one spawn request may ask for' },
  { env: 'SWARMQ_DURABILITY', path: 'durability.mode', description: '`fast`: a submit, a routed intake job, a recorded finish and a consensus decision are acknowledged once the Redis master has them; `replicated`: once a replica has them too (Redis `WAIT`), or the request fails with 503 `not_replicated` (see [Redis Cluster and Sentinel](cluster.md#losing-a-master))' },
  { env: 'SWARMQ_DURABILITY_REPLICAS', path: 'durability.replicas', description: 'with `replicated`: replicas that must hold each acknowledged write' },
  { env: 'SWARMQ_DURABILITY_TIMEOUT_MS', path: 'durability.timeoutMs', description: 'with `replicated`: how long an acknowledgement waits for the replicas before it fails (the request gets 503 `not_replicated`; nothing was acknowledged)' },
  { env: 'SWARMQ_TRUST_ANCHOR', path: 'trust.anchor', description: "the swarm authority's public key (`swarmq trust init`): when set, consensus counts an agent's key, a round's spec and a decision only if certified through it (see [Security](security.md))" },
  { env: 'SWARMQ_HOST_IDENTITY_FILE', path: 'trust.hostIdentityFile', description: "an agent host's enrolled identity (`swarmq trust enroll --host <id>`): it certifies its agents' consensus keys and signs their decisions" },
  { env: 'SWARMQ_PROPOSER_IDENTITY_FILE', path: 'trust.proposerIdentityFile', description: 'a coordinator\'s (or a proposing program\'s) enrolled identity (`swarmq trust enroll --proposer <name>`): it signs the spec of each proposal and replicated-task vote' },
  { env: 'SWARMQ_TRUST_REVOKED', path: 'trust.revoked', description: 'comma-separated enrolled keys (as `swarmq trust enroll` printed them) no longer trusted: their certificates, and every agent key and decision signed under them, count for nothing; give every process the same list' },
  { env: 'SWARMQ_DEFAULT_ATTEMPTS', path: 'tasks.defaultAttempts', description: 'attempts of a task that names none; after the last, the dead-letter queue' },
  { env: 'SWARMQ_BACKOFF_MS', path: 'tasks.backoffMs', description: 'first retry delay; each next one doubles' },
  { env: 'SWARMQ_KEEP_COMPLETED_SECONDS', path: 'tasks.keepCompletedSeconds', description: 'how long completed tasks (and idempotency keys) stay readable' },
  { env: 'SWARMQ_KEEP_FAILED_SECONDS', path: 'tasks.keepFailedSeconds', description: 'how long failed tasks stay readable' },
  { env: 'SWARMQ_KEYS', path: 'keys', description: 'keys\' limits as JSON, applied by each coordinator as it starts (over run-time changes; keys not named keep theirs): `{"acme":{"maxActive":3,"rate":"20/s","weight":2}}` ([Keys](keys.md))' },
];

/** The variables that may be given as `<VAR>_FILE`. */
export function secretSettings(): string[] {
  return settings.filter((s) => s.secret).map((s) => s.env);
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = target;
  for (const p of parts.slice(0, -1)) {
    cur[p] ??= {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

export function defaultValue(path: string): unknown {
  let cur: unknown = swarmConfigSchema.parse({});
  for (const p of path.split('.')) cur = (cur as Record<string, unknown>)[p];
  return cur;
}

/**
 * Config from the environment, then explicit overrides (flags) on top, validated;
 * a bad value is reported with the variable that carried it.
 */
export function loadConfig(given: NodeJS.ProcessEnv, overrides: Record<string, unknown> = {}): SwarmConfig {
  const env = withSecretFiles(given, secretSettings());
  const raw: Record<string, unknown> = {};
  for (const s of settings) if (env[s.env] !== undefined && env[s.env] !== '') setPath(raw, s.path, env[s.env]);
  for (const [path, value] of Object.entries(overrides)) if (value !== undefined) setPath(raw, path, value);
  const parsed = swarmConfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i: z.core.$ZodIssue) => {
    const path = i.path.join('.');
    // A list's issue is at an element (`http.allowedHosts.0`): its setting is the list's.
    const s = settings.find((x) => path === x.path || path.startsWith(`${x.path}.`));
    return `  ${path}${s ? ` (${s.env} or its flag)` : ''}: ${i.message}`;
  });
  throw new Error(`invalid configuration:\n${lines.join('\n')}`);
}
