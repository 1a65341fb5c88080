// Where Redis is: one server, a Redis Cluster (its seed nodes), or a primary
// that Sentinels name. Every process opens its connections through
// connectRedis, so each of the three works everywhere. The settings arrive as
// strings (environment, flags) and are parsed here with zod; an issue's path is
// the setting that carried it (`url`, `mode`, `sentinels`, `sentinelMaster`),
// so the caller can name its variable.
import { Cluster, type ClusterOptions, type Redis, type RedisOptions } from 'ioredis';
import { z } from 'zod';
import { SwarmRedis } from './connection.ts';

/** A client of either kind: what BullMQ and every swarmq component accept. */
export type RedisClient = Redis | Cluster;

const endpointSchema = z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) });
export type Endpoint = z.infer<typeof endpointSchema>;

/** Credentials and TLS shared by every node of a Cluster, or for the primary a Sentinel names. */
const authSchema = z.object({ username: z.string().optional(), password: z.string().optional(), tls: z.boolean().default(false) });

export const redisTargetSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('single'), url: z.string().min(1) }),
  z.object({ kind: z.literal('cluster'), seeds: z.array(endpointSchema).min(1), ...authSchema.shape }),
  z.object({ kind: z.literal('sentinel'), sentinels: z.array(endpointSchema).min(1), master: z.string().min(1), db: z.number().int().min(0).default(0), ...authSchema.shape }),
]);
export type RedisTarget = z.infer<typeof redisTargetSchema>;
/** One server, or the primary Sentinels name: a plain connection either way. */
export type ServerTarget = Exclude<RedisTarget, { kind: 'cluster' }>;

export const REDIS_MODES = ['single', 'cluster', 'sentinel'] as const;
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

const optionalText = z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), z.string().optional());

/**
 * The four settings, as a deployment gives them. `url` is one URL, or several
 * separated by commas (the seed nodes of a Cluster); `mode` is inferred when
 * unset: several URLs are a Cluster, sentinels a Sentinel-managed primary.
 */
export const redisTargetSettingsSchema = z
  .object({
    url: optionalText,
    mode: z.preprocess((v) => (v === '' ? undefined : v), z.enum(REDIS_MODES).optional()),
    sentinels: optionalText,
    sentinelMaster: optionalText,
  })
  .transform((s, ctx): RedisTarget => {
    const fail = (path: keyof typeof s, message: string) => {
      ctx.addIssue({ code: 'custom', path: [path], message });
      return z.NEVER;
    };
    const urls = (s.url ?? '').split(',').map((u) => u.trim()).filter((u) => u !== '');
    const mode = s.mode ?? (s.sentinels !== undefined ? 'sentinel' : urls.length > 1 ? 'cluster' : 'single');
    if (mode === 'sentinel') {
      if (s.sentinels === undefined) return fail('sentinels', 'sentinel mode needs the Sentinels: host:port[,host:port…]');
      if (s.url !== undefined) return fail('url', 'set either a Redis URL or Sentinels, not both: with Sentinels the primary is found by its master name');
      if (s.sentinelMaster === undefined) return fail('sentinelMaster', 'the master name the Sentinels watch is required with Sentinels (e.g. mymaster)');
      const sentinels = parseEndpoints(s.sentinels);
      if (typeof sentinels === 'string') return fail('sentinels', sentinels);
      return { kind: 'sentinel', sentinels, master: s.sentinelMaster, db: 0, tls: false };
    }
    if (s.sentinels !== undefined) return fail('sentinels', `Sentinels are set but the mode is ${mode}: unset one of them`);
    if (s.sentinelMaster !== undefined) return fail('sentinelMaster', 'a master name is only used with Sentinels: set those too, or unset it');
    if (mode === 'single') {
      if (urls.length > 1) return fail('url', 'several URLs are the seed nodes of a Redis Cluster: set the mode to cluster, or give one URL');
      const url = urls[0] ?? DEFAULT_REDIS_URL;
      const problem = urlProblem(url);
      return problem ? fail('url', problem) : { kind: 'single', url };
    }
    const seeds: Endpoint[] = [];
    let auth: { username?: string; password?: string; tls: boolean } | undefined;
    for (const u of urls.length ? urls : [DEFAULT_REDIS_URL]) {
      const problem = urlProblem(u);
      if (problem) return fail('url', problem);
      const p = new URL(u);
      if (p.pathname !== '' && p.pathname !== '/' && p.pathname !== '/0') return fail('url', `a Redis Cluster has only database 0, but ${redact(u)} names ${p.pathname.slice(1)}`);
      const these = { ...(p.username ? { username: decodeURIComponent(p.username) } : {}), ...(p.password ? { password: decodeURIComponent(p.password) } : {}), tls: p.protocol === 'rediss:' };
      if (auth && JSON.stringify(auth) !== JSON.stringify(these)) return fail('url', 'every seed node of a Cluster must carry the same scheme and credentials');
      auth = these;
      seeds.push({ host: unbracket(p.hostname), port: p.port ? Number(p.port) : 6379 });
    }
    return { kind: 'cluster', seeds, ...auth! };
  });
export type RedisTargetSettings = z.input<typeof redisTargetSettingsSchema>;

/** A target from one string, as code passes it: one URL, or a Cluster's seed URLs separated by commas. */
export function redisTargetFromUrl(url: string): RedisTarget {
  const r = redisTargetSettingsSchema.safeParse({ url });
  if (!r.success) throw new Error(`Redis URL: ${r.error.issues.map((i) => i.message).join('; ')}`);
  return r.data;
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** The URL without its password, for messages and logs. */
function redact(url: string): string {
  try {
    const p = new URL(url);
    if (p.password) p.password = '***';
    return p.toString();
  } catch {
    return '(unparsable URL)';
  }
}

function urlProblem(url: string): string | undefined {
  let p: URL;
  try {
    p = new URL(url);
  } catch {
    return `not a URL: "${url.replace(/:[^:@/]*@/, ':***@')}" (expected redis://host:port)`;
  }
  if (p.protocol !== 'redis:' && p.protocol !== 'rediss:') return `${redact(url)} is not a redis:// or rediss:// URL`;
  if (p.hostname === '') return `${redact(url)} names no host`;
  return undefined;
}

function parseEndpoints(list: string): Endpoint[] | string {
  const out: Endpoint[] = [];
  for (const entry of list.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const m = /^(\[[^\]]+\]|[^:]+):([0-9]{1,5})$/.exec(entry);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) return `"${entry}" is not host:port (e.g. 10.0.0.5:26379)`;
    out.push({ host: unbracket(m[1]!), port });
  }
  return out.length ? out : 'no Sentinel listed: give host:port[,host:port…]';
}

/** Where the target is, for logs and status lines; never a password. */
export function describeRedisTarget(t: RedisTarget): string {
  const list = (es: Endpoint[]) => es.map((e) => `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`).join(',');
  if (t.kind === 'single') return redact(t.url);
  if (t.kind === 'cluster') return `cluster ${list(t.seeds)}`;
  return `sentinel master "${t.master}" via ${list(t.sentinels)}`;
}

/** What a connection is for: the options every process gave its own `new SwarmRedis(url, …)` before. */
export interface ConnectionRole {
  connectionName?: string;
  /** null for BullMQ Workers and blocking reads; a small number to fail fast while Redis is away. */
  maxRetriesPerRequest: number | null;
  enableOfflineQueue?: boolean;
  lazyConnect?: boolean;
  /** Delay before reconnecting (null: give up). On a Cluster it paces reconnecting the whole cluster. */
  retryStrategy?: (times: number) => number | null;
}

/**
 * A connection to the target in the given role. One server and a Sentinel's
 * primary are SwarmRedis (its disconnect fix and its duplicate(), which BullMQ
 * uses for blocking connections, hold for both); a Cluster is ioredis's
 * Cluster, whose own duplicate() makes a new Cluster with the same options.
 */
export function connectRedis(target: ServerTarget, role: ConnectionRole): Redis;
export function connectRedis(target: RedisTarget, role: ConnectionRole): RedisClient;
export function connectRedis(target: RedisTarget, role: ConnectionRole): RedisClient {
  // Options as Redis's constructor takes them: replies in the RESP2 shape every caller reads.
  const common: RedisOptions & { replyMapping?: 'legacy' } = {
    maxRetriesPerRequest: role.maxRetriesPerRequest,
    ...(role.connectionName !== undefined ? { connectionName: role.connectionName } : {}),
    ...(role.enableOfflineQueue !== undefined ? { enableOfflineQueue: role.enableOfflineQueue } : {}),
    ...(role.lazyConnect !== undefined ? { lazyConnect: role.lazyConnect } : {}),
    ...(role.retryStrategy !== undefined ? { retryStrategy: role.retryStrategy } : {}),
  };
  if (target.kind === 'single') return new SwarmRedis(target.url, common);
  const auth: Pick<RedisOptions, 'username' | 'password' | 'tls'> = {
    ...(target.username !== undefined ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
  };
  if (target.kind === 'sentinel') return new SwarmRedis({ ...common, ...auth, sentinels: target.sentinels, name: target.master, db: target.db });
  const options: ClusterOptions = {
    // Node connections carry the role (BullMQ reads maxRetriesPerRequest here); the Cluster reconnects them itself.
    redisOptions: { ...auth, maxRetriesPerRequest: role.maxRetriesPerRequest, ...(role.connectionName !== undefined ? { connectionName: role.connectionName } : {}) },
    ...(role.enableOfflineQueue !== undefined ? { enableOfflineQueue: role.enableOfflineQueue } : {}),
    ...(role.lazyConnect !== undefined ? { lazyConnect: role.lazyConnect } : {}),
    ...(role.retryStrategy !== undefined ? { clusterRetryStrategy: role.retryStrategy } : {}),
    ...failoverOptions(role),
  };
  return new Cluster(target.seeds, options);
}

/**
 * How a Cluster client rides out a failover. When a master dies, commands for
 * its slots fail (connection closed, then MOVED back to it, then CLUSTERDOWN)
 * until the Cluster has promoted its replica: cluster-node-timeout (15 s by
 * default) and an election. ioredis retries each such command after a delay,
 * refreshing the slots, up to maxRedirections times (16 by default: under two
 * seconds). A connection that waits (maxRetriesPerRequest null: Workers, the
 * leader's loops) keeps trying for about 30 s; one that fails fast (an HTTP
 * request's, a client's) fails after a few seconds, and its caller reports it.
 */
function failoverOptions(role: ConnectionRole): Pick<ClusterOptions, 'retryDelayOnFailover' | 'retryDelayOnClusterDown' | 'retryDelayOnTryAgain' | 'maxRedirections'> {
  return { retryDelayOnFailover: 200, retryDelayOnClusterDown: 200, retryDelayOnTryAgain: 200, maxRedirections: role.maxRetriesPerRequest === null ? 150 : 16 };
}

export function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/** A target as code gives it: a URL string (several for a Cluster), or a target already described. */
export function toRedisTarget(t: string | RedisTarget): RedisTarget {
  return typeof t === 'string' ? redisTargetFromUrl(t) : redisTargetSchema.parse(t);
}

/**
 * A new connection to where `client` points, with some of its options changed.
 * Redis and Cluster both have duplicate(), with different signatures: a
 * Cluster's takes its seeds first and node options under redisOptions.
 */
export function duplicateClient(client: RedisClient, role: Partial<ConnectionRole>): RedisClient {
  if (!isCluster(client)) return client.duplicate(role);
  const { connectionName, maxRetriesPerRequest, enableOfflineQueue, lazyConnect, retryStrategy } = role;
  return client.duplicate(undefined, {
    redisOptions: {
      ...client.options.redisOptions,
      ...(connectionName !== undefined ? { connectionName } : {}),
      ...(maxRetriesPerRequest !== undefined ? { maxRetriesPerRequest } : {}),
    },
    ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
    ...(lazyConnect !== undefined ? { lazyConnect } : {}),
    ...(retryStrategy !== undefined ? { clusterRetryStrategy: retryStrategy } : {}),
  });
}

/** What the public classes (SwarmClient, Consensus) accept: where Redis is (a URL, a Cluster's seed URLs, a target), or a connection to share. */
export type RedisGiven = string | RedisTarget | RedisClient;

/** A connection to share, or the target to open connections to. */
export function fromGiven(given: RedisGiven): { client: RedisClient } | { target: RedisTarget } {
  // Not instanceof: ioredis mixes EventEmitter in, and a client may come from another copy of ioredis.
  if (typeof given !== 'string' && 'sendCommand' in given && typeof given.sendCommand === 'function') return { client: given };
  return { target: toRedisTarget(given as string | RedisTarget) };
}
