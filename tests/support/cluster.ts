// A real Redis Cluster for tests: three redis-server masters on free ports, the
// 16,384 slots spread over them by `redis-cli --cluster create`. Slower to start
// than one server (about a second), so only the tests about Cluster use it.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { launchRedisServer, type RedisServer } from '../../src/cli/redisServer.ts';

const run = promisify(execFile);

export interface TestCluster {
  nodes: { host: string; port: number }[];
  /** The seed URLs, comma-separated, as REDIS_URL takes them. */
  url: string;
  /** A cluster client; callers close what they open. */
  connect(): Cluster;
  stop(): Promise<void>;
}

export async function startCluster(masters = 3): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'swarmq-cluster-'));
  const servers: RedisServer[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      const d = join(dir, `n${i}`);
      mkdirSync(d);
      servers.push(
        await launchRedisServer({
          dir: d,
          appendonly: false,
          extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', join(d, 'nodes.conf'), '--cluster-node-timeout', '2000'],
        }),
      );
    }
    const nodes = servers.map((s) => ({ host: '127.0.0.1', port: s.port }));
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    // Every node must agree the cluster is whole before clients route by slot.
    const deadline = Date.now() + 20_000;
    for (const n of nodes) {
      for (;;) {
        const r = new Redis(n.port, n.host);
        const info = await r.cluster('INFO').finally(() => r.disconnect());
        if (String(info).includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`cluster node ${n.port} never reached cluster_state:ok`);
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    return {
      nodes,
      url: nodes.map((n) => `redis://${n.host}:${n.port}`).join(','),
      connect: () => new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: null } }),
      async stop() {
        await Promise.all(servers.map((s) => s.kill('SIGKILL')));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await Promise.all(servers.map((s) => s.kill('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
