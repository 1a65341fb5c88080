// Starting a host from the CLI: a progress bar while agents spawn (per wave, or
// once for a batch) and a closing line with what it cost.
import { SingleBar } from 'cli-progress';
import type { AgentHost, AgentInfo, WaveEvent } from '../agents/host.ts';

export async function spawnWithProgress(host: AgentHost, total: number): Promise<string> {
  // cli-progress draws only on a terminal (stderr); logs and the summary stay readable elsewhere.
  const bar = new SingleBar({ format: 'spawning agents [{bar}] {value}/{total} · wave {wave}', hideCursor: true, stream: process.stderr });
  bar.start(total, 0, { wave: '-' });
  const onWave = (e: WaveEvent) => bar.update(e.ready, { wave: `${e.wave}/${e.waves}` });
  const onSpawned = (agents: AgentInfo[]) => bar.update(agents.length);
  host.on('wave', onWave).on('spawned', onSpawned);
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  try {
    await host.start();
  } finally {
    bar.stop();
    host.off('wave', onWave).off('spawned', onSpawned);
  }
  const ms = performance.now() - t0;
  const count = host.agents().length;
  const kbPerAgent = count ? (process.memoryUsage().rss - rss0) / 1024 / count : 0;
  return `spawned ${count} agents on host ${host.hostId} in ${(ms / 1000).toFixed(2)} s: ${kbPerAgent.toFixed(1)} KB of memory per agent, ${host.connectionCount()} Redis connections (${host.nodeCount()} nodes)`;
}
