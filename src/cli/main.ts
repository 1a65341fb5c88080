// The swarmq command line.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { userInfo } from 'node:os';
import type { Server } from 'node:http';
import { Command, Option } from 'commander';
import { describeRedisTarget } from '../../queues/redisTarget.ts';
import { processorsFor } from '../../processors/load.ts';
import { AgentHost, type AgentHostOptions, type AgentSpec } from '../agents/host.ts';
import { createApp } from '../api/app.ts';
import { exposureWarning } from '../api/auth.ts';
import { SwarmClient } from '../client/swarmClient.ts';
import { loadConfig } from '../config/settings.ts';
import type { SwarmConfig } from '../config/schema.ts';
import { Coordinator } from '../coordinator/coordinator.ts';
import { Consensus } from '../consensus/runtime/consensus.ts';
import { printUrls, serviceUrls } from './urls.ts';
import { swarmPages } from './webPages.ts';
import { SwarmError } from '../errors.ts';
import { createLogger, type Logger } from '../log.ts';
import { startLocalCluster, startLocalRedis, type LocalClusterShape, type LocalRedis } from './localRedis.ts';
import { spawnWithProgress } from './spawnProgress.ts';
import { statusReport } from './status.ts';
import { limitsGet, limitsSet, limitsTable, type LimitFlags } from './limits.ts';
import { budgetGet, budgetSet, budgetTable, type BudgetFlags } from './budget.ts';

interface CommonFlags {
  redisUrl?: string;
  prefix?: string;
}

function redisFromStateDir(): string | undefined {
  const f = '.swarmq/redis.url';
  return existsSync(f) ? readFileSync(f, 'utf8').trim() : undefined;
}

/** The environment says where Redis is (a URL, or Sentinels): no local redis-server is started or looked for. */
function redisGivenByEnv(): boolean {
  return Boolean(process.env.REDIS_URL || process.env.REDIS_SENTINELS);
}

function configFrom(flags: CommonFlags & { port?: string }, fallbackRedis?: string): SwarmConfig {
  return loadConfig(process.env, {
    redisUrl: flags.redisUrl ?? (redisGivenByEnv() ? undefined : fallbackRedis),
    prefix: flags.prefix,
    'http.port': flags.port,
  });
}

interface AgentFlags {
  sandbox?: string | boolean;
  mode: string;
  waveSize: string;
  pool: string;
  count: string;
  type: string;
  capacity: string;
  capabilities?: string;
  hostId?: string;
  processors?: string;
  drainMs: string;
  endpoint?: string;
  endpointTypes?: string;
  endpointTimeoutMs: string;
  endpointMaxSockets?: string;
}

/** `--cluster N [--cluster-replicas R]` (or SWARMQ_LOCAL_CLUSTER): the shape of a local Cluster to start, or none. */
function localClusterShape(f: { cluster?: string; clusterReplicas: string }): LocalClusterShape | undefined {
  if (f.cluster === undefined || f.cluster === '' || f.cluster === '0') return undefined;
  const masters = Number(f.cluster);
  const replicas = Number(f.clusterReplicas);
  // Fewer than 3 masters cannot elect a replica after a failure (a majority of masters must vote).
  if (!Number.isInteger(masters) || masters < 3 || masters > 100) throw new SwarmError('invalid_request', `--cluster (SWARMQ_LOCAL_CLUSTER) is a number of masters from 3 to 100, got ${f.cluster}`);
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > 5) throw new SwarmError('invalid_request', `--cluster-replicas is replicas per master from 0 to 5, got ${f.clusterReplicas}`);
  return { masters, replicas };
}

function agentSpec(f: AgentFlags): AgentSpec {
  const count = Number(f.count);
  const capacity = Number(f.capacity);
  if (!Number.isInteger(count) || count < 1) throw new SwarmError('invalid_request', `--count must be a whole number ≥ 1, got ${f.count}`);
  if (!Number.isInteger(capacity) || capacity < 1) throw new SwarmError('invalid_request', `--capacity must be a whole number ≥ 1, got ${f.capacity}`);
  return { type: f.type, count, capacity, capabilities: f.capabilities ? f.capabilities.split(',').filter(Boolean) : [] };
}

function hostSpawnOptions(f: AgentFlags): Pick<AgentHostOptions, 'agents' | 'spawn' | 'pool' | 'sandbox'> {
  if (f.mode !== 'batch' && f.mode !== 'waves') throw new SwarmError('invalid_request', `--mode is batch or waves, got ${f.mode}`);
  const waveSize = Number(f.waveSize);
  if (!Number.isInteger(waveSize) || waveSize < 1) throw new SwarmError('invalid_request', `--wave-size must be a whole number ≥ 1, got ${f.waveSize}`);
  const pool = Number(f.pool);
  if (!Number.isInteger(pool) || pool < 0) throw new SwarmError('invalid_request', `--pool must be a whole number ≥ 0, got ${f.pool}`);
  const spec = agentSpec(f);
  const sandbox =
    f.sandbox === undefined
      ? undefined
      : { types: f.sandbox === true ? ('all' as const) : String(f.sandbox).split(',').filter(Boolean), ...(f.processors ? { modulePath: resolve(f.processors) } : {}) };
  return { agents: [spec], spawn: { mode: f.mode, waveSize }, ...(pool ? { pool: [{ ...spec, count: pool }] } : {}), ...(sandbox ? { sandbox } : {}) };
}

/**
 * `--endpoint URL`: HTTP agents. The task types it serves are --endpoint-types,
 * or the agent type itself (`--type writer --endpoint …` runs tasks of type
 * writer there); its connections are at most --endpoint-max-sockets, by
 * default one per slot of this host's agents, so none waits for a connection.
 */
function hostEndpoints(f: AgentFlags): Pick<AgentHostOptions, 'endpoints'> {
  if (f.endpoint === undefined) {
    if (f.endpointTypes !== undefined) throw new SwarmError('invalid_request', '--endpoint-types names the task types --endpoint serves: give --endpoint too');
    return {};
  }
  const timeoutMs = Number(f.endpointTimeoutMs);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100) throw new SwarmError('invalid_request', `--endpoint-timeout-ms must be a whole number ≥ 100, got ${f.endpointTimeoutMs}`);
  const spec = agentSpec(f);
  const maxSockets = f.endpointMaxSockets === undefined ? spec.count * (spec.capacity ?? 1) : Number(f.endpointMaxSockets);
  if (!Number.isInteger(maxSockets) || maxSockets < 1) throw new SwarmError('invalid_request', `--endpoint-max-sockets must be a whole number ≥ 1, got ${f.endpointMaxSockets}`);
  const types = (f.endpointTypes ?? f.type).split(',').map((t) => t.trim()).filter(Boolean);
  if (!types.length) throw new SwarmError('invalid_request', '--endpoint-types is a comma-separated list of task types');
  return { endpoints: Object.fromEntries(types.map((t) => [t, { url: f.endpoint!, timeoutMs, maxSockets }])) };
}

/**
 * Runs `stop` once on SIGINT/SIGTERM/SIGHUP, then exits 0 (1 if stopping failed).
 * Stopping talks to Redis (tasks handed back, the roster); with Redis gone for
 * good it would wait forever, so past `deadlineMs` the process exits 1 anyway,
 * saying so: a host's unfinished tasks are then recovered by a coordinator once
 * its heartbeat lapses, as after a crash.
 */
function onShutdown(logger: Logger, stop: () => Promise<void>, deadlineMs: number): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing active tasks, returning the rest to their queues');
    setTimeout(() => {
      logger.error({ deadlineMs }, 'shutdown did not finish in time (is Redis reachable?): exiting without it; unfinished tasks are recovered as after a crash');
      process.exit(1);
    }, deadlineMs).unref();
    stop().then(
      () => process.exit(0),
      (err: Error) => {
        logger.error({ err: err.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGHUP', () => handler('SIGHUP'));
}

/** How long a shutdown may take beyond a host's drain: closing queues, connections and the local Redis. */
const SHUTDOWN_SLACK_MS = 10_000;

async function listen(app: ReturnType<typeof createApp>, http: SwarmConfig['http'], logger: Logger): Promise<Server> {
  const warning = exposureWarning(http.host, http.apiToken);
  if (warning) logger.warn({ host: http.host }, warning);
  return await new Promise((res, rej) => {
    const server = app.listen(http.port, http.host, (err?: Error) => (err ? rej(err) : res(server)));
  });
}

/** Proposals for the HTTP API, and a driver: a coordinator runs the consensus rounds queued by anyone. */
async function drivingConsensus(config: SwarmConfig, logger: Logger): Promise<Consensus> {
  const consensus = new Consensus({ redis: config.redis, prefix: config.prefix, config: { agents: { failedAfterMs: config.agents.failedAfterMs }, http: { maxJsonDepth: config.http.maxJsonDepth }, durability: config.durability, trust: config.trust }, logger });
  await consensus.drive();
  return consensus;
}

function addCommon(cmd: Command): Command {
  return cmd
    .addOption(new Option('--redis-url <url>', 'Redis URL (env REDIS_URL)'))
    .addOption(new Option('--prefix <prefix>', 'swarm key prefix (env SWARMQ_PREFIX)'));
}

function addAgentFlags(cmd: Command, defaults: { count: string }): Command {
  return cmd
    .option('--count <n>', 'agents to run in this host', defaults.count)
    .option('--type <type>', 'agent type', 'worker')
    .option('--capacity <n>', 'tasks each agent runs at once', '1')
    .option('--capabilities <list>', 'comma-separated capabilities')
    .option('--host-id <id>', 'stable host id: a host restarted with it takes its seats back')
    .option('--processors <module>', 'module exporting { [taskType]: async (payload, ctx) => result }')
    .option('--drain-ms <ms>', 'on shutdown, how long active tasks may finish before they are returned', '10000')
    .option('--mode <mode>', 'spawn all at once (batch) or in waves', 'batch')
    .option('--wave-size <n>', 'agents per wave with --mode waves', '20')
    .option('--pool <n>', 'warm agents of --type to keep registered and idle, for instant acquire', '0')
    .option('--sandbox [types]', 'run processors (all, or these comma-separated task types) in BullMQ sandbox child processes')
    .option('--endpoint <url>', 'HTTP agents: the agents run their tasks by POSTing them to this URL (signed with SWARMQ_AGENT_SECRET; docs/http-agents.md)')
    .option('--endpoint-types <list>', 'task types --endpoint serves (default: the agent --type)')
    .option('--endpoint-timeout-ms <ms>', 'longest one request to --endpoint may take', '120000')
    .option('--endpoint-max-sockets <n>', 'connections kept open to --endpoint at most (default: agents × capacity)');
}

export function buildCli(): Command {
  const program = new Command('swarmq').description('Durable coordination of agent fleets on Redis and BullMQ');

  addAgentFlags(addCommon(program.command('start')), { count: '10' })
    .description('coordinator, HTTP API and one agent host in one process; starts redis-server when REDIS_URL is unset')
    .option('--port <port>', 'HTTP port (env PORT)')
    .addOption(new Option('--cluster <masters>', 'start a local Redis Cluster of this many masters (AOF in ./.swarmq/cluster) instead of one redis-server').env('SWARMQ_LOCAL_CLUSTER'))
    .addOption(new Option('--cluster-replicas <n>', 'replicas of each master of the local Cluster').env('SWARMQ_LOCAL_CLUSTER_REPLICAS').default('0'))
    .action(async (flags: CommonFlags & AgentFlags & { port?: string; cluster?: string; clusterReplicas: string }) => {
      const logger = createLogger('swarmq');
      let local: LocalRedis | undefined;
      const shape = localClusterShape(flags);
      if (shape && (flags.redisUrl || redisGivenByEnv())) throw new SwarmError('invalid_request', '--cluster (SWARMQ_LOCAL_CLUSTER) starts a Redis Cluster of its own: unset REDIS_URL / REDIS_SENTINELS and --redis-url, or drop --cluster');
      if (shape) {
        local = await startLocalCluster(shape);
        logger.info({ redis: local.url, masters: shape.masters, replicas: shape.replicas, aof: local.dir }, 'started a local Redis Cluster with AOF (set REDIS_URL to use your own)');
      } else if (!flags.redisUrl && !redisGivenByEnv()) {
        local = await startLocalRedis();
        logger.info({ redis: local.url, aof: local.dir }, 'started redis-server with AOF (set REDIS_URL to use your own)');
      }
      const config = configFrom(flags, local?.url);
      const coordinator = new Coordinator({ config, logger });
      await coordinator.start();
      const consensus = await drivingConsensus(config, logger);
      const host = new AgentHost({ config, hostId: flags.hostId ?? 'local', ...hostSpawnOptions(flags), ...hostEndpoints(flags), processors: await processorsFor(flags.processors), logger });
      await host.start();
      const server = await listen(createApp({ coordinator, bodyLimitBytes: config.http.bodyLimitBytes, logger, consensus, ...swarmPages(coordinator) }), config.http, logger);
      const urls = serviceUrls(server, config.http.port);
      logger.info({ ...urls, redis: describeRedisTarget(config.redis) }, 'swarmq is up');
      printUrls(urls);
      onShutdown(logger, async () => {
        await new Promise<void>((r) => server.close(() => r()));
        server.closeAllConnections();
        await host.stop(Number(flags.drainMs));
        await consensus.close();
        await coordinator.stop();
        await local?.stop();
      }, Number(flags.drainMs) + SHUTDOWN_SLACK_MS);
    });

  addCommon(program.command('coordinator'))
    .description('coordinator and HTTP API (routes tasks, serves the intake queue)')
    .option('--port <port>', 'HTTP port (env PORT)')
    .option('--no-intake', 'do not consume the intake queue')
    .action(async (flags: CommonFlags & { port?: string; intake: boolean }) => {
      const logger = createLogger('swarmq-coordinator');
      const config = configFrom(flags, redisFromStateDir());
      const coordinator = new Coordinator({ config, logger, intake: flags.intake });
      await coordinator.start();
      const consensus = await drivingConsensus(config, logger);
      const server = await listen(createApp({ coordinator, bodyLimitBytes: config.http.bodyLimitBytes, logger, consensus, ...swarmPages(coordinator) }), config.http, logger);
      const urls = serviceUrls(server, config.http.port);
      logger.info({ port: config.http.port, ...urls }, 'HTTP API listening');
      printUrls(urls);
      onShutdown(logger, async () => {
        await new Promise<void>((r) => server.close(() => r()));
        server.closeAllConnections();
        await consensus.close();
        await coordinator.stop();
      }, SHUTDOWN_SLACK_MS);
    });

  addAgentFlags(addCommon(program.command('agents')), { count: '10' })
    .description('an agent host: runs --count agents of --type, seated in nodes')
    .action(async (flags: CommonFlags & AgentFlags) => {
      const logger = createLogger('swarmq-agents');
      const config = configFrom(flags, redisFromStateDir());
      const host = new AgentHost({ config, ...(flags.hostId ? { hostId: flags.hostId } : {}), ...hostSpawnOptions(flags), ...hostEndpoints(flags), processors: await processorsFor(flags.processors), logger });
      onShutdown(logger, () => host.stop(Number(flags.drainMs)), Number(flags.drainMs) + SHUTDOWN_SLACK_MS);
      console.log(await spawnWithProgress(host, agentSpec(flags).count));
    });

  addCommon(program.command('submit'))
    .description('submit one task; prints { id, node } (or the finished task with --wait)')
    .argument('<type>', 'task type')
    .argument('[payload]', 'JSON payload')
    .option('--priority <n>', '1 is the most urgent')
    .option('--attempts <n>', 'tries before the task fails')
    .option('--timeout-ms <ms>', 'per-attempt time limit')
    .option('--key <key>', "the key it counts against (a tenant, a team, an API key's name; docs/keys.md)")
    .option('--budget-tokens <n>', "the task's own budget in tokens, over every attempt (docs/budgets.md)")
    .option('--budget-usd <x>', "the task's own budget in US dollars")
    .option('--wait', 'wait for the task to finish and print it')
    .action(async (type: string, payloadText: string | undefined, flags: CommonFlags & { priority?: string; attempts?: string; timeoutMs?: string; key?: string; budgetTokens?: string; budgetUsd?: string; wait?: boolean }) => {
      const config = configFrom(flags, redisFromStateDir());
      let payload: unknown;
      try {
        payload = payloadText === undefined ? undefined : JSON.parse(payloadText);
      } catch (err) {
        throw new SwarmError('invalid_request', `payload is not JSON: ${(err as Error).message}`);
      }
      const client = new SwarmClient({ redis: config.redis, prefix: config.prefix });
      try {
        const num = (v?: string) => (v === undefined ? undefined : Number(v));
        const submitted = await client.submit({
          type,
          payload,
          ...(flags.priority ? { priority: num(flags.priority) } : {}),
          ...(flags.attempts ? { attempts: num(flags.attempts) } : {}),
          ...(flags.timeoutMs ? { timeoutMs: num(flags.timeoutMs) } : {}),
          ...(flags.key !== undefined ? { key: flags.key } : {}),
          ...(flags.budgetTokens !== undefined || flags.budgetUsd !== undefined
            ? { budget: { ...(flags.budgetTokens !== undefined ? { tokens: num(flags.budgetTokens) } : {}), ...(flags.budgetUsd !== undefined ? { costUsd: num(flags.budgetUsd) } : {}) } }
            : {}),
        });
        console.log(JSON.stringify(flags.wait ? await client.waitFor(submitted.id, { timeoutMs: 60_000 }) : submitted));
      } finally {
        await client.close();
      }
    });

  addCommon(program.command('cancel'))
    .description('cancel a task, waiting or running (its processor sees its signal aborted), or with --batch every task of a batch; prints the task as cancelled')
    .argument('<id>', 'task id (or, with --batch, the batchId a batch submit returned)')
    .option('--batch', 'cancel every unfinished task of this batch')
    .action(async (id: string, flags: CommonFlags & { batch?: boolean }) => {
      const config = configFrom(flags, redisFromStateDir());
      const client = new SwarmClient({ redis: config.redis, prefix: config.prefix });
      try {
        console.log(JSON.stringify(flags.batch ? await client.cancelBatch(id) : await client.cancel(id)));
      } finally {
        await client.close();
      }
    });

  // Over Redis, as `cancel`: the decision is recorded as the CLI's (by.via cli), with --by (default: the OS user) as the caller's own word.
  const cliUser = (): string | undefined => {
    try {
      return userInfo().username || undefined;
    } catch {
      return undefined;
    }
  };
  addCommon(program.command('approve'))
    .description("approve a task's output that awaits approval: the task completes with it; prints the task")
    .argument('<id>', 'task id')
    .option('--by <name>', 'who approves, as recorded with the decision (default: your OS user name)')
    .action(async (id: string, flags: CommonFlags & { by?: string }) => {
      const config = configFrom(flags, redisFromStateDir());
      const client = new SwarmClient({ redis: config.redis, prefix: config.prefix, via: 'cli' });
      try {
        const by = flags.by ?? cliUser();
        console.log(JSON.stringify(await client.approve(id, by === undefined ? {} : { by })));
      } finally {
        await client.close();
      }
    });
  addCommon(program.command('reject'))
    .description("reject a task's output that awaits approval: the task fails with the reason, or with --retry runs again, its processor told the reason (ctx.feedback); prints the task")
    .argument('<id>', 'task id')
    .requiredOption('--reason <text>', 'why: recorded with the decision, and with --retry what the next run is told')
    .option('--retry', 'run the task again with the reason as feedback, rather than fail it')
    .option('--by <name>', 'who rejects, as recorded with the decision (default: your OS user name)')
    .action(async (id: string, flags: CommonFlags & { reason: string; retry?: boolean; by?: string }) => {
      const config = configFrom(flags, redisFromStateDir());
      const client = new SwarmClient({ redis: config.redis, prefix: config.prefix, via: 'cli' });
      try {
        const by = flags.by ?? cliUser();
        console.log(JSON.stringify(await client.reject(id, { reason: flags.reason, retry: Boolean(flags.retry), ...(by === undefined ? {} : { by }) })));
      } finally {
        await client.close();
      }
    });

  const limits = program.command('limits').description("a key's limits, swarm-wide: maxActive, rate, weight (docs/keys.md)");
  addCommon(limits.command('set'))
    .description("replace a key's limits (a flag left out: no such limit; no flags: none); held tasks it now has room for start")
    .argument('<key>', 'the key (a tenant, a team, an API key name)')
    .option('--max-active <n>', 'at most n of its tasks running at once')
    .option('--rate <n/unit>', 'at most n starts per interval: 20/s, 500/min, 5/100ms')
    .option('--weight <w>', 'its share when keys compete for a node (default 1)')
    .option('--json', 'print JSON')
    .action(async (key: string, flags: CommonFlags & LimitFlags & { json?: boolean }) => {
      const view = await limitsSet(configFrom(flags, redisFromStateDir()), key, flags);
      console.log(flags.json ? JSON.stringify(view) : limitsTable([view]));
    });
  addCommon(limits.command('get'))
    .description('every key (or one) with its limits and counts: active, waiting, held, throttled')
    .argument('[key]', 'only this key')
    .option('--json', 'print JSON')
    .action(async (key: string | undefined, flags: CommonFlags & { json?: boolean }) => {
      const keys = await limitsGet(configFrom(flags, redisFromStateDir()), key);
      console.log(flags.json ? JSON.stringify(key === undefined ? { keys } : keys[0]) : limitsTable(keys));
    });

  const budget = program.command('budget').description("a key's budget per period, swarm-wide: tokens, costUsd (docs/budgets.md)");
  addCommon(budget.command('set'))
    .description("replace a key's budget (no --tokens and no --cost-usd: none); tasks that waited for it are checked again")
    .argument('<key>', 'the key (a tenant, a team, an API key name)')
    .option('--tokens <n>', 'at most n tokens per period')
    .option('--cost-usd <x>', 'at most x US dollars per period')
    .option('--period <p>', 'hour, day (default) or month (UTC), or a length in ms')
    .option('--queued <wait|fail>', 'once spent, its queued tasks wait for the period to reset (default) or fail')
    .option('--running <abort|finish>', 'once spent, its running tasks are aborted (default) or finish')
    .option('--json', 'print JSON')
    .action(async (key: string, flags: CommonFlags & BudgetFlags & { json?: boolean }) => {
      const view = await budgetSet(configFrom(flags, redisFromStateDir()), key, flags);
      console.log(flags.json ? JSON.stringify(view) : budgetTable([view]));
    });
  addCommon(budget.command('get'))
    .description('every key with a budget or spend this period (or one): spent, limit, when it resets')
    .argument('[key]', 'only this key')
    .option('--json', 'print JSON')
    .action(async (key: string | undefined, flags: CommonFlags & { json?: boolean }) => {
      const views = await budgetGet(configFrom(flags, redisFromStateDir()), key);
      console.log(flags.json ? JSON.stringify(key === undefined ? { keys: views } : views[0]) : budgetTable(views));
    });

  addCommon(program.command('status'))
    .description('nodes, agents and queue counts of the swarm')
    .option('--json', 'print JSON')
    .action(async (flags: CommonFlags & { json?: boolean }) => {
      const config = configFrom(flags, redisFromStateDir());
      console.log(await statusReport(config, Boolean(flags.json)));
    });

  addCommon(program.command('checkpoint'))
    .description('write a point-in-time snapshot of the swarm (roster, unfinished tasks, proposals and their rounds) to a file, for restore on another Redis')
    .requiredOption('--out <file>', 'file to write (JSON)')
    .option('--include-finished', 'carry completed and failed tasks and proposals too')
    .action(async (flags: CommonFlags & { out: string; includeFinished?: boolean }) => {
      const { checkpointToFile } = await import('../checkpoint/cli.ts');
      const config = configFrom(flags, redisFromStateDir());
      const { summary, warnings } = await checkpointToFile(config, flags.out, { includeFinished: Boolean(flags.includeFinished) });
      for (const w of warnings) console.error(`swarmq: warning: ${w}`);
      console.log(summary);
    });

  addCommon(program.command('restore'))
    .description('rebuild a swarm from a checkpoint file; the target prefix must hold no keys unless --force')
    .requiredOption('--in <file>', 'checkpoint file to read')
    .option('--force', 'restore into a prefix that already holds keys (tasks already there are left as they are)')
    .action(async (flags: CommonFlags & { in: string; force?: boolean }) => {
      const { restoreFromFile } = await import('../checkpoint/cli.ts');
      const config = configFrom(flags, redisFromStateDir());
      console.log(await restoreFromFile(config, flags.in, { force: Boolean(flags.force) }));
    });

  const trust = program.command('trust').description("certified consensus: make the swarm's authority key, enroll hosts and proposers (docs/security.md)");
  trust
    .command('init')
    .description('make the authority key file and print SWARMQ_TRUST_ANCHOR for every process')
    .option('--dir <dir>', 'where to write authority.json (mode 0600)', '.swarmq/trust')
    .action(async (flags: { dir: string }) => {
      const { trustInit } = await import('./trust.ts');
      const { anchor, file } = trustInit(flags.dir);
      console.error(`wrote ${file}: keep it off the swarm's machines; it is needed only to enroll`);
      console.log(`SWARMQ_TRUST_ANCHOR=${anchor}`);
    });
  trust
    .command('enroll')
    .description('enroll an agent host (its --host-id) or a proposer (a coordinator, a proposing program) and write its identity file')
    .option('--host <id>', 'the host id it will run as')
    .option('--proposer <name>', 'a name for a coordinator or program that proposes')
    .option('--authority <file>', 'the authority key file', '.swarmq/trust/authority.json')
    .option('--out <file>', 'identity file to write (default: beside the authority key, <role>-<name>.json)')
    .action(async (flags: { host?: string; proposer?: string; authority: string; out?: string }) => {
      if (Boolean(flags.host) === Boolean(flags.proposer)) throw new SwarmError('invalid_request', 'give exactly one of --host <id> and --proposer <name>');
      const { trustEnroll } = await import('./trust.ts');
      const role = flags.host ? 'host' : 'proposer';
      const { file, key } = trustEnroll(flags.authority, role, (flags.host ?? flags.proposer)!, flags.out);
      console.log(`wrote ${file}: give it to the ${role} as ${role === 'host' ? 'SWARMQ_HOST_IDENTITY_FILE' : 'SWARMQ_PROPOSER_IDENTITY_FILE'}`);
      console.log(`its key: ${key} (to revoke it later, add it to SWARMQ_TRUST_REVOKED)`);
    });

  addCommon(program.command('acl'))
    .description('print the Redis ACL users of each role (coordinator, operator, producer, one per agent host); passwords stay in files')
    .option('--hosts <ids>', 'comma-separated host ids (each host\'s --host-id): one user each')
    .option('--secrets-dir <dir>', 'where each user\'s password file is read, or made (mode 0600)', '.swarmq/acl')
    .option('--aclfile <file>', 'also write the users as a Redis ACL file (mode 0600) for redis-server --aclfile')
    .option('--apply', 'create the users on REDIS_URL / --redis-url (an administrator; every node of a Cluster)')
    .action(async (flags: CommonFlags & { hosts?: string; secretsDir: string; aclfile?: string; apply?: boolean }) => {
      const { aclCommand, parseHosts } = await import('../security/aclCommand.ts');
      const config = configFrom(flags, redisFromStateDir());
      const { out, notes } = await aclCommand({
        prefix: config.prefix,
        hosts: parseHosts(flags.hosts),
        secretsDir: flags.secretsDir,
        ...(flags.aclfile ? { aclFilePath: flags.aclfile } : {}),
        ...(flags.apply ? { apply: config.redis } : {}),
      });
      console.log(out);
      for (const n of notes) console.error(`swarmq: ${n}`);
    });

  return program;
}

const isMain = process.argv[1] && /cli[\\/]main\.ts$/.test(process.argv[1]);
if (isMain) {
  buildCli()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      const e = err as Error & { code?: string };
      console.error(err instanceof SwarmError ? `swarmq: ${err.code}: ${err.message}` : `swarmq: ${e.message}`);
      process.exit(1);
    });
}
