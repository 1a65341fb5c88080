// A Cluster client that answers the per-server commands tests use (KEYS,
// CLIENT LIST, INFO, DBSIZE, FLUSHDB, CONFIG SET, SCRIPT FLUSH) for the whole
// Cluster, by asking every master, so a test written against one server reads
// the same on a Cluster (SWARMQ_TEST_TOPOLOGY=cluster). Everything else is the
// Cluster client's own: keyed commands go to their slot's master.
import { Cluster, type Redis, type RedisOptions } from 'ioredis';

type Masters = () => Redis[];

async function concat(masters: Masters, ask: (m: Redis) => Promise<unknown>, join: (parts: unknown[]) => unknown): Promise<unknown> {
  return join(await Promise.all(masters().map(ask)));
}

/** The fan-out of one per-server command; undefined for a command that has a slot. */
function perMaster(masters: Masters, name: string | symbol): ((...args: unknown[]) => Promise<unknown>) | undefined {
  // Each branch keeps the reply's shape as one server gives it.
  const lines = (parts: unknown[]) => parts.map(String).filter((p) => p !== '').join('\n');
  switch (name) {
    case 'keys':
      return (pattern) => concat(masters, (m) => m.keys(String(pattern)), (parts) => (parts as string[][]).flat());
    case 'dbsize':
      return () => concat(masters, (m) => m.dbsize(), (parts) => (parts as number[]).reduce((a, b) => a + b, 0));
    case 'flushdb':
    case 'flushall':
      return () => concat(masters, (m) => m[name](), () => 'OK');
    case 'info':
      return (...args) => concat(masters, (m) => (m.info as (...a: unknown[]) => Promise<string>)(...args), lines);
    case 'client':
      // CLIENT LIST reads every master's clients; CLIENT SETNAME/ID/KILL are
      // about this connection (or one id on one master): not fanned out.
      return (sub, ...rest) =>
        String(sub).toUpperCase() === 'LIST'
          ? concat(masters, (m) => (m.client as (...a: unknown[]) => Promise<string>)('LIST', ...rest), lines)
          : Promise.reject(new Error(`CLIENT ${String(sub)} on a Cluster test connection: ask one master (connection.nodes('master'))`));
    case 'config':
      return (sub, ...rest) =>
        String(sub).toUpperCase() === 'SET'
          ? concat(masters, (m) => (m.config as (...a: unknown[]) => Promise<unknown>)('SET', ...rest), () => 'OK')
          : (masters()[0]!.config as (...a: unknown[]) => Promise<unknown>)(sub, ...rest);
    default:
      return undefined;
  }
}

/**
 * A Cluster client on `seeds`, typed as a Redis: the tests' helpers hand out
 * `Redis`, and every command they use has the same reply here (see above).
 */
export function clusterAsRedis(seeds: { host: string; port: number }[], options: RedisOptions = {}): Redis {
  // lazyConnect and the offline queue are the Cluster's own options too.
  const { lazyConnect, enableOfflineQueue } = options;
  const cluster = new Cluster(seeds, { redisOptions: options, ...(lazyConnect === undefined ? {} : { lazyConnect }), ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }) });
  const masters: Masters = () => cluster.nodes('master');
  return new Proxy(cluster, {
    get(target, name, receiver) {
      const fanned = perMaster(masters, name);
      if (fanned) return fanned;
      const value = Reflect.get(target, name, receiver) as unknown;
      // Methods run on the real client: ioredis keeps private state on `this`.
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as unknown as Redis; // a Cluster answering Redis's per-server commands, above
}

/**
 * CLIENT LIST of each server a test connection reaches: one list on one
 * server, one per master on a Cluster, for bounds that hold per server (a
 * Cluster client opens a connection to each master it sends a command to).
 */
export async function clientListsPerServer(conn: Redis): Promise<string[]> {
  const cluster = conn as unknown as Partial<Cluster>; // a Redis, or a Cluster behind clusterAsRedis
  const servers = cluster.isCluster === true && cluster.nodes ? cluster.nodes('master') : [conn];
  return await Promise.all(servers.map(async (s) => String(await s.client('LIST'))));
}
