// A real Redis Cluster for tests: masters (and, for failover tests, replicas)
// on free ports in a temp dir, formed by src/cli/localCluster.ts, the code
// `swarmq start --cluster` runs. Slower to start than one server (about a
// second), so only the tests about Cluster use it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { keySlot } from '../../queues/slotPipeline.ts';
import { launchLocalCluster, type ClusterNode, type LocalCluster } from '../../src/cli/localCluster.ts';

export interface TestCluster {
  nodes: { host: string; port: number }[];
  /** The seed URLs, comma-separated, as REDIS_URL takes them. */
  url: string;
  local: LocalCluster;
  /** A cluster client; callers close what they open. */
  connect(): Cluster;
  /** The node that serves `key`'s slot as master now, asked of a live node. */
  masterOf(key: string): Promise<ClusterNode>;
  stop(): Promise<void>;
}

export interface ClusterShape {
  masters?: number;
  /** Replicas of each master: 1 for failover tests. */
  replicas?: number;
  /** cluster-node-timeout; failover tests keep it short. */
  nodeTimeoutMs?: number;
  /** AOF on every node (off by default: tests do not restart the nodes). */
  appendonly?: boolean;
}

export async function startCluster(shape: ClusterShape | number = {}): Promise<TestCluster> {
  const s = typeof shape === 'number' ? { masters: shape } : shape;
  const dir = mkdtempSync(join(tmpdir(), 'swarmq-cluster-'));
  let local: LocalCluster;
  try {
    local = await launchLocalCluster({ dir, masters: s.masters ?? 3, replicas: s.replicas ?? 0, appendonly: s.appendonly ?? false, nodeTimeoutMs: s.nodeTimeoutMs ?? 2000 });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const masters = local.nodes.slice(0, s.masters ?? 3).map((n) => ({ host: n.host, port: n.port }));
  return {
    nodes: masters,
    url: local.url,
    local,
    connect: () => new Cluster(masters, { redisOptions: { maxRetriesPerRequest: null } }),
    async masterOf(key) {
      const slot = keySlot(key);
      for (const n of local.nodes) {
        const r = new Redis(n.port, n.host, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        r.on('error', () => {});
        try {
          await r.connect();
          const ranges = (await r.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][];
          const owner = ranges.find(([lo, hi]) => slot >= lo && slot <= hi)?.[2];
          const node = owner && local.node(Number(owner[1]));
          if (node) return node;
        } catch {
          // down: ask the next one
        } finally {
          r.disconnect();
        }
      }
      throw new Error(`no live node names a master for slot ${slot}`);
    },
    async stop() {
      await local.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
