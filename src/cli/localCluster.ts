// A Redis Cluster of our own from redis-server on PATH: for `swarmq start
// --cluster N` (AOF in ./.swarmq/cluster, kept across restarts) and for the
// tests (a temp dir, with replicas for failover). It is formed with CLUSTER
// commands (ADDSLOTSRANGE, MEET, REPLICATE) rather than `redis-cli --cluster
// create`, so redis-server is all it needs.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { freeServerPort, launchRedisServer, RedisPortTaken, type RedisServer } from './redisServer.ts';

const SLOTS = 16_384;
const HOST = '127.0.0.1';

export interface LocalClusterOptions {
  /** Each node's dir is `<dir>/n<i>`; with `persistent`, the ports are kept in `<dir>/cluster.json`. */
  dir: string;
  masters: number;
  /** Replicas of each master (0: none). */
  replicas: number;
  appendonly: boolean;
  appendfsync?: 'always' | 'everysec' | 'no';
  /** cluster-node-timeout: how long a master is unreachable before its replica takes over. */
  nodeTimeoutMs?: number;
  /** Reuse the ports and the cluster of a previous start in the same dir (nodes.conf re-forms it). */
  persistent?: boolean;
  ownProcessGroup?: boolean;
  readyTimeoutMs?: number;
}

export interface ClusterNode {
  host: string;
  port: number;
  server: RedisServer;
}

export interface LocalCluster {
  /** Every node, masters first (as formed; a failover may have swapped roles since). */
  nodes: ClusterNode[];
  /** The seed URLs, comma-separated, as REDIS_URL takes them. */
  url: string;
  /** The node listening on `port`. */
  node(port: number): ClusterNode | undefined;
  /** Waits until every live node reports cluster_state:ok and every slot has a master it can reach. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** SIGTERM every node (each flushes its AOF), or the signal given. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const layoutSchema = z.object({ masters: z.number().int(), replicas: z.number().int(), ports: z.array(z.number().int()) });

/** Slot ranges of `masters` masters: contiguous and as equal as can be. */
export function slotRanges(masters: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < masters; i++) out.push([Math.floor((i * SLOTS) / masters), Math.floor(((i + 1) * SLOTS) / masters) - 1]);
  return out;
}

export async function launchLocalCluster(o: LocalClusterOptions): Promise<LocalCluster> {
  if (!Number.isInteger(o.masters) || o.masters < 1) throw new Error(`a local cluster needs at least 1 master, got ${o.masters}`);
  if (!Number.isInteger(o.replicas) || o.replicas < 0) throw new Error(`replicas per master must be a whole number ≥ 0, got ${o.replicas}`);
  const total = o.masters * (1 + o.replicas);
  mkdirSync(o.dir, { recursive: true });
  const layoutFile = join(o.dir, 'cluster.json');
  let ports: number[] | undefined;
  let formed = false;
  if (o.persistent && existsSync(layoutFile)) {
    const before = layoutSchema.parse(JSON.parse(readFileSync(layoutFile, 'utf8')));
    if (before.masters !== o.masters || before.replicas !== o.replicas)
      throw new Error(`${o.dir} holds a cluster of ${before.masters} masters with ${before.replicas} replicas each; start with that shape, or remove the dir for a new cluster (its data goes with it)`);
    ports = before.ports;
    formed = true;
  }
  ports ??= await distinctFreePorts(total);
  const servers: RedisServer[] = [];
  const stopAll = async (signal: NodeJS.Signals) => {
    await Promise.all(servers.map((s) => s.kill(signal)));
  };
  try {
    for (let i = 0; i < total; i++) {
      const d = join(o.dir, `n${i}`);
      mkdirSync(d, { recursive: true });
      const launch = (port: number) =>
        launchRedisServer({
          dir: d,
          port,
          appendonly: o.appendonly,
          ...(o.appendfsync ? { appendfsync: o.appendfsync } : {}),
          ...(o.ownProcessGroup ? { ownProcessGroup: true } : {}),
          extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(o.nodeTimeoutMs ?? 5000)],
        });
      for (let tries = 1; ; tries++) {
        try {
          servers.push(await launch(ports[i]!));
          break;
        } catch (err) {
          // A formed cluster's nodes know each other by port: only a new one may move.
          if (formed || !(err instanceof RedisPortTaken) || tries >= 5) throw err;
          ports[i] = await freeServerPort(BUS_OFFSET, new Set(ports));
        }
      }
    }
    const nodes = servers.map((server) => ({ host: HOST, port: server.port, server }));
    if (!formed) await form(nodes.map((n) => n.port), o.masters, o.readyTimeoutMs ?? 20_000);
    if (o.persistent) writeFileSync(layoutFile, JSON.stringify({ masters: o.masters, replicas: o.replicas, ports }) + '\n');
    const cluster: LocalCluster = {
      nodes,
      url: nodes.slice(0, o.masters).map((n) => `redis://${n.host}:${n.port}`).join(','),
      node: (port) => nodes.find((n) => n.port === port),
      waitHealthy: (timeoutMs = 20_000) => waitHealthy(nodes.map((n) => n.port), timeoutMs),
      stop: (signal = 'SIGTERM') => stopAll(signal),
    };
    await cluster.waitHealthy(o.readyTimeoutMs ?? 20_000);
    return cluster;
  } catch (err) {
    await stopAll('SIGKILL');
    throw err;
  }
}

/** A cluster node also listens on its port + 10,000: the cluster bus. */
const BUS_OFFSET = 10_000;

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) ports.push(await freeServerPort(BUS_OFFSET, new Set(ports)));
  return ports;
}

async function withNode<T>(port: number, f: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(port, HOST, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  r.on('error', () => {});
  try {
    await r.connect();
    return await f(r);
  } finally {
    r.disconnect();
  }
}

async function poll(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`local cluster: ${what} within ${timeoutMs} ms${last ? ` (${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Masters take a slot range each and a config epoch of their own (so no epoch
 * collision has to be resolved), meet, then replicas follow their master.
 */
async function form(ports: number[], masters: number, timeoutMs: number): Promise<void> {
  const ids = await Promise.all(ports.map((p) => withNode(p, async (r) => String(await r.cluster('MYID')))));
  const ranges = slotRanges(masters);
  for (let i = 0; i < masters; i++) {
    await withNode(ports[i]!, async (r) => {
      await r.call('CLUSTER', 'ADDSLOTSRANGE', String(ranges[i]![0]), String(ranges[i]![1]));
      await r.call('CLUSTER', 'SET-CONFIG-EPOCH', String(i + 1));
    });
  }
  await withNode(ports[0]!, async (r) => {
    for (const p of ports.slice(1)) await r.call('CLUSTER', 'MEET', HOST, String(p));
  });
  // A node can follow a master only once it knows it.
  await poll('nodes did not all meet', timeoutMs, async () => {
    for (const p of ports) {
      const known = String(await withNode(p, (r) => r.call('CLUSTER', 'NODES'))).trim().split('\n');
      if (known.length < ports.length || known.some((l) => / handshake|noaddr/.test(l))) return false;
    }
    return true;
  });
  for (let i = masters; i < ports.length; i++) {
    const master = ids[(i - masters) % masters]!;
    await poll(`node ${ports[i]} could not replicate ${master}`, timeoutMs, async () => {
      await withNode(ports[i]!, (r) => r.call('CLUSTER', 'REPLICATE', master));
      return true;
    });
  }
}

async function waitHealthy(ports: number[], timeoutMs: number): Promise<void> {
  await poll('the cluster did not reach cluster_state:ok on every node, with every replica in sync', timeoutMs, async () => {
    for (const p of ports) {
      let info: string;
      let role: string;
      try {
        info = String(await withNode(p, (r) => r.call('CLUSTER', 'INFO')));
        role = String(await withNode(p, (r) => r.call('INFO', 'replication')));
      } catch (err) {
        // A node that is down (killed by a test) is not asked; the others must be whole without it.
        if (/ECONNREFUSED/.test(String(err))) continue;
        throw err;
      }
      if (!info.includes('cluster_state:ok')) return false;
      if (role.includes('role:slave') && !role.includes('master_link_status:up')) return false;
    }
    return true;
  });
}
