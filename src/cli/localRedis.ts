// `swarmq start` without REDIS_URL: a redis-server of our own with AOF in
// ./.swarmq/redis (or a local Cluster in ./.swarmq/cluster), so tasks survive
// a restart of the whole thing.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { launchLocalCluster } from './localCluster.ts';
import { hasRedisServer, launchRedisServer } from './redisServer.ts';

export const NO_REDIS_HELP = [
  'swarmq needs Redis and found none:',
  '  - set REDIS_URL=redis://host:port to use a Redis you have, or',
  '  - install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), or',
  '  - run `docker compose up -d redis` from this repository and set REDIS_URL=redis://127.0.0.1:6379.',
].join('\n');

export interface LocalRedis {
  url: string;
  dir: string;
  stop(): Promise<void>;
}

export async function startLocalRedis(stateDir = '.swarmq'): Promise<LocalRedis> {
  if (!hasRedisServer()) throw new Error(NO_REDIS_HELP);
  const dir = resolve(stateDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const server = await launchRedisServer({ dir, appendonly: true, appendfsync: 'everysec', ownProcessGroup: true });
  // Lets `swarmq submit` and `swarmq status` in another terminal find it.
  const urlFile = resolve(stateDir, 'redis.url');
  writeFileSync(urlFile, server.url + '\n');
  return {
    url: server.url,
    dir,
    stop: async () => {
      rmSync(urlFile, { force: true });
      await server.kill('SIGTERM');
    },
  };
}

export interface LocalClusterShape {
  masters: number;
  replicas: number;
}

/**
 * `swarmq start --cluster N`: a Redis Cluster of our own, with AOF in
 * ./.swarmq/cluster (a node per dir, ports kept in cluster.json, so a restart
 * brings the same cluster back with its tasks).
 */
export async function startLocalCluster(shape: LocalClusterShape, stateDir = '.swarmq'): Promise<LocalRedis> {
  if (!hasRedisServer()) throw new Error(NO_REDIS_HELP);
  const dir = resolve(stateDir, 'cluster');
  const cluster = await launchLocalCluster({ dir, masters: shape.masters, replicas: shape.replicas, appendonly: true, appendfsync: 'everysec', persistent: true, ownProcessGroup: true });
  const urlFile = resolve(stateDir, 'redis.url');
  writeFileSync(urlFile, cluster.url + '\n');
  return {
    url: cluster.url,
    dir,
    stop: async () => {
      rmSync(urlFile, { force: true });
      await cluster.stop('SIGTERM');
    },
  };
}
